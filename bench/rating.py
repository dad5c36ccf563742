"""Prefix lookup: the in-memory deck index against the per-call SQL lookup that ASTPP and
A2Billing use (``WHERE prefix IN (<all prefixes of the number>) ORDER BY length(prefix) DESC
LIMIT 1``, indexed), on the same generated 100,000-prefix deck and database.

Two figures: ``lookups_per_s`` is the batch lookup (``DeckIndex.lookup_many``, what batch
rating uses) over batches of 1,000 numbers; ``single_lookups_per_s`` is one number at a time
(``DeckIndex.lookup``, what an authorization uses). Both run over the same 100,000 distinct
numbers, checked to agree."""

from __future__ import annotations

import time

from sqlalchemy import bindparam, text

from api.db import create_engine, session_factory, transaction
from api.domain import rating
from bench.decks import create_deck, generate_numbers, generate_prefixes
from bench.support import fresh_database, progress

DECK_SIZE = 100_000
LOOKUPS = 1_000_000
NUMBERS = 100_000
BATCH = 1_000
SQL_LOOKUPS = 2_000


async def run() -> str:
    url = fresh_database()
    engine = create_engine(url)
    sessions = session_factory(engine)
    prefixes = generate_prefixes(DECK_SIZE)
    numbers = generate_numbers(prefixes, NUMBERS)
    async with transaction(sessions) as s:
        deck_id = await create_deck(s, "bench", prefixes, progress)
    async with sessions() as s:
        started = time.perf_counter()
        index = await rating.deck_index(s, deck_id)
        build_seconds = time.perf_counter() - started

    lookup = index.lookup
    rounds = LOOKUPS // len(numbers)
    started = time.perf_counter()
    for _ in range(rounds):
        found = [lookup(number) for number in numbers]
    single_seconds = time.perf_counter() - started
    misses = found.count(None)

    batches = [numbers[i : i + BATCH] for i in range(0, len(numbers), BATCH)]
    started = time.perf_counter()
    index.lookup_many(batches[0])  # the first batch builds the ranges
    ranges_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(rounds):
        batch_found = [hit for batch in batches for hit in index.lookup_many(batch)]
    batch_seconds = time.perf_counter() - started
    if batch_found != found:
        raise AssertionError("the batch lookup disagrees with the single lookup")

    stmt = text(
        "SELECT prefix, rate FROM rates WHERE deck_id = :deck AND prefix IN :prefixes"
        " ORDER BY length(prefix) DESC LIMIT 1"
    ).bindparams(bindparam("prefixes", expanding=True))
    async with sessions() as s:
        started = time.perf_counter()
        for i in range(SQL_LOOKUPS):
            number = numbers[i % len(numbers)]
            candidates = [number[:k] for k in range(1, len(number) + 1)]
            await s.execute(stmt, {"deck": deck_id, "prefixes": candidates})
        sql_seconds = time.perf_counter() - started
    await engine.dispose()

    per_s = rounds * len(numbers) / batch_seconds
    single_per_s = rounds * len(numbers) / single_seconds
    sql_per_s = SQL_LOOKUPS / sql_seconds
    backend = "sqlite" if url.startswith("sqlite") else "postgresql"
    return (
        f"rating: backend={backend} deck={index.size} lookups={LOOKUPS} misses={misses}"
        f" lookups_per_s={per_s:.0f} single_lookups_per_s={single_per_s:.0f}"
        f" sql_lookups_per_s={sql_per_s:.0f} ratio_to_sql={per_s / sql_per_s:.1f}"
        f" single_ratio_to_sql={single_per_s / sql_per_s:.1f} index_build_s={build_seconds:.2f}"
        f" ranges_build_s={ranges_seconds:.2f}"
    )
