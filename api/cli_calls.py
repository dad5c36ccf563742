"""``dialtone calls import FILE --format asterisk-csv|freeswitch-csv|generic-csv``.

Splits the file into parts of ``--batch`` lines (``cdr_formats.parts``: no record is cut), reads
each with ``api.domain.cdr_formats`` and ingests it (``api.domain.calls.ingest``) as the system,
each part one transaction: an interrupted import can simply be run again (what already landed is
reported as duplicates). On PostgreSQL a file of more than one part is ingested by ``--workers``
processes at once, each reading and ingesting the parts handed to it; on SQLite, which has one
writer, and for a file of one part, this process does it all. A part that meets calls of a part
being ingested at the same time (the same call id twice in the file) is ingested again once that
one ended (``calls.delivered_concurrently``), and reports them as duplicates.

Refused and duplicate rows are printed to stderr as ``FILE:LINE: reason``, a progress bar too; a
summary goes to stdout. Exit status: 0 when every row landed or was a duplicate, or some landed;
1 when rows were refused and none landed; 2 for a user error (unreadable file, unknown zone or
format).
"""

from __future__ import annotations

import asyncio
import functools
import io
import itertools
import multiprocessing
import os
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing.util import Finalize
from typing import Any, TextIO

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api import collector, money
from api.db import create_engine, is_sqlite, session_factory, transaction
from api.settings import Settings

DEFAULT_BATCH = 20_000
IN_FLIGHT = 2  # parts one process ingests at once, each in its own transaction
MAX_BATCH = 50_000
WORKERS = min(max(os.cpu_count() or 1, 2), 4)  # processes of a PostgreSQL import, by default
MAX_WORKERS = 16
AGAIN = 3  # times a part is ingested again after meeting calls of a concurrent one


async def cmd_calls_import(
    settings: Settings,
    path: str,
    fmt: str,
    timezone: str | None,
    batch: int,
    *,
    out: TextIO,
    err: TextIO,
    workers: int = WORKERS,
    home_country: str | None = None,
) -> int:
    from api.cli import CommandError, open_import, progress_printer
    from api.domain import calls, cdr_formats
    from api.domain import validation as v

    cdr_formats.timezone_named(timezone)  # a user error before anything is read
    home_country = v.home_country("--home-country", home_country)
    if not 1 <= batch <= MAX_BATCH:
        raise CommandError(f"--batch must be between 1 and {MAX_BATCH}")
    if not 1 <= workers <= MAX_WORKERS:
        raise CommandError(f"--workers must be between 1 and {MAX_WORKERS}")
    handle, total = open_import(path)
    report = calls.IngestReport()
    with handle:
        show = progress_printer(err)
        parts = cdr_formats.parts(handle, batch)
        first = next(parts, None)
        if first is not None:
            reading = _Reading(fmt, timezone, _header(fmt, first[1]), home_country)
            parts = itertools.chain((first,), parts)
            if processes(settings, workers, total, batch) == 1:
                ingest = _in_process
            else:
                ingest = functools.partial(_in_workers, workers=workers)
            done = 0

            def landed(part: tuple[int, str], part_report: calls.IngestReport) -> None:
                nonlocal done
                report.merge(part_report)
                before, text = part
                done = max(done, before + text.count("\n") + (not text.endswith("\n")))
                show(min(done, total), total, "lines")

            with collector.fewer_collections():
                await ingest(settings, reading, parts, landed)
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


def processes(settings: Settings, workers: int, lines: int, batch: int) -> int:
    """How many processes ingest a file of ``lines`` lines: ``workers`` on PostgreSQL for a
    file of more than one batch, else this one."""
    if is_sqlite(settings.database_url) or lines <= batch:
        return 1
    return workers


def _header(fmt: str, text: str) -> str:
    """The header line of a format that has one, from the file's first part: its first line
    that is not blank."""
    from api.domain import cdr_formats

    if fmt not in cdr_formats.HAS_HEADER:
        return ""
    return next((line for line in text.splitlines(keepends=True) if line.strip()), "")


@dataclass(frozen=True)
class _Reading:
    """How each part is read: the format, the switch's zone (by name), the file's header
    line, and the switch's home country (``""``: each caller's reseller's)."""

    fmt: str
    timezone: str | None
    header: str
    home_country: str = ""

    def rows(self, before: int, text: str) -> list:
        """The parsed rows of the part after ``before`` lines of the file."""
        from api.domain import cdr_formats

        zone = cdr_formats.timezone_named(self.timezone)
        header = self.header if before else ""  # the first part holds it
        return list(cdr_formats.read(self.fmt, io.StringIO(text, newline=""), zone, header, before))


Landed = Callable[[tuple[int, str], Any], None]


async def _ingest(
    sessions: async_sessionmaker[AsyncSession], rows: list, home_country: str = ""
) -> Any:
    """One part in its own transaction, ingested again (:data:`AGAIN` times at most) when it
    met calls of a part ingested at the same time."""
    from api.domain import calls
    from api.domain.actors import SYSTEM

    for attempt in itertools.count():
        try:
            async with transaction(sessions) as session:
                return await calls.ingest(session, SYSTEM, rows, home_country)
        except Exception as exc:
            if attempt >= AGAIN or not calls.delivered_concurrently(exc):
                raise


async def _settle(running: set[asyncio.Future], room: int) -> set[asyncio.Future]:
    """Wait until at most ``room`` of ``running`` are left; a part's error stops the import."""
    while len(running) > room:
        done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    return running


async def _each_part(
    parts: Iterator[tuple[int, str]],
    start: Callable[[tuple[int, str]], Awaitable[Any]],
    landed: Landed,
    at_once: int,
    first_alone: bool,
) -> None:
    """``start`` each part (the next read in a thread meanwhile), ``at_once`` at a time (the
    first alone, when ``first_alone``: it fills the caches), and hand each result to
    ``landed``."""

    async def one(part: tuple[int, str]) -> None:
        landed(part, await start(part))

    upcoming = asyncio.ensure_future(asyncio.to_thread(next, parts, None))
    running: set[asyncio.Future] = set()
    started = 0
    try:
        while part := await upcoming:
            upcoming = asyncio.ensure_future(asyncio.to_thread(next, parts, None))
            alone = first_alone and started == 1  # the second waits for the first to end
            running = await _settle(running, 0 if alone else at_once - 1)
            running.add(asyncio.ensure_future(one(part)))
            started += 1
        running = await _settle(running, 0)
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(upcoming, *running, return_exceptions=True)  # before the file closes


async def _in_process(
    settings: Settings, reading: _Reading, parts: Iterator[tuple[int, str]], landed: Landed
) -> None:
    """Parts read and ingested by this process, :data:`IN_FLIGHT` at once (one on SQLite)."""
    from api.cli import _with_sessions

    async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
        async def start(part: tuple[int, str]) -> Any:
            rows = await asyncio.to_thread(reading.rows, *part)
            return await _ingest(sessions, rows, reading.home_country)

        at_once = 1 if is_sqlite(settings.database_url) else IN_FLIGHT
        await _each_part(parts, start, landed, at_once, first_alone=True)

    await _with_sessions(settings, work)


async def _in_workers(
    settings: Settings,
    reading: _Reading,
    parts: Iterator[tuple[int, str]],
    landed: Landed,
    workers: int,
) -> None:
    """Parts read and ingested by ``workers`` processes, each given one part at a time and one
    more waiting, so that none idles while the database commits another's."""
    loop = asyncio.get_running_loop()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(settings, reading)
    ) as pool:
        try:
            await _each_part(
                parts,
                lambda part: loop.run_in_executor(pool, _worker_ingest, *part),
                landed,
                2 * workers,
                first_alone=False,
            )
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise


# --- a worker process --------------------------------------------------------------------------

_worker: dict[str, Any] = {}


def _start_worker(settings: Settings, reading: _Reading) -> None:
    """A worker's own event loop and database engine, closed when the process ends."""
    collector.for_serving()
    loop = asyncio.new_event_loop()
    engine = create_engine(settings.database_url, echo=settings.echo_sql)
    _worker.update(loop=loop, engine=engine, sessions=session_factory(engine), reading=reading)
    Finalize(None, _stop_worker, exitpriority=10)


def _stop_worker() -> None:
    loop = _worker.pop("loop")
    loop.run_until_complete(_worker.pop("engine").dispose())
    loop.close()


def _worker_ingest(before: int, text: str) -> Any:
    reading = _worker["reading"]
    rows = reading.rows(before, text)
    return _worker["loop"].run_until_complete(
        _ingest(_worker["sessions"], rows, reading.home_country)
    )
