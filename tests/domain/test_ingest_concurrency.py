"""Call batches at once on PostgreSQL: what they lock, and in which order."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from api.db import transaction
from api.domain import calls
from api.domain.actors import SYSTEM
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
