"""The financial report: a month of real money movements of a markup and a commission reseller,
every figure checked against a computation straight from the ledger's postings, per day and per
client; tenancy and permissions."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from sqlalchemy import select

import api.domain.ledger as ledger_module
from api.db import transaction
from api.domain import accounts, calls, deposits, fees, financials, payments
from api.domain.actors import SYSTEM
from api.domain.errors import DomainError, ErrorCode
from api.domain.ledger import Idempotency, Leg
from api.models import Account, Call, LedgerEntry, Package, Posting, SubAccount
from tests.domain.test_ingest import call, make_deck, make_sub, rows
from tests.factories import (
    assert_rollups_match,
    client_actor,
    fund_reseller,
    make_client,
    make_reseller,
    operator_actor,
    reseller_actor,
)

pytestmark = pytest.mark.usefixtures("ledger_checked")

M = 1_000_000
MONTH = "2026-03"
FIRST, END = date(2026, 3, 1), date(2026, 4, 1)


class Clock:
    """The ledger's clock, moved by the test so that entries land on chosen days."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def at(self, day: int, hour: int = 12, month: int = 3) -> datetime:
        self.now = datetime(2026, month, day, hour, 0, tzinfo=UTC)
        return self.now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(ledger_module, "utcnow", c)
    return c


# --- the independent computation ------------------------------------------------------------


CLIENT_FEES = {
    "package_monthly_fee",
    "package_setup_fee",
    "did_monthly_fee",
    "did_client_setup_fee",
}
CORRECTIONS = {"deposit_refund", "deposit_reversal", "deposit_reinstate"}


async def brute_force(s, reseller, *, by: str) -> dict:
    """Every figure of ``reseller`` in the month, computed from each posting of the ledger and
    each stored call (no rollup read), grouped ``by`` "day", "client" or "total"."""
    out: dict = defaultdict(lambda: defaultdict(int))
    result = await s.execute(
        select(LedgerEntry.kind, LedgerEntry.client_id, LedgerEntry.created_at, Account.key)
        .add_columns(Posting.amount)
        .join(Posting, Posting.entry_id == LedgerEntry.id)
        .join(Account, Account.id == Posting.account_id)
        .where(LedgerEntry.reseller_id == reseller.id)
    )
    for kind, client_id, created_at, key, amount in result:
        day = created_at.date()
        if not FIRST <= day < END:
            continue
        group = {"day": day, "client": client_id, "total": None}[by]
        f = out[group]
        is_client = key.startswith("client:")
        is_reseller = key == f"reseller:{reseller.id}"
        if is_client and kind == "calls":
            f["calls_sell"] -= amount
        if is_client and kind in CLIENT_FEES:
            f["client_fees"] -= amount
        if is_client and kind == "client_charge":
            f["charges"] -= amount
        if is_reseller and kind == "calls":
            f["calls_cost"] -= amount
        if is_reseller and kind in ("did_setup_fee", "did_monthly_cost"):
            f["did_costs"] -= amount
        if is_reseller and kind == "hostname_fee":
            f["hostname_fees"] -= amount
        if key.startswith("operator:commission:"):
            f["commissions"] -= amount
        if is_client and kind in ("client_payment", "deposit"):
            f["client_deposits"] += amount
        if is_client and kind == "client_transfer":
            f["transfers"] += amount
        if is_reseller and (kind == "reseller_deposit" or (kind == "deposit" and not client_id)):
            f["reseller_deposits"] += amount
        if is_reseller and kind == "reseller_adjustment":
            f["adjustments"] += amount
        if is_client and (kind == "client_refund" or kind in CORRECTIONS):
            f["client_refunds"] -= amount
        if is_reseller and kind in CORRECTIONS and not client_id:
            f["reseller_refunds"] -= amount
    for c in await s.scalars(select(Call).where(Call.reseller_id == reseller.id)):
        day = c.started_at.date()
        if FIRST <= day < END:
            f = out[{"day": day, "client": c.client_id, "total": None}[by]]
            f["calls"] += 1
            f["seconds"] += c.billsec
    for f in out.values():
        f["revenue"] = f["calls_sell"] + f["client_fees"] + f["charges"]
        f["cost"] = f["calls_cost"] + f["did_costs"] + f["hostname_fees"]
        if reseller.billing_model == "commission":
            f["earnings"] = f["commissions"] + f["charges"]
        else:
            f["earnings"] = f["revenue"]
        f["profit"] = f["earnings"] - f["cost"]
    return out


FIGURES = [
    "calls_sell",
    "client_fees",
    "charges",
    "revenue",
    "calls_cost",
    "did_costs",
    "hostname_fees",
    "cost",
    "commissions",
    "earnings",
    "profit",
    "client_deposits",
    "transfers",
    "reseller_deposits",
    "adjustments",
    "client_refunds",
    "reseller_refunds",
    "calls",
    "seconds",
]


def as_dict(figures: financials.Figures) -> dict[str, int]:
    return {name: getattr(figures, name) for name in FIGURES}


def expected(brute: dict, group) -> dict[str, int]:
    got = brute.get(group, {})
    return {name: int(got.get(name, 0)) for name in FIGURES}


# --- a month of money -----------------------------------------------------------------------


async def markup_month(sessions, clock: Clock, settings):
    """Acme (markup, USD): two clients on a 20 %, 6/6 package with a monthly fee of 5 and an
    activation fee of 2; a month of deposits, payments, calls, fees, charges and refunds."""
    clock.at(1, 8)
    async with transaction(sessions) as s:
        deck = await make_deck(s)
        acme = await make_reseller(s, "markup", name="Acme")
        acme.base_deck_id = deck.id
        package = Package(
            reseller_id=acme.id,
            name="Retail",
            markup_pct=Decimal("20"),
            first_increment=6,
            increment=6,
            monthly_fee=5 * M,
            setup_fee=2 * M,
        )
        s.add(package)
        await s.flush()
        alice = await make_client(s, acme, "prepaid_permissive", name="Alice")
        bob = await make_client(s, acme, "prepaid_permissive", name="Bob")
        sub_a = await make_sub(s, alice, f"alice{alice.id}", package.id)
        await make_sub(s, bob, f"bob{bob.id}", package.id)
    clock.at(28, 12, month=2)  # before the month: not in the report
    async with transaction(sessions) as s:
        await fund_reseller(s, acme, "7")
    clock.at(2)
    async with transaction(sessions) as s:
        await fund_reseller(s, acme, "100")
        await deposits.credit(
            s,
            source="paypal",
            external_id="acme-topup-1",
            client_id=None,
            reseller_id=acme.id,
            amount=20 * M,
            currency="USD",
            memo="top-up",
            raw_id=None,
        )
    clock.at(3)
    async with transaction(sessions) as s:
        pay = await payments.client_payment(s, SYSTEM, alice.id, "30", "a-pay-1")
        await deposits.credit(
            s,
            source="paypal",
            external_id="alice-pp-1",
            client_id=alice.id,
            reseller_id=None,
            amount=15 * M,
            currency="USD",
            memo="paypal",
            raw_id=None,
        )
        await payments.client_transfer(s, SYSTEM, bob.id, "10", "b-transfer-1")
    clock.at(5, 18)
    async with transaction(sessions) as s:
        day5 = datetime(2026, 3, 5, 10, tzinfo=UTC)
        await calls.ingest(
            s,
            SYSTEM,
            rows(
                call("a-1", f"alice{alice.id}", billsec=27, at=day5),
                call("a-2", f"alice{alice.id}", billsec=125, at=day5),
                call("b-1", f"bob{bob.id}", billsec=61, at=day5),
            ),
        )
    clock.at(8)
    async with transaction(sessions) as s:
        await payments.client_charge(s, SYSTEM, alice.id, "2.5", "a-charge-1", "setup help")
        await payments.client_refund(
            s, SYSTEM, alice.id, "4", "a-refund-1", payment_id=pay.entry.id
        )
        await deposits.debit(
            s,
            source="paypal",
            external_id="alice-pp-1-refund",
            original_external_id="alice-pp-1",
            amount=5 * M,
            currency="USD",
            memo="refund",
            raw_id=None,
        )
    clock.at(10)
    async with transaction(sessions) as s:
        await fees.charge_sub_account_setup(s, SYSTEM, sub_a.id, "a-setup-1")
        for sub in await s.scalars(select(SubAccount).where(SubAccount.reseller_id == acme.id)):
            sub.next_billing_date = date(2026, 3, 10)
            sub.billing_day = 10
    await fees.run_due(sessions, settings, clock.now)
    clock.at(12)
    async with transaction(sessions) as s:
        await payments.hostname_fee(s, SYSTEM, acme, 991, 3 * M)
        await payments.did_setup_fee(s, SYSTEM, acme, 992, "15550001", 1_500_000, "did-1")
        await payments.reseller_adjust(s, SYSTEM, acme.id, "-1.25", "adj-1", "correction")
    clock.at(31, 23)
    async with transaction(sessions) as s:
        late = datetime(2026, 3, 31, 22, tzinfo=UTC)
        await calls.ingest(s, SYSTEM, rows(call("b-2", f"bob{bob.id}", billsec=300, at=late)))
    clock.at(1, 1, month=4)  # after the month
    async with transaction(sessions) as s:
        await payments.client_payment(s, SYSTEM, bob.id, "9", "b-pay-april")
    return acme, alice, bob


async def commission_month(sessions, clock: Clock):
    """Globex (commission 10 %, USD): Gina at base + 5 %; transfers, payments and a PayPal
    deposit earn commission, a refund and a reversal claw it back."""
    clock.at(1, 8)
    async with transaction(sessions) as s:
        deck = await make_deck(s)
        globex = await make_reseller(s, "commission", commission_pct="10", name="Globex")
        globex.base_deck_id = deck.id
        gina = await make_client(s, globex, "prepaid_permissive", name="Gina")
        gina.personal_rate_pct = Decimal("5")
        await make_sub(s, gina, f"gina{gina.id}")
    clock.at(2)
    async with transaction(sessions) as s:
        await fund_reseller(s, globex, "100")
    clock.at(4)
    async with transaction(sessions) as s:
        await payments.client_transfer(s, SYSTEM, gina.id, "20", "g-transfer-1")
        await payments.client_payment(s, SYSTEM, gina.id, "10", "g-pay-1")
    clock.at(6)
    async with transaction(sessions) as s:
        await deposits.credit(
            s,
            source="paypal",
            external_id="gina-pp-1",
            client_id=gina.id,
            reseller_id=None,
            amount=8 * M,
            currency="USD",
            memo="paypal",
            raw_id=None,
        )
        day6 = datetime(2026, 3, 6, 9, tzinfo=UTC)
        await calls.ingest(
            s,
            SYSTEM,
            rows(
                call("g-1", f"gina{gina.id}", billsec=60, at=day6),
                call("g-2", f"gina{gina.id}", billsec=0, at=day6),
            ),
        )
    clock.at(9)
    async with transaction(sessions) as s:
        await payments.client_refund(s, SYSTEM, gina.id, "3", "g-refund-1")
        await payments.client_charge(s, SYSTEM, gina.id, "1", "g-charge-1", "porting")
    clock.at(15)
    async with transaction(sessions) as s:
        await deposits.debit(
            s,
            source="paypal",
            external_id="gina-pp-1-chargeback",
            original_external_id="gina-pp-1",
            amount=8 * M,
            currency="USD",
            memo="chargeback",
            raw_id=None,
            reason="reversal",
        )
    return globex, gina


# --- tests ----------------------------------------------------------------------------------


async def _check_against_ledger(s, reseller, report: financials.FinancialReport) -> None:
    totals = await brute_force(s, reseller, by="total")
    [figures] = report.totals
    assert figures.currency == reseller.currency
    assert as_dict(figures) == expected(totals, None)
    per_day = await brute_force(s, reseller, by="day")
    assert [d.day for d in report.days] == [FIRST + timedelta(n) for n in range(31)]
    for d in report.days:
        [day_figures] = d.totals
        assert as_dict(day_figures) == expected(per_day, d.day), d.day
    per_client = await brute_force(s, reseller, by="client")
    listed = {c.client.id: as_dict(c.figures) for c in report.clients}
    assert listed == {cid: expected(per_client, cid) for cid in per_client if cid}


async def test_markup_month_equals_the_ledger_per_day_and_client(sessions, clock, settings):
    acme, alice, bob = await markup_month(sessions, clock, settings)
    async with sessions() as s:
        report = await financials.report(s, reseller_actor(acme), MONTH)
        await _check_against_ledger(s, acme, report)
    [t] = report.totals
    # figures a reseller would check by hand
    assert t.client_deposits == (30 + 15) * M  # a manual payment and a PayPal one
    assert t.transfers == 10 * M
    assert t.reseller_deposits == (100 + 20) * M  # February's 7 is not in March
    assert t.client_refunds == (4 + 5) * M
    assert t.charges == 2_500_000
    assert t.client_fees == 2 * M + 2 * 5 * M  # one activation fee, two monthly fees
    assert t.hostname_fees == 3 * M and t.did_costs == 1_500_000
    assert t.adjustments == -1_250_000
    assert t.commissions == 0 and t.earnings == t.revenue
    assert t.calls == 4 and t.seconds == 27 + 125 + 61 + 300
    assert t.calls_sell > 0 and t.calls_cost > 0
    assert t.profit == t.revenue - t.calls_cost - 3 * M - 1_500_000
    assert [c.client.id for c in report.clients] == [alice.id, bob.id]
    by_name = {c.client.name: c.figures for c in report.clients}
    assert by_name["Alice"].client_deposits == 45 * M and by_name["Bob"].transfers == 10 * M
    # the late call of the 31st and its money are on the 31st; April's payment is nowhere
    assert report.days[30].totals[0].calls == 1 and report.days[30].totals[0].calls_sell > 0
    assert sum(c.figures.client_deposits for c in report.clients) == t.client_deposits


async def test_commission_month_equals_the_ledger_and_earns_commissions(sessions, clock):
    globex, gina = await commission_month(sessions, clock)
    async with sessions() as s:
        report = await financials.report(s, reseller_actor(globex), MONTH)
        assert [c.client.id for c in report.clients] == [gina.id]
        await _check_against_ledger(s, globex, report)
    [t] = report.totals
    # 10 % of 20 + 10 + 8, less 10 % of the refund of 3 and of the reversed 8
    assert t.commissions == 2 * M + 1 * M + 800_000 - 300_000 - 800_000
    assert t.earnings == t.commissions + 1 * M  # and the manual charge is the reseller's
    assert t.calls_cost == 0 and t.calls_sell == 10_500  # 60 s at 0.01 + 5 %, paid to the operator
    assert t.revenue == 10_500 + 1 * M
    assert t.client_deposits == (10 + 8) * M and t.transfers == 20 * M
    assert t.client_refunds == (3 + 8) * M
    assert t.profit == t.earnings
    assert t.calls == 2 and t.seconds == 60


async def test_the_operator_sees_every_reseller_per_currency(sessions, clock, settings):
    acme, _, _ = await markup_month(sessions, clock, settings)
    globex, _ = await commission_month(sessions, clock)
    clock.at(20)
    async with transaction(sessions) as s:
        euro = await make_reseller(s, "markup", currency="EUR", name="Euro")
        await fund_reseller(s, euro, "50")
    async with sessions() as s:
        report = await financials.report(s, operator_actor(), MONTH)
        assert report.reseller is None and report.clients == []
        assert [t.currency for t in report.totals] == ["EUR", "USD"]
        rows_ = {r.reseller.name: r.figures for r in report.resellers}
        assert set(rows_) == {"Acme", "Globex", "Euro"}
        for reseller in (acme, globex):
            mine = await financials.report(s, reseller_actor(reseller), MONTH)
            assert as_dict(rows_[reseller.name]) == as_dict(mine.totals[0])
        usd = {t.currency: t for t in report.totals}["USD"]
        assert usd.profit == rows_["Acme"].profit + rows_["Globex"].profit
        assert {t.currency: t for t in report.totals}["EUR"].reseller_deposits == 50 * M
        for d in report.days:  # each day's currencies add up to the month's
            assert {t.currency for t in d.totals} <= {"EUR", "USD"}
        assert sum(
            t.client_deposits for d in report.days for t in d.totals if t.currency == "USD"
        ) == (usd.client_deposits)
        # the operator may also name one reseller, with its clients
        named = await financials.report(s, operator_actor(), MONTH, globex.id)
        assert [c.client.name for c in named.clients] == ["Gina"]
        assert [r.reseller.id for r in named.resellers] == [globex.id]


async def test_another_reseller_sees_nothing_of_the_first(sessions, clock, settings):
    acme, _, _ = await markup_month(sessions, clock, settings)
    async with transaction(sessions) as s:
        other = await make_reseller(s, "markup", name="Other")
    async with sessions() as s:
        mine = await financials.report(s, reseller_actor(other), MONTH)
        assert mine.clients == [] and [r.reseller.id for r in mine.resellers] == [other.id]
        assert as_dict(mine.totals[0]) == as_dict(financials.Figures("USD"))
        with pytest.raises(DomainError) as err:
            await financials.report(s, reseller_actor(other), MONTH, acme.id)
        assert err.value.code == ErrorCode.NOT_FOUND


async def test_a_client_or_a_token_without_reports_read_is_refused(sessions, clock, settings):
    acme, alice, _ = await markup_month(sessions, clock, settings)
    async with sessions() as s:
        with pytest.raises(DomainError) as err:
            await financials.report(s, client_actor(alice), MONTH)
        assert err.value.code == ErrorCode.PERMISSION_DENIED
        narrow = reseller_actor(acme)
        narrow = type(narrow)(**{**narrow.__dict__, "permissions": frozenset({"clients:read"})})
        with pytest.raises(DomainError) as err:
            await financials.report(s, narrow, MONTH)
        assert err.value.code == ErrorCode.PERMISSION_DENIED


@pytest.mark.parametrize("month", ["2026-13", "2026-3", "march", "", "1999-12"])
async def test_a_bad_month_is_a_clear_error(sessions, month):
    async with transaction(sessions) as s:
        reseller = await make_reseller(s)
    async with sessions() as s:
        with pytest.raises(DomainError) as err:
            await financials.report(s, reseller_actor(reseller), month)
        assert err.value.code == ErrorCode.VALIDATION and err.value.field == "month"


# --- random sequences -----------------------------------------------------------------------

OPS = ("deposit", "transfer", "payment", "charge", "refund", "calls")
move = st.tuples(
    st.sampled_from(OPS),
    st.integers(min_value=0, max_value=3),  # which client
    st.integers(min_value=1, max_value=40 * M),  # amount in micros
    st.sampled_from([(2, 27), (3, 1), (3, 2), (3, 15), (3, 31), (4, 1)]),  # (month, day)
)


@examples(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(moves=st.lists(move, min_size=1, max_size=10))
async def test_rollups_and_report_equal_the_postings_after_random_movements(sessions, clock, moves):
    """Given a markup and a commission reseller with two clients each, when random movements
    (some refused) land on random days, one by one through ``ledger.post`` or in batches
    through ``ledger.post_many``, then every rollup equals its postings and each reseller's
    report equals the postings, per day and per client."""
    run_id = uuid.uuid4().hex
    clock.at(1, 8)
    async with transaction(sessions) as s:
        markup = await make_reseller(s, "markup")
        agent = await make_reseller(s, "commission", commission_pct="12.5")
        clients = [
            await make_client(s, markup, "prepaid_permissive"),
            await make_client(s, markup, "prepaid_permissive"),
            await make_client(s, agent, "prepaid_permissive"),
            await make_client(s, agent, "prepaid_permissive"),
        ]
    owner = {markup.id: markup, agent.id: agent}
    for step, (op, which, micros, (month, day)) in enumerate(moves):
        client = clients[which]
        reseller = owner[client.reseller_id]
        key = f"{run_id}-{step}"
        clock.at(day, 6 + step, month=month)
        try:
            async with transaction(sessions) as s:
                if op == "deposit":
                    await payments.reseller_deposit(s, SYSTEM, reseller.id, micros, key)
                elif op == "transfer":
                    await payments.client_transfer(s, SYSTEM, client.id, micros, key)
                elif op == "payment":
                    await payments.client_payment(s, SYSTEM, client.id, micros, key)
                elif op == "charge":
                    await payments.client_charge(s, SYSTEM, client.id, micros, key, "usage")
                elif op == "refund":
                    await payments.client_refund(s, SYSTEM, client.id, micros, key)
                else:
                    await ledger_module.post_many(
                        s, await _call_specs(s, clients, owner, micros, key), SYSTEM
                    )
        except DomainError as exc:
            assert exc.code == ErrorCode.INSUFFICIENT_FUNDS, exc.message
    async with sessions() as s:
        await assert_rollups_match(s)
        for reseller in (markup, agent):
            report = await financials.report(s, SYSTEM, MONTH, reseller.id)
            await _check_against_ledger(s, reseller, report)


async def _call_specs(s, clients, owner, micros, key) -> list[ledger_module.EntrySpec]:
    """A batch of call charges, one entry per client, as ingestion posts them."""
    specs = []
    for n, client in enumerate(clients):
        reseller = owner[client.reseller_id]
        cur = reseller.currency
        client_acc = await accounts.client_account(s, client, cur)
        sales = await payments.operator_account(s, "sales", cur)
        sell, cost = micros + n, (micros + n) * 5 // 6
        if reseller.billing_model == "commission":
            legs = [Leg(client_acc, -sell), Leg(sales, sell)]
        else:
            legs = [
                Leg(client_acc, -sell),
                Leg(await payments.reseller_book_account(s, reseller, "sales"), sell),
                Leg(await accounts.reseller_account(s, reseller), -cost),
                Leg(sales, cost),
            ]
        specs.append(
            ledger_module.EntrySpec(
                kind="calls",
                currency=cur,
                amount=sell,
                legs=legs,
                idem=Idempotency("test-calls", f"{key}-{n}", "h"),
                reseller_id=reseller.id,
                client_id=client.id,
            )
        )
    return specs
