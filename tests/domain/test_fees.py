"""Recurring fees: packages' and numbers' monthly fees charged by the worker once per period
(reruns, catch-up, month ends, two workers at once), both billing models, the status rule,
and the setup fees charged on request."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, update

from api.db import is_sqlite, transaction
from api.domain import callers, fees, numbers, payments, rates
from api.domain.actors import SYSTEM
from api.domain.errors import DomainError, ErrorCode
from api.models import AuditEvent, Client, Did, FeeCharge, LedgerEntry, SubAccount
from api.models.base import utcnow
from api.settings import Settings
from api.worker import JOBS, run_once
from tests.factories import (
    assert_ledger_consistent,
    balance_of,
    client_actor,
    client_balance,
    entry_count,
    fund_reseller,
    make_client,
    make_reseller,
    reseller_actor,
    reseller_balance,
    unique_key,
)

M = 1_000_000
SETTINGS = Settings(secret_key="dialtone-test-secret-key-0123456789")


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, 30, tzinfo=UTC)


async def run(sessions, day: date) -> int:
    return await fees.run_due(sessions, SETTINGS, at(day))


async def subscriber(
    sessions,
    *,
    model: str = "markup",
    mode: str = "prepaid_strict",
    funds: str = "100",
    monthly: str = "10",
    setup: str = "0",
    commission_pct: str = "0",
):
    """A funded reseller, a client holding ``funds`` and a sub-account on a package with these
    fees (its first period starts today)."""
    async with transaction(sessions) as s:
        reseller = await make_reseller(s, model, commission_pct=commission_pct)
        await fund_reseller(s, reseller, "1000")
        client = await make_client(s, reseller, mode)
        if funds != "0":
            await payments.client_transfer(s, SYSTEM, client.id, funds, unique_key())
        package = await rates.create_package(
            s,
            reseller_actor(reseller),
            None,
            {"name": f"Pack {client.id}", "monthly_fee": monthly, "setup_fee": setup},
        )
        sub, _ = await callers.create_sub_account(
            s,
            reseller_actor(reseller),
            client.id,
            {"username": f"sip{client.id}", "package_id": package.id},
            settings=SETTINGS,
        )
    return reseller, client, sub


async def set_due(sessions, sub_id: int, day: date) -> None:
    """Move a sub-account's next billing date (test setup: no money moves)."""
    async with transaction(sessions) as s:
        await s.execute(
            update(SubAccount)
            .where(SubAccount.id == sub_id)
            .values(next_billing_date=day, billing_day=day.day)
        )


async def sub_row(sessions, sub_id: int) -> SubAccount:
    async with sessions() as s:
        return await s.get(SubAccount, sub_id)


async def charges(sessions, **where) -> list[FeeCharge]:
    async with sessions() as s:
        stmt = select(FeeCharge).order_by(FeeCharge.period_start, FeeCharge.id)
        for name, value in where.items():
            stmt = stmt.where(getattr(FeeCharge, name) == value)
        return list(await s.scalars(stmt))


# --- periods -------------------------------------------------------------------------------------


def test_a_month_later_keeps_the_day_and_clamps_to_the_month_end():
    assert fees.add_month(date(2027, 1, 15), 15) == date(2027, 2, 15)
    assert fees.add_month(date(2027, 1, 31), 31) == date(2027, 2, 28)
    assert fees.add_month(date(2027, 2, 28), 31) == date(2027, 3, 31)
    assert fees.add_month(date(2028, 1, 30), 30) == date(2028, 2, 29)
    assert fees.add_month(date(2027, 12, 31), 31) == date(2028, 1, 31)
    periods, following = fees.periods_due(date(2027, 1, 31), 31, date(2027, 3, 31))
    assert periods == [
        (date(2027, 1, 31), date(2027, 2, 27)),
        (date(2027, 2, 28), date(2027, 3, 30)),
        (date(2027, 3, 31), date(2027, 4, 29)),
    ]
    assert following == date(2027, 4, 30)
    assert fees.periods_due(date(2027, 5, 2), 2, date(2027, 5, 1)) == ([], date(2027, 5, 2))


# --- the worker: packages ------------------------------------------------------------------------


async def test_a_package_monthly_fee_is_charged_on_its_due_date_and_not_before(sessions):
    reseller, client, sub = await subscriber(sessions, funds="100", monthly="10")
    today = utcnow().date()
    assert (await sub_row(sessions, sub.id)).next_billing_date == today

    assert await run(sessions, today - timedelta(days=1)) == 0
    assert await charges(sessions) == []

    assert await run(sessions, today) == 1

    async with sessions() as s:
        assert await client_balance(s, client) == 90 * M
        assert await balance_of(s, f"reseller:{reseller.id}:fees") == 10 * M
        assert await reseller_balance(s, reseller) == 900 * M  # a package has no platform cost
        await assert_ledger_consistent(s)
    [charge] = await charges(sessions)
    following = fees.add_month(today, today.day)
    assert (charge.subject_type, charge.subject_id, charge.kind) == (
        "sub_account",
        sub.id,
        "monthly",
    )
    assert (charge.client_id, charge.reseller_id, charge.payer) == (
        client.id,
        reseller.id,
        f"client:{client.id}",
    )
    assert (charge.period_start, charge.period_end) == (today, following - timedelta(days=1))
    assert (charge.client_amount, charge.reseller_cost, charge.currency) == (10 * M, 0, "USD")
    assert charge.invoice_id is None
    assert f"Pack {client.id}" in charge.description
    async with sessions() as s:
        entry = await s.get(LedgerEntry, charge.entry_id)
    assert (entry.kind, entry.amount, entry.client_id) == ("package_monthly_fee", 10 * M, client.id)
    assert (entry.idem_scope, entry.idem_key) == (
        "fee",
        fees.fee_key("sub_account", sub.id, "monthly", today, f"client:{client.id}"),
    )
    assert (await sub_row(sessions, sub.id)).next_billing_date == following


async def test_a_rerun_charges_nothing_more(sessions):
    _, client, _ = await subscriber(sessions, funds="100", monthly="10")
    today = utcnow().date()
    assert await run(sessions, today) == 1
    async with sessions() as s:
        entries = await entry_count(s)

    assert await run(sessions, today) == 0
    assert await run(sessions, today + timedelta(days=3)) == 0

    async with sessions() as s:
        assert await entry_count(s) == entries
        assert await client_balance(s, client) == 90 * M
    assert len(await charges(sessions)) == 1


async def test_a_period_charged_before_is_not_charged_again_when_its_date_comes_back(sessions):
    _, client, sub = await subscriber(sessions, funds="100", monthly="10")
    today = utcnow().date()
    assert await run(sessions, today) == 1
    await set_due(sessions, sub.id, today)  # e.g. moved back by hand

    assert await run(sessions, today) == 0

    async with sessions() as s:
        assert await client_balance(s, client) == 90 * M
        await assert_ledger_consistent(s)
    assert (await sub_row(sessions, sub.id)).next_billing_date > today


async def test_missed_months_are_caught_up_on_the_next_run(sessions):
    _, client, sub = await subscriber(sessions, funds="100", monthly="10")
    await set_due(sessions, sub.id, date(2027, 1, 10))
    assert await run(sessions, date(2027, 1, 10)) == 1

    # the worker did not run in February nor on the due day of March
    assert await run(sessions, date(2027, 3, 12)) == 2

    found = await charges(sessions)
    assert [(c.period_start, c.period_end) for c in found] == [
        (date(2027, 1, 10), date(2027, 2, 9)),
        (date(2027, 2, 10), date(2027, 3, 9)),
        (date(2027, 3, 10), date(2027, 4, 9)),
    ]
    assert (await sub_row(sessions, sub.id)).next_billing_date == date(2027, 4, 10)
    async with sessions() as s:
        assert await client_balance(s, client) == 70 * M
        await assert_ledger_consistent(s)


async def test_a_fee_due_on_the_31st_falls_on_the_last_day_of_shorter_months(sessions):
    _, _, sub = await subscriber(sessions, funds="100", monthly="1")
    await set_due(sessions, sub.id, date(2027, 1, 31))

    assert await run(sessions, date(2027, 1, 31)) == 1
    assert (await sub_row(sessions, sub.id)).next_billing_date == date(2027, 2, 28)
    assert await run(sessions, date(2027, 2, 28)) == 1
    assert (await sub_row(sessions, sub.id)).next_billing_date == date(2027, 3, 31)
    assert await run(sessions, date(2027, 3, 30)) == 0
    assert await run(sessions, date(2027, 3, 31)) == 1

    assert [(c.period_start, c.period_end) for c in await charges(sessions)] == [
        (date(2027, 1, 31), date(2027, 2, 27)),
        (date(2027, 2, 28), date(2027, 3, 30)),
        (date(2027, 3, 31), date(2027, 4, 29)),
    ]


async def test_a_free_package_moves_the_date_on_without_charging(sessions):
    _, _, sub = await subscriber(sessions, funds="100", monthly="0")
    today = utcnow().date()
    async with sessions() as s:
        entries = await entry_count(s)

    assert await run(sessions, today) == 0

    assert (await sub_row(sessions, sub.id)).next_billing_date == fees.add_month(today, today.day)
    async with sessions() as s:
        assert await entry_count(s) == entries
    assert await charges(sessions) == []


async def test_a_sub_account_gets_its_first_billing_date_with_its_package(sessions):
    async with transaction(sessions) as s:
        reseller = await make_reseller(s)
        client = await make_client(s, reseller)
        package = await rates.create_package(
            s, reseller_actor(reseller), None, {"name": "P", "monthly_fee": "5"}
        )
        sub, _ = await callers.create_sub_account(
            s, reseller_actor(reseller), client.id, {"username": "nopack"}, settings=SETTINGS
        )
        assert sub.next_billing_date is None
        await callers.update_sub_account(
            s, reseller_actor(reseller), sub.id, {"package_id": package.id}
        )
    row = await sub_row(sessions, sub.id)
    assert (row.next_billing_date, row.billing_day) == (utcnow().date(), utcnow().day)


async def test_commission_model_a_client_pays_its_fee_to_the_operator(sessions):
    reseller, client, _ = await subscriber(
        sessions, model="commission", commission_pct="10", funds="50", monthly="8"
    )
    async with sessions() as s:
        reseller_before = await reseller_balance(s, reseller)

    assert await run(sessions, utcnow().date()) == 1

    async with sessions() as s:
        assert await client_balance(s, client) == 42 * M
        assert await balance_of(s, "operator:client_fees:USD") == 8 * M
        assert await reseller_balance(s, reseller) == reseller_before
        assert await balance_of(s, f"reseller:{reseller.id}:fees") == 0
        await assert_ledger_consistent(s)


async def test_a_strict_prepaid_client_taken_to_zero_by_a_fee_is_suspended(sessions):
    _, strict, _ = await subscriber(sessions, funds="10", monthly="10")
    _, permissive, _ = await subscriber(
        sessions, mode="prepaid_permissive", funds="5", monthly="10"
    )

    assert await run(sessions, utcnow().date()) == 2

    async with sessions() as s:
        strict_row = await s.get(Client, strict.id)
        permissive_row = await s.get(Client, permissive.id)
        assert await client_balance(s, strict) == 0
        assert await client_balance(s, permissive) == -5 * M
        event = await s.scalar(
            select(AuditEvent).where(
                AuditEvent.subject_id == strict.id, AuditEvent.action == "client.status_changed"
            )
        )
        await assert_ledger_consistent(s)
    assert (strict_row.status, strict_row.status_reason) == ("suspended", "balance exhausted")
    assert permissive_row.status == "active"  # may go below zero
    assert event is not None and event.actor_type == "system"


async def test_the_worker_runs_the_recurring_fees_job(sessions, settings):
    _, client, _ = await subscriber(sessions, funds="20", monthly="3")
    assert "recurring-fees" in [job.name for job in JOBS]
    job = [j for j in JOBS if j.name == "recurring-fees"]

    done = await run_once(sessions, settings, jobs=tuple(job))

    assert done == {"recurring-fees": 1}
    async with sessions() as s:
        assert await client_balance(s, client) == 17 * M


# --- the worker: numbers -------------------------------------------------------------------------


async def held_number(sessions, *, funds: str = "100", reseller_funds: str = "200", model="markup"):
    """A number (monthly cost 1.50, setup cost 2) ordered by a reseller and assigned to its
    client at 4.00 a month and 6.00 setup."""
    async with transaction(sessions) as s:
        result = await numbers.import_numbers(
            s,
            SYSTEM,
            [
                "number,country,city,monthly_cost,setup_cost,per_minute,currency\n",
                "14155550123,US,SF,1.50,2,0,USD\n",
            ],
        )
        assert result.errors == []
        did_id = await s.scalar(select(Did.id).where(Did.number == "14155550123"))
        reseller = await make_reseller(s, model)
        if reseller_funds != "0":
            await fund_reseller(s, reseller, reseller_funds)
        client = await make_client(s, reseller)
        if funds != "0":
            await payments.client_transfer(s, SYSTEM, client.id, funds, unique_key())
        await numbers.order(s, reseller_actor(reseller), did_id, unique_key())
        await numbers.assign(
            s, reseller_actor(reseller), did_id, client.id, monthly_price="4", setup_price="6"
        )
    return did_id, reseller, client


async def test_a_number_charges_the_client_its_price_and_the_reseller_its_platform_cost(sessions):
    did_id, reseller, client = await held_number(sessions, funds="100", reseller_funds="150")
    async with sessions() as s:
        reseller_before = await reseller_balance(s, reseller)  # 150 - 100 moved - 2 setup
    today = utcnow().date()

    assert await run(sessions, today) == 2
    assert await run(sessions, today) == 0

    async with sessions() as s:
        assert await client_balance(s, client) == 96 * M
        assert await balance_of(s, f"reseller:{reseller.id}:fees") == 4 * M
        assert await reseller_balance(s, reseller) == reseller_before - 1_500_000
        assert await balance_of(s, "operator:did_fees:USD") == 2 * M + 1_500_000
        did = await s.get(Did, did_id)
        await assert_ledger_consistent(s)
    following = fees.add_month(today, today.day)
    assert (did.client_next_billing_date, did.reseller_next_billing_date) == (following, following)
    client_side, reseller_side = sorted(await charges(sessions), key=lambda c: c.payer)
    assert (client_side.subject_type, client_side.subject_id) == ("did", did_id)
    assert (client_side.client_amount, client_side.reseller_cost) == (4 * M, 0)
    assert client_side.client_id == client.id
    assert reseller_side.payer == f"reseller:{reseller.id}"
    assert (reseller_side.client_amount, reseller_side.reseller_cost) == (0, 1_500_000)
    assert reseller_side.client_id is None


async def test_the_platform_cost_is_charged_even_when_the_reseller_balance_is_short(sessions):
    # the reseller moved all it had to its client after paying the setup
    _, reseller, client = await held_number(sessions, funds="48", reseller_funds="50")
    async with sessions() as s:
        assert await reseller_balance(s, reseller) == 0

    assert await run(sessions, utcnow().date()) == 2

    async with sessions() as s:
        assert await reseller_balance(s, reseller) == -1_500_000
        await assert_ledger_consistent(s)
    # and a floor-guarded movement is refused until the reseller tops up
    with pytest.raises(DomainError) as refused:
        async with transaction(sessions) as s:
            await payments.client_transfer(s, reseller_actor(reseller), client.id, "1", "k")
    assert refused.value.code == ErrorCode.INSUFFICIENT_FUNDS


async def test_an_unassigned_number_costs_the_reseller_only(sessions):
    did_id, reseller, client = await held_number(sessions, funds="10")
    async with transaction(sessions) as s:
        await numbers.unassign(s, reseller_actor(reseller), did_id)

    assert await run(sessions, utcnow().date()) == 1

    [charge] = await charges(sessions)
    assert charge.payer == f"reseller:{reseller.id}"
    async with sessions() as s:
        assert await client_balance(s, client) == 10 * M


# --- two workers at once -------------------------------------------------------------------------


async def test_two_workers_at_once_charge_each_period_once(sessions, engine, monkeypatch):
    if is_sqlite(str(engine.url)):
        pytest.skip("SQLite serializes writers; the race needs PostgreSQL")
    monkeypatch.setattr(fees, "CHUNK", 40)
    reseller, client, sub = await subscriber(sessions, funds="1000", monthly="1")
    today = utcnow().date()
    async with transaction(sessions) as s:
        await s.execute(
            insert(SubAccount),
            [
                {
                    "reseller_id": reseller.id,
                    "client_id": client.id,
                    "username": f"race{n}",
                    "secret_encrypted": "-",
                    "package_id": sub.package_id,
                    "next_billing_date": today,
                    "billing_day": today.day,
                }
                for n in range(299)
            ],
        )

    done = await asyncio.gather(run(sessions, today), run(sessions, today), run(sessions, today))

    assert sum(done) == 300
    async with sessions() as s:
        assert await client_balance(s, client) == 700 * M
        assert await s.scalar(select(func.count()).select_from(FeeCharge)) == 300
        assert (
            await s.scalar(
                select(func.count())
                .select_from(SubAccount)
                .where(SubAccount.next_billing_date <= today)
            )
            == 0
        )
        await assert_ledger_consistent(s)


# --- setup fees now ------------------------------------------------------------------------------


async def test_the_activation_fee_is_charged_once_on_request(sessions):
    reseller, client, sub = await subscriber(sessions, funds="100", monthly="10", setup="25")
    actor = reseller_actor(reseller)

    async with transaction(sessions) as s:
        done = await fees.charge_sub_account_setup(s, actor, sub.id, "setup-1")
    assert not done.replayed
    assert (done.charge.kind, done.charge.client_amount) == ("setup", 25 * M)

    async with transaction(sessions) as s:  # the same request again
        again = await fees.charge_sub_account_setup(s, actor, sub.id, "setup-1")
    assert again.replayed and again.charge.id == done.charge.id

    with pytest.raises(DomainError) as twice:
        async with transaction(sessions) as s:
            await fees.charge_sub_account_setup(s, actor, sub.id, "setup-2")
    assert twice.value.code == ErrorCode.CONFLICT
    assert "already charged" in twice.value.message

    async with sessions() as s:
        assert await client_balance(s, client) == 75 * M
        assert await balance_of(s, f"reseller:{reseller.id}:fees") == 25 * M
        assert (await s.get(SubAccount, sub.id)).activation_fee_charged
        event = await s.scalar(
            select(AuditEvent).where(AuditEvent.action == "sub_account.setup_fee_charged")
        )
        await assert_ledger_consistent(s)
    assert event.subject_id == sub.id and event.after["amount"] == "25.00"
    assert len(await charges(sessions, kind="setup")) == 1


async def test_an_activation_fee_is_refused_without_one_and_for_another_tenant(sessions):
    reseller, client, sub = await subscriber(sessions, funds="100", setup="0")
    async with transaction(sessions) as s:
        other = await make_reseller(s)
    cases = [
        (reseller_actor(reseller), ErrorCode.VALIDATION),  # its package has no setup fee
        (reseller_actor(other), ErrorCode.NOT_FOUND),
        (client_actor(client), ErrorCode.PERMISSION_DENIED),
    ]
    for actor, code in cases:
        with pytest.raises(DomainError) as refused:
            async with transaction(sessions) as s:
                await fees.charge_sub_account_setup(s, actor, sub.id, unique_key())
        assert refused.value.code == code
    async with sessions() as s:
        assert await client_balance(s, client) == 100 * M
    assert await charges(sessions) == []


async def test_a_numbers_setup_price_is_charged_to_its_client_once(sessions):
    did_id, reseller, client = await held_number(sessions, funds="100", model="commission")
    actor = reseller_actor(reseller)

    async with transaction(sessions) as s:
        done = await fees.charge_did_setup(s, actor, did_id, "did-setup")
    with pytest.raises(DomainError) as twice:
        async with transaction(sessions) as s:
            await fees.charge_did_setup(s, actor, did_id, "did-setup-2")

    assert twice.value.code == ErrorCode.CONFLICT
    assert (done.charge.subject_type, done.charge.kind, done.charge.client_amount) == (
        "did",
        "setup",
        6 * M,
    )
    async with sessions() as s:
        assert await client_balance(s, client) == 94 * M
        assert await balance_of(s, "operator:client_fees:USD") == 6 * M  # commission model
        assert (await s.get(Did, did_id)).client_setup_fee_charged
        await assert_ledger_consistent(s)


# --- reading -------------------------------------------------------------------------------------


async def test_a_client_sees_its_own_charges_and_never_the_resellers_cost(sessions):
    _, reseller, client = await held_number(sessions, funds="100")
    async with transaction(sessions) as s:
        other = await make_reseller(s)
    assert await run(sessions, utcnow().date()) == 2

    async with sessions() as s:
        mine = list(await s.scalars(fees.fee_charges_query(client_actor(client))))
        theirs = list(await s.scalars(fees.fee_charges_query(reseller_actor(reseller))))
        strangers = list(await s.scalars(fees.fee_charges_query(reseller_actor(other))))

    assert [(c.payer, c.client_amount, c.reseller_cost) for c in mine] == [
        (f"client:{client.id}", 4 * M, 0)
    ]
    assert len(theirs) == 2
    assert strangers == []
    assert not fees.shows_cost(client_actor(client))


# --- work per chunk -------------------------------------------------------------------------------


async def _many_due(sessions, count: int):
    """``count`` sub-accounts due today, each of its own funded client."""
    today = utcnow().date()
    async with transaction(sessions) as s:
        reseller = await make_reseller(s)
        await fund_reseller(s, reseller, "100000")
        package = await rates.create_package(
            s, reseller_actor(reseller), None, {"name": "Bulk", "monthly_fee": "1"}
        )
        clients = [await make_client(s, reseller) for _ in range(count)]
        for client in clients:
            await payments.client_transfer(s, SYSTEM, client.id, "5", unique_key())
        await s.execute(
            insert(SubAccount),
            [
                {
                    "reseller_id": reseller.id,
                    "client_id": c.id,
                    "username": f"bulk{c.id}",
                    "secret_encrypted": "-",
                    "package_id": package.id,
                    "next_billing_date": today,
                    "billing_day": today.day,
                }
                for c in clients
            ],
        )
    return today


async def test_a_chunk_costs_the_same_statements_whatever_its_size(sessions, engine):
    from tests.factories import count_statements

    counts = []
    for size in (5, 40):
        await _many_due(sessions, size)
        with count_statements(engine) as statements:
            assert await run(sessions, utcnow().date()) == size
        if is_sqlite(str(engine.url)):
            # SQLite returns the ids of a multi-row insert in order only row by row (the
            # ledger's entries); every other statement of the chunk is one for all rows
            statements = [q for q in statements if not q.startswith("INSERT INTO ledger_entries")]
        if is_sqlite(str(engine.url)):
            # SQLite returns the ids of a multi-row insert in order only row by row: the rows
            # whose ids are needed are inserted one each there (one statement for all on
            # PostgreSQL); every other statement of the chunk is one for all rows
            statements = [q for q in statements if not q.startswith(ROW_BY_ROW_ON_SQLITE)]
        counts.append(len(statements))

    assert counts[0] == counts[1], counts


async def test_a_monthly_fee_that_takes_a_balance_below_its_threshold_alerts_once(sessions):
    from api.domain import accounts
    from api.models import Event

    # given a client holding 100 with a low-balance threshold of 95, on a 10 a month package
    _, client, _ = await subscriber(sessions, funds="100", monthly="10")
    async with transaction(sessions) as s:
        await accounts.update_client(s, SYSTEM, client.id, {"low_balance_threshold": "95"})
    # when the worker charges this month's fee (90 left: still above zero)
    assert await run(sessions, utcnow().date()) == 1
    # then the client's low-balance alert went, once
    async with sessions() as s:
        alerts = list(await s.scalars(select(Event).where(Event.type == "client.low_balance")))
    assert [(a.client_id, a.data["balance"]["amount"]) for a in alerts] == [
        (client.id, "90.000000")
    ]


async def test_a_monthly_fee_that_blocks_a_postpaid_client_drafts_its_invoice(sessions):
    from api.models import Invoice, InvoiceLine

    # given a postpaid client with no credit limit on a 10 a month package
    _, client, _ = await subscriber(sessions, mode="postpaid", funds="0", monthly="10")
    # when the worker charges the fee (the client's balance is then -10: at its limit)
    assert await run(sessions, utcnow().date()) == 1
    # then the client is blocked and the fee is on a draft invoice
    [charge] = await charges(sessions)
    async with sessions() as s:
        assert (await s.get(Client, client.id)).status == "blocked"
        [invoice] = list(await s.scalars(select(Invoice).where(Invoice.client_id == client.id)))
        lines = list(
            await s.scalars(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id))
        )
        assert invoice.status == "draft" and charge.invoice_id == invoice.id
        assert sum(line.amount for line in lines) == 10 * M


ROW_BY_ROW_ON_SQLITE = tuple(
    f"INSERT INTO {table} "
    for table in ("ledger_entries", "audit_events", "events", "webhook_deliveries", "email_outbox")
)


async def _suspending(sessions, count: int, settings: Settings):
    """``count`` strict prepaid clients whose fee takes them to zero, of a branded reseller with
    two owners and a webhook endpoint for suspensions (another one for payments only): every
    third client has a contact email, every third a portal login instead, the rest neither."""
    from api.domain import brands, notifications
    from tests.factories import make_user

    today = utcnow().date()
    async with transaction(sessions) as s:
        reseller = await make_reseller(s)
        await fund_reseller(s, reseller, "100000")
        await brands.update_brand(s, SYSTEM, reseller.id, {"display_name": "Bulk Voice"})
        owners = [(await make_user(s, "reseller_owner", reseller=reseller)).email for _ in range(2)]
        hooks = {}
        for types in (["client.suspended", "payment.received"], ["payment.received"]):
            endpoint, _ = await notifications.create_endpoint(
                s,
                SYSTEM,
                reseller.id,
                {"url": "https://hooks.example.test/in", "event_types": types},
                settings=settings,
            )
            hooks[len(types)] = endpoint.id
        package = await rates.create_package(
            s, reseller_actor(reseller), None, {"name": "Bulk", "monthly_fee": "1"}
        )
        mail_of = {}
        for n in range(count):
            contact = f"bulk{n}-{unique_key()}@client.test" if n % 3 == 0 else None
            client = await make_client(s, reseller, email=contact)
            if n % 3 == 1:
                login = await make_user(s, "client", reseller=reseller, client=client)
                mail_of[client.id] = [login.email]
            else:
                mail_of[client.id] = [contact] if contact else []
            await payments.client_transfer(s, SYSTEM, client.id, "1", unique_key())
        await s.execute(
            insert(SubAccount),
            [
                {
                    "reseller_id": reseller.id,
                    "client_id": client_id,
                    "username": f"bulk{client_id}",
                    "secret_encrypted": "-",
                    "package_id": package.id,
                    "next_billing_date": today,
                    "billing_day": today.day,
                }
                for client_id in mail_of
            ],
        )
    return reseller, owners, hooks, mail_of


async def test_a_chunk_that_suspends_many_clients_alerts_each_in_as_many_statements(
    sessions, engine
):
    from api.models import Event, OutboxEmail, WebhookDelivery
    from tests.factories import count_statements

    settings = Settings(secret_key=SETTINGS.secret_key, webhook_allow_private=True)
    counts = []
    for size in (3, 12):
        # given clients whose monthly fee takes their balance to zero
        reseller, owners, hooks, mail_of = await _suspending(sessions, size, settings)
        # when the worker charges them
        with count_statements(engine) as statements:
            assert await run(sessions, utcnow().date()) == size
        if is_sqlite(str(engine.url)):
            # SQLite returns the ids of a multi-row insert in order only row by row: the rows
            # whose ids are needed are inserted one each there (one statement for all on
            # PostgreSQL); every other statement of the chunk is one for all rows
            statements = [q for q in statements if not q.startswith(ROW_BY_ROW_ON_SQLITE)]
        counts.append(len(statements))
        # then each is suspended, with one event, delivered to the endpoint that chose it,
        # and mailed to itself (where it has an address) and to both owners, from the brand
        async with sessions() as s:
            events = list(
                await s.scalars(
                    select(Event).where(
                        Event.reseller_id == reseller.id, Event.type == "client.suspended"
                    )
                )
            )
            by_event = {e.id: e.client_id for e in events}
            deliveries = list(
                await s.scalars(
                    select(WebhookDelivery).where(WebhookDelivery.event_id.in_(by_event))
                )
            )
            mails = list(
                await s.scalars(select(OutboxEmail).where(OutboxEmail.reseller_id == reseller.id))
            )
            statuses = set(
                await s.scalars(select(Client.status).where(Client.id.in_(list(mail_of))))
            )
        assert statuses == {"suspended"}
        assert sorted(by_event.values()) == sorted(mail_of)
        assert sorted((d.event_id, d.endpoint_id) for d in deliveries) == sorted(
            (event_id, hooks[2]) for event_id in by_event
        )
        assert {m.from_name for m in mails} == {"Bulk Voice"}
        assert sorted((by_event[m.event_id], m.to_address) for m in mails) == sorted(
            (client_id, to) for client_id, own in mail_of.items() for to in [*own, *owners]
        )
    # and the alerts of more clients cost no more statements
    assert counts[0] == counts[1], counts
