"""A fresh, migrated database for one benchmark run, and a timer of wall and CPU time."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from contextlib import contextmanager

from sqlalchemy import text

from api.db import create_engine, is_sqlite, migrate


def fresh_database() -> str:
    url = os.environ.get("DIALTONE_BENCH_DATABASE_URL")
    if not url:
        folder = tempfile.mkdtemp(prefix="dialtone-bench-")
        url = f"sqlite+aiosqlite:///{folder}/bench.db"
    elif not is_sqlite(url):
        _in_thread(_reset_postgres, url)
    _in_thread(migrate, url)
    return url


def _in_thread(fn, *args) -> None:
    """Alembic's env runs its own event loop: keep it out of ours."""
    errors: list[BaseException] = []

    def target():
        try:
            fn(*args)
        except BaseException as exc:  # pragma: no cover - re-raised below
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def _reset_postgres(url: str) -> None:
    import asyncio

    async def reset():
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()

    asyncio.run(reset())


def _database_cpu() -> float:
    """CPU seconds used so far by this machine's PostgreSQL server, its ended backends included
    (0 where /proc does not tell: another system, or a database elsewhere)."""
    total = 0
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue  # gone meanwhile
        name, _, rest = stat.partition(") ")
        if name.endswith("(postgres"):
            fields = rest.split()
            # utime and stime, and (the postmaster's) cutime and cstime: its backends that
            # ended, such as those of a pool closed meanwhile
            total += sum(int(fields[k]) for k in (11, 12, 13, 14))
    return total / os.sysconf("SC_CLK_TCK")


@contextmanager
def timer():
    """``seconds`` of wall time; ``cpu``, the CPU seconds of this process (all its threads);
    ``db_cpu``, those of the local PostgreSQL server's processes, over the block."""
    box = {"seconds": 0.0, "cpu": 0.0, "db_cpu": 0.0}
    start, cpu, db_cpu = time.perf_counter(), time.process_time(), _database_cpu()
    try:
        yield box
    finally:
        box["seconds"] = time.perf_counter() - start
        box["cpu"] = time.process_time() - cpu
        box["db_cpu"] = _database_cpu() - db_cpu


def progress(label: str, done: int, total: int) -> None:
    if total and (done == total or done % max(1, total // 10) == 0):
        print(f"  {label}: {done}/{total}", file=os.sys.stderr, flush=True)
