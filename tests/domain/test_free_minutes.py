"""Free minutes of a package: used before per-minute charging, once per caller and month."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from api.db import transaction
from api.domain import calls
from api.domain.actors import SYSTEM
from api.models import Call, FreeMinutesUsage, Package
from tests.domain.test_ingest import T0, call, markup_world, rows
from tests.factories import assert_ledger_consistent, client_balance, reseller_balance

# the world of test_ingest: a 27 s call sells 30 s at 0.012/min (6,000 micros) on the 6/6
# package and costs the reseller 60 s at 0.01/min (10,000 micros)
FUNDED = 10_000_000
RESELLER_FUNDED = 100_000_000


async def free_world(sessions, free_minutes=1):
    async with transaction(sessions) as s:
        reseller, client, package = await markup_world(s)
        (await s.get(Package, package.id)).free_minutes = free_minutes
        client.package_id = package.id  # calls from its own number are priced by it too
    return reseller, client, f"alice{client.id}", f"1555123{client.id:04d}"


async def stored(s, call_id):
    return await s.scalar(select(Call).where(Call.call_id == call_id))


async def test_free_minutes_are_used_before_the_client_pays(sessions):
    # given a package with one free minute a month
    reseller, client, alice, _ = await free_world(sessions)
    # when three 27 s calls land (30 s each sold)
    batch = [call(f"f-{n}", alice, at=T0 + timedelta(minutes=n)) for n in range(3)]
    async with transaction(sessions) as s:
        report = await calls.ingest(s, SYSTEM, rows(*batch))
    # then the first two are free, the third is paid; the reseller pays cost for all three
    assert report.totals["USD"].sell == 6_000 and report.totals["USD"].cost == 30_000
    async with sessions() as s:
        got = [await stored(s, f"f-{n}") for n in range(3)]
        assert [(c.sell_billed, c.free_seconds, c.sell) for c in got] == [
            (30, 30, 0),
            (30, 30, 0),
            (30, 0, 6_000),
        ]
        assert await client_balance(s, client) == FUNDED - 6_000
        assert await reseller_balance(s, reseller) == RESELLER_FUNDED - 30_000
        usage = await s.scalar(select(FreeMinutesUsage))
        assert (usage.seconds, usage.month) == (60, T0.date().replace(day=1))
        await assert_ledger_consistent(s)


async def test_a_call_beyond_what_is_left_pays_for_the_rest(sessions):
    _, client, alice, _ = await free_world(sessions)
    # when a 90 s call uses the 60 free seconds, then more calls come in a later batch
    async with transaction(sessions) as s:
        await calls.ingest(s, SYSTEM, rows(call("p-1", alice, billsec=90)))
    async with transaction(sessions) as s:
        await calls.ingest(s, SYSTEM, rows(call("p-2", alice, at=T0 + timedelta(hours=1))))
    async with sessions() as s:
        first, second = await stored(s, "p-1"), await stored(s, "p-2")
        # then the first pays 30 s of its 90 (0.012/min: 6,000), the second all of its 30 s
        assert (first.sell_billed, first.free_seconds, first.sell) == (90, 60, 6_000)
        assert (second.free_seconds, second.sell) == (0, 6_000)
        assert await client_balance(s, client) == FUNDED - 12_000
        await assert_ledger_consistent(s)


async def test_each_month_and_each_caller_has_its_own_allowance(sessions):
    _, client, alice, number = await free_world(sessions)
    next_month = T0.replace(month=T0.month + 1)
    batch = [
        call("m-1", alice, billsec=60),  # alice's March minute
        call("m-2", alice, billsec=60, at=T0 + timedelta(minutes=5)),  # paid
        call("m-3", alice, billsec=60, at=next_month),  # alice's April minute
        call("m-4", "", billsec=60, a_number=number),  # the client's own number: its minute
    ]
    async with transaction(sessions) as s:
        await calls.ingest(s, SYSTEM, rows(*batch))
    async with sessions() as s:
        free = {c.call_id: c.free_seconds for c in await s.scalars(select(Call))}
        assert free == {"m-1": 60, "m-2": 0, "m-3": 60, "m-4": 60}
        months = await s.execute(
            select(FreeMinutesUsage.sub_account_id != 0, FreeMinutesUsage.month).order_by(
                FreeMinutesUsage.month, FreeMinutesUsage.sub_account_id
            )
        )
        assert [(by_sub, month.month) for by_sub, month in months] == [
            (False, 3),
            (True, 3),
            (True, 4),
        ]
        assert await client_balance(s, client) == FUNDED - 12_000  # m-2: 60 s at 0.012
        await assert_ledger_consistent(s)


async def test_without_free_minutes_nothing_is_recorded(sessions):
    _, _, alice, _ = await free_world(sessions, free_minutes=0)
    async with transaction(sessions) as s:
        await calls.ingest(s, SYSTEM, rows(call("n-1", alice)))
    async with sessions() as s:
        assert (await stored(s, "n-1")).sell == 6_000
        assert await s.scalar(select(func.count()).select_from(FreeMinutesUsage)) == 0


async def test_batches_at_once_take_each_free_second_once(sessions, db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite runs one writer at a time; the race needs PostgreSQL")
    # given five free minutes, and five batches at once of four 30 s calls each (600 s asked)
    _, client, alice, _ = await free_world(sessions, free_minutes=5)

    async def batch(k):
        records = [
            call(f"r-{k}-{n}", alice, at=T0 + timedelta(seconds=k * 10 + n)) for n in range(4)
        ]
        async with transaction(sessions) as s:
            return await calls.ingest(s, SYSTEM, rows(*records))

    await asyncio.gather(*(batch(k) for k in range(5)))
    async with sessions() as s:
        free = await s.scalar(select(func.sum(Call.free_seconds)))
        sold = await s.scalar(select(func.sum(Call.sell)))
        # then exactly the 300 free seconds were given, and the other ten calls were paid
        assert free == 300 and sold == 10 * 6_000
        assert (await s.scalar(select(FreeMinutesUsage.seconds))) == 300
        assert await client_balance(s, client) == FUNDED - 10 * 6_000
        await assert_ledger_consistent(s)
