"""Call batches at once on PostgreSQL: what they lock, and in which order."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from api.db import transaction
from api.domain import calls
from api.domain.actors import SYSTEM
from api.models import Call
from tests.domain.test_ingest import T0, call, markup_world, rows
from tests.factories import assert_ledger_consistent


async def test_batches_at_once_blocking_postpaid_clients_do_not_deadlock(sessions, db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite runs one writer at a time; the race needs PostgreSQL")
    from api.models import Client, Invoice

    # given three postpaid clients without credit (each blocked, and its invoice drafted, by
    # the first call it pays for)
    async with transaction(sessions) as s:
        worlds = [await markup_world(s, billing_mode="postpaid", fund=None) for _ in range(3)]
    subs = [f"alice{client.id}" for _, client, _ in worlds]

    # when four batches at once each carry calls of all three, in a different order
    async def batch(k):
        order = subs[k % 3 :] + subs[: k % 3]
        records = [
            call(f"d-{k}-{n}", who, at=T0 + timedelta(seconds=k)) for n, who in enumerate(order)
        ]
        async with transaction(sessions) as s:
            return await calls.ingest(s, SYSTEM, rows(*records))

    reports = await asyncio.gather(*(batch(k) for k in range(4)))
    # then every batch landed, every client is blocked with one draft invoice
    assert [r.ingested for r in reports] == [3, 3, 3, 3]
    async with sessions() as s:
        for _, client, _ in worlds:
            assert (await s.get(Client, client.id)).status == "blocked"
            drafts = await s.scalars(select(Invoice).where(Invoice.client_id == client.id))
            assert len(list(drafts)) == 1
        await assert_ledger_consistent(s)


@pytest.mark.parametrize(
    ("later", "shared"),
    [
        (["q-2", "q-3"], "one call id of the earlier batch"),
        (["q-1", "q-2"], "all its calls: the same calls entry"),
    ],
)
async def test_a_batch_meeting_calls_of_a_batch_in_flight_is_ingested_again(
    sessions, db_url, later, shared
):
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite runs one writer at a time; the race needs PostgreSQL")
    from api.cli_calls import _ingest

    async with transaction(sessions) as s:
        _, client, _ = await markup_world(s)
        alice = f"alice{client.id}"
    # given a batch of q-1 and q-2 stored but not committed yet
    async with transaction(sessions) as earlier:
        await calls.ingest(earlier, SYSTEM, rows(call("q-1", alice), call("q-2", alice)))

        # when a later batch sharing its calls runs at the same time, once on its own and once
        # as an import does
        async def alone():
            async with transaction(sessions) as s:
                await calls.ingest(s, SYSTEM, rows(*(call(i, alice) for i in later)))

        failed = asyncio.ensure_future(alone())
        again = asyncio.ensure_future(_ingest(sessions, rows(*(call(i, alice) for i in later))))
        await asyncio.sleep(0.5)  # both wait for the earlier batch's transaction
        assert not failed.done() and not again.done()
    # then, once the earlier batch committed, the first fails as delivered concurrently
    with pytest.raises(Exception) as raised:
        await failed
    assert calls.delivered_concurrently(raised.value), shared
    # and the import's one, ingested again, finds the shared calls as duplicates
    report = await again
    fresh = [i for i in later if i not in ("q-1", "q-2")]
    assert (report.ingested, report.duplicates) == (len(fresh), len(later) - len(fresh))
    async with sessions() as s:
        ids = await s.scalars(select(Call.call_id).order_by(Call.call_id))
        assert list(ids) == sorted({"q-1", "q-2", *later})
        await assert_ledger_consistent(s)


def test_other_errors_are_not_taken_for_a_concurrent_delivery():
    from sqlalchemy.exc import IntegrityError

    from api.domain.errors import DomainError, ErrorCode

    class Violation(Exception):
        sqlstate = "23505"
        constraint_name = "uq_client_numbers_number"

    assert not calls.delivered_concurrently(ValueError("no"))
    assert not calls.delivered_concurrently(DomainError(ErrorCode.CONFLICT, "another conflict"))
    assert not calls.delivered_concurrently(IntegrityError("insert", {}, Violation()))
    Violation.constraint_name = "uq_calls_call_id"
    assert calls.delivered_concurrently(IntegrityError("insert", {}, Violation()))


def test_an_import_uses_its_workers_on_postgresql_for_more_than_one_batch():
    from api.cli_calls import processes
    from api.settings import Settings

    postgres = Settings(database_url="postgresql+asyncpg://db/x")
    sqlite = Settings(database_url="sqlite+aiosqlite:///x.db")
    assert processes(postgres, 3, lines=101, batch=100) == 3
    assert processes(postgres, 3, lines=100, batch=100) == 1
    assert processes(sqlite, 3, lines=10_000, batch=100) == 1


def test_a_domain_error_crosses_from_a_worker_process_intact():
    import pickle

    from api.domain.errors import DomainError, ErrorCode

    for error in (calls.ConcurrentDelivery(), DomainError(ErrorCode.VALIDATION, "bad", "field")):
        back = pickle.loads(pickle.dumps(error))
        assert type(back) is type(error)
        assert (back.code, back.message, back.field, str(back)) == (
            error.code,
            error.message,
            error.field,
            str(error),
        )
