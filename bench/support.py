"""A fresh, migrated database for one benchmark run, the real server on a free loopback port,
and a timer of wall and CPU time."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, contextmanager

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


def _processes_cpu(wanted: Callable[[str, list[str]], bool]) -> float:
    """CPU seconds used so far by this machine's processes that ``wanted(name, fields)``
    (``fields``: those of /proc/PID/stat after the name), the children they saw end included
    (0 where /proc does not tell)."""
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
        fields = rest.split()
        if wanted(name, fields):
            # utime and stime, and cutime and cstime: its children that ended, such as the
            # backends of a pool closed meanwhile
            total += sum(int(fields[k]) for k in (11, 12, 13, 14))
    return total / os.sysconf("SC_CLK_TCK")


def _database_cpu() -> float:
    """Those of the local PostgreSQL server's processes."""
    return _processes_cpu(lambda name, _: name.endswith("(postgres"))


def _server_cpu(server: subprocess.Popen | None) -> float:
    """Those of a server started by :func:`served` (its session: the server and its workers)."""
    if server is None:
        return 0.0
    session = str(server.pid)
    return _processes_cpu(lambda _, fields: fields[3] == session)


def _own_cpu() -> float:
    children = os.times()
    return time.process_time() + children.children_user + children.children_system


@contextmanager
def timer(server: subprocess.Popen | None = None):
    """``seconds`` of wall time; ``cpu``, the CPU seconds of this process (all its threads)
    and of its child processes that ended within the block (an import's workers);
    ``db_cpu``, those of the local PostgreSQL server's processes; ``server_cpu``, those of
    ``server`` (:func:`served`), over the block."""
    box = {"seconds": 0.0, "cpu": 0.0, "db_cpu": 0.0, "server_cpu": 0.0}
    start, cpu, db_cpu = time.perf_counter(), _own_cpu(), _database_cpu()
    server_cpu = _server_cpu(server)
    try:
        yield box
    finally:
        box["seconds"] = time.perf_counter() - start
        box["cpu"] = _own_cpu() - cpu
        box["db_cpu"] = _database_cpu() - db_cpu
        box["server_cpu"] = _server_cpu(server) - server_cpu


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _wait_healthy(port: int, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.perf_counter() + timeout
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    while time.perf_counter() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with status {server.returncode}")
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            writer.close()
            if head.startswith(b"HTTP/1.1 200"):
                return
        except OSError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("the server did not answer /healthz in time")


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@asynccontextmanager
async def served(
    url: str, workers: int, env: dict[str, str] | None = None
) -> AsyncIterator[tuple[int, subprocess.Popen]]:
    """The real server (``dialtone serve``, ``workers`` processes) on a free loopback port of
    the database ``url``, in a session of its own, until the block ends: (port, process)."""
    port = free_port()
    settings = {
        **os.environ,
        "DIALTONE_DATABASE_URL": url,
        "DIALTONE_DEBUG": "0",
        "DIALTONE_ACCESS_LOG": "0",  # a log line per request is not what is measured
        **(env or {}),
    }
    argv = [sys.executable, "-m", "api.cli", "serve", "--port", str(port)]
    if workers > 1:
        argv += ["--workers", str(workers)]
    server = subprocess.Popen(
        argv,
        env=settings,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        await _wait_healthy(port, server)
        yield port, server
    finally:
        _stop(server)


def progress(label: str, done: int, total: int) -> None:
    if total and (done == total or done % max(1, total // 10) == 0):
        print(f"  {label}: {done}/{total}", file=os.sys.stderr, flush=True)
