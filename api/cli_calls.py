"""``dialtone calls import FILE --format asterisk-csv|freeswitch-csv|generic-csv``.

Reads the file with ``api.domain.cdr_formats`` and ingests it (``api.domain.calls.ingest``) as
the system, in batches of ``--batch`` lines, each batch one transaction: an interrupted import
can simply be run again (what already landed is reported as duplicates). Refused and duplicate
rows are printed to stderr as ``FILE:LINE: reason``, a progress bar too; a summary goes to
stdout. Exit status: 0 when every row landed or was a duplicate, or some landed; 1 when rows
were refused and none landed; 2 for a user error (unreadable file, unknown zone or format).
"""

from __future__ import annotations

import itertools
from typing import TextIO

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api import money
from api.db import transaction
from api.settings import Settings

DEFAULT_BATCH = 5000
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
    from api.cli import CommandError, _with_sessions, progress_printer
    from api.domain import calls, cdr_formats
    from api.domain.actors import SYSTEM

    zone = cdr_formats.timezone_named(timezone)
    if not 1 <= batch <= MAX_BATCH:
        raise CommandError(f"--batch must be between 1 and {MAX_BATCH}")
    try:
        handle = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
    report = calls.IngestReport()
    with handle:
        try:
            total = sum(1 for _ in handle)
            handle.seek(0)
        except UnicodeDecodeError:
            raise CommandError(f"cannot read {path}: not UTF-8 text") from None
        show = progress_printer(err)
        rows = cdr_formats.read(fmt, handle, zone)

        async def work(sessions: async_sessionmaker[AsyncSession]) -> None:
            while chunk := list(itertools.islice(rows, batch)):
                async with transaction(sessions) as session:
                    report.merge(await calls.ingest(session, SYSTEM, chunk))
                show(min(chunk[-1][0], total), total, "lines")

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
