"""Number normalisation (``api.domain.dialing``): the examples of the README, and properties
over every home country and E.164 numbers of every country, with ``phonenumbers`` (its
formatting of real numbers) as the independent witness."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneMetadata, PhoneNumberFormat, PhoneNumberType

from api.domain import dialing
from api.domain.errors import DomainError
from api.domain.validation import home_country

HOMES = sorted(dialing.countries())
NANPA = [r for r in HOMES if phonenumbers.country_code_for_region(r) == 1]


@pytest.mark.parametrize(
    ("dialled", "home", "digits"),
    [
        # without a home country: what was always done, + and 00 only
        ("+44 20 7946 0000", "", "442079460000"),
        ("00442079460000", "", "442079460000"),
        ("011442079460000", "", "011442079460000"),
        ("02079460000", "", "02079460000"),
        ("2125551234", "", "2125551234"),
        # exit codes
        ("011442079460000", "US", "442079460000"),
        ("011442079460000", "CA", "442079460000"),
        ("00442079460000", "US", "442079460000"),
        ("81074951234567", "RU", "74951234567"),
        ("8~10 7 495 123 45 67", "RU", "74951234567"),
        ("0011442079460000", "AU", "442079460000"),
        ("010442079460000", "JP", "442079460000"),
        ("014442079460000", "IL", "442079460000"),
        # trunk prefixes
        ("02079460000", "GB", "442079460000"),
        ("020 7946 0000", "GB", "442079460000"),
        ("031234567", "IL", "97231234567"),
        ("84951234567", "RU", "74951234567"),
        ("030 1234567", "DE", "49301234567"),
        ("01 23 45 67 89", "FR", "33123456789"),
        # no trunk prefix, national numbers starting with 0: Italy
        ("06 1234 5678", "IT", "390612345678"),
        # North America: 10 digits get their 1, 11 stay
        ("2125551234", "US", "12125551234"),
        ("(212) 555-1234", "US", "12125551234"),
        ("4165551234", "US", "14165551234"),  # Canada, dialled from the US
        ("12125551234", "US", "12125551234"),
        # international already
        ("+44 (0)20 7946 0000", "GB", "442079460000"),
        ("442079460000", "GB", "442079460000"),
        ("442079460000", "US", "442079460000"),
        ("12125551234", "GB", "12125551234"),
        # a trunk prefix before what is no national number: left alone (no rate, not a wrong one)
        ("0442079460000", "GB", "0442079460000"),
        ("8123", "RU", "8123"),
        # lower-case home countries are the same country
        ("02079460000", "gb", "442079460000"),
        ("", "GB", ""),
    ],
)
def test_dialled_numbers_become_international_digits(dialled, home, digits):
    assert dialing.normalize(dialled, home) == digits


def test_a_home_country_is_a_known_iso_code():
    assert home_country("homeCountry", " gb ") == "GB"
    assert home_country("homeCountry", "") == ""
    assert home_country("homeCountry", None) == ""
    for bad in ("XX", "GBR", "4", "001"):
        with pytest.raises(DomainError) as caught:
            home_country("homeCountry", bad)
        assert caught.value.field == "homeCountry"


# --- properties ------------------------------------------------------------------------------


@st.composite
def real_numbers(draw, regions=HOMES):
    """A valid number of some region: one of its example numbers with its last digits
    redrawn (kept when ``phonenumbers`` still calls it valid)."""
    region = draw(st.sampled_from(regions))
    kind = draw(
        st.sampled_from(
            [PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.TOLL_FREE]
        )
    )
    example = phonenumbers.example_number_for_type(region, kind)
    assume(example is not None)
    national = str(example.national_number)
    tail = draw(st.text(alphabet="0123456789", min_size=0, max_size=min(4, len(national) - 1)))
    number = phonenumbers.parse(
        "+" + str(example.country_code) + national[: len(national) - len(tail)] + tail
    )
    number.italian_leading_zero = example.italian_leading_zero
    number.number_of_leading_zeros = example.number_of_leading_zeros
    assume(phonenumbers.is_valid_number(number))
    return region, number


def e164_digits(number) -> str:
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)[1:]


homes = st.sampled_from(["", *HOMES])


@settings(max_examples=300, deadline=None)
@given(home=homes, real=real_numbers())
def test_plus_00_and_the_home_exit_code_all_give_the_e164_digits(home, real):
    _, number = real
    digits = e164_digits(number)
    written = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    assert dialing.normalize("+" + digits, home) == digits
    assert dialing.normalize(written, home) == digits
    # a longer exit code of the home country (South Korea's 002) is read first
    assume(not any((c != "00" and ("00" + digits).startswith(c)) for c in dialing.exit_codes(home)))
    assert dialing.normalize("00" + digits, home) == digits
    assert dialing.normalize("00 " + written[1:], home) == digits
    if home in NANPA:
        assert dialing.normalize("011" + digits, home) == digits
    if home:
        prefix = PhoneMetadata.metadata_for_region(home).preferred_international_prefix
        exit_code = prefix or PhoneMetadata.metadata_for_region(home).international_prefix
        if exit_code and exit_code.replace("~", "").isdigit():
            assert dialing.normalize(exit_code + digits, home) == digits


@settings(max_examples=300, deadline=None)
@given(real=real_numbers())
def test_a_national_number_of_the_home_country_gives_its_e164_digits(real):
    """As the country's own people write it (``phonenumbers``' national format), whenever
    that form says it is national: the trunk prefix, 10 digits in North America, or a
    leading 0 where there is no trunk prefix."""
    home, number = real
    national = "".join(
        ch for ch in phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL) if ch.isdigit()
    )
    meta = PhoneMetadata.metadata_for_region(home)
    trunk = meta.national_prefix or ""
    says_national = (
        (meta.country_code == 1 and len(national) == 10)
        or (trunk and meta.country_code != 1 and national.startswith(trunk))
        or (not trunk and national.startswith("0"))
    )
    assume(says_national)
    # a national form that is rewritten, not only prefixed (Argentina's mobile 15), is not read
    assume(meta.national_prefix_transform_rule is None)
    assert dialing.normalize(national, home) == e164_digits(number)


@settings(max_examples=300, deadline=None)
@given(home=homes, real=real_numbers())
def test_international_digits_stay_as_they_are(home, real):
    """Where they cannot be read as dialled in the home country (they do not start with its
    trunk prefix or an exit code; in North America, they are not 10 digits): unchanged, and
    normalising twice is normalising once."""
    _, number = real
    digits = e164_digits(number)
    if home:
        meta = PhoneMetadata.metadata_for_region(home)
        trunk = meta.national_prefix or ""
        assume(not (trunk and digits.startswith(trunk)))
        assume(not (meta.country_code == 1 and len(digits) == 10))
        # nor with one of its exit codes (Chad's 16 before American Samoa's 1 684)
        assume(not any(digits.startswith(code) for code in dialing.exit_codes(home)))
    assert dialing.normalize(digits, home) == digits
    once = dialing.normalize("+" + digits, home)
    assert dialing.normalize(once, home) == once


@settings(max_examples=200, deadline=None)
@given(raw=st.text(alphabet="0123456789+ -().~/", max_size=20))
def test_without_a_home_country_only_plus_and_00_are_dropped(raw):
    digits = "".join(ch for ch in raw if ch.isdigit())
    expected = digits if raw.strip().startswith("+") or not digits.startswith("00") else digits[2:]
    if raw.strip().startswith("+") and "(0)" in raw.replace(" ", ""):
        assume(False)  # the written trunk prefix of the international format
    assert dialing.normalize(raw, "") == expected
