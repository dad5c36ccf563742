"""Numbers (DIDs): the inventory imported from CSV, orders charged through the ledger with
the balance floor, assignment to clients and sub-accounts, release, the delete blockers, the
inbound-rate lookup and the reports."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from api.db import is_sqlite, transaction
from api.domain import accounts, callers, numbers
from api.domain.errors import DomainError, ErrorCode
from api.models import AuditEvent, Did, LedgerEntry
from api.settings import Settings
from tests.factories import (
    assert_ledger_consistent,
    balance_of,
    client_actor,
    entry_count,
    fund_reseller,
    make_client,
    make_reseller,
    operator_actor,
    reseller_actor,
    reseller_balance,
)

HEADER = "number,country,city,monthly_cost,setup_cost,per_minute,currency"
OPERATOR = operator_actor()
M = 1_000_000
DIALTONE = Path(sys.executable).parent / "dialtone"
PROJECT = Path(__file__).resolve().parents[2]


SETTINGS = Settings(secret_key="dialtone-test-secret-key-0123456789")


async def make_sub(s, reseller, client, username: str):
    sub, _secret = await callers.create_sub_account(
        s, reseller_actor(reseller), client.id, {"username": username}, settings=SETTINGS
    )
    return sub


def csv_lines(*rows: str, header: str = HEADER) -> list[str]:
    return [header + "\n", *(row + "\n" for row in rows)]


async def stock(sessions, *rows: str) -> dict[str, int]:
    """Import rows into the inventory; the ids of the numbers by number."""
    async with transaction(sessions) as s:
        result = await numbers.import_numbers(s, OPERATOR, csv_lines(*rows))
        assert result.errors == []
        found = await s.execute(select(Did.number, Did.id))
        return dict(found.all())


async def a_reseller(sessions, balance: str = "100", currency: str = "USD"):
    async with transaction(sessions) as s:
        reseller = await make_reseller(s, currency=currency)
        if balance != "0":
            await fund_reseller(s, reseller, balance)
    return reseller


async def did_row(sessions, did_id: int) -> Did:
    async with sessions() as s:
        row = await s.get(Did, did_id)
        assert row is not None
        return row


# --- import ------------------------------------------------------------------------------------


async def test_import_lands_good_rows_and_names_bad_ones_by_line(sessions):
    # given a file of good and bad rows
    lines = csv_lines(
        "+1 (415) 555-0100,US,San Francisco,1.00,5.00,0,USD",
        "14155550101,us,San Francisco,1.00,,0.01,",
        "4420794600,GB,London,2.50,0,0,GBP",
        "12ab,US,X,1,0,0,USD",
        "0123456789,US,X,1,0,0,USD",
        "14155550102,USA,X,1,0,0,USD",
        "14155550103,US,X,abc,0,0,USD",
        "14155550104,US,X,1,-1,0,USD",
        "14155550105,US,X,1,0,0,US",
        "14155550100,US,Again,1,0,0,USD",
        "14155550106,US,Too few",
    )
    # when the operator imports it
    async with transaction(sessions) as s:
        result = await numbers.import_numbers(s, OPERATOR, lines, chunk=2)
    # then the good rows land and every bad one is named by its line and reason
    assert result.imported == 3
    assert [(e.line, e.message.split(":")[0]) for e in result.errors] == [
        (5, "number must be E.164 digits with an optional leading +"),
        (6, "number must be 7 to 15 digits, not starting with 0"),
        (7, "country must be a two-letter ISO code"),
        (8, "monthly_cost"),
        (9, "setup_cost must not be negative"),
        (10, "currency must be a three-letter ISO code"),
        (11, "number 14155550100 is already on line 2"),
        (12, "expected 7 columns, found 3"),
    ]
    async with sessions() as s:
        rows = {d.number: d for d in await s.scalars(select(Did))}
        events = await s.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "did.imported")
        )
    assert set(rows) == {"14155550100", "14155550101", "4420794600"}
    first = rows["14155550100"]
    assert (first.country, first.city, first.currency, first.status) == (
        "US",
        "San Francisco",
        "USD",
        "available",
    )
    assert (first.monthly_cost, first.setup_cost, first.inbound_rate) == (M, 5 * M, 0)
    assert (rows["14155550101"].setup_cost, rows["14155550101"].inbound_rate) == (0, 10_000)
    assert rows["4420794600"].currency == "GBP"
    assert events == 1


async def test_a_header_without_required_columns_is_refused(sessions):
    async with transaction(sessions) as s:
        with pytest.raises(DomainError) as refused:
            await numbers.import_numbers(s, OPERATOR, ["number,city\n", "14155550100,X\n"])
    assert "missing column(s) country, monthly_cost" in refused.value.message


async def test_reimport_updates_available_numbers_but_not_held_ones(sessions):
    # given two numbers, one of them ordered by a reseller
    ids = await stock(sessions, "14155550100,US,SF,1,2,0,USD", "14155550101,US,SF,1,2,0,USD")
    reseller = await a_reseller(sessions)
    async with transaction(sessions) as s:
        await numbers.order(s, reseller_actor(reseller), ids["14155550100"], "o-1")
    # when a new price list comes in for both
    async with transaction(sessions) as s:
        result = await numbers.import_numbers(
            s,
            OPERATOR,
            csv_lines("14155550100,US,SF,9,9,0,USD", "14155550101,US,Oakland,3,4,0.02,USD"),
        )
    # then the available one changes and the held one is refused, untouched
    assert result.imported == 1
    assert [(e.line, e.message) for e in result.errors] == [
        (2, "number 14155550100 is held by a reseller: not changed")
    ]
    held, free = (
        await did_row(sessions, ids["14155550100"]),
        await did_row(sessions, ids["14155550101"]),
    )
    assert (held.monthly_cost, held.setup_cost, held.reseller_id) == (M, 2 * M, reseller.id)
    assert (free.city, free.monthly_cost, free.setup_cost, free.inbound_rate) == (
        "Oakland",
        3 * M,
        4 * M,
        20_000,
    )


async def test_only_the_operator_imports(sessions):
    reseller = await a_reseller(sessions)
    async with transaction(sessions) as s:
        with pytest.raises(DomainError) as refused:
            await numbers.import_numbers(s, reseller_actor(reseller), csv_lines())
    assert refused.value.code == ErrorCode.PERMISSION_DENIED


def _dialtone(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DIALTONE_")}
    environment["DIALTONE_DATABASE_URL"] = url
    return subprocess.run(
        [str(DIALTONE), *args],
        cwd=PROJECT,
        env=environment,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )


@pytest.mark.skipif(not DIALTONE.exists(), reason="the dialtone script is not installed")
async def test_cli_dids_import_reports_bad_lines_with_a_progress_bar(engine, db_url, tmp_path):
    # given the test database and a file of 2,500 good rows and two bad ones
    good = [f"1415{5_000_000 + i},US,San Francisco,1.00,2.50,0.01," for i in range(2500)]
    path = tmp_path / "numbers.csv"
    path.write_text("\n".join([HEADER, good[0], "12x,US,X,1,0,0,", *good[1:], "1,US"]) + "\n")

    # when the operator imports it with the command (a real process)
    done = await asyncio.to_thread(_dialtone, "dids", "import", str(path), url=db_url)

    # then the good rows land, each bad one is named FILE:LINE with its reason, with progress
    assert done.returncode == 0, done.stderr
    assert "dids import: 2500 numbers imported, 2 rejected" in done.stdout
    assert f"{path}:3: number must be E.164 digits" in done.stderr
    assert f"{path}:2503: expected 7 columns, found 2" in done.stderr
    assert "2502/2502 rows" in done.stderr
    assert "Traceback" not in done.stderr
    async with engine.connect() as conn:
        count, total = (
            await conn.execute(select(func.count(), func.sum(Did.setup_cost)).select_from(Did))
        ).one()
    assert (count, total) == (2500, 2500 * 2_500_000)

    # and an unreadable file is status 2, a file of bad rows only status 1
    missing = await asyncio.to_thread(
        _dialtone, "dids", "import", str(tmp_path / "no.csv"), url=db_url
    )
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "\nabc,US,X,1,0,0,USD\n")
    refused = await asyncio.to_thread(_dialtone, "dids", "import", str(bad), url=db_url)
    assert refused.returncode == 1
    assert f"{bad}:2: number must be E.164" in refused.stderr


# --- search ------------------------------------------------------------------------------------


async def test_search_shows_available_numbers_in_the_resellers_currency_and_its_own(sessions):
    ids = await stock(
        sessions,
        "14155550100,US,San Francisco,1,0,0,USD",
        "12125550100,US,New York,1,0,0,USD",
        "4420794600,GB,London,1,0,0,USD",
        "33140000000,FR,Paris,1,0,0,EUR",
    )
    usd, other = await a_reseller(sessions), await a_reseller(sessions)
    async with transaction(sessions) as s:
        await numbers.order(s, reseller_actor(other), ids["12125550100"], "o-1")

    async def listed(actor, **filters) -> list[str]:
        async with sessions() as s:
            stmt = numbers.available_query(actor, **filters).order_by(Did.number)
            return [d.number for d in await s.scalars(stmt)]

    actor = reseller_actor(usd)
    assert await listed(actor) == ["14155550100", "4420794600"]
    assert await listed(actor, country="gb") == ["4420794600"]
    assert await listed(actor, city="francisco") == ["14155550100"]
    assert await listed(actor, prefix="+1 415") == ["14155550100"]
    assert await listed(OPERATOR) == ["14155550100", "33140000000", "4420794600"]
    async with sessions() as s:
        own = await s.scalars(numbers.dids_query(reseller_actor(other)).order_by(Did.number))
        assert [d.number for d in own] == ["12125550100", "14155550100", "4420794600"]
        mine = await s.scalars(numbers.dids_query(actor, status="owned"))
        assert list(mine) == []
        with pytest.raises(DomainError):
            numbers.dids_query(actor, prefix="12a")


# --- ordering ----------------------------------------------------------------------------------


async def test_an_order_charges_exactly_the_setup_cost_and_the_number_becomes_the_resellers(
    sessions,
):
    # given an available number with a setup cost of 4.75 and a reseller holding 100.00
    ids = await stock(sessions, "14155550100,US,SF,1.20,4.75,0.01,USD")
    reseller = await a_reseller(sessions, "100")
    async with sessions() as s:
        entries_before = await entry_count(s)

    # when the reseller orders it
    async with transaction(sessions) as s:
        done = await numbers.order(s, reseller_actor(reseller), ids["14155550100"], "order-1")

    # then its balance went down by exactly the setup cost, paid to the operator
    async with sessions() as s:
        assert await reseller_balance(s, reseller) == 100 * M - 4_750_000
        assert await balance_of(s, "operator:did_fees:USD") == 4_750_000
        assert await entry_count(s) == entries_before + 1
        entry = await s.get(LedgerEntry, done.entry_id)
        assert (entry.kind, entry.amount, entry.reseller_id) == (
            "did_setup_fee",
            4_750_000,
            reseller.id,
        )
        await assert_ledger_consistent(s)
        event = await s.scalar(select(AuditEvent).where(AuditEvent.action == "did.ordered"))
        assert event.after["setup_cost"] == "4.75" and event.reseller_id == reseller.id
    # and the number is the reseller's, its monthly cost due from today
    did = await did_row(sessions, ids["14155550100"])
    assert (did.status, did.reseller_id, did.order_entry_id) == ("owned", reseller.id, entry.id)
    assert did.reseller_setup_fee_charged is True
    assert did.reseller_next_billing_date == did.ordered_at.date()

    # and the same request again changes nothing and answers the same
    async with transaction(sessions) as s:
        again = await numbers.order(s, reseller_actor(reseller), ids["14155550100"], "order-1")
    assert again.replayed and again.entry_id == entry.id
    async with sessions() as s:
        assert await reseller_balance(s, reseller) == 100 * M - 4_750_000
    # while another key for a number it already holds is a conflict
    async with transaction(sessions) as s:
        with pytest.raises(DomainError) as twice:
            await numbers.order(s, reseller_actor(reseller), ids["14155550100"], "order-2")
    assert twice.value.code == ErrorCode.CONFLICT


async def test_an_old_order_key_does_not_order_a_released_number_again_for_free(sessions):
    # given a number ordered with a key, then released
    ids = await stock(sessions, "14155550100,US,SF,1,3,0,USD")
    reseller = await a_reseller(sessions, "100")
    actor = reseller_actor(reseller)
    async with transaction(sessions) as s:
        await numbers.order(s, actor, ids["14155550100"], "order-1")
        await numbers.release(s, actor, ids["14155550100"])
    # when the old request comes again
    async with transaction(sessions) as s:
        with pytest.raises(DomainError) as refused:
            await numbers.order(s, actor, ids["14155550100"], "order-1")
    # then it is refused: the number stays available and nothing more is charged
    assert (refused.value.code, refused.value.field) == (ErrorCode.CONFLICT, "idempotencyKey")
    assert (await did_row(sessions, ids["14155550100"])).status == "available"
    # and a new key orders it again, charged again
    async with transaction(sessions) as s:
        await numbers.order(s, actor, ids["14155550100"], "order-2")
    async with sessions() as s:
        assert await reseller_balance(s, reseller) == 94 * M
        await assert_ledger_consistent(s)
    # and a key of another request is refused as such
    other = await stock(sessions, "14155550199,US,SF,1,3,0,USD")
    async with transaction(sessions) as s:
        with pytest.raises(DomainError) as reused:
            await numbers.order(s, actor, other["14155550199"], "order-2")
    assert reused.value.code == ErrorCode.IDEMPOTENCY_CONFLICT


async def test_an_order_the_balance_does_not_cover_is_refused_with_nothing_changed(sessions):
    ids = await stock(sessions, "14155550100,US,SF,1,10.00,0,USD")
    reseller = await a_reseller(sessions, "9.99")
    async with sessions() as s:
        entries_before = await entry_count(s)

    async with transaction(sessions) as s:
        with pytest.raises(DomainError) as refused:
            await numbers.order(s, reseller_actor(reseller), ids["14155550100"], "order-1")

    assert refused.value.code == ErrorCode.INSUFFICIENT_FUNDS
    assert "does not cover the setup cost of 10.00 USD of number 14155550100" in (
        refused.value.message
    )
    did = await did_row(sessions, ids["14155550100"])
    assert (did.status, did.reseller_id, did.ordered_at) == ("available", None, None)
    async with sessions() as s:
        assert await reseller_balance(s, reseller) == 9_990_000
        assert await entry_count(s) == entries_before
        assert (
            await s.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.subject_type == "did")
            )
            == 0
        )
    # and within one transaction, the refusal leaves the session usable and the number free
    async with transaction(sessions) as s:
        with pytest.raises(DomainError):
            await numbers.order(s, reseller_actor(reseller), ids["14155550100"], "order-2")
        fresh = await s.get(Did, ids["14155550100"])
        await s.refresh(fresh)
        assert fresh.status == "available"


async def test_a_zero_setup_cost_order_moves_no_money(sessions):
    ids = await stock(sessions, "14155550100,US,SF,1,0,0,USD")
    reseller = await a_reseller(sessions, "0")
    async with transaction(sessions) as s:
        done = await numbers.order(s, reseller_actor(reseller), ids["14155550100"], "k")
    assert done.entry_id is None and done.did.status == "owned"
    async with sessions() as s:
        assert await entry_count(s) == 0


async def test_a_number_ordered_by_one_reseller_is_not_found_for_another(sessions):
    ids = await stock(sessions, "14155550100,US,SF,1,1,0,USD")
    first, second = await a_reseller(sessions), await a_reseller(sessions)
    async with transaction(sessions) as s:
        await numbers.order(s, reseller_actor(first), ids["14155550100"], "k")
    async with transaction(sessions) as s:
        with pytest.raises(DomainError) as refused:
            await numbers.order(s, reseller_actor(second), ids["14155550100"], "k")
        assert refused.value.code == ErrorCode.NOT_FOUND
        with pytest.raises(DomainError) as hidden:
            await numbers.get_did(s, reseller_actor(second), ids["14155550100"])
        assert hidden.value.code == ErrorCode.NOT_FOUND
    async with sessions() as s:
        assert await reseller_balance(s, second) == 100 * M
        assert await reseller_balance(s, first) == 99 * M


async def test_a_number_in_another_currency_cannot_be_ordered(sessions):
    ids = await stock(sessions, "33140000000,FR,Paris,1,1,0,EUR")
    reseller = await a_reseller(sessions)  # USD
    async with transaction(sessions) as s:
        with pytest.raises(DomainError) as refused:
            await numbers.order(s, reseller_actor(reseller), ids["33140000000"], "k")
    assert refused.value.code == ErrorCode.VALIDATION
    assert refused.value.message == (
        "the number is priced in EUR, the reseller's balance is in USD"
    )
    # and so is the operator ordering it for the reseller
    async with transaction(sessions) as s:
        with pytest.raises(DomainError) as refused:
            await numbers.order(s, OPERATOR, ids["33140000000"], "k", reseller_id=reseller.id)
    assert refused.value.code == ErrorCode.VALIDATION and "EUR" in refused.value.message


async def test_two_resellers_racing_for_one_number_one_wins(sessions, engine):
    if is_sqlite(str(engine.url)):
        pytest.skip("SQLite serializes writers; the race needs PostgreSQL")
    ids = await stock(sessions, "14155550100,US,SF,1,3,0,USD")
    racers = [await a_reseller(sessions) for _ in range(6)]

    async def race(reseller) -> bool:
        try:
            async with transaction(sessions) as s:
                await numbers.order(s, reseller_actor(reseller), ids["14155550100"], "race")
        except DomainError as exc:
            assert exc.code in (ErrorCode.CONFLICT, ErrorCode.NOT_FOUND)
            return False
        return True

    won = await asyncio.gather(*(race(r) for r in racers))

    assert sum(won) == 1
    winner = racers[won.index(True)]
    did = await did_row(sessions, ids["14155550100"])
    assert did.reseller_id == winner.id
    async with sessions() as s:
        balances = [await reseller_balance(s, r) for r in racers]
        assert sorted(balances) == [97 * M] + [100 * M] * 5
        assert await balance_of(s, "operator:did_fees:USD") == 3 * M
        await assert_ledger_consistent(s)


async def test_one_order_sent_five_times_at_once_is_charged_once(sessions, engine):
    if is_sqlite(str(engine.url)):
        pytest.skip("SQLite serializes writers; the race needs PostgreSQL")
    ids = await stock(sessions, "14155550100,US,SF,1,3,0,USD")
    reseller = await a_reseller(sessions)

    async def send() -> bool:
        async with transaction(sessions) as s:
            done = await numbers.order(s, reseller_actor(reseller), ids["14155550100"], "same")
            return done.replayed

    replayed = await asyncio.gather(*(send() for _ in range(5)))

    assert sorted(replayed) == [False, True, True, True, True]
    async with sessions() as s:
        assert await reseller_balance(s, reseller) == 97 * M
        await assert_ledger_consistent(s)


# --- assigning, unassigning, releasing ---------------------------------------------------------


async def owned(sessions, setup: str = "2"):
    ids = await stock(sessions, f"14155550100,US,SF,1.50,{setup},0.02,USD")
    reseller = await a_reseller(sessions)
    async with transaction(sessions) as s:
        client = await make_client(s, reseller)
        sub = await make_sub(s, reseller, client, f"sip{client.id}x")
        await numbers.order(s, reseller_actor(reseller), ids["14155550100"], "k")
    return ids["14155550100"], reseller, client, sub


async def test_assign_unassign_and_release_keep_a_sane_history(sessions):
    did_id, reseller, client, sub = await owned(sessions)
    actor = reseller_actor(reseller)

    # when the reseller assigns it to a sub-account with its own prices
    async with transaction(sessions) as s:
        did = await numbers.assign(
            s,
            actor,
            did_id,
            client.id,
            sub_account_id=sub.id,
            monthly_price="3.99",
            setup_price="10",
        )
    assert (did.status, did.client_id, did.sub_account_id, did.routing) == (
        "assigned",
        client.id,
        sub.id,
        "sub_account",
    )
    assert (did.monthly_price, did.setup_price) == (3_990_000, 10 * M)
    assert did.client_next_billing_date == did.assigned_at.date()
    assert did.client_setup_fee_charged is False

    # then a second assignment is refused, and releasing it while assigned is too
    async with transaction(sessions) as s:
        with pytest.raises(DomainError) as again:
            await numbers.assign(s, actor, did_id, client.id)
        assert again.value.code == ErrorCode.CONFLICT
        with pytest.raises(DomainError) as early:
            await numbers.release(s, actor, did_id)
        assert early.value.code == ErrorCode.CONFLICT

    # when it is unassigned, reassigned with forwarding, unassigned and released
    async with transaction(sessions) as s:
        did = await numbers.unassign(s, actor, did_id)
        assert (did.status, did.client_id, did.sub_account_id, did.monthly_price) == (
            "owned",
            None,
            None,
            0,
        )
        did = await numbers.assign(s, actor, did_id, client.id, forward_to="+1 212 555 0199")
        assert (did.routing, did.forward_to, did.sub_account_id) == ("forward", "12125550199", None)
        await numbers.unassign(s, actor, did_id)
        did = await numbers.release(s, actor, did_id)

    # then it is back in the inventory with nothing of the reseller left, and no refund
    did = await did_row(sessions, did_id)
    assert (did.status, did.reseller_id, did.client_id, did.routing) == (
        "available",
        None,
        None,
        "none",
    )
    assert (did.reseller_next_billing_date, did.reseller_setup_fee_charged) == (None, False)
    async with sessions() as s:
        assert await reseller_balance(s, reseller) == 98 * M
        actions = list(
            await s.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.subject_type == "did", AuditEvent.subject_id == did_id)
                .order_by(AuditEvent.id)
            )
        )
    assert actions == [
        "did.ordered",
        "did.assigned",
        "did.unassigned",
        "did.assigned",
        "did.unassigned",
        "did.released",
    ]
    # and another reseller may order it now
    other = await a_reseller(sessions)
    async with transaction(sessions) as s:
        await numbers.order(s, reseller_actor(other), did_id, "k2")


async def test_assign_checks_client_sub_account_prices_and_tenancy(sessions):
    did_id, reseller, client, sub = await owned(sessions)
    actor = reseller_actor(reseller)
    other = await a_reseller(sessions)
    async with transaction(sessions) as s:
        foreign = await make_client(s, other)
        sibling = await make_client(s, reseller)
        foreign_sub = await make_sub(s, other, foreign, "foreignsub")

    async def refused(actor_, **kw) -> DomainError:
        async with transaction(sessions) as s:
            with pytest.raises(DomainError) as caught:
                await numbers.assign(s, actor_, kw.pop("did", did_id), kw.pop("client"), **kw)
        return caught.value

    # another reseller's client, or a sub-account of another client, is not found
    assert (await refused(actor, client=foreign.id)).field == "clientId"
    wrong_sub = await refused(actor, client=sibling.id, sub_account_id=sub.id)
    assert (wrong_sub.code, wrong_sub.field) == (ErrorCode.NOT_FOUND, "subAccountId")
    assert (await refused(actor, client=client.id, sub_account_id=foreign_sub.id)).field == (
        "subAccountId"
    )
    # bad prices and forwarding numbers are refused
    assert (await refused(actor, client=client.id, monthly_price="-1")).field == "monthlyPrice"
    assert (await refused(actor, client=client.id, setup_price="1.0000001")).field == "setupPrice"
    assert (await refused(actor, client=client.id, forward_to="call me")).field == "forwardTo"
    # another reseller cannot assign, unassign or release it: not found
    stranger = reseller_actor(other)
    hidden = await refused(stranger, client=foreign.id)
    assert (hidden.code, hidden.field) == (ErrorCode.NOT_FOUND, "id")
    for action in (numbers.unassign, numbers.release):
        async with transaction(sessions) as s:
            with pytest.raises(DomainError) as caught:
                await action(s, stranger, did_id)
        assert caught.value.code == ErrorCode.NOT_FOUND
    # and a client user may not change numbers at all
    denied = await refused(client_actor(client), client=client.id)
    assert denied.code == ErrorCode.PERMISSION_DENIED
    did = await did_row(sessions, did_id)
    assert (did.status, did.client_id) == ("owned", None)


async def test_an_available_number_must_be_ordered_before_it_is_assigned(sessions):
    ids = await stock(sessions, "14155550100,US,SF,1,0,0,USD")
    reseller = await a_reseller(sessions)
    async with transaction(sessions) as s:
        client = await make_client(s, reseller)
        with pytest.raises(DomainError) as refused:
            await numbers.assign(s, reseller_actor(reseller), ids["14155550100"], client.id)
    assert refused.value.code == ErrorCode.CONFLICT


async def test_a_client_holding_numbers_cannot_be_deleted(sessions):
    did_id, reseller, client, sub = await owned(sessions)
    actor = reseller_actor(reseller)
    async with transaction(sessions) as s:
        await callers.delete_sub_account(s, actor, sub.id)  # its only sub-account
        await numbers.assign(s, actor, did_id, client.id, forward_to="12125550199")

    async with transaction(sessions) as s:
        with pytest.raises(DomainError) as refused:
            await accounts.delete_client(s, actor, client.id)
    assert refused.value.code == ErrorCode.CONFLICT
    assert "it holds 1 DID (14155550100)" in refused.value.message

    async with transaction(sessions) as s:
        await numbers.unassign(s, actor, did_id)
        deleted = await accounts.delete_client(s, actor, client.id)
    assert deleted.deleted_at is not None


async def test_a_sub_account_numbers_are_assigned_to_cannot_be_deleted(sessions):
    did_id, reseller, client, sub = await owned(sessions)
    actor = reseller_actor(reseller)
    async with transaction(sessions) as s:
        await numbers.assign(s, actor, did_id, client.id, sub_account_id=sub.id)
    async with transaction(sessions) as s:
        with pytest.raises(DomainError) as refused:
            await callers.delete_sub_account(s, actor, sub.id)
    assert "numbers are assigned to it (14155550100)" in refused.value.message


# --- inbound rating ----------------------------------------------------------------------------


async def test_inbound_rate_tells_who_holds_each_dialled_number(sessions, engine):
    ids = await stock(
        sessions,
        "14155550100,US,SF,1,0,0.0125,USD",
        "14155550101,US,SF,1,0,0,USD",
        "14155550102,US,SF,1,0,0.5,USD",
    )
    did_id, reseller, client, sub = ids["14155550100"], *(await owned_parts(sessions))
    actor = reseller_actor(reseller)
    async with transaction(sessions) as s:
        await numbers.order(s, actor, did_id, "a")
        await numbers.order(s, actor, ids["14155550101"], "b")
        await numbers.assign(s, actor, did_id, client.id, sub_account_id=sub.id)

    asked = ["+14155550100", "0014155550101", "14155550102", "not a number", "14155550100"]
    async with sessions() as s:
        found = await numbers.inbound_rate(s, asked)
    # with a connection too: ingestion may hold one
    async with engine.connect() as conn:
        assert await numbers.inbound_rate(conn, asked) == found

    assert found == {
        "+14155550100": numbers.InboundRate(did_id, client.id, reseller.id, sub.id, 12_500, "USD"),
        "14155550100": numbers.InboundRate(did_id, client.id, reseller.id, sub.id, 12_500, "USD"),
        "0014155550101": numbers.InboundRate(ids["14155550101"], None, reseller.id, None, 0, "USD"),
    }  # 14155550102 is still in the inventory: nobody's call
    async with sessions() as s:
        assert await numbers.inbound_rate(s, []) == {}


async def owned_parts(sessions):
    reseller = await a_reseller(sessions)
    async with transaction(sessions) as s:
        client = await make_client(s, reseller)
        sub = await make_sub(s, reseller, client, f"in{client.id}sip")
    return reseller, client, sub


# --- reports -----------------------------------------------------------------------------------


async def test_did_report_totals_and_scope(sessions):
    ids = await stock(
        sessions,
        "14155550100,US,SF,1.10,0,0,USD",
        "14155550101,US,SF,2.20,0,0,USD",
        "14155550102,US,SF,3.30,0,0,USD",
    )
    reseller, client, _sub = await owned_parts(sessions)
    other = await a_reseller(sessions)
    actor = reseller_actor(reseller)
    async with transaction(sessions) as s:
        await numbers.order(s, actor, ids["14155550100"], "a")
        await numbers.order(s, actor, ids["14155550101"], "b")
        await numbers.order(s, reseller_actor(other), ids["14155550102"], "c")
        await numbers.assign(s, actor, ids["14155550100"], client.id, monthly_price="4.99")

    async with sessions() as s:
        mine = await numbers.did_report_totals(s, numbers.did_report_query(actor))
        everyone = await numbers.did_report_totals(s, numbers.did_report_query(OPERATOR))
        nothing = await numbers.did_report_totals(s, numbers.did_report_query(client_actor(client)))
    [totals] = mine
    assert (totals.numbers, totals.assigned, totals.monthly_price, totals.monthly_cost) == (
        2,
        1,
        4_990_000,
        3_300_000,
    )
    assert totals.monthly_margin == 1_690_000
    assert (everyone[0].numbers, everyone[0].monthly_cost) == (3, 6_600_000)
    assert nothing == []
