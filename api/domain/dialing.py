"""Dialled numbers: the one rule that turns what a switch or a user dialled into the
international digits (E.164 without ``+``) that the rate decks, the blacklist and the client
numbers are written in. Rating, authorization, rate quotes, caller lookup and every ingest path
call :func:`normalize` (or the function :func:`normalizer` returns).

The rule of a home country (ISO 3166 alpha-2, ``""`` for none), in this order:

1. ``+`` then digits: international; the digits, as they are (a ``(0)`` written after the
   country code, ``+44 (0)20 …``, is dropped). Separators (space, ``-``, ``.``, ``/``,
   parentheses, ``~``) never count.
2. An exit code: ``00`` always; with a home country, also its own (``011`` in North America,
   ``810`` in Russia and Kazakhstan, ``010`` in Japan, ``0011`` in Australia, ``012``…``019`` in
   Israel, ``001``/``002``/``00700``… in South Korea), the longest that matches first (a home
   country's own ``002`` wins over ``00``); what follows is international, as it is.
3. With a home country, a national number of it:
   - its trunk prefix (``0`` in most of Europe, Israel, Australia, Japan…; ``8`` in Russia and
     Kazakhstan; ``8``, ``80`` or ``0`` in Belarus: :func:`trunk_prefixes`) followed by a
     national number of the country becomes its calling code and that number (home GB:
     ``02079460000`` -> ``442079460000``; home RU: ``84951234567`` -> ``74951234567``);
   - where the national number itself starts with ``0`` and there is no trunk prefix (Italy,
     San Marino, Vatican), a number starting with ``0`` that is a national number gets the
     calling code (home IT: ``0612345678`` -> ``390612345678``);
   - North America (calling code 1): a 10-digit national number gets its ``1`` (home US:
     ``2125551234`` -> ``12125551234``).
   "A national number" is one that the country's numbering plan allows (the ``phonenumbers``
   metadata of every region sharing its calling code), so ``0`` followed by anything else is
   left alone, and is then no rate rather than a wrong one.
4. Otherwise the digits, as they are: international digits already.

Without a home country only 1, 2 (``00``) and 4 apply: what the platform always did.
Where digits could be read either way, the home country's reading wins (a Russian switch's
``84912345678`` is Russian, not Vietnamese); the README states the rules and these cases.

The rules of each country are worked out once from ``phonenumbers``' metadata (exit codes,
trunk prefix, calling code, national number patterns) and cached; applying them is string
operations and at most one precompiled regular-expression match, never a ``phonenumbers``
parse: this runs for every call rated or authorized.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable

import phonenumbers
from phonenumbers import PhoneMetadata

_SEPARATORS = re.compile(r"[^0-9]")
_TRUNK_IN_BRACKETS = re.compile(r"\(\s*0\s*\)")
_LONGEST_PREFIX = 5  # digits of an exit code or trunk prefix; longer ones are not dialled


@functools.cache
def countries() -> frozenset[str]:
    """The home countries there are rules for (ISO 3166 alpha-2)."""
    return frozenset(r for r in phonenumbers.SUPPORTED_REGIONS if len(r) == 2)


def home_country(value: str | None) -> str:
    """``value`` as a home country (upper case; ``""`` for none), or ValueError."""
    code = (value or "").strip().upper()
    if code and code not in countries():
        raise ValueError(f"{value!r} is not a country (ISO 3166 two-letter code, e.g. GB)")
    return code


def _spelled(pattern: str | None, *also: str) -> tuple[str, ...]:
    """Every digit string of up to :data:`_LONGEST_PREFIX` digits that ``pattern`` matches,
    and ``also``, longest first."""
    codes = {code for code in also if code}
    if pattern:
        matches = re.compile(pattern).fullmatch
        for length in range(1, _LONGEST_PREFIX + 1):
            codes.update(
                code
                for code in map("".join, itertools.product("0123456789", repeat=length))
                if matches(code)
            )
    return tuple(sorted(codes, key=lambda code: (-len(code), code)))


@functools.cache
def exit_codes(home: str = "") -> tuple[str, ...]:
    """The exit codes of ``home``, longest first, with ``00``."""
    meta = PhoneMetadata.metadata_for_region(home) if home else None
    return _spelled(meta.international_prefix if meta else None, "00")


@functools.cache
def trunk_prefixes(home: str) -> tuple[str, ...]:
    """The national (trunk) prefixes of ``home``, longest first (Belarus: ``80``, ``8``, ``0``),
    none where the calling code is dialled as one (North America's ``1``)."""
    meta = PhoneMetadata.metadata_for_region(home)
    trunk = meta.national_prefix or ""
    spelled = _spelled(meta.national_prefix_for_parsing or trunk or None, trunk) if trunk else ()
    return tuple(p for p in spelled if p != str(meta.country_code))


@functools.cache
def normalizer(home: str = "") -> Callable[[str], str]:
    """The normalization of ``home`` (see the module docstring) as a function of the dialled
    text; built once per country."""
    home = home_country(home)
    code = ""
    trunks: tuple[tuple[str, int], ...] = ()
    national: Callable[[str], object] = lambda digits: None  # noqa: E731
    if home:
        meta = PhoneMetadata.metadata_for_region(home)
        code = str(meta.country_code)
        trunks = tuple((p, len(p)) for p in trunk_prefixes(home))
        plans = (
            PhoneMetadata.metadata_for_region(region).general_desc.national_number_pattern
            for region in phonenumbers.region_codes_for_country_code(meta.country_code)
        )
        national = re.compile("|".join(f"(?:{p})" for p in plans if p)).fullmatch
    exits = tuple((c, len(c)) for c in exit_codes(home))
    nanpa = code == "1"

    def national_form(digits: str) -> str:
        if trunks:
            for trunk, length in trunks:
                if digits.startswith(trunk) and national(digits[length:]):
                    return code + digits[length:]
        elif nanpa:
            if len(digits) == 10 and national(digits):
                return code + digits
        elif digits.startswith("0") and national(digits):
            return code + digits
        return digits

    def normalize(raw: str) -> str:
        if raw.isdigit() and raw.isascii():  # the common case: digits already
            digits = raw
        else:
            text = raw.strip()
            if text.startswith("+"):
                return _SEPARATORS.sub("", _TRUNK_IN_BRACKETS.sub("", text))
            digits = _SEPARATORS.sub("", text)
        for exit_code, length in exits:
            if digits.startswith(exit_code):
                return digits[length:]
        return national_form(digits) if home else digits

    return normalize


def normalize(raw: str, home: str = "") -> str:
    """The international digits of the dialled ``raw`` for a switch in ``home``."""
    return normalizer(home)(raw)
