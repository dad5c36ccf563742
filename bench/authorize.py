"""Call authorization over HTTP: the real server (``dialtone serve`` in a subprocess on a free
loopback port, ``bench.support.served``) answering ``POST /switch/authorize`` for sub-accounts
of many clients dialling numbers of a generated 100,000-prefix deck, driven by a small
keep-alive HTTP/1.1 load generator (asyncio streams, pre-built requests, C concurrent
connections). The baseline, measured in the
same run against the same server with the same generator, is ``GET /healthz``: what the server
stack itself costs per request (ratio = authorize rps / healthz rps).

Knobs (environment): DIALTONE_BENCH_AUTHORIZE_SECONDS (per phase, default 10),
DIALTONE_BENCH_AUTHORIZE_REQUESTS (cap per phase, default 200000),
DIALTONE_BENCH_AUTHORIZE_CONCURRENCY (default 16), DIALTONE_BENCH_AUTHORIZE_WORKERS (server
processes, default 2 on this 2-core machine)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import text

from api.db import create_engine, session_factory, transaction
from api.domain import accounts, callers, payments, rates
from api.domain.actors import SYSTEM
from api.settings import Settings
from bench.decks import create_deck, generate_numbers, generate_prefixes
from bench.support import fresh_database, progress, served

DECK_SIZE = 100_000
CLIENTS = 200
SUBS_PER_CLIENT = 2
PACKAGES = 5
SWITCH_KEY = "bench-switch-key-0123456789abcdef"
SECONDS = float(os.environ.get("DIALTONE_BENCH_AUTHORIZE_SECONDS") or 10)
REQUESTS = int(os.environ.get("DIALTONE_BENCH_AUTHORIZE_REQUESTS") or 200_000)
CONCURRENCY = int(os.environ.get("DIALTONE_BENCH_AUTHORIZE_CONCURRENCY") or 16)
WORKERS = int(os.environ.get("DIALTONE_BENCH_AUTHORIZE_WORKERS") or 2)


def _say(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


async def _setup(url: str) -> list[str]:
    """The deck, a funded markup reseller on it, packages, funded clients with sub-accounts.
    Returns the sub-account usernames."""
    engine = create_engine(url)
    sessions = session_factory(engine)
    settings = Settings(database_url=url)
    prefixes = generate_prefixes(DECK_SIZE)
    async with transaction(sessions) as s:
        deck_id = await create_deck(s, "bench", prefixes, progress)
        reseller = await accounts.create_reseller(
            s, SYSTEM, {"name": "Bench", "currency": "USD", "billing_model": "markup"}
        )
        await rates.set_base_deck(s, SYSTEM, reseller.id, deck_id)
        await payments.reseller_deposit(s, SYSTEM, reseller.id, "1000000", "bench-fund")
        package_ids = [
            (
                await rates.create_package(
                    s,
                    SYSTEM,
                    reseller.id,
                    {
                        "name": f"Bench {i}",
                        "markup_pct": Decimal(10 + 5 * i),
                        "first_increment": 6,
                        "increment": 6,
                    },
                )
            ).id
            for i in range(PACKAGES)
        ]
        clients = await accounts.create_clients(
            s,
            SYSTEM,
            reseller.id,
            [
                {
                    "name": f"Bench client {i}",
                    "billing_mode": ("prepaid_strict", "postpaid", "prepaid_permissive")[i % 3],
                }
                for i in range(CLIENTS)
            ],
        )
    usernames = []
    for i, client in enumerate(clients):
        async with transaction(sessions) as s:
            await payments.client_transfer(s, SYSTEM, client.id, "50", f"bench-client-{i}")
            for j in range(SUBS_PER_CLIENT):
                username = f"bench{i}.{j}"
                await callers.create_sub_account(
                    s,
                    SYSTEM,
                    client.id,
                    {"username": username, "package_id": package_ids[(i + j) % PACKAGES]},
                    settings=settings,
                )
                usernames.append(username)
        progress("clients", i + 1, CLIENTS)
    # the planner's statistics, as autovacuum keeps them on a live PostgreSQL
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("ANALYZE"))
    await engine.dispose()
    return usernames


def _request(method: str, path: str, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {SWITCH_KEY}\r\n"
    if method == "POST":
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


class Result:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.refused = 0
        self.seconds = 0.0
        self.sample = b""

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


async def _drive(
    port: int, requests: list[bytes], *, seconds: float, limit: int, concurrency: int
) -> Result:
    """Send ``requests`` round-robin over ``concurrency`` keep-alive connections until
    ``seconds`` pass or ``limit`` answers arrived; one request in flight per connection."""
    result = Result()
    counter = iter(range(limit))
    deadline = time.perf_counter() + seconds
    clock = time.perf_counter

    async def connection(offset: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for n in counter:
                if clock() > deadline:
                    break
                request = requests[(n + offset) % len(requests)]
                started = clock()
                try:
                    writer.write(request)
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = 0
                    for line in head.split(b"\r\n"):
                        if line[:15].lower() == b"content-length:":
                            length = int(line[15:])
                    body = await reader.readexactly(length)
                except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    result.errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                result.latencies.append(clock() - started)
                if not head.startswith(b"HTTP/1.1 200"):
                    result.errors += 1
                elif b'"allowed":false' in body:
                    result.refused += 1
                if not result.sample:
                    result.sample = body
        finally:
            writer.close()

    started = clock()
    await asyncio.gather(*(connection(i * 7919) for i in range(concurrency)))
    result.seconds = clock() - started
    return result


async def run() -> str:
    url = fresh_database()
    _say(f"database: {url.split('@')[-1]}")
    usernames = await _setup(url)
    prefixes = generate_prefixes(DECK_SIZE)
    numbers = generate_numbers(prefixes, 5000)
    rng = random.Random(5)
    authorize_requests = [
        _request(
            "POST",
            "/switch/authorize",
            json.dumps({"sub_account": rng.choice(usernames), "destination": "+" + number})
            .replace(" ", "")
            .encode(),
        )
        for number in numbers
    ]
    health_requests = [_request("GET", "/healthz")]

    async with served(url, WORKERS, {"DIALTONE_SWITCH_KEY": SWITCH_KEY}) as (port, _):
        # warm up (connections, prepared statements, package pricings); its worst latency
        # shows whether the first authorizations after a start wait for rate indexes
        warm = await _drive(port, authorize_requests, seconds=5, limit=400, concurrency=CONCURRENCY)
        _say(f"healthz for {SECONDS:.0f}s with {CONCURRENCY} connections")
        health = await _drive(
            port, health_requests, seconds=SECONDS, limit=REQUESTS, concurrency=CONCURRENCY
        )
        _say(f"authorize for {SECONDS:.0f}s with {CONCURRENCY} connections")
        auth = await _drive(
            port, authorize_requests, seconds=SECONDS, limit=REQUESTS, concurrency=CONCURRENCY
        )
        _say(f"sample answer: {auth.sample[:200].decode(errors='replace')}")

    backend = "sqlite" if url.startswith("sqlite") else "postgresql"
    loadavg = Path("/proc/loadavg")
    load = loadavg.read_text().split()[0] if loadavg.exists() else "?"
    ratio = auth.rps / health.rps if health.rps else 0.0
    return (
        f"authorize: backend={backend} workers={WORKERS} concurrency={CONCURRENCY}"
        f" requests={len(auth.latencies)} errors={auth.errors + health.errors}"
        f" refused={auth.refused} rps={auth.rps:.0f} p50_ms={auth.percentile(50):.2f}"
        f" p99_ms={auth.percentile(99):.2f} healthz_rps={health.rps:.0f}"
        f" healthz_p99_ms={health.percentile(99):.2f} ratio_to_healthz={ratio:.3f}"
        f" warmup_max_ms={warm.percentile(100):.0f} load={load}"
    )
