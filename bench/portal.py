"""The client portal on the demo data with 100,000 calls for the demo client: each page's time
to first byte over HTTP from the real server (``dialtone serve``), and its full load in
Chromium (the browser tests' Debian ``chromium``), beside the baseline of the same run: the
server's ``/healthz`` (first byte) and a blank page (full load).

Data: the demo (``dialtone demo``), then 100,000 generated calls of the demo client
(``client@acme.test``, Blue Harbor Dental) over the last 30 days, loaded with COPY on
PostgreSQL (a plain executemany on SQLite), the rollups rebuilt from every call as ingestion
keeps them, then ANALYZE. Targets (issue "Portals, part 1"): first byte ≤ 100 ms, full load
≤ 300 ms on the 2-core machine.

``DIALTONE_BENCH_DATABASE_URL`` picks the database (SQLite in a temporary folder by default);
``DIALTONE_BENCH_PORTAL_CALLS`` the number of calls."""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import select, text

from api.db import create_engine, session_factory
from api.domain import demo
from api.models import Client, SubAccount
from bench.reports import load_postgres, load_sqlite, rollups_sql, say
from bench.support import fresh_database, served

CALLS = 100_000
HOST = demo.DEMO_HOSTS[demo.ACME["name"]]
PAGES = [
    "/",
    "/calls",
    "/numbers",
    "/sub-accounts",
    "/topup",
    "/payments",
    "/invoices",
    "/profile",
]
HTTP_RUNS = 30
BROWSER_RUNS = 10
FIRST_BYTE_TARGET_MS = 100
FULL_LOAD_TARGET_MS = 300
CHROMIUM = Path("/usr/bin/chromium")
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
LOAD_MS = """() => { const n = performance.getEntriesByType("navigation")[0];
  return n.loadEventEnd - n.startTime; }"""


def _median_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, round(0.95 * len(ordered)) - 1)]


async def _load(url: str, total: int) -> None:
    """The demo, then ``total`` calls of the demo client over the last 30 days."""
    postgres = not url.startswith("sqlite")
    engine = create_engine(url)
    sessions = session_factory(engine)
    await demo.seed(sessions)
    async with sessions() as s:
        client = await s.scalar(select(Client).where(Client.name == "Blue Harbor Dental"))
        sub = await s.scalar(select(SubAccount).where(SubAccount.client_id == client.id))
        callers = [(client.reseller_id, client.id, sub.id)]
    await engine.dispose()
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    span = {"start": end - timedelta(days=30), "end": end}
    if postgres:
        await load_postgres(url, total, callers, **span)
    else:
        await asyncio.to_thread(load_sqlite, url, total, callers, **span)
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM call_rollups"))
        await conn.execute(text(rollups_sql(postgres)))
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("ANALYZE"))
    await engine.dispose()


async def _first_byte(http: httpx.AsyncClient, path: str, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        async with http.stream("GET", path) as response:
            async for _chunk in response.aiter_raw():
                samples.append((time.perf_counter() - started) * 1000)
                break
            assert response.status_code == 200, (path, response.status_code)
    return samples


async def _sign_in(http: httpx.AsyncClient) -> None:
    page = await http.get("/login")
    token = CSRF_RE.search(page.text).group(1)
    signed = await http.post(
        "/login",
        data={"csrf_token": token, "email": demo.CLIENT_EMAIL, "password": demo.DEMO_PASSWORD},
    )
    assert signed.status_code == 303, signed.text


async def _browser(port: int, runs: int) -> dict[str, list[float]]:
    from playwright.async_api import async_playwright

    out: dict[str, list[float]] = {}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--host-resolver-rules=MAP * 127.0.0.1", "--no-sandbox"],
        )
        context = await browser.new_context(base_url=f"http://{HOST}:{port}")
        tab = await context.new_page()
        await tab.goto("/login")
        await tab.get_by_label("Email").fill(demo.CLIENT_EMAIL)
        await tab.get_by_label("Password").fill(demo.DEMO_PASSWORD)
        await tab.get_by_role("button", name="Sign in").click()
        await tab.wait_for_url("**/")
        for path in ["about:blank", *PAGES]:
            samples = []
            for _ in range(runs):
                if path == "about:blank":
                    started = time.perf_counter()
                    await tab.goto("about:blank", wait_until="load")
                    samples.append((time.perf_counter() - started) * 1000)
                    continue
                await tab.goto(path, wait_until="load")
                samples.append(await tab.evaluate(LOAD_MS))
            out[path] = samples
        await browser.close()
    return out


async def run() -> str:
    url = fresh_database()
    total = int(os.environ.get("DIALTONE_BENCH_PORTAL_CALLS", CALLS))
    say(f"portal: the demo and {total:,} calls of its client on {url.split(':', 1)[0]}")
    started = time.perf_counter()
    await _load(url, total)
    say(f"loaded in {time.perf_counter() - started:.0f} s")
    lines = [
        f"portal ({url.split(':', 1)[0]}, {total:,} calls of the demo client; "
        f"targets: first byte ≤ {FIRST_BYTE_TARGET_MS} ms, full load ≤ {FULL_LOAD_TARGET_MS} ms)",
        f"{'page':<14} {'first byte median/p95':>24} {'x /healthz':>11}"
        f" {'full load median/p95':>22}",
    ]
    async with served(url, workers=1) as (port, _server):
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, headers={"Host": HOST}) as http:
            await _first_byte(http, "/healthz", 5)  # warm up
            health = _median_p95(await _first_byte(http, "/healthz", HTTP_RUNS))
            await _sign_in(http)
            first_byte = {}
            for path in PAGES:
                await _first_byte(http, path, 2)  # warm up
                first_byte[path] = _median_p95(await _first_byte(http, path, HTTP_RUNS))
        loads = {p: _median_p95(s) for p, s in (await _browser(port, BROWSER_RUNS)).items()}
    lines.append(
        f"{'/healthz':<14} {health[0]:>10.1f} / {health[1]:>6.1f} ms {1:>10.1f}x"
        f" {loads['about:blank'][0]:>10.1f} / {loads['about:blank'][1]:>6.1f} ms (blank)"
    )
    for path in PAGES:
        median, p95 = first_byte[path]
        load_median, load_p95 = loads[path]
        lines.append(
            f"{path:<14} {median:>10.1f} / {p95:>6.1f} ms {median / health[0]:>10.1f}x"
            f" {load_median:>10.1f} / {load_p95:>6.1f} ms"
        )
    worst_byte = max(m for m, _ in first_byte.values())
    worst_load = max(m for p, (m, _) in loads.items() if p != "about:blank")
    lines.append(
        f"slowest median: first byte {worst_byte:.1f} ms"
        f" ({'met' if worst_byte <= FIRST_BYTE_TARGET_MS else 'MISSED'}),"
        f" full load {worst_load:.1f} ms"
        f" ({'met' if worst_load <= FULL_LOAD_TARGET_MS else 'MISSED'})"
    )
    return "\n".join(lines)
