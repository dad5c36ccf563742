"""DriverQuery on an engine: its lanes (driver connections kept out of the pool) are reused,
replaced when broken, and closed with the engine."""

from __future__ import annotations

import asyncio

from sqlalchemy import literal, select

from api.db import DRIVER_LANES, DriverQuery, _lanes, create_engine, read_only

ONE = DriverQuery(select(literal(1).label("one")))


async def test_concurrent_reads_share_at_most_the_lanes(db_url):
    engine = create_engine(db_url)
    try:
        rows = await asyncio.gather(*(ONE.first(read_only(engine), {}) for _ in range(30)))
        assert {row.one for row in rows} == {1}
        assert _lanes(engine).count <= DRIVER_LANES
    finally:
        await engine.dispose()


async def test_a_lane_broken_while_idle_is_replaced(db_url):
    engine = create_engine(db_url)
    try:
        await asyncio.gather(*(ONE.first(engine, {}) for _ in range(3)))
        lanes = _lanes(engine)
        # when every idle lane's connection breaks (closed underneath)
        for lane in list(lanes.idle._queue):
            await lane.driver_connection.close()
        # then the next read still answers, on a fresh connection
        assert (await ONE.first(engine, {})).one == 1
        assert lanes.count >= 1
    finally:
        await engine.dispose()


async def test_the_lanes_are_closed_with_the_engine(db_url):
    engine = create_engine(db_url)
    await ONE.first(engine, {})
    lanes = _lanes(engine)
    await engine.dispose()
    assert lanes.closed and lanes.idle.empty() and lanes.count == 0
    # a disposed engine opens new ones on its next use
    try:
        assert (await ONE.first(engine, {})).one == 1
        assert _lanes(engine) is not lanes
    finally:
        await engine.dispose()
