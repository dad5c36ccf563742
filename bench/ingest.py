"""CDR ingestion: the CSV import path and the GraphQL mutation path, against a raw bulk load.

World: a generated 100,000-prefix deck (some prefixes tagged with a country) as the base deck
of four resellers (two markup, two commission); 300 clients with two sub-accounts each (most
on a package, some on their client's package), A-numbers, packages with a markup and prefix,
country and US/Canada overrides, commission clients with personal percents.

Measured, in CDRs/s:

* ``csv``: ``dialtone calls import FILE --format generic-csv`` (``api.cli_calls``, the CLI's
  own function, default batch, ``DIALTONE_BENCH_INGEST_CSV_WORKERS`` worker processes, by
  default the CLI's): parse, ingest batch by batch, rated, posted, rolled up.
* ``copy`` (the floor): the same stored rows bulk loaded into a scratch table of the same shape
  as ``calls`` (its columns and indexes): binary ``COPY`` (encoded by ``api.domain._copy``, as
  ingestion itself stores calls, in one process) on PostgreSQL, one executemany ``INSERT`` on
  SQLite.
* ``graphql``: ``callsIngest`` with 1,000 calls a request, as an operator, over HTTP to the
  real server (``dialtone serve`` with ``DIALTONE_BENCH_INGEST_GRAPHQL_WORKERS`` processes,
  default 2 on this 2-core machine, as the authorization bench), from
  ``DIALTONE_BENCH_INGEST_GRAPHQL_CONCURRENCY`` senders at once (default two per worker, as
  switches would: one request's SQL runs while another's calls are rated), after one
  untimed request per sender (the workers' connections, package pricings, prepared
  statements; a server builds its deck indexes and their batch lookup before it takes
  traffic).

The generated calls run in time order over a month, as a switch writes them.

Beside each rate, the CPU time one call took on each side (``python_us_per_call``: this process,
all its threads, and the import's worker processes for the CSV import, the server's processes
for GraphQL; ``db_us_per_call``: the local PostgreSQL server's processes; both read from
/proc): their sum against the machine's cores bounds the rate any overlap of the two could
reach.

The postpaid clients have a credit limit their month of calls stays within, so what is
measured is ingestion's steady state, not each client being blocked at its first call.

Afterwards (not timed) correctness is checked: the ledger sums to zero per currency, every
cached balance equals its postings, and each client's ``sum(calls.sell)`` equals the debits of
its ``calls`` entries (``consistent=yes|no``).

``DIALTONE_BENCH_INGEST_CALLS`` sets the number of CSV calls (default 1,000,000 on PostgreSQL,
200,000 on SQLite); ``DIALTONE_BENCH_INGEST_GRAPHQL_CALLS`` the GraphQL ones (default 50,000,
at most the CSV's)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import random
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import func, select, text

from api.cli_calls import DEFAULT_BATCH, WORKERS, cmd_calls_import
from api.db import create_engine, session_factory, transaction
from api.domain import _copy, accounts, auth, calls, payments
from api.domain.actors import SYSTEM
from api.models import (
    Account,
    Call,
    ClientNumber,
    LedgerEntry,
    Package,
    PackageOverride,
    Posting,
    RateDeck,
    Reseller,
    SubAccount,
)
from api.settings import Settings
from bench.decks import create_deck, generate_prefixes
from bench.support import fresh_database, progress, served, timer

DECK_SIZE = 100_000
RESELLERS = (
    ("Markup A", "markup"),
    ("Markup B", "markup"),
    ("Agent C", "commission"),
    ("Agent D", "commission"),
)
CLIENTS_PER_RESELLER = 75
SUBS_PER_CLIENT = 2
CREDIT_LIMIT = "1000000"  # of a postpaid client, USD
GRAPHQL_BATCH = 1000
CSV_WORKERS = int(os.environ.get("DIALTONE_BENCH_INGEST_CSV_WORKERS") or WORKERS)
GRAPHQL_WORKERS = int(os.environ.get("DIALTONE_BENCH_INGEST_GRAPHQL_WORKERS") or 2)
GRAPHQL_CONCURRENCY = int(
    os.environ.get("DIALTONE_BENCH_INGEST_GRAPHQL_CONCURRENCY") or 2 * GRAPHQL_WORKERS
)
PASSWORD = "bench-password-1"
START = datetime(2024, 3, 1, tzinfo=UTC)
DAYS = 30
COUNTRIES = {"44": "GB", "33": "FR", "49": "DE", "1": "US", "91": "IN", "86": "CN"}
INGEST = (
    "mutation($calls: [CallInput!]!) { callsIngest(input: {calls: $calls}) "
    "{ ingested duplicates rejected errors { code message } } }"
)


def _log(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


async def _world(sessions, prefixes: list[str], rng: random.Random) -> list[tuple[str, str]]:
    """The resellers, clients, sub-accounts, packages and A-numbers; the callers as
    ``(sub_account, a_number)`` pairs (one of them empty)."""
    async with transaction(sessions) as s:
        deck_id = await create_deck(s, "bench", prefixes, progress)
        for cc, country in COUNTRIES.items():
            await s.execute(
                text("UPDATE rates SET country = :c WHERE deck_id = :d AND prefix LIKE :p"),
                {"c": country, "d": deck_id, "p": cc + "%"},
            )
        deck = await s.get(RateDeck, deck_id)
        deck.version += 1
        await auth.create_user(
            s, SYSTEM, email="ops@bench.test", password=PASSWORD, role="operator"
        )
    callers: list[tuple[str, str]] = []
    for r_index, (name, model) in enumerate(RESELLERS):
        async with transaction(sessions) as s:
            fields = {"name": name, "currency": "USD", "billing_model": model}
            if model == "commission":
                fields["commission_pct"] = "10"
            reseller = await accounts.create_reseller(s, SYSTEM, fields)
            (await s.get(Reseller, reseller.id)).base_deck_id = deck_id
            await payments.reseller_deposit(s, SYSTEM, reseller.id, "1000000", f"seed-{name}")
            packages: list[int] = []
            if model == "markup":
                for p_index, (pct, fixed, inc) in enumerate(
                    ((Decimal("20"), 0, 6), (Decimal("35.5"), 1_500, 60), (Decimal("12.25"), 0, 1))
                ):
                    package = Package(
                        reseller_id=reseller.id,
                        name=f"Package {p_index}",
                        markup_pct=pct,
                        markup_fixed=fixed,
                        first_increment=inc if inc != 6 else 30,
                        increment=inc,
                    )
                    s.add(package)
                    await s.flush()
                    packages.append(package.id)
                    for prefix in rng.sample(prefixes, 300):
                        s.add(
                            PackageOverride(
                                package_id=package.id,
                                kind="prefix",
                                key=prefix,
                                rate=rng.randint(1_000, 600_000),
                                connection_fee=rng.choice((0, 0, 0, 5_000)),
                            )
                        )
                    for country in ("GB", "FR"):
                        s.add(
                            PackageOverride(
                                package_id=package.id,
                                kind="country",
                                key=country,
                                rate=rng.randint(5_000, 50_000),
                            )
                        )
                    if p_index != 1:
                        s.add(
                            PackageOverride(
                                package_id=package.id, kind="nanpa", key="NANPA", rate=7_000
                            )
                        )
            rows = [
                {"name": f"{name} client {i}", "billing_mode": "prepaid_permissive"}
                if i % 2 == 0
                else {
                    "name": f"{name} client {i}",
                    "billing_mode": "postpaid",
                    "credit_limit": CREDIT_LIMIT,
                }
                for i in range(CLIENTS_PER_RESELLER)
            ]
            clients = await accounts.create_clients(s, SYSTEM, reseller.id, rows)
            await s.flush()
            for c_index, client in enumerate(clients):
                if packages:
                    client.package_id = packages[c_index % len(packages)]
                elif c_index % 3:
                    client.personal_rate_pct = Decimal(c_index % 7) + Decimal("0.5")
                for k in range(SUBS_PER_CLIENT):
                    username = f"r{r_index}c{client.id}s{k}"
                    package_id = packages[(c_index + k) % len(packages)] if packages and k else None
                    s.add(
                        SubAccount(
                            reseller_id=reseller.id,
                            client_id=client.id,
                            username=username,
                            secret_encrypted="x",
                            package_id=package_id,
                        )
                    )
                    callers.append((username, ""))
                number = f"1555{r_index:02d}{client.id:05d}"
                s.add(ClientNumber(reseller_id=reseller.id, client_id=client.id, number=number))
                callers.append(("", number))
            await s.flush()
    return callers


def _csv(path: str, count: int, callers, prefixes, rng: random.Random) -> None:
    """A generic-csv file of ``count`` calls, in time order over ``DAYS`` days."""
    pick = rng.choice
    rand = rng.random
    randint = rng.randint
    # a switch appends calls as they end: a file runs in time order
    offsets = sorted(randint(0, DAYS * 86400 - 1) for _ in range(count))
    with open(path, "w", newline="") as out:
        out.write(
            "call_id,sub_account,a_number,destination,started_at,duration,billsec,disposition,direction\n"
        )
        lines = []
        for i in range(count):
            sub, a_number = pick(callers)
            prefix = pick(prefixes)
            width = 12 - len(prefix)
            destination = prefix + str(rng.randrange(10**width)).zfill(width)
            started = START + timedelta(seconds=offsets[i])
            roll = rand()
            if roll < 0.7:
                billsec = randint(1, 900)
                disposition = "answered"
            else:
                billsec = 0
                disposition = ("no_answer", "busy", "failed")[i % 3]
            direction = "inbound" if roll > 0.98 else "outbound"
            lines.append(
                f"bench-{i},{sub},{a_number},{destination},{started.isoformat()},"
                f"{billsec + randint(0, 20)},{billsec},{disposition},{direction}\n"
            )
            if len(lines) == 50_000:
                out.writelines(lines)
                lines.clear()
        out.writelines(lines)


def _graphql_bodies(first: int, count: int, callers, prefixes, rng: random.Random) -> list[bytes]:
    offsets = sorted(rng.randint(0, DAYS * 86400 - 1) for _ in range(count))
    bodies = []
    for start in range(first, first + count, GRAPHQL_BATCH):
        calls = []
        for i in range(start, min(start + GRAPHQL_BATCH, first + count)):
            sub, a_number = rng.choice(callers)
            prefix = rng.choice(prefixes)
            width = 12 - len(prefix)
            billsec = rng.randint(0, 900) if rng.random() < 0.7 else 0
            call = {
                "callId": f"gql-{i}",
                "destination": prefix + str(rng.randrange(10**width)).zfill(width),
                "startedAt": (START + timedelta(seconds=offsets[i - first])).isoformat(),
                "duration": billsec + 5,
                "billsec": billsec,
                "disposition": "ANSWERED" if billsec else "NO_ANSWER",
            }
            if sub:
                call["subAccount"] = sub
            else:
                call["aNumber"] = a_number
            calls.append(call)
        bodies.append(json.dumps({"query": INGEST, "variables": {"calls": calls}}).encode())
    return bodies


async def _scratch_tables(conn, postgres: bool) -> list[str]:
    """An empty table shaped like ``calls`` (its columns and indexes): ``calls_copy``."""
    await conn.execute(text("DROP TABLE IF EXISTS calls_copy"))
    if postgres:
        await conn.execute(text("CREATE TABLE calls_copy (LIKE calls INCLUDING ALL)"))
        return ["calls_copy"]
    ddl = (
        await conn.execute(
            text("SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'calls'")
        )
    ).all()
    for kind, name, sql in sorted(ddl, key=lambda r: r[0] != "table"):
        if not sql:
            continue  # autoindexes of UNIQUE constraints come with the table
        if kind == "table":
            sql = sql.replace("calls", "calls_copy", 1)
        else:
            sql = sql.replace(name, name + "_copy", 1).replace(" calls ", " calls_copy ", 1)
        await conn.execute(text(sql))
    return ["calls_copy"]


async def _copy_floor(engine, postgres: bool) -> tuple[int, list[float], float]:
    """Bulk load the stored calls into each scratch table (``_scratch_tables``), chunk by chunk
    in turn: (rows, seconds for each table, the database's CPU seconds for them all)."""
    total = 0
    chunk = 100_000
    async with engine.connect() as conn:
        tables = await _scratch_tables(conn, postgres)
        await conn.commit()
        seconds = [0.0] * len(tables)
        db_cpu = 0.0
        columns = [c.name for c in Call.__table__.columns]
        types = calls.copy_types(Call.__table__, columns)
        last = 0
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        while True:
            result = await conn.execute(
                select(*Call.__table__.columns).where(Call.id > last).order_by(Call.id).limit(chunk)
            )
            rows = [tuple(r) for r in result]
            await conn.commit()
            if not rows:
                break
            last = rows[-1][0]
            for i, table in enumerate(tables):
                if postgres:
                    with timer() as took:
                        payload = _copy.encode([(rows, ())], types)
                        await driver.copy_to_table(
                            table, source=memoryview(payload), columns=columns, format="binary"
                        )
                    await conn.commit()
                else:
                    marks = ", ".join("?" for _ in columns)
                    stmt = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
                    plain = [
                        tuple(str(v) if isinstance(v, Decimal) else v for v in row) for row in rows
                    ]
                    with timer() as took:
                        await driver.executemany(stmt, plain)
                        await driver.commit()
                seconds[i] += took["seconds"]
                db_cpu += took["db_cpu"]
            total += len(rows)
            _log(f"copy floor: {total} rows")
        for table in tables:
            await conn.execute(text(f"DROP TABLE {table}"))
        await conn.commit()
    return total, seconds, db_cpu


async def _consistent(sessions) -> bool:
    async with sessions() as s:
        per_currency = (
            await s.execute(
                select(Posting.currency, func.sum(Posting.amount)).group_by(Posting.currency)
            )
        ).all()
        zero = all(total == 0 for _, total in per_currency)
        stale = (
            await s.execute(
                select(func.count())
                .select_from(Account)
                .where(
                    Account.balance
                    != select(func.coalesce(func.sum(Posting.amount), 0))
                    .where(Posting.account_id == Account.id)
                    .scalar_subquery()
                )
            )
        ).scalar_one()
        sold = dict(
            (
                await s.execute(
                    select(Call.client_id, func.sum(Call.sell)).group_by(Call.client_id)
                )
            ).all()
        )
        debited = dict(
            (
                await s.execute(
                    select(Account.client_id, -func.sum(Posting.amount))
                    .join(Posting, Posting.account_id == Account.id)
                    .join(LedgerEntry, LedgerEntry.id == Posting.entry_id)
                    .where(LedgerEntry.kind == "calls", Account.client_id.is_not(None))
                    .group_by(Account.client_id)
                )
            ).all()
        )
    sold = {k: v for k, v in sold.items() if v}
    debited = {k: v for k, v in debited.items() if v}
    ok = zero and stale == 0 and sold == debited
    if not ok:
        _log(f"inconsistent: zero={zero} stale_balances={stale} sold==debited={sold == debited}")
    return ok


async def run() -> str:
    url = fresh_database()
    postgres = not url.startswith("sqlite")
    backend = "postgresql" if postgres else "sqlite"
    count = int(
        os.environ.get("DIALTONE_BENCH_INGEST_CALLS") or (1_000_000 if postgres else 200_000)
    )
    gql_count = int(os.environ.get("DIALTONE_BENCH_INGEST_GRAPHQL_CALLS") or min(50_000, count))
    engine = create_engine(url)
    sessions = session_factory(engine)
    rng = random.Random(5)
    prefixes = generate_prefixes(DECK_SIZE)
    _log("building the world")
    callers = await _world(sessions, prefixes, rng)
    folder = tempfile.mkdtemp(prefix="dialtone-bench-ingest-")
    path = os.path.join(folder, "calls.csv")
    _log(f"writing {count} calls to {path}")
    _csv(path, count, callers, prefixes, rng)
    bodies = _graphql_bodies(0, gql_count, callers, prefixes, rng)
    # a request per sender before the clock starts (connections, package pricings, prepared
    # statements of each worker), as the authorization bench warms up
    warm = GRAPHQL_CONCURRENCY * GRAPHQL_BATCH
    warm_up = _graphql_bodies(gql_count, warm, callers, prefixes, rng)

    settings = Settings(database_url=url, secret_key="bench-secret-key-0123456789abcdef")
    out, err = io.StringIO(), io.StringIO()
    _log(f"csv import, batch {DEFAULT_BATCH}, {CSV_WORKERS} workers")
    with timer() as csv_took:
        code = await cmd_calls_import(
            settings,
            path,
            "generic-csv",
            None,
            DEFAULT_BATCH,
            out=out,
            err=err,
            workers=CSV_WORKERS,
        )
    _log(out.getvalue().strip())
    if code != 0:
        _log(err.getvalue()[-2000:])
    async with sessions() as s:
        stored = (await s.execute(select(func.count()).select_from(Call))).scalar_one()

    _log("copy floor")
    copied, copy_seconds, copy_db_cpu = await _copy_floor(engine, postgres)

    _log(f"graphql: {gql_count} calls, {GRAPHQL_BATCH} a request, {GRAPHQL_WORKERS} workers")
    async with (
        served(url, GRAPHQL_WORKERS, {"DIALTONE_SECRET_KEY": settings.secret_key}) as (
            port,
            server,
        ),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=300) as http,
    ):
        login = await http.post(
            "/graphql",
            json={
                "query": "mutation($e: String!, $p: String!) { login(email: $e, password: $p) "
                "{ token errors { message } } }",
                "variables": {"e": "ops@bench.test", "p": PASSWORD},
            },
        )
        token = login.json()["data"]["login"]["token"]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        sent = 0

        async def sender(mine: list[bytes], shown: bool = True) -> int:
            nonlocal sent
            ingested = 0
            for body in mine:
                response = await http.post("/graphql", content=body, headers=headers)
                payload = response.json()["data"]["callsIngest"]
                ingested += payload["ingested"] + payload["rejected"]
                if shown:
                    sent += 1
                    progress("graphql requests", sent, len(bodies))
            return ingested

        await asyncio.gather(*(sender([body], shown=False) for body in warm_up))
        with timer(server) as gql_took:
            shares = [bodies[k::GRAPHQL_CONCURRENCY] for k in range(GRAPHQL_CONCURRENCY)]
            gql_ingested = sum(await asyncio.gather(*(sender(share) for share in shares)))
    if gql_ingested != gql_count:
        _log(f"graphql: {gql_ingested} of {gql_count} calls ingested or rejected")

    consistent = await _consistent(sessions)
    await engine.dispose()
    csv_per_s = count / csv_took["seconds"]
    floors = [copied / took if took else 0.0 for took in copy_seconds]
    labels = ["copy"]
    gql_per_s = gql_count / gql_took["seconds"]
    loadavg = Path("/proc/loadavg")
    load = loadavg.read_text().split()[0] if loadavg.exists() else "?"
    cpu = "".join(
        f" {label}_python_us_per_call={1e6 * python / calls:.0f}"
        f" {label}_db_us_per_call={1e6 * took['db_cpu'] / calls:.0f}"
        for label, took, python, calls in (
            ("csv", csv_took, csv_took["cpu"], count),
            ("graphql", gql_took, gql_took["server_cpu"], gql_count),
        )
    )
    return (
        f"ingest: backend={backend} calls={count} stored={stored} csv_workers={CSV_WORKERS}"
        f" csv_calls_per_s={csv_per_s:.0f}"
        + "".join(
            f" {label}_rows_per_s={per_s:.0f} ratio_to_{label}={csv_per_s / per_s:.3f}"
            for label, per_s in zip(labels, floors, strict=False)
        )
        + f" copy_db_us_per_row={1e6 * copy_db_cpu / max(copied, 1):.0f}"
        + f" graphql_calls={gql_count} graphql_workers={GRAPHQL_WORKERS}"
        f" graphql_senders={GRAPHQL_CONCURRENCY}"
        f" graphql_calls_per_s={gql_per_s:.0f}"
        + cpu
        + f" consistent={'yes' if consistent else 'no'} load={load}"
    )
