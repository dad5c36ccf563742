"""``dialtone calls import FILE --format asterisk-csv|freeswitch-csv|generic-csv``.

Reads the file with ``api.domain.cdr_formats`` and ingests it (``api.domain.calls.ingest``) as
the system, in batches of ``--batch`` lines, each batch one transaction: an interrupted import
can simply be run again (what already landed is reported as duplicates). Refused and duplicate
rows are printed to stderr as ``FILE:LINE: reason``, a progress bar too; a summary goes to
stdout. Exit status: 0 when every row landed or was a duplicate, or some landed; 1 when rows
were refused and none landed; 2 for a user error (unreadable file, unknown zone or format).
"""

from __future__ import annotations

import asyncio
import itertools
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api import collector, money
from api.db import is_sqlite, transaction
from api.settings import Settings

DEFAULT_BATCH = 20_000
IN_FLIGHT = 2  # batches ingested at once, each in its own transaction
MAX_BATCH = 50_000


async def cmd_calls_import(
    settings: Settings,
    path: str,
    fmt: str,
    timezone: str | None,
    batch: int,
    *,
    out: TextIO,
    err: TextIO,
) -> int:
    from api.cli import CommandError, _with_sessions, open_import, progress_printer
    from api.domain import calls, cdr_formats
    from api.domain.actors import SYSTEM

    zone = cdr_formats.timezone_named(timezone)
    if not 1 <= batch <= MAX_BATCH:
        raise CommandError(f"--batch must be between 1 and {MAX_BATCH}")
    handle, total = open_import(path)
    report = calls.IngestReport()
    with handle:
        show = progress_printer(err)
        rows = cdr_formats.read(fmt, handle, zone)

        def take() -> list[cdr_formats.Parsed]:
            return list(itertools.islice(rows, batch))

        # SQLite has one writer at a time: a second batch would only wait for the lock
        in_flight = 1 if is_sqlite(settings.database_url) else IN_FLIGHT
        pending: dict[int, set[str]] = {}  # call ids of the batches not committed yet
        shown = 0

        async def one(chunk: list[cdr_formats.Parsed], sessions) -> None:
            nonlocal shown
            earlier = set().union(*pending.values())
            key = id(chunk)
            pending[key] = {r.call_id for _, r in chunk if r.__class__ is not str}
            try:
                async with transaction(sessions) as session:
                    report.merge(await calls.ingest(session, SYSTEM, chunk, pending=earlier))
            finally:
                del pending[key]
            shown = max(shown, min(chunk[-1][0], total))
            show(shown, total, "lines")

        async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
            # the next batch is read in a thread; IN_FLIGHT batches are ingested at once (one
            # is rated while another's calls are being stored)
            upcoming = asyncio.ensure_future(asyncio.to_thread(take))
            running: set[asyncio.Task] = set()

            async def settle(room: int) -> set[asyncio.Task]:
                left = running
                while len(left) > room:
                    done, left = await asyncio.wait(left, return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        task.result()  # a batch's error stops the import
                return left

            try:
                room = 0  # the first batch alone: it fills the caches (deck, ledger accounts)
                while chunk := await upcoming:
                    upcoming = asyncio.ensure_future(asyncio.to_thread(take))
                    running = await settle(room)
                    running.add(asyncio.ensure_future(one(chunk, sessions)))
                    room = in_flight - 1
                running = await settle(0)
            finally:
                for task in running:
                    task.cancel()
                # before the file closes
                await asyncio.gather(upcoming, *running, return_exceptions=True)

        with collector.fewer_collections():
            await _with_sessions(settings, work)
    for issue in sorted(report.issues, key=lambda i: i.row):
        print(f"{path}:{issue.row}: {issue.message}", file=err)
    print(
        f"calls import: {report.ingested} ingested, {report.duplicates} duplicates, "
        f"{report.rejected} rejected, of {report.received} rows",
        file=out,
    )
    for t in sorted(report.totals.values(), key=lambda t: t.currency):
        print(
            f"  {t.currency}: {t.calls} calls, {t.seconds} s answered, "
            f"cost {money.format_amount(t.cost)}, sell {money.format_amount(t.sell)}",
            file=out,
        )
    return 0 if report.ingested or not report.rejected else 1
