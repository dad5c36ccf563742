"""The posting rules of api/domain/payments.py, for both billing models, with exact balances."""

from __future__ import annotations

import asyncio

import pytest

from api.db import transaction
from api.domain import payments
from api.domain.actors import SYSTEM
from api.domain.errors import DomainError, ErrorCode
from api.models import Client, LedgerEntry
from tests.factories import (
    assert_ledger_consistent,
    balance_of,
    client_balance,
    entry_count,
    fund_reseller,
    make_client,
    make_reseller,
    operator_actor,
    posting_count,
    reseller_actor,
    reseller_balance,
)

M = 1_000_000


def units(micros: int) -> str:
    return payments.money.format_amount(micros)


async def setup(sessions, model: str, *, fund: str = "1000", mode: str = "prepaid_strict", **kw):
    """Given a reseller of ``model`` (commission 10 %, EUR; markup, USD) funded with ``fund``
    and one client in billing ``mode``."""
    async with transaction(sessions) as s:
        if model == "commission":
            reseller = await make_reseller(s, "commission", currency="EUR", commission_pct="10")
        else:
            reseller = await make_reseller(s, "markup", currency="USD")
        client = await make_client(s, reseller, mode, **kw)
        if fund != "0":
            await fund_reseller(s, reseller, fund)
    return reseller, client


async def books(sessions, reseller, client) -> dict[str, int]:
    """Every balance a person would look at, by account key."""
    cur = reseller.currency
    async with sessions() as s:
        await assert_ledger_consistent(s)
        return {
            "reseller": await reseller_balance(s, reseller),
            "client": await client_balance(s, client),
            "receipts": await balance_of(s, f"reseller:{reseller.id}:receipts"),
            "sales": await balance_of(s, f"reseller:{reseller.id}:sales"),
            "deposits": await balance_of(s, f"operator:deposits:{cur}"),
            "adjustments": await balance_of(s, f"operator:adjustments:{cur}"),
            "commission": await balance_of(s, f"operator:commission:{cur}"),
            "entries": await entry_count(s),
            "postings": await posting_count(s),
        }


async def status_of(sessions, client) -> tuple[str, str]:
    async with sessions() as s:
        row = await s.get(Client, client.id)
        return row.status, row.status_reason


async def call(sessions, fn, *args, **kw):
    async with transaction(sessions) as s:
        return await fn(s, *args, **kw)


async def refused(sessions, code: ErrorCode, fn, *args, **kw) -> DomainError:
    with pytest.raises(DomainError) as err:
        await call(sessions, fn, *args, **kw)
    assert err.value.code == code, err.value.message
    return err.value


def moved(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """What changed, in micros (entries/postings counted too)."""
    return {k: after[k] - before[k] for k in after if after[k] != before[k]}


# --- the operator and a reseller's balance ----------------------------------------------------


@pytest.mark.parametrize("model", ["markup", "commission"])
async def test_operator_deposit_credits_the_reseller(sessions, model):
    reseller, client = await setup(sessions, model, fund="0")
    before = await books(sessions, reseller, client)

    await call(sessions, payments.reseller_deposit, operator_actor(), reseller.id, "250.50", "d1")

    assert moved(before, await books(sessions, reseller, client)) == {
        "reseller": 250_500_000,
        "deposits": -250_500_000,
        "entries": 1,
        "postings": 2,
    }


async def test_operator_adjustment_moves_either_way_but_never_below_zero(sessions):
    reseller, client = await setup(sessions, "markup", fund="100")
    op = operator_actor()
    before = await books(sessions, reseller, client)

    await call(sessions, payments.reseller_adjust, op, reseller.id, "-30", "a1", "overcharge")
    await call(sessions, payments.reseller_adjust, op, reseller.id, "5.25", "a2", "goodwill")
    after = await books(sessions, reseller, client)
    assert moved(before, after) == {
        "reseller": -24_750_000,
        "adjustments": 24_750_000,
        "entries": 2,
        "postings": 4,
    }

    err = await refused(
        sessions,
        ErrorCode.INSUFFICIENT_FUNDS,
        payments.reseller_adjust,
        op,
        reseller.id,
        "-75.250001",
        "a3",
        "too much",
    )
    assert "below zero" in err.message
    assert await books(sessions, reseller, client) == after
    await refused(
        sessions, ErrorCode.VALIDATION, payments.reseller_adjust, op, reseller.id, "0", "a4", "x"
    )
    await refused(
        sessions, ErrorCode.VALIDATION, payments.reseller_adjust, op, reseller.id, "1", "a5", ""
    )


async def test_a_reseller_cannot_deposit_to_itself(sessions):
    reseller, _ = await setup(sessions, "markup")
    await refused(
        sessions,
        ErrorCode.PERMISSION_DENIED,
        payments.reseller_deposit,
        reseller_actor(reseller),
        reseller.id,
        "10",
        "self",
    )


# --- transfers and payments -------------------------------------------------------------------


async def test_markup_transfer_moves_credit_from_reseller_to_client(sessions):
    reseller, client = await setup(sessions, "markup", fund="500")
    before = await books(sessions, reseller, client)

    await call(sessions, payments.client_transfer, reseller_actor(reseller), client.id, "100", "t")

    assert moved(before, await books(sessions, reseller, client)) == {
        "reseller": -100 * M,
        "client": 100 * M,
        "entries": 1,
        "postings": 2,
    }


async def test_commission_transfer_credits_the_reseller_ten_percent(sessions):
    reseller, client = await setup(sessions, "commission", fund="500")
    before = await books(sessions, reseller, client)

    await call(sessions, payments.client_transfer, reseller_actor(reseller), client.id, "100", "t")

    assert moved(before, await books(sessions, reseller, client)) == {
        "reseller": -90 * M,  # -100.00 moved, +10.00 commission
        "client": 100 * M,
        "commission": -10 * M,
        "entries": 1,
        "postings": 4,
    }


async def test_commission_is_rounded_half_up_once(sessions):
    reseller, client = await setup(sessions, "commission", fund="500")

    await call(
        sessions, payments.client_transfer, reseller_actor(reseller), client.id, "0.000005", "t"
    )

    after = await books(sessions, reseller, client)
    assert after["commission"] == -1  # 10 % of 5 micros = 0.5 micro, rounded up to 1
    assert after["reseller"] == 500 * M - 5 + 1


async def test_markup_manual_payment_goes_to_the_resellers_receipts(sessions):
    reseller, client = await setup(sessions, "markup", fund="500")
    before = await books(sessions, reseller, client)

    await call(sessions, payments.client_payment, reseller_actor(reseller), client.id, "40", "p")

    assert moved(before, await books(sessions, reseller, client)) == {
        "client": 40 * M,
        "receipts": -40 * M,
        "entries": 1,
        "postings": 2,
    }


async def test_commission_manual_payment_is_funded_by_the_reseller_and_earns_commission(sessions):
    reseller, client = await setup(sessions, "commission", fund="500")
    before = await books(sessions, reseller, client)

    await call(sessions, payments.client_payment, reseller_actor(reseller), client.id, "40", "p")

    assert moved(before, await books(sessions, reseller, client)) == {
        "reseller": -36 * M,
        "client": 40 * M,
        "commission": -4 * M,
        "entries": 1,
        "postings": 4,
    }


@pytest.mark.parametrize(
    ("model", "kind"),
    [("markup", "transfer"), ("commission", "transfer"), ("commission", "payment")],
)
async def test_a_reseller_cannot_move_more_credit_than_it_holds(sessions, model, kind):
    reseller, client = await setup(sessions, model, fund="50")
    before = await books(sessions, reseller, client)
    fn = payments.client_transfer if kind == "transfer" else payments.client_payment

    err = await refused(
        sessions,
        ErrorCode.INSUFFICIENT_FUNDS,
        fn,
        reseller_actor(reseller),
        client.id,
        "50.000001",
        "big",
    )

    assert err.field == "amount"
    assert await books(sessions, reseller, client) == before


async def test_a_reseller_can_move_exactly_what_it_holds(sessions):
    reseller, client = await setup(sessions, "markup", fund="50")

    await call(sessions, payments.client_transfer, reseller_actor(reseller), client.id, "50", "t")

    after = await books(sessions, reseller, client)
    assert (after["reseller"], after["client"]) == (0, 50 * M)


async def test_markup_payment_needs_no_reseller_balance(sessions):
    reseller, client = await setup(sessions, "markup", fund="0")

    await call(sessions, payments.client_payment, reseller_actor(reseller), client.id, "75", "p")

    after = await books(sessions, reseller, client)
    assert (after["reseller"], after["client"], after["receipts"]) == (0, 75 * M, -75 * M)


@pytest.mark.parametrize("amount", ["0", "-5", "1.0000001", "abc"])
async def test_bad_amounts_are_refused_naming_the_field(sessions, amount):
    reseller, client = await setup(sessions, "markup")
    before = await books(sessions, reseller, client)

    err = await refused(
        sessions,
        ErrorCode.VALIDATION,
        payments.client_transfer,
        reseller_actor(reseller),
        client.id,
        amount,
        "bad",
    )

    assert err.field == "amount"
    assert await books(sessions, reseller, client) == before


# --- charges and the billing-mode status rule -------------------------------------------------


async def test_markup_charge_goes_to_the_resellers_sales(sessions):
    reseller, client = await setup(sessions, "markup", fund="500")
    actor = reseller_actor(reseller)
    await call(sessions, payments.client_transfer, actor, client.id, "20", "t")
    before = await books(sessions, reseller, client)

    await call(sessions, payments.client_charge, actor, client.id, "7.5", "c", "setup fee")

    assert moved(before, await books(sessions, reseller, client)) == {
        "client": -7_500_000,
        "sales": 7_500_000,
        "entries": 1,
        "postings": 2,
    }


async def test_commission_charge_is_paid_to_the_reseller(sessions):
    reseller, client = await setup(sessions, "commission", fund="500")
    actor = reseller_actor(reseller)
    await call(sessions, payments.client_transfer, actor, client.id, "20", "t")
    before = await books(sessions, reseller, client)

    await call(sessions, payments.client_charge, actor, client.id, "7.5", "c", "setup fee")

    assert moved(before, await books(sessions, reseller, client)) == {
        "client": -7_500_000,
        "reseller": 7_500_000,
        "entries": 1,
        "postings": 2,
    }


async def test_a_charge_needs_a_memo(sessions):
    reseller, client = await setup(sessions, "markup")
    err = await refused(
        sessions,
        ErrorCode.VALIDATION,
        payments.client_charge,
        reseller_actor(reseller),
        client.id,
        "1",
        "c",
        "",
    )
    assert err.field == "memo"


@pytest.mark.parametrize("model", ["markup", "commission"])
@pytest.mark.parametrize("to_zero", [True, False])
async def test_strict_client_is_suspended_at_zero_or_below_and_reactivated_by_payment(
    sessions, model, to_zero
):
    reseller, strict = await setup(sessions, model, mode="prepaid_strict")
    async with transaction(sessions) as s:
        permissive = await make_client(s, reseller, "prepaid_permissive")
    actor = reseller_actor(reseller)
    charge = "10" if to_zero else "12.34"
    for client in (strict, permissive):
        await call(sessions, payments.client_transfer, actor, client.id, "10", f"t{client.id}")

    for client in (strict, permissive):
        await call(sessions, payments.client_charge, actor, client.id, charge, f"c{client.id}", "x")

    want = 0 if to_zero else -2_340_000
    async with sessions() as s:
        assert await client_balance(s, strict) == want
        assert await client_balance(s, permissive) == want
    assert await status_of(sessions, strict) == ("suspended", "balance exhausted")
    assert await status_of(sessions, permissive) == ("active", "")

    # a payment that leaves it at or below zero keeps it suspended
    if not to_zero:
        await call(sessions, payments.client_payment, actor, strict.id, "2.34", "p0")
        assert await status_of(sessions, strict) == ("suspended", "balance exhausted")
    await call(sessions, payments.client_payment, actor, strict.id, "5", "p1")
    assert await status_of(sessions, strict) == ("active", "")


async def test_a_client_suspended_by_hand_is_not_reactivated_by_a_payment(sessions):
    reseller, client = await setup(sessions, "markup")
    actor = reseller_actor(reseller)
    from api.domain import accounts

    await call(
        sessions,
        accounts.update_client,
        actor,
        client.id,
        {"status": "suspended", "status_reason": "fraud check"},
    )
    await call(sessions, payments.client_payment, actor, client.id, "5", "p1")

    assert await status_of(sessions, client) == ("suspended", "fraud check")


async def test_postpaid_client_is_blocked_at_its_credit_limit_and_unblocked_by_payment(sessions):
    reseller, client = await setup(sessions, "markup", mode="postpaid", credit_limit="50")
    actor = reseller_actor(reseller)

    await call(sessions, payments.client_charge, actor, client.id, "49.99", "c1", "calls")
    assert await status_of(sessions, client) == ("active", "")

    await call(sessions, payments.client_charge, actor, client.id, "0.01", "c2", "calls")
    assert await status_of(sessions, client) == ("blocked", "credit limit reached")
    async with sessions() as s:
        assert await client_balance(s, client) == -50 * M

    await call(sessions, payments.client_payment, actor, client.id, "0.01", "p1")
    assert await status_of(sessions, client) == ("active", "")


# --- refunds ----------------------------------------------------------------------------------


async def test_markup_refund_returns_money_out_of_the_receipts(sessions):
    reseller, client = await setup(sessions, "markup")
    actor = reseller_actor(reseller)
    paid = await call(sessions, payments.client_payment, actor, client.id, "30", "p")
    before = await books(sessions, reseller, client)

    await call(
        sessions, payments.client_refund, actor, client.id, "12", "r", payment_id=paid.entry.id
    )

    assert moved(before, await books(sessions, reseller, client)) == {
        "client": -12 * M,
        "receipts": 12 * M,
        "entries": 1,
        "postings": 2,
    }


async def test_commission_refund_claws_back_the_commission(sessions):
    reseller, client = await setup(sessions, "commission", fund="500")
    actor = reseller_actor(reseller)
    paid = await call(sessions, payments.client_transfer, actor, client.id, "100", "t")
    before = await books(sessions, reseller, client)

    await call(
        sessions, payments.client_refund, actor, client.id, "40", "r", payment_id=paid.entry.id
    )

    assert moved(before, await books(sessions, reseller, client)) == {
        "client": -40 * M,
        "reseller": 36 * M,  # +40.00 back, -4.00 commission clawed back
        "commission": 4 * M,
        "entries": 1,
        "postings": 4,
    }
    async with sessions() as s:
        refund = await s.scalar(select_entry_by_kind("client_refund"))
        assert refund.reverses_id == paid.entry.id


def select_entry_by_kind(kind: str):
    from sqlalchemy import select

    return select(LedgerEntry).where(LedgerEntry.kind == kind)


@pytest.mark.parametrize("model", ["markup", "commission"])
async def test_refunds_never_exceed_the_payment_they_name(sessions, model):
    reseller, client = await setup(sessions, model)
    actor = reseller_actor(reseller)
    paid = await call(sessions, payments.client_transfer, actor, client.id, "30", "t1")
    await call(sessions, payments.client_transfer, actor, client.id, "70", "t2")
    await call(
        sessions, payments.client_refund, actor, client.id, "20", "r1", payment_id=paid.entry.id
    )
    before = await books(sessions, reseller, client)

    err = await refused(
        sessions,
        ErrorCode.VALIDATION,
        payments.client_refund,
        actor,
        client.id,
        "10.000001",
        "r2",
        payment_id=paid.entry.id,
    )

    assert err.field == "amount"
    assert "10.00" in err.message
    assert await books(sessions, reseller, client) == before
    await call(
        sessions, payments.client_refund, actor, client.id, "10", "r3", payment_id=paid.entry.id
    )
    after = await books(sessions, reseller, client)
    assert after["client"] == 70 * M


async def test_a_refund_never_exceeds_the_clients_balance(sessions):
    reseller, client = await setup(sessions, "markup")
    actor = reseller_actor(reseller)
    paid = await call(sessions, payments.client_payment, actor, client.id, "30", "p")
    await call(sessions, payments.client_charge, actor, client.id, "25", "c", "calls")
    before = await books(sessions, reseller, client)

    err = await refused(
        sessions,
        ErrorCode.INSUFFICIENT_FUNDS,
        payments.client_refund,
        actor,
        client.id,
        "5.01",
        "r",
        payment_id=paid.entry.id,
    )

    assert "refund" in err.message
    assert await books(sessions, reseller, client) == before
    await refused(
        sessions, ErrorCode.INSUFFICIENT_FUNDS, payments.client_refund, actor, client.id, "6", "w"
    )


async def test_a_refund_must_name_a_payment_of_this_client(sessions):
    reseller, client = await setup(sessions, "markup")
    actor = reseller_actor(reseller)
    async with transaction(sessions) as s:
        other = await make_client(s, reseller)
    paid_other = await call(sessions, payments.client_payment, actor, other.id, "30", "p-o")
    await call(sessions, payments.client_payment, actor, client.id, "30", "p")
    charge = await call(sessions, payments.client_charge, actor, client.id, "1", "c", "x")

    for entry_id in (paid_other.entry.id, charge.entry.id, 999_999):
        err = await refused(
            sessions,
            ErrorCode.NOT_FOUND,
            payments.client_refund,
            actor,
            client.id,
            "1",
            f"r{entry_id}",
            payment_id=entry_id,
        )
        assert err.field == "paymentId"


# --- replays ----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["markup", "commission"])
async def test_replaying_any_mutation_with_the_same_key_changes_nothing(sessions, model):
    reseller, client = await setup(sessions, model)
    actor = reseller_actor(reseller)
    op = operator_actor()
    paid = await call(sessions, payments.client_transfer, actor, client.id, "50", "pay")
    mutations = [
        (payments.reseller_deposit, (op, reseller.id, "10", "dep")),
        (payments.reseller_adjust, (op, reseller.id, "-1", "adj", "fix")),
        (payments.client_transfer, (actor, client.id, "3", "tr")),
        (payments.client_payment, (actor, client.id, "4", "pm")),
        (payments.client_charge, (actor, client.id, "60", "ch", "calls")),
        (payments.client_transfer, (actor, client.id, "20", "tr2")),
    ]
    for fn, args in mutations:
        first = await call(sessions, fn, *args)
        before = await books(sessions, reseller, client)
        status = await status_of(sessions, client)

        again = await call(sessions, fn, *args)

        assert again.replayed and not first.replayed
        assert again.entry.id == first.entry.id
        assert await books(sessions, reseller, client) == before
        assert await status_of(sessions, client) == status

    first = await call(
        sessions, payments.client_refund, actor, client.id, "5", "rf", payment_id=paid.entry.id
    )
    before = await books(sessions, reseller, client)
    again = await call(
        sessions, payments.client_refund, actor, client.id, "5", "rf", payment_id=paid.entry.id
    )
    assert again.replayed and again.entry.id == first.entry.id
    assert await books(sessions, reseller, client) == before


async def test_replaying_a_refund_of_the_whole_payment_returns_the_refund(sessions):
    reseller, client = await setup(sessions, "markup")
    actor = reseller_actor(reseller)
    paid = await call(sessions, payments.client_payment, actor, client.id, "30", "p")
    first = await call(
        sessions, payments.client_refund, actor, client.id, "30", "r", payment_id=paid.entry.id
    )
    before = await books(sessions, reseller, client)

    again = await call(
        sessions, payments.client_refund, actor, client.id, "30", "r", payment_id=paid.entry.id
    )

    assert again.replayed and again.entry.id == first.entry.id
    assert await books(sessions, reseller, client) == before


async def test_keys_are_scoped_per_tenant(sessions):
    """Two resellers may use the same key: each lands once in its own books."""
    r1, c1 = await setup(sessions, "markup")
    r2, c2 = await setup(sessions, "markup")

    m1 = await call(sessions, payments.client_transfer, reseller_actor(r1), c1.id, "5", "same")
    m2 = await call(sessions, payments.client_transfer, reseller_actor(r2), c2.id, "5", "same")

    assert not m1.replayed and not m2.replayed
    async with sessions() as s:
        assert await client_balance(s, c1) == await client_balance(s, c2) == 5 * M


# --- concurrency (PostgreSQL) -----------------------------------------------------------------


@pytest.fixture
def postgres_only(db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("concurrent row locking is proven on PostgreSQL")


async def _gather(sessions, jobs):
    async def one(fn, args, kw):
        try:
            return await call(sessions, fn, *args, **kw)
        except DomainError as exc:
            return exc

    return await asyncio.gather(*(one(fn, args, kw) for fn, args, kw in jobs))


@pytest.mark.parametrize("model", ["markup", "commission"])
async def test_concurrent_charges_and_transfers_lose_nothing(sessions, postgres_only, model):
    reseller, client = await setup(sessions, model, fund="1000", mode="prepaid_permissive")
    actor = reseller_actor(reseller)
    jobs = []
    for i in range(50):
        if i % 2:
            jobs.append((payments.client_charge, (actor, client.id, "1.25", f"c{i}", "calls"), {}))
        else:
            jobs.append((payments.client_transfer, (actor, client.id, "3", f"t{i}"), {}))

    results = await _gather(sessions, jobs)

    assert [r for r in results if isinstance(r, Exception)] == []
    after = await books(sessions, reseller, client)
    assert after["client"] == 25 * 3 * M - 25 * 1_250_000
    if model == "markup":
        assert after["reseller"] == 1000 * M - 75 * M
        assert after["sales"] == 25 * 1_250_000
    else:  # 25 transfers of 3.00 earn 0.30 each; charges are paid to the reseller
        assert after["reseller"] == 1000 * M - 75 * M + 25 * 300_000 + 25 * 1_250_000
        assert after["commission"] == -25 * 300_000
    assert after["entries"] == 1 + 50


async def test_concurrent_debits_never_cross_a_floor(sessions, postgres_only):
    """A reseller holding 30.00 sends 1.00 fifty times at once: exactly 30 land."""
    reseller, client = await setup(sessions, "markup", fund="30", mode="prepaid_permissive")
    async with transaction(sessions) as s:
        others = [await make_client(s, reseller) for _ in range(4)]
    targets = [client, *others]
    actor = reseller_actor(reseller)
    jobs = [
        (payments.client_transfer, (actor, targets[i % 5].id, "1", f"t{i}"), {}) for i in range(50)
    ]

    results = await _gather(sessions, jobs)

    errors = [r for r in results if isinstance(r, DomainError)]
    assert len(errors) == 20
    assert {e.code for e in errors} == {ErrorCode.INSUFFICIENT_FUNDS}
    after = await books(sessions, reseller, client)
    assert after["reseller"] == 0
    async with sessions() as s:
        total = sum([await client_balance(s, c) for c in targets])
    assert total == 30 * M


async def test_concurrent_refunds_never_exceed_the_payment(sessions, postgres_only):
    reseller, client = await setup(sessions, "markup")
    actor = reseller_actor(reseller)
    paid = await call(sessions, payments.client_payment, actor, client.id, "10", "p")
    await call(sessions, payments.client_payment, actor, client.id, "100", "p2")
    jobs = [
        (payments.client_refund, (actor, client.id, "1", f"r{i}"), {"payment_id": paid.entry.id})
        for i in range(20)
    ]

    results = await _gather(sessions, jobs)

    assert sum(not isinstance(r, Exception) for r in results) == 10
    after = await books(sessions, reseller, client)
    assert after["client"] == 100 * M


@pytest.mark.parametrize("mutation", ["deposit", "transfer", "payment"])
async def test_the_same_key_delivered_five_times_at_once_credits_once(
    sessions, postgres_only, mutation
):
    reseller, client = await setup(sessions, "commission", fund="100")
    actor = reseller_actor(reseller)
    if mutation == "deposit":
        job = (payments.reseller_deposit, (SYSTEM, reseller.id, "7", "once"), {})
    elif mutation == "transfer":
        job = (payments.client_transfer, (actor, client.id, "7", "once"), {})
    else:
        job = (payments.client_payment, (actor, client.id, "7", "once"), {})
    before = await books(sessions, reseller, client)

    results = await _gather(sessions, [job] * 5)

    assert [r for r in results if isinstance(r, Exception)] == []
    assert len({r.entry.id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    change = moved(before, await books(sessions, reseller, client))
    assert change["entries"] == 1
    if mutation == "deposit":
        assert change["reseller"] == 7 * M
    else:
        assert change["client"] == 7 * M
        assert change["reseller"] == -7 * M + 700_000
