"""The calls report over many stored calls: the ``calls`` first page (first: 50) of ONE client
filtered by one month, with its totals, through the real GraphQL path (``create_app`` over
httpx's ASGI transport, as the reseller owner's API token), beside the baseline it replaces:
the same totals computed by scanning the calls (SQL SUM/COUNT over that client's month).

Data: 5,000,000 generated calls on PostgreSQL (500,000 on SQLite) of ~1,000 clients of three
resellers over six months, loaded with COPY (``asyncpg.copy_records_to_table``, in chunks; a
plain executemany on SQLite), then the rollups computed from them by one
``INSERT … SELECT … GROUP BY`` (the same figures ingestion keeps), then ANALYZE. The calls are
not posted to the ledger: this measures reads only.

Also printed: the reseller-wide first page of the month, the operator-wide first page of the
month, the next page (cursor) of the client, and the totals query over the rollups alone."""

from __future__ import annotations

import asyncio
import base64
import os
import random
import sqlite3
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from sqlalchemy import text

from api.app import create_app
from api.db import create_engine, session_factory, transaction
from api.domain import accounts, auth
from api.domain.actors import SYSTEM, actor_for_user
from api.domain.calls import CALL_COLUMNS
from api.models import SubAccount
from api.settings import Settings
from bench.support import fresh_database

CALLS_POSTGRES = 5_000_000
CALLS_SQLITE = 500_000
RESELLERS = 3
CLIENTS_PER_RESELLER = 334  # ~1,000 clients
START = datetime(2024, 1, 1, tzinfo=UTC)
END = datetime(2024, 7, 1, tzinfo=UTC)  # six months
MONTH = (datetime(2024, 4, 1, tzinfo=UTC), datetime(2024, 5, 1, tzinfo=UTC))
CHUNK = 100_000
RUNS = 30
SCAN_RUNS = 10
PASSWORD = "bench-pass-1234"

# prefix, destination name, cost rate (micros/min); clients pay cost + 20 % (6/6 s)
DESTINATIONS = [
    ("1", "United States", 5_000),
    ("44", "United Kingdom", 10_000),
    ("4420", "United Kingdom London", 8_000),
    ("49", "Germany", 12_000),
    ("33", "France", 11_000),
    ("34", "Spain", 9_000),
    ("39", "Italy", 13_000),
    ("55", "Brazil", 30_000),
    ("91", "India", 25_000),
    ("52", "Mexico", 20_000),
]
DISPOSITIONS = ["answered"] * 14 + ["no_answer"] * 4 + ["busy", "failed"]
COLUMNS = list(CALL_COLUMNS)  # the order calls are stored in

PAGE = """query($c: ID, $first: Int!, $after: String, $from: DateTime, $to: DateTime) {
  calls(clientId: $c, first: $first, after: $after, from: $from, to: $to) {
    edges { cursor node {
      id callId direction aNumber destination destinationName startedAt duration billsec
      disposition rule sell { amount currency } sellRate { amount } cost { amount }
      profit { amount } client { name } subAccount { username }
    } }
    pageInfo { hasNextPage endCursor }
    totals { currency count seconds minutes sell { amount } cost { amount } profit { amount }
             fromRollups }
  }
}"""

ROLLUP_SQL = (
    "SELECT count(*), coalesce(sum(r.calls), 0), coalesce(sum(r.seconds), 0),"
    " coalesce(sum(r.cost), 0), coalesce(sum(r.sell), 0)"
    " FROM call_rollups r JOIN resellers s ON s.id = r.reseller_id"
    " WHERE {scope} AND r.day >= :day_from AND r.day < :day_to GROUP BY s.currency"
)
SCAN_SQL = (
    "SELECT count(*), coalesce(sum(billsec), 0), coalesce(sum(cost), 0), coalesce(sum(sell), 0)"
    " FROM calls WHERE {scope} AND started_at >= :start AND started_at < :end"
)


def say(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def _ceil(seconds: int, first: int, increment: int) -> int:
    if seconds <= 0:
        return 0
    if seconds <= first:
        return first
    return first + -(-(seconds - first) // increment) * increment


def generate(
    total: int,
    callers: list[tuple[int, int, int]],
    seed: int = 7,
    start: datetime = START,
    end: datetime = END,
):
    """Chunks of call tuples (in COLUMNS order), oldest first, spread from ``start`` to
    ``end`` (six months by default)."""
    rng = random.Random(seed)
    span = (end - start).total_seconds()
    step = span / total
    created = datetime.now(UTC)
    priced = []
    for prefix, name, cost_rate in DESTINATIONS:
        sell_rate = (Decimal(cost_rate) * Decimal("1.2")).quantize(Decimal("0.000001"))
        priced.append((prefix, name, cost_rate, sell_rate, int(sell_rate)))
    chunk: list[tuple] = []
    for i in range(total):
        reseller_id, client_id, sub_id = callers[rng.randrange(len(callers))]
        prefix, name, cost_rate, sell_rate, sell_micros = priced[rng.randrange(len(priced))]
        disposition = DISPOSITIONS[rng.randrange(len(DISPOSITIONS))]
        billsec = rng.randrange(1, 900) if disposition == "answered" else 0
        cost_billed = _ceil(billsec, 60, 60)
        sell_billed = _ceil(billsec, 6, 6)
        # half-up once per charge, in integers
        cost = (cost_rate * cost_billed + 30) // 60
        sell = (sell_micros * sell_billed + 30) // 60
        chunk.append(
            (
                f"bench-{i:09d}",
                reseller_id,
                client_id,
                sub_id,
                "outbound",
                f"1555{client_id:07d}",
                f"{prefix}{rng.randrange(10**8, 10**9)}",
                start + timedelta(seconds=i * step),
                billsec + rng.randrange(0, 25),
                billsec,
                disposition,
                prefix,
                name,
                "USD",
                cost_rate,
                cost_billed,
                cost,
                sell_rate,
                sell_billed,
                sell,
                "markup",
                0,  # free seconds
                None,
                created,
            )
        )
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def load_postgres(url: str, total: int, callers, **span: datetime) -> None:
    """COPY in chunks; the next chunk is generated in a thread while one is copied. Foreign
    key triggers are skipped for the load (``session_replication_role = replica``): the rows
    are consistent by construction, and the indexes are maintained as usual."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute("SET session_replication_role = replica")
        chunks = generate(total, callers, **span)
        pending = asyncio.create_task(asyncio.to_thread(next, chunks, None))
        done = 0
        while (chunk := await pending) is not None:
            pending = asyncio.create_task(asyncio.to_thread(next, chunks, None))
            await conn.copy_records_to_table("calls", records=chunk, columns=COLUMNS)
            done += len(chunk)
            if done % (total // 10 or 1) == 0 or done == total:
                say(f"calls copied: {done:,}/{total:,}")
    finally:
        await conn.close()


def load_sqlite(url: str, total: int, callers, **span: datetime) -> None:
    db = sqlite3.connect(url.split("///", 1)[1])
    db.execute("PRAGMA synchronous=OFF")
    stmt = f"INSERT INTO calls ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    done = 0
    for chunk in generate(total, callers, **span):
        rows = [
            (
                *row[:7],
                row[7].strftime("%Y-%m-%d %H:%M:%S.%f"),
                *row[8:17],
                str(row[17]),
                *row[18:23],
                row[23].strftime("%Y-%m-%d %H:%M:%S.%f"),
            )
            for row in chunk
        ]
        db.executemany(stmt, rows)
        db.commit()
        done += len(chunk)
        if done % (total // 10 or 1) == 0 or done == total:
            say(f"calls inserted: {done:,}/{total:,}")
    db.close()


def rollups_sql(postgres: bool) -> str:
    day = "(started_at AT TIME ZONE 'UTC')::date" if postgres else "date(started_at)"
    return (
        "INSERT INTO call_rollups (reseller_id, client_id, day, direction, calls, seconds,"
        " cost, sell)"
        f" SELECT reseller_id, client_id, {day}, direction, count(*), sum(billsec), sum(cost),"
        f" sum(sell) FROM calls GROUP BY reseller_id, client_id, {day}, direction"
    )


async def setup(sessions) -> tuple[list[tuple[int, int, int]], int, str]:
    """Resellers, clients (one sub-account each), the owner's API token, an operator user."""
    callers: list[tuple[int, int, int]] = []
    async with transaction(sessions) as s:
        await auth.create_user(
            s, SYSTEM, email="operator@bench.test", password=PASSWORD, role="operator"
        )
        owner = None
        resellers = []
        for r in range(RESELLERS):
            reseller = await accounts.create_reseller(
                s, SYSTEM, {"name": f"Reseller {r}", "currency": "USD", "billing_model": "markup"}
            )
            resellers.append(reseller)
            user = await auth.create_user(
                s,
                SYSTEM,
                email=f"owner{r}@bench.test",
                password=PASSWORD,
                role="reseller_owner",
                reseller_id=reseller.id,
            )
            owner = owner or user
            clients = await accounts.create_clients(
                s,
                SYSTEM,
                reseller.id,
                [{"name": f"Client {r}-{c:03}"} for c in range(CLIENTS_PER_RESELLER)],
            )
            subs = [
                SubAccount(
                    reseller_id=reseller.id,
                    client_id=client.id,
                    username=f"sip-{client.id}",
                    secret_encrypted="bench",
                )
                for client in clients
            ]
            s.add_all(subs)
            await s.flush()
            callers += [(reseller.id, sub.client_id, sub.id) for sub in subs]
        token = await auth.create_api_token(
            s, actor_for_user(owner), name="bench", scopes=sorted(auth.TOKEN_SCOPES)
        )
    return callers, resellers[0].id, token.token


def _ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


async def timed_gql(http: httpx.AsyncClient, token: str, variables: dict, runs: int):
    headers = {"Authorization": f"Bearer {token}"}
    samples, body = [], None
    for _ in range(runs + 2):  # two warm-ups
        started = time.perf_counter()
        response = await http.post(
            "/graphql", json={"query": PAGE, "variables": variables}, headers=headers
        )
        samples.append(time.perf_counter() - started)
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"GraphQL failed: {response.status_code} {body}")
    return _ms(samples[2:]), body["data"]["calls"]


async def timed_sql(sessions, sql: str, params: dict, runs: int):
    samples, row = [], None
    async with sessions() as s:
        for _ in range(runs + 1):
            started = time.perf_counter()
            row = (await s.execute(text(sql), params)).first()
            samples.append(time.perf_counter() - started)
    return _ms(samples[1:])[0], row


async def run() -> str:
    url = fresh_database()
    postgres = not url.startswith("sqlite")
    total = CALLS_POSTGRES if postgres else CALLS_SQLITE
    total = int(os.environ.get("DIALTONE_BENCH_REPORT_CALLS", total))
    engine = create_engine(url)
    sessions = session_factory(engine)
    say(f"reports: {total:,} calls on {'postgresql' if postgres else 'sqlite'}")
    callers, reseller_id, token = await setup(sessions)
    await engine.dispose()

    started = time.perf_counter()
    if postgres:
        await load_postgres(url, total, callers)
    else:
        await asyncio.to_thread(load_sqlite, url, total, callers)
    engine = create_engine(url)
    sessions = session_factory(engine)
    async with engine.begin() as conn:
        await conn.execute(text(rollups_sql(postgres)))
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("ANALYZE"))
    load_seconds = time.perf_counter() - started
    say(f"loaded, rolled up and analyzed in {load_seconds:.0f} s")

    # the client: one of the first reseller's, with a typical month
    client_id = callers[len(callers) // 7][1]
    assert callers[len(callers) // 7][0] == reseller_id
    app = create_app(Settings(database_url=url))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        login = await http.post(
            "/graphql",
            json={
                "query": "mutation($e: String!, $p: String!) { login(email: $e, password: $p) "
                "{ token errors { message } } }",
                "variables": {"e": "operator@bench.test", "p": PASSWORD},
            },
        )
        operator_token = login.json()["data"]["login"]["token"]
        month = {"from": MONTH[0].isoformat(), "to": MONTH[1].isoformat(), "first": 50}
        client_gid = base64.b64encode(f"Client:{client_id}".encode()).decode()
        say("timing the client's first page …")
        (page_ms, page_p95), page = await timed_gql(http, token, {**month, "c": client_gid}, RUNS)
        cursor = page["pageInfo"]["endCursor"]
        (next_ms, _), _ = await timed_gql(
            http, token, {**month, "c": client_gid, "after": cursor}, RUNS
        )
        say("timing the reseller-wide and operator-wide first pages …")
        (reseller_ms, reseller_p95), reseller_page = await timed_gql(http, token, month, RUNS)
        (operator_ms, operator_p95), _ = await timed_gql(http, operator_token, month, RUNS)
    await app.state.engine.dispose()

    days = {"day_from": MONTH[0].date(), "day_to": MONTH[1].date()}
    period = {"start": MONTH[0], "end": MONTH[1]}
    if not postgres:  # the stored text form of a UTC timestamp on SQLite
        period = {k: v.strftime("%Y-%m-%d %H:%M:%S.%f") for k, v in period.items()}
    say("timing the totals: rollups against a scan of the calls …")
    rollup_ms, _ = await timed_sql(
        sessions,
        ROLLUP_SQL.format(scope="r.client_id = :client"),
        {**days, "client": client_id},
        SCAN_RUNS,
    )
    scan_ms, scanned = await timed_sql(
        sessions,
        SCAN_SQL.format(scope="client_id = :client"),
        {**period, "client": client_id},
        SCAN_RUNS,
    )
    reseller_rollup_ms, _ = await timed_sql(
        sessions,
        ROLLUP_SQL.format(scope="r.reseller_id = :reseller"),
        {**days, "reseller": reseller_id},
        SCAN_RUNS,
    )
    reseller_scan_ms, reseller_scanned = await timed_sql(
        sessions,
        SCAN_SQL.format(scope="reseller_id = :reseller"),
        {**period, "reseller": reseller_id},
        3,
    )
    await engine.dispose()

    [totals] = page["totals"]
    [reseller_totals] = reseller_page["totals"]
    from_rollups = totals["fromRollups"] and reseller_totals["fromRollups"]
    matches = (totals["count"], totals["seconds"]) == (scanned[0], scanned[1]) and (
        reseller_totals["count"] == reseller_scanned[0]
    )
    backend = "postgresql" if postgres else "sqlite"
    load = "?"
    if os.path.exists("/proc/loadavg"):
        with open("/proc/loadavg") as f:
            load = f.read().split()[0]
    return (
        f"reports: backend={backend} calls={total} clients={len(callers)}"
        f" month_calls_of_client={totals['count']} first_page_ms={page_ms:.1f}"
        f" first_page_p95_ms={page_p95:.1f} next_page_ms={next_ms:.1f}"
        f" totals_from_rollups={'yes' if from_rollups else 'no'}"
        f" totals_match_scan={'yes' if matches else 'NO'}"
        f" rollup_totals_ms={rollup_ms:.2f} scan_totals_ms={scan_ms:.2f}"
        f" ratio_scan_to_rollups={scan_ms / rollup_ms:.1f}"
        f" reseller_page_ms={reseller_ms:.1f} reseller_page_p95_ms={reseller_p95:.1f}"
        f" reseller_rollup_totals_ms={reseller_rollup_ms:.2f}"
        f" reseller_scan_totals_ms={reseller_scan_ms:.1f}"
        f" reseller_ratio_scan_to_rollups={reseller_scan_ms / reseller_rollup_ms:.1f}"
        f" operator_page_ms={operator_ms:.1f} operator_page_p95_ms={operator_p95:.1f}"
        f" load_s={load_seconds:.0f} load={load}"
    )
