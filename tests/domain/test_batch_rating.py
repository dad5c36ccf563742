"""The batch rating fast path (integer charges, prices remembered per matched deck rate)
equals the reference rules (``rating.rate_call`` with Decimal prices) call by call."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from api.domain import calls, rating
from api.domain.cdr_formats import CallRecord
from api.domain.rating import DeckIndex, DeckRate, PackagePricing

T0 = datetime(2024, 1, 1, tzinfo=UTC)
PCTS = [Decimal(0), Decimal(20), Decimal("35.5"), Decimal("12.2500"), Decimal("-7.3333"),
        Decimal("0.0001"), Decimal("99.9999")]  # fmt: skip


@given(
    st.integers(0, 10**9),
    st.integers(0, 10**8),
    st.sampled_from(PCTS),
    st.integers(0, 10**5),
    st.integers(0, 7 * 24 * 3600),
)
@settings(max_examples=1500, deadline=None)
def test_integer_charge_equals_the_decimal_charge(rate, fee, pct, fixed, billed):
    factor = 1 + pct / 100
    for r, f in ((rate, fee), ((rate + fixed) * factor, fee * factor), (Decimal(rate), 0)):
        assert rating.charge_exact(rating.charge_terms(r, f), billed) == rating.charge(r, f, billed)


@given(st.integers(-(10**9), 10**9), st.integers(-(10**6), 10**6), st.integers(0, 10**5))
@settings(max_examples=500, deadline=None)
def test_integer_charge_rounds_negative_halves_like_decimal(rate, fee, billed):
    assert rating.charge_exact(rating.charge_terms(rate, fee), billed) == rating.charge(
        rate, fee, billed
    )


def _override(kind, key, rng):
    return SimpleNamespace(
        kind=kind, key=key, rate=rng.randint(0, 600_000), connection_fee=rng.choice([0, 5_000])
    )


def _world(rng: random.Random):
    prefixes = sorted({str(rng.randint(1, 99)) + str(rng.randint(0, 999)) for _ in range(400)})
    prefixes += ["1", "44", "33"]
    rates = [
        DeckRate(
            p,
            f"Dest {p}",
            {"1": "US", "4": "GB", "3": "FR"}.get(p[0], ""),
            rng.randint(0, 500_000),
            rng.choice([0, 0, 1_234]),
            rng.choice([1, 6, 30, 60]),
            rng.choice([1, 6, 60]),
            T0 - timedelta(days=rng.randint(0, 50)),
        )
        for p in prefixes
    ]
    # a later row for some prefixes takes over from its date
    rates += [
        DeckRate(p, f"New {p}", "", rng.randint(0, 500_000), 0, 60, 60, T0 + timedelta(days=10))
        for p in rng.sample(prefixes, 40)
    ]
    deck = DeckIndex(rates)
    packages = {}
    for package_id, (pct, fixed, first, inc) in enumerate(
        [
            (Decimal(20), 0, 6, 6),
            (Decimal("35.5"), 1_500, 30, 60),
            (Decimal("12.25"), 7, 1, 1),
            (Decimal("-7.3333"), -200_000, 60, 60),  # sold below zero: the reference arithmetic
        ],
        start=1,
    ):
        package = SimpleNamespace(
            id=package_id,
            markup_fixed=fixed,
            markup_pct=pct,
            first_increment=first,
            increment=inc,
            free_minutes=0,
        )
        overrides = {k: _override("prefix", k, rng) for k in rng.sample(prefixes, 30)}
        overrides.update({k + "7": _override("prefix", k + "7", rng) for k in prefixes[:20]})
        packages[package_id] = PackagePricing(
            package=package,
            prefix_overrides=overrides,
            country_overrides={"GB": _override("country", "GB", rng)},
            nanpa=_override("nanpa", "NANPA", rng) if package_id != 2 else None,
            max_prefix=max(len(k) for k in overrides),
        )
    pricer = calls._Pricer()
    pricer.decks[1] = deck
    pricer.packages.update(packages)
    return prefixes, pricer


def test_batch_rating_equals_the_reference_on_many_calls():
    rng = random.Random(42)
    prefixes, pricer = _world(rng)
    resellers = [
        SimpleNamespace(
            id=1, base_deck_id=1, billing_model="markup", currency="USD", home_country="US"
        ),
        SimpleNamespace(
            id=2, base_deck_id=1, billing_model="commission", currency="EUR", home_country="GB"
        ),
        SimpleNamespace(
            id=3, base_deck_id=None, billing_model="markup", currency="USD", home_country=""
        ),
    ]
    clients = [
        SimpleNamespace(
            id=client_id,
            reseller_id=reseller.id,
            package_id=rng.choice([None, 1, 2, 3, 4]),
            personal_rate_pct=rng.choice(PCTS),
        )
        for client_id, reseller in enumerate(resellers * 20, start=1)
    ]
    by_id = {r.id: r for r in resellers}
    rater = calls._BatchRater(pricer, {c.id: c for c in clients}, by_id)
    batch = []
    for i in range(30_000):
        client = rng.choice(clients)
        reseller = by_id[client.reseller_id]
        caller = calls._Caller(client.id, reseller.id, rng.choice([None, 9]), rng.choice(
            [None, 1, 2, 3, 4]))  # fmt: skip
        prefix = rng.choice(prefixes)
        destination = rng.choice(["", "+", "00", "011"]) + prefix + str(rng.randint(0, 10**6))
        if rng.random() < 0.02:
            destination = "9" * 12  # no route
        billsec = rng.choice([0, rng.randint(1, 7200), rng.randint(1, 90)])
        record = CallRecord(
            call_id=f"c{i}",
            destination=destination,
            started_at=T0 + timedelta(days=rng.randint(-60, 40), seconds=rng.randint(0, 86399)),
            duration=billsec + 1,
            billsec=billsec,
            disposition="answered" if billsec else "no_answer",
            direction="inbound" if rng.random() < 0.03 else "outbound",
            sub_account="u",
            a_number="1555",
        )
        batch.append((record, caller, client, reseller))
    # rated as batches (of the same calls at any moments, then of calls all in effect now)
    checked = 0
    for part in (batch[:10_000], batch[10_000:20_000], _recent(batch[20_000:])):
        for item, got in zip(part, rater.rate_many([item[:2] for item in part]), strict=True):
            expected = calls._rate_reference(pricer, *item)
            if isinstance(expected, str):
                assert got == expected
                continue
            assert dict(zip(calls.CALL_COLUMNS, got, strict=False)) == expected
            assert (
                got[calls.CALL_COLUMNS.index("sell_rate")].as_tuple()
                == expected["sell_rate"].as_tuple()
            )
            checked += 1
    assert checked > 15_000
    # prices were remembered (and reused by the later calls of the same deck rates)
    assert pricer.decks[1].memo and any(p.memo for p in pricer.packages.values())


def _recent(batch):
    """The same calls, all after the deck's newest row: the batch lookup's own path."""
    return [
        (record._replace(started_at=T0 + timedelta(days=20, seconds=n)), *rest)
        for n, (record, *rest) in enumerate(batch)
    ]
