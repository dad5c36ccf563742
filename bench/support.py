"""A fresh, migrated database for one benchmark run, and a timer."""

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


@contextmanager
def timer():
    box = {"seconds": 0.0}
    start = time.perf_counter()
    try:
        yield box
    finally:
        box["seconds"] = time.perf_counter() - start


def progress(label: str, done: int, total: int) -> None:
    if total and (done == total or done % max(1, total // 10) == 0):
        print(f"  {label}: {done}/{total}", file=os.sys.stderr, flush=True)
