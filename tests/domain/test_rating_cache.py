"""The per-process rating caches: keyed by the row's stamp, and built once however many callers
miss at the same time."""

from __future__ import annotations

import asyncio

from api.db import transaction
from api.domain import rating
from api.models import RateDeck
from tests.callers_data import make_deck, make_package, set_rate
from tests.factories import count_statements, make_reseller


def _rate_reads(statements: list[str]) -> list[str]:
    return [s for s in statements if "FROM rates" in s]


async def test_concurrent_misses_build_a_deck_index_once(engine, sessions):
    # given a deck no process has built yet, and its stamp as a caller's own query reads it
    async with transaction(sessions) as s:
        deck = await make_deck(s, [{"prefix": "44", "rate": 10_000}])
    stamp = (deck.version, deck.created_at)
    # when eight callers, each with its own session, ask for its index at once
    opened = [sessions() for _ in range(8)]
    try:
        with count_statements(engine) as statements:
            indexes = await asyncio.gather(*(rating.deck_index(s, deck.id, stamp) for s in opened))
    finally:
        for s in opened:
            await s.close()
    # then the rates were read once, and every caller has that one index
    assert len(_rate_reads(statements)) == 1
    assert all(index is indexes[0] for index in indexes)
    assert indexes[0].lookup("447").rate == 10_000


async def test_a_new_version_is_built_once_and_the_old_one_never_served(engine, sessions):
    async with transaction(sessions) as s:
        deck = await make_deck(s, [{"prefix": "44", "rate": 10_000}])
    async with sessions() as s:
        assert (await rating.deck_index(s, deck.id)).lookup("44").rate == 10_000
    # when the rate changes (the deck's version moves)
    async with transaction(sessions) as s:
        await set_rate(s, deck, "44", 20_000)
    async with sessions() as s:
        row = await s.get(RateDeck, deck.id)
        stamp = (row.version, row.created_at)
    # then concurrent callers with the new stamp build it once and all see the new rate
    opened = [sessions() for _ in range(4)]
    try:
        with count_statements(engine) as statements:
            indexes = await asyncio.gather(*(rating.deck_index(s, deck.id, stamp) for s in opened))
    finally:
        for s in opened:
            await s.close()
    assert len(_rate_reads(statements)) == 1
    assert {index.lookup("44").rate for index in indexes} == {20_000}


async def test_a_failed_build_is_tried_again_by_a_waiting_caller():
    cache: rating.VersionedCache[str] = rating.VersionedCache()
    builds = []

    async def build() -> str:
        builds.append(len(builds))
        await asyncio.sleep(0)
        if len(builds) == 1:
            raise RuntimeError("the database went away")
        return "built"

    results = await asyncio.gather(
        *(cache.get_or_build(1, (1, None), build) for _ in range(3)), return_exceptions=True
    )
    # the first caller sees its failure; of the two that waited, one built and both have it
    assert isinstance(results[0], RuntimeError)
    assert results[1:] == ["built", "built"]
    assert len(builds) == 2
    assert cache.get(1, (1, None)) == "built"
    assert cache.get(1, (2, None)) is None


async def test_a_package_pricing_is_keyed_by_its_stamp(sessions):
    async with transaction(sessions) as s:
        reseller = await make_reseller(s)
        package = await make_package(s, reseller)
    async with sessions() as s:
        first = await rating.package_pricing(s, package.id)
        again = await rating.package_pricing(s, package.id, (package.version, package.created_at))
        other = await rating.package_pricing(
            s, package.id, (package.version + 1, package.created_at)
        )
    assert first is again
    assert other is not first and other.package.id == package.id


async def test_a_batch_reads_the_stamps_of_all_its_decks_and_packages_in_two_queries(
    engine, sessions
):
    # given two decks and three packages, all built once already, and ids of neither that exist
    async with transaction(sessions) as s:
        reseller = await make_reseller(s)
        decks = [await make_deck(s, [{"prefix": "44", "rate": 10_000 * (i + 1)}]) for i in (0, 1)]
        packages = [await make_package(s, reseller, markup_pct=i) for i in (5, 10, 15)]
    deck_ids = {d.id for d in decks} | {999_999}
    package_ids = {p.id for p in packages} | {999_998}
    async with sessions() as s:
        await rating.deck_indexes(s, deck_ids)
        await rating.package_pricings(s, package_ids)
    # when one deck's rate changes
    async with transaction(sessions) as s:
        await set_rate(s, decks[1], "44", 30_000)
    # then a batch reads every stamp in one query per kind, rebuilds only the changed deck, and
    # sees its new rate; a missing deck has no rates and a missing package no pricing
    async with sessions() as s:
        with count_statements(engine) as statements:
            indexes = await rating.deck_indexes(s, deck_ids)
            pricings = await rating.package_pricings(s, package_ids)
    queries = [q for q in statements if q.startswith("SELECT")]
    assert len(queries) == 3  # the two stamp reads and the changed deck's rates
    assert len(_rate_reads(queries)) == 1
    assert [indexes[d.id].lookup("447").rate for d in decks] == [10_000, 30_000]
    assert indexes[999_999].size == 0
    assert pricings[999_998] is None
    assert [pricings[p.id].package.markup_pct for p in packages] == [5, 10, 15]
