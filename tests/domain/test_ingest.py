"""CDR ingestion: matching, rating at both levels, posting, duplicates, rollups, tenancy."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from api.db import transaction
from api.domain import calls, cdr_formats, payments
from api.domain.actors import SYSTEM
from api.domain.cdr_formats import CallRecord
from api.models import (
    Call,
    CallRollup,
    ClientNumber,
    LedgerEntry,
    Package,
    Rate,
    RateDeck,
    SubAccount,
)
from tests.factories import (
    assert_ledger_consistent,
    balance_of,
    client_balance,
    fund_reseller,
    make_client,
    make_reseller,
    reseller_actor,
    reseller_balance,
)

DATA = Path(__file__).resolve().parent.parent / "data"
T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
_ids = itertools.count(1)


@dataclass
class Setup:
    reseller_id: int
    client_id: int
    other_reseller_id: int


async def make_deck(session, name="Base", rates=(("44", 10_000, 60, 60),), currency="USD"):
    deck = RateDeck(name=f"{name} {next(_ids)}", currency=currency)
    session.add(deck)
    await session.flush()
    for prefix, rate, first, inc in rates:
        session.add(
            Rate(
                deck_id=deck.id,
                prefix=prefix,
                destination=f"Dest {prefix}",
                country="GB" if prefix.startswith("44") else "US",
                rate=rate,
                first_increment=first,
                increment=inc,
                effective_from=datetime(2020, 1, 1, tzinfo=UTC),
            )
        )
    await session.flush()
    return deck


async def make_sub(session, client, username, package_id=None):
    sub = SubAccount(
        reseller_id=client.reseller_id,
        client_id=client.id,
        username=username,
        secret_encrypted="x",
        package_id=package_id,
    )
    session.add(sub)
    await session.flush()
    return sub


async def markup_world(session, *, billing_mode="prepaid_permissive", fund="10", pct="20"):
    """Acme (markup, USD) on a deck with 44 at 0.0100/min 60/60; Alice on a 20 %, 6/6
    package with sub-account ``alice`` and A-number 15551230001; Acme funded with 100."""
    deck = await make_deck(session)
    reseller = await make_reseller(session, "markup")
    reseller.base_deck_id = deck.id
    package = Package(
        reseller_id=reseller.id,
        name="Retail",
        markup_pct=Decimal(pct),
        first_increment=6,
        increment=6,
    )
    session.add(package)
    await session.flush()
    client = await make_client(session, reseller, billing_mode)
    await make_sub(session, client, f"alice{client.id}", package.id)
    session.add(
        ClientNumber(reseller_id=reseller.id, client_id=client.id, number=f"1555123{client.id:04d}")
    )
    await fund_reseller(session, reseller, "100")
    if fund:
        await payments.client_payment(session, SYSTEM, client.id, fund, f"pay-{client.id}")
    await session.flush()
    return reseller, client, package


def call(call_id, who, *, billsec=27, dest="442071234567", at=T0, **kw) -> CallRecord:
    return CallRecord(
        call_id=call_id,
        destination=dest,
        started_at=at,
        duration=billsec + 3,
        billsec=billsec,
        disposition="answered" if billsec else "no_answer",
        sub_account=who,
        **kw,
    )


def rows(*records):
    return list(enumerate(records, start=1))


async def test_a_call_is_rated_twice_stored_and_posted(sessions):
    async with transaction(sessions) as s:
        reseller, client, _ = await markup_world(s)
        alice = f"alice{client.id}"
    # when a 27 s call to the UK lands
    async with transaction(sessions) as s:
        report = await calls.ingest(s, SYSTEM, rows(call("c-1", alice)))
    # then cost bills 60 s at 0.01 (0.010000) and sell 30 s at 0.012 (0.006000)
    assert (report.ingested, report.duplicates, report.rejected) == (1, 0, 0)
    assert report.totals["USD"].cost == 10_000 and report.totals["USD"].sell == 6_000
    async with sessions() as s:
        stored = await s.scalar(select(Call).where(Call.call_id == "c-1"))
        assert (stored.matched_prefix, stored.cost_billed, stored.cost) == ("44", 60, 10_000)
        assert (stored.sell_billed, stored.sell, stored.rule) == (30, 6_000, "markup")
        assert stored.sell_rate == Decimal("12000") and stored.cost_rate == 10_000
        assert stored.destination_name == "Dest 44" and stored.sub_account_id is not None
        # and the ledger moved sell from the client to the reseller's sales book, cost from
        # the reseller to the operator
        assert await client_balance(s, client) == 10_000_000 - 6_000
        assert await balance_of(s, f"reseller:{reseller.id}:sales") == 6_000
        assert await reseller_balance(s, reseller) == 100_000_000 - 10_000
        assert await balance_of(s, "operator:sales:USD") == 10_000
        entry = await s.get(LedgerEntry, stored.entry_id)
        assert (entry.kind, entry.amount, entry.client_id) == ("calls", 6_000, client.id)
        await assert_ledger_consistent(s)


async def test_sum_of_rounded_calls_is_the_ledger_debit(sessions):
    # given a package whose sell rate has a fraction of a micro
    async with transaction(sessions) as s:
        _, client, _ = await markup_world(s, pct="33.3333")
        alice = f"alice{client.id}"
    batch = [call(f"r-{n}", alice, billsec=n) for n in range(1, 200)]
    async with transaction(sessions) as s:
        report = await calls.ingest(s, SYSTEM, rows(*batch))
    async with sessions() as s:
        total_sell = await s.scalar(select(func.sum(Call.sell)).where(Call.client_id == client.id))
        [entry] = list(await s.scalars(select(LedgerEntry).where(LedgerEntry.kind == "calls")))
        # then the one entry of the batch is exactly the sum of the calls, each rounded once
        assert entry.amount == total_sell == report.totals["USD"].sell
        assert await client_balance(s, client) == 10_000_000 - total_sell
        await assert_ledger_consistent(s)


async def test_duplicates_within_and_across_batches_are_skipped(sessions):
    async with transaction(sessions) as s:
        _, client, _ = await markup_world(s)
        alice = f"alice{client.id}"
    async with transaction(sessions) as s:
        first = await calls.ingest(s, SYSTEM, rows(call("d-1", alice), call("d-1", alice)))
    assert (first.ingested, first.duplicates) == (1, 1)
    assert first.issues[0].row == 2 and first.issues[0].duplicate
    async with transaction(sessions) as s:
        again = await calls.ingest(s, SYSTEM, rows(call("d-2", alice), call("d-1", alice)))
    assert (again.ingested, again.duplicates) == (1, 1)
    assert [(i.row, i.message) for i in again.issues] == [
        (2, "duplicate call id d-1 (already ingested)")
    ]
    async with sessions() as s:
        assert await client_balance(s, client) == 10_000_000 - 2 * 6_000
        assert await s.scalar(select(func.count()).select_from(Call)) == 2
        await assert_ledger_consistent(s)


async def test_a_refused_row_does_not_claim_its_call_id(sessions):
    # given a batch where a call id's first row is refused (an unknown caller, no rate) and a
    # later row carries the same id: corrected, or identical
    async with transaction(sessions) as s:
        _, client, _ = await markup_world(s)
        alice = f"alice{client.id}"
    batch = rows(
        call("r-1", "nobody"),
        call("r-1", alice),  # the corrected row: it lands
        call("r-2", alice, dest="999123"),
        call("r-2", alice, dest="999123"),  # identical: refused for the same reason
        call("r-1", alice),  # a third copy of a call that landed: a duplicate
        call("r-3", alice),
        call("r-3", alice),
    )
    # when it is ingested
    async with transaction(sessions) as s:
        report = await calls.ingest(s, SYSTEM, batch)
    # then no row is the duplicate of a call that never landed
    assert [(i.row, i.message) for i in report.issues] == [
        (1, "unknown caller nobody"),
        (3, "no rate for destination 999123"),
        (4, "no rate for destination 999123"),
        (5, "duplicate call id r-1 (earlier in this batch)"),
        (7, "duplicate call id r-3 (earlier in this batch)"),
    ]
    assert (report.ingested, report.duplicates, report.rejected) == (2, 2, 3)
    async with sessions() as s:
        stored = {c.call_id: c.sub_account_id for c in await s.scalars(select(Call))}
        assert sorted(stored) == ["r-1", "r-3"]
        assert await client_balance(s, client) == 10_000_000 - 2 * 6_000
        await assert_ledger_consistent(s)
    # and the refused call, sent again once fixed, lands
    async with transaction(sessions) as s:
        again = await calls.ingest(s, SYSTEM, rows(call("r-2", alice), call("r-1", alice)))
    assert (again.ingested, again.duplicates) == (1, 1)
    # and a batch of calls that all landed before reports each row in order
    async with transaction(sessions) as s:
        batch = [
            (1, call("r-1", alice)),
            (2, "unknown disposition 'HELD'"),
            (3, call("r-1", alice)),
        ]
        replay = await calls.ingest(s, SYSTEM, batch)
    assert [(i.row, i.duplicate) for i in replay.issues] == [(1, True), (2, False), (3, True)]


async def test_bad_rows_are_reported_and_the_rest_lands(sessions):
    async with transaction(sessions) as s:
        _, client, _ = await markup_world(s)
        alice = f"alice{client.id}"
    batch = [
        (1, call("b-1", alice)),
        (2, "unknown disposition 'HELD'"),
        (3, call("b-3", "nobody")),
        (4, call("b-4", alice, dest="999123")),  # no route, answered
        (5, call("b-5", alice, dest="999123", billsec=0)),  # no route, unanswered: stored
        (6, call("b-6", None, a_number=f"+1 555 123 {client.id:04d}")),  # A-number
    ]
    async with transaction(sessions) as s:
        report = await calls.ingest(s, SYSTEM, batch)
    assert (report.received, report.ingested, report.rejected) == (6, 3, 3)
    assert [(i.row, i.message) for i in report.issues] == [
        (2, "unknown disposition 'HELD'"),
        (3, "unknown caller nobody"),
        (4, "no rate for destination 999123"),
    ]
    async with sessions() as s:
        by_id = {c.call_id: c for c in await s.scalars(select(Call))}
        assert by_id["b-5"].rule == "no_route" and by_id["b-5"].sell == 0
        # an A-number call takes the client's package: it has none, so it sells at cost
        assert by_id["b-6"].sub_account_id is None
        assert (by_id["b-6"].rule, by_id["b-6"].sell) == ("cost", 10_000)


async def test_a_strict_client_is_suspended_when_its_balance_reaches_zero(sessions):
    # given a strict prepaid client with 0.006 left: exactly one call
    async with transaction(sessions) as s:
        _, client, _ = await markup_world(s, billing_mode="prepaid_strict", fund=None)
        await payments.client_payment(s, SYSTEM, client.id, "0.006", "tiny")
        alice = f"alice{client.id}"
    # when two calls land (calls already happened: no floor), it goes negative and is suspended
    async with transaction(sessions) as s:
        report = await calls.ingest(s, SYSTEM, rows(call("s-1", alice), call("s-2", alice)))
    assert report.ingested == 2 and report.suspended_client_ids == [client.id]
    async with sessions() as s:
        assert await client_balance(s, client) == -6_000
        from api.models import Client

        assert (await s.get(Client, client.id)).status == "suspended"
        await assert_ledger_consistent(s)


async def test_rollups_equal_the_sum_of_calls(sessions):
    async with transaction(sessions) as s:
        _, client, _ = await markup_world(s)
        alice = f"alice{client.id}"
    days = [T0 + timedelta(hours=h) for h in (0, 5, 20, 30, 50)]
    for n, at in enumerate(days):
        async with transaction(sessions) as s:
            await calls.ingest(
                s,
                SYSTEM,
                rows(
                    call(f"u-{n}", alice, at=at, billsec=13 * n + 1),
                    call(f"v-{n}", alice, at=at, billsec=0),
                    call(f"w-{n}", alice, at=at, direction="inbound"),
                ),
            )
    async with sessions() as s:
        from_calls = (
            await s.execute(
                select(
                    func.count(), func.sum(Call.billsec), func.sum(Call.cost), func.sum(Call.sell)
                ).select_from(Call)
            )
        ).one()
        from_rollups = (
            await s.execute(
                select(
                    func.sum(CallRollup.calls),
                    func.sum(CallRollup.seconds),
                    func.sum(CallRollup.cost),
                    func.sum(CallRollup.sell),
                )
            )
        ).one()
        assert tuple(from_calls) == tuple(from_rollups)
        per_day = {
            (r.day.isoformat(), r.direction): r.calls for r in await s.scalars(select(CallRollup))
        }
        assert per_day == {
            ("2024-03-01", "outbound"): 4,
            ("2024-03-01", "inbound"): 2,
            ("2024-03-02", "outbound"): 4,
            ("2024-03-02", "inbound"): 2,
            ("2024-03-03", "outbound"): 2,
            ("2024-03-03", "inbound"): 1,
        }


async def test_inbound_calls_are_recorded_at_zero(sessions):
    async with transaction(sessions) as s:
        _, client, _ = await markup_world(s)
        alice = f"alice{client.id}"
    async with transaction(sessions) as s:
        await calls.ingest(s, SYSTEM, rows(call("i-1", alice, direction="inbound")))
    async with sessions() as s:
        stored = await s.scalar(select(Call))
        assert (stored.rule, stored.sell, stored.cost, stored.entry_id) == ("inbound", 0, 0, None)
        assert await client_balance(s, client) == 10_000_000


async def test_without_a_package_the_client_is_sold_at_cost(sessions):
    async with transaction(sessions) as s:
        reseller, client, _ = await markup_world(s)
        sub = await make_sub(s, client, f"nopkg{client.id}")
    async with transaction(sessions) as s:
        await calls.ingest(s, SYSTEM, rows(call("n-1", sub.username)))
    async with sessions() as s:
        stored = await s.scalar(select(Call))
        assert (stored.rule, stored.sell, stored.cost) == ("cost", 10_000, 10_000)
        assert await balance_of(s, f"reseller:{reseller.id}:sales") == 10_000
        await assert_ledger_consistent(s)


async def test_commission_model_debits_only_the_client(sessions):
    async with transaction(sessions) as s:
        deck = await make_deck(s)
        reseller = await make_reseller(s, "commission", commission_pct="10")
        reseller.base_deck_id = deck.id
        client = await make_client(s, reseller, "prepaid_permissive")
        client.personal_rate_pct = Decimal("5")
        await make_sub(s, client, f"gina{client.id}")
        await fund_reseller(s, reseller, "100")
        await payments.client_transfer(s, SYSTEM, client.id, "10", "t-1")
        before = await reseller_balance(s, reseller)
    async with transaction(sessions) as s:
        await calls.ingest(s, SYSTEM, rows(call("m-1", f"gina{client.id}", billsec=60)))
    async with sessions() as s:
        stored = await s.scalar(select(Call))
        # base 0.01/min + 5 % on the deck's 60/60
        assert (stored.rule, stored.sell, stored.cost) == ("personal", 10_500, 10_000)
        assert await client_balance(s, client) == 10_000_000 - 10_500
        assert await balance_of(s, "operator:sales:USD") == 10_500
        assert await reseller_balance(s, reseller) == before
        await assert_ledger_consistent(s)


async def test_a_reseller_token_cannot_ingest_another_resellers_callers(sessions):
    async with transaction(sessions) as s:
        _, client, _ = await markup_world(s)
        other = await make_reseller(s, "markup")
        alice = f"alice{client.id}"
    # when reseller B delivers a call of A's sub-account and A's A-number
    async with transaction(sessions) as s:
        report = await calls.ingest(
            s,
            reseller_actor(other),
            rows(call("x-1", alice), call("x-2", None, a_number=f"1555123{client.id:04d}")),
        )
    # then both are unknown callers and nothing of A's moved
    assert report.ingested == 0 and report.rejected == 2
    assert report.issues[0].message == f"unknown caller {alice}"
    async with sessions() as s:
        assert await client_balance(s, client) == 10_000_000
        assert await s.scalar(select(func.count()).select_from(Call)) == 0


async def test_import_of_a_real_master_csv(sessions):
    async with transaction(sessions) as s:
        _, client, _ = await markup_world(s)
        await make_sub(s, client, "alice")  # its A-number is 15551230001 (client 1)
    with open(DATA / "asterisk-Master.csv", newline="") as fh:
        parsed = list(cdr_formats.read("asterisk-csv", fh))
    async with transaction(sessions) as s:
        report = await calls.ingest(s, SYSTEM, parsed)
    assert (report.ingested, report.duplicates, report.rejected) == (5, 1, 4)
    assert [i.row for i in report.issues] == [4, 6, 7, 8, 9]
    assert report.issues[3].message == "unknown caller mallory"
    async with sessions() as s:
        await assert_ledger_consistent(s)


async def test_cli_import_of_a_freeswitch_file_in_batches(sessions, settings):
    import io

    from api.cli_calls import cmd_calls_import

    # given Alice as sub-account "alice" with A-number 15551230001
    async with transaction(sessions) as s:
        _, client, _ = await markup_world(s)
        await make_sub(s, client, "alice")
        assert client.id == 1  # so its A-number is 15551230001
    out, err = io.StringIO(), io.StringIO()
    path = str(DATA / "freeswitch-Master.csv")
    # when the file is imported three lines a transaction, in New York time, by this process
    # (its first batch alone, so the first of two lines with the same call id lands; with
    # workers either may: see the test below)
    status = await cmd_calls_import(
        settings, path, "freeswitch-csv", "America/New_York", 3, out=out, err=err, workers=1
    )
    # then the good calls land, and each skipped line is reported as FILE:LINE: reason
    assert status == 0
    assert "calls import: 5 ingested, 1 duplicates, 3 rejected, of 9 rows" in out.getvalue()
    reported = [line for line in err.getvalue().splitlines() if line.startswith(path)]
    assert reported == [
        f"{path}:5: duplicate call id a1b2c3d4-0000-4000-8000-000000000001 (already ingested)",
        f"{path}:6: duration must be a whole number of seconds, not 'thirty'",
        f"{path}:8: unknown caller 9999",
        f"{path}:9: expected 15 columns (the default template), found 5",
    ]
    assert "[####################] 9/9 lines" in err.getvalue()
    async with sessions() as s:
        first = await s.scalar(
            select(Call).where(Call.call_id == "a1b2c3d4-0000-4000-8000-000000000001")
        )
        assert first.started_at == datetime(2024, 3, 2, 15, 0, tzinfo=UTC)
        await assert_ledger_consistent(s)
    # and running it again lands nothing new
    out = io.StringIO()
    await cmd_calls_import(settings, path, "freeswitch-csv", None, 5000, out=out, err=io.StringIO())
    assert "0 ingested, 6 duplicates, 3 rejected" in out.getvalue()


@pytest.mark.parametrize("workers", [1, 2])
async def test_cli_import_reports_a_call_repeated_by_a_batch_in_flight_beside_it(
    sessions, settings, tmp_path, workers
):
    import io

    from api.cli_calls import cmd_calls_import

    # given Alice and a file whose batches of two repeat calls of the batch before them
    async with transaction(sessions) as s:
        _, client, _ = await markup_world(s)
        alice = f"alice{client.id}"
    ids = ["f-1", "f-2", "f-3", "f-4", "f-3", "f-5", "f-4", "f-6"]
    path = tmp_path / "calls.csv"
    path.write_text(
        "call_id,sub_account,destination,started_at,duration,billsec,disposition\n"
        + "".join(f"{i},{alice},442071234567,2024-03-01T10:00:00Z,30,27,answered\n" for i in ids)
    )
    out, err = io.StringIO(), io.StringIO()
    # when it is imported two lines a transaction (on PostgreSQL, batches at once: two in this
    # process, or in each of two worker processes)
    status = await cmd_calls_import(
        settings, str(path), "generic-csv", None, 2, out=out, err=err, workers=workers
    )
    # then each call lands once, and one line of each pair is the duplicate (the one whose
    # batch came second: with batches at once, either)
    assert status == 0
    assert "calls import: 6 ingested, 2 duplicates, 0 rejected, of 8 rows" in out.getvalue()
    reported = [line for line in err.getvalue().splitlines() if line.startswith(str(path))]
    pairs = {"f-3": (4, 6), "f-4": (5, 8)}
    assert len(reported) == 2
    for call_id, lines in pairs.items():
        assert (
            len(
                {f"{path}:{n}: duplicate call id {call_id} (already ingested)" for n in lines}
                & set(reported)
            )
            == 1
        )
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Call)) == 6
        assert await client_balance(s, client) == 10_000_000 - 6 * 6_000
        await assert_ledger_consistent(s)
