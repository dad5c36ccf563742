"""Property tests of the rating core: lookup matches a brute-force reference, billing obeys the
increments, charges are deterministic, never negative, and rounded half-up once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from api.domain import rating
from api.domain.rating import DeckIndex, DeckRate, PackagePricing

T0 = datetime(2026, 1, 1, tzinfo=UTC)
digits = st.text(alphabet="0123456789", min_size=1, max_size=6)
moments = st.integers(min_value=-5, max_value=40).map(lambda d: T0 + timedelta(days=d))


@st.composite
def decks(draw):
    rows = draw(
        st.lists(
            st.tuples(
                st.text(alphabet="0123", min_size=1, max_size=5),
                st.integers(0, 30),
                st.integers(0, 200_000),
            ),
            max_size=40,
        )
    )
    unique = {(prefix, day): rate for prefix, day, rate in rows}  # (deck, prefix, date) unique
    return [
        DeckRate(prefix, f"d{prefix}", "", rate, 0, 60, 60, T0 + timedelta(days=day))
        for (prefix, day), rate in unique.items()
    ]


def reference(rates: list[DeckRate], number: str, at: datetime) -> DeckRate | None:
    """Scan every row: the longest prefix of the number, its newest row in effect at ``at``."""
    best = None
    for row in rates:
        if not number.startswith(row.prefix) or row.effective_from > at:
            continue
        if (
            best is None
            or len(row.prefix) > len(best.prefix)
            or (len(row.prefix) == len(best.prefix) and row.effective_from > best.effective_from)
        ):
            best = row
    return best


@settings(max_examples=300, deadline=None)
@given(decks(), st.text(alphabet="0123", min_size=0, max_size=8), moments)
def test_lookup_matches_the_brute_force_reference(rates, number, at):
    assert DeckIndex(rates).lookup(number, at) == reference(rates, number, at)


numbers = st.text(alphabet="0123", min_size=0, max_size=8) | st.sampled_from(
    ["+12", "1#2", "١٢", ""]
)


@settings(max_examples=200, deadline=None)
@given(decks(), st.lists(numbers, max_size=30))
def test_batch_lookup_now_matches_the_reference(rates, batch):
    now = datetime.now(UTC)
    found = DeckIndex(rates).lookup_many(batch)
    assert found == [reference(rates, number, now) for number in batch]


@settings(max_examples=200, deadline=None)
@given(
    decks(), st.lists(st.tuples(numbers, moments | st.just(T0 + timedelta(days=60))), max_size=30)
)
def test_batch_lookup_at_each_calls_moment_matches_the_reference(rates, calls):
    batch, at = [number for number, _ in calls], [moment for _, moment in calls]
    found = DeckIndex(rates).lookup_many(batch, at)
    assert found == [reference(rates, number, moment) for number, moment in calls]


@settings(max_examples=100, deadline=None)
@given(decks(), st.text(alphabet="0123", min_size=1, max_size=8))
def test_lookup_now_matches_the_reference_now(rates, number):
    # without a moment the index asks the clock: it agrees with the reference at that moment
    now = datetime.now(UTC)
    assert DeckIndex(rates).lookup(number) == reference(rates, number, now)


@given(st.integers(-10, 100_000), st.integers(1, 3600), st.integers(1, 3600))
def test_billed_seconds_obey_the_increments(billsec, first, increment):
    billed = rating.billed_seconds(billsec, first, increment)
    if billsec <= 0:
        assert billed == 0
        return
    assert billed >= billsec and billed >= first
    assert (billed - first) % increment == 0
    assert billed - billsec < max(first, increment)  # never a whole step too much


def test_examples_of_billing():
    assert rating.billed_seconds(27, 6, 6) == 30
    assert rating.billed_seconds(61, 60, 60) == 120
    assert rating.billed_seconds(1, 30, 6) == 30
    assert rating.billed_seconds(0, 6, 6) == 0


@given(
    st.decimals(min_value=0, max_value=10**9, places=4, allow_nan=False),
    st.decimals(min_value=0, max_value=10**8, places=4, allow_nan=False),
    st.integers(-5, 100_000),
)
def test_charge_is_deterministic_non_negative_and_rounded_half_up_once(rate, fee, billed):
    first = rating.charge(rate, fee, billed)
    assert first == rating.charge(rate, fee, billed)
    assert first >= 0
    if billed <= 0:
        assert first == 0
    else:
        exact = fee + rate * billed / 60
        assert first == int(exact.to_integral_value(rounding=ROUND_HALF_UP))
        assert abs(first - exact) <= Decimal("0.5")


def test_half_a_micro_rounds_up():
    # 1 micro/min for 30 s = 0.5 micro -> 1; 3 micros/min for 10 s = 0.5 -> 1
    assert rating.charge(1, 0, 30) == 1
    assert rating.charge(3, 0, 10) == 1
    assert rating.charge(1, 0, 29) == 0


def _pricing(prefixes: dict[str, int], countries: dict[str, int], nanpa: int | None):
    package = SimpleNamespace(
        markup_fixed=1000,
        markup_pct=Decimal(20),
        first_increment=6,
        increment=6,
        refuse_below_cost=False,
    )

    def override(kind, key, rate):
        return SimpleNamespace(kind=kind, key=key, rate=rate, connection_fee=0)

    return PackagePricing(
        package=package,
        prefix_overrides={k: override("prefix", k, r) for k, r in prefixes.items()},
        country_overrides={k: override("country", k, r) for k, r in countries.items()},
        nanpa=override("nanpa", "NANPA", nanpa) if nanpa is not None else None,
        max_prefix=max((len(k) for k in prefixes), default=0),
    )


@given(
    st.dictionaries(
        st.text(alphabet="0123", min_size=1, max_size=4), st.integers(0, 10**6), max_size=6
    ),
    st.dictionaries(st.sampled_from(["GB", "US", "CA", "FR"]), st.integers(0, 10**6)),
    st.one_of(st.none(), st.integers(0, 10**6)),
    st.text(alphabet="0123", min_size=1, max_size=8),
    st.sampled_from(["GB", "US", "CA", "FR", ""]),
    st.integers(0, 10**6),
)
def test_package_precedence_prefix_country_nanpa_markup(
    prefixes, countries, nanpa, number, country, cost_rate
):
    cost = DeckRate(number[:1], "", country, cost_rate, 0, 60, 60, T0)
    price = _pricing(prefixes, countries, nanpa).price(number, cost)
    matching = [p for p in prefixes if number.startswith(p)]
    if matching:
        assert price.rule == "prefix" and price.rate == prefixes[max(matching, key=len)]
    elif country and country in countries:
        assert price.rule == "country" and price.rate == countries[country]
    elif nanpa is not None and (country in ("US", "CA") or (not country and number[0] == "1")):
        assert price.rule == "nanpa" and price.rate == nanpa
    else:
        assert price.rule == "markup"
        assert price.rate == (cost_rate + 1000) * Decimal("1.2")
    assert price.rate >= 0 and (price.first_increment, price.increment) == (6, 6)
