"""The Calls page over HTTP: the search's filters, its totals equal to the API's, keyset pages
back and forth, the htmx partial, the CSV of exactly the search, nothing of the reseller's
costs, and a statement count that does not grow with the rows."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from api.db import transaction
from api.domain import callers, calls, demo
from api.domain.actors import SYSTEM
from api.domain.cdr_formats import CallRecord
from api.models import Call, Client, SubAccount
from frontends.client import calls as calls_page
from tests.factories import count_statements
from tests.frontends.conftest import ACME_HOST

ROW_RE = re.compile(r"<tr>\s*<th scope=\"row\">")


async def _signed_in(browse):
    browser = browse(ACME_HOST)
    await browser.login(demo.CLIENT_EMAIL)
    return browser


async def _client(sessions) -> Client:
    async with sessions() as s:
        return await s.scalar(select(Client).where(Client.name == "Blue Harbor Dental"))


async def _api_totals(browser, **filters) -> dict:
    args = ", ".join(f'{k}: "{v}"' if k != "direction" else f"{k}: {v}" for k, v in filters.items())
    body = await browser.http.post(
        "/graphql",
        json={
            "query": "{ calls"
            + (f"({args})" if args else "")
            + " { totals { count answeredMinutes sell { amount } } } }"
        },
        headers={"X-CSRF-Token": browser.http.cookies["dialtone_csrf"]},
    )
    return body.json()["data"]["calls"]["totals"][0]


def _figure(html: str, ident: str) -> str:
    return re.search(rf'id="{ident}"><bdi>([^<]+)</bdi>', html).group(1)


async def _add_calls(sessions, client: Client, username: str, count: int, prefix: str, **kw):
    start = (datetime.now(UTC) - timedelta(days=40)).replace(
        hour=12, minute=0, second=0, microsecond=0
    )
    records = [
        CallRecord(
            call_id=f"extra-{username}-{i}",
            destination=prefix + f"{i:08d}",
            started_at=start + timedelta(minutes=i),
            duration=70,
            billsec=60,
            disposition="answered",
            sub_account=username,
            **kw,
        )
        for i in range(count)
    ]
    async with transaction(sessions) as s:
        report = await calls.ingest(s, SYSTEM, enumerate(records, 1))
    assert report.ingested == count, report.issues[:3]
    return start


async def test_the_calls_page_shows_the_clients_calls_and_the_apis_totals(browse, sessions):
    browser = await _signed_in(browse)
    page = await browser.http.get("/calls")
    assert page.status_code == 200
    client = await _client(sessions)
    async with sessions() as s:
        own = await s.scalar(select(func.count()).where(Call.client_id == client.id))
    # every call of the client is on the page (fewer than a page), newest first
    assert len(ROW_RE.findall(page.text)) == own == demo.CALLS_PER_CLIENT
    totals = await _api_totals(browser)
    assert _figure(page.text, "total-calls") == str(totals["count"])
    assert _figure(page.text, "total-minutes") == f"{Decimal(totals['answeredMinutes']):,.2f}"
    assert _figure(page.text, "total-spend") == f"${Decimal(totals['sell']['amount']):,.2f}"
    # the menu names the page; no reseller figure is on it
    assert 'href="/calls" aria-current="page"' in page.text
    for word in ("Cost", "Profit", "cost", "profit", "Rule"):
        assert word not in page.text


async def test_a_search_filters_the_rows_the_totals_and_the_csv(browse, sessions, settings):
    client = await _client(sessions)
    async with transaction(sessions) as s:  # a second sub-account calling France
        await callers.create_sub_account(
            s, SYSTEM, client.id, {"username": "blue-reception"}, settings=settings
        )
    start = await _add_calls(sessions, client, "blue-reception", 3, "331")
    browser = await _signed_in(browse)
    sub_id = (await browser.http.get("/calls")).text
    gid = re.search(r'<option value="([^"]+)"\s*>blue-reception</option>', sub_id).group(1)
    day = start.date().isoformat()
    query = {"from": day, "to": day, "destination": "+33 1", "sub": gid, "direction": "outbound"}
    page = await browser.http.get("/calls", params=query)
    # then exactly those three calls, their totals, and the filters shown back
    assert len(ROW_RE.findall(page.text)) == 3
    assert _figure(page.text, "total-calls") == "3"
    assert _figure(page.text, "total-minutes") == "3.00"
    assert f'value="{day}"' in page.text and 'value="outbound" selected' in page.text
    # the CSV link is the API's export with the same filters, and it holds the same calls
    link = re.search(r'id="calls-csv" href="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    assert link.startswith("/exports/calls.csv?")
    exported = await browser.http.get(link)
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(r["call_id"] for r in rows) == [f"extra-blue-reception-{i}" for i in range(3)]
    assert "cost" not in rows[0] and "profit" not in rows[0]
    spent = sum(Decimal(r["sell"]) for r in rows)
    assert _figure(page.text, "total-spend") == f"${spent.quantize(Decimal('0.01')):,.2f}"
    # the next day holds none of them
    later = (start.date() + timedelta(days=1)).isoformat()
    empty = await browser.http.get("/calls", params={**query, "from": later, "to": later})
    assert "No calls match this search." in empty.text
    assert _figure(empty.text, "total-calls") == "0"


async def test_bad_filters_are_named_and_left_out(browse, sessions):
    browser = await _signed_in(browse)
    page = await browser.http.get(
        "/calls",
        params={
            "from": "2026-13-01",
            "number": "abc",
            "sub": "U3ViQWNjb3VudDo5OTk5",
            "after": "not a cursor!",
        },
    )
    assert page.status_code == 200
    assert "From is not a date: write it as YYYY-MM-DD." in page.text
    assert "A number is written with digits only." in page.text
    assert "That sub-account is not one of yours." in page.text
    assert len(ROW_RE.findall(page.text)) == demo.CALLS_PER_CLIENT  # the filters left out
    reversed_range = await browser.http.get(
        "/calls", params={"from": "2026-02-02", "to": "2026-02-01"}
    )
    assert "The end date is before the start date." in reversed_range.text


async def test_pages_go_forward_and_back_with_the_apis_cursors(browse, sessions, monkeypatch):
    monkeypatch.setattr(calls_page, "PAGE_SIZE", 10)
    browser = await _signed_in(browse)
    first = await browser.http.get("/calls")
    assert len(ROW_RE.findall(first.text)) == 10 and 'rel="prev"' not in first.text
    older = re.search(r'rel="next" href="/calls\?([^"]+)"', first.text).group(1)
    second = await browser.http.get("/calls?" + older.replace("&amp;", "&"))
    third_q = re.search(r'rel="next" href="/calls\?([^"]+)"', second.text).group(1)
    third = await browser.http.get("/calls?" + third_q.replace("&amp;", "&"))
    # 24 calls: 10 + 10 + 4, the last page without a next link
    assert len(ROW_RE.findall(third.text)) == demo.CALLS_PER_CLIENT - 20
    assert 'rel="next"' not in third.text
    # back from the third page comes the second again, row for row
    newer = re.search(r'rel="prev" href="/calls\?([^"]+)"', third.text).group(1)
    back = await browser.http.get("/calls?" + newer.replace("&amp;", "&"))

    def rows(html: str) -> list[str]:
        return re.findall(r'<tr>\s*<th scope="row"><bdi>([^<]+)</bdi>', html)

    assert rows(back.text) == rows(second.text) and len(rows(back.text)) == 10
    assert set(rows(first.text)).isdisjoint(rows(second.text))


async def test_htmx_gets_the_results_alone(browse):
    browser = await _signed_in(browse)
    partial = await browser.http.get(
        "/calls", params={"direction": "inbound"}, headers={"HX-Request": "true"}
    )
    assert partial.status_code == 200
    assert partial.text.lstrip().startswith('<div id="call-results"')
    assert "<html" not in partial.text and "No calls match this search." in partial.text
    # a history restore wants the whole page
    whole = await browser.http.get(
        "/calls", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in whole.text


async def test_another_clients_calls_are_not_on_the_page(browse, sessions):
    async with sessions() as s:
        other = await s.scalar(
            select(SubAccount.username)
            .join(Client, Client.id == SubAccount.client_id)
            .where(Client.name != "Blue Harbor Dental")
        )
    browser = await _signed_in(browse)
    page = await browser.http.get("/calls")
    assert other and other not in page.text
    # nobody signed in: the login page; and the CSV export wants a login too
    anonymous = browse(ACME_HOST)
    assert (await anonymous.http.get("/calls")).headers["location"] == "/login"
    assert (await anonymous.http.get("/exports/calls.csv")).status_code == 401


async def test_the_page_runs_as_many_statements_for_50_rows_as_for_1(browse, sessions, portal_app):
    client = await _client(sessions)
    start = await _add_calls(sessions, client, "demo-blueharbordental", 60, "4420")
    browser = await _signed_in(browse)
    day = start.date().isoformat()
    with count_statements(portal_app.state.engine) as few:
        small = await browser.http.get(
            "/calls", params={"from": day, "to": day, "number": "442000000005"}
        )
    with count_statements(portal_app.state.engine) as many:
        large = await browser.http.get("/calls", params={"from": day, "to": day, "number": "4420"})
    assert len(ROW_RE.findall(small.text)) == 1 and len(ROW_RE.findall(large.text)) == 50
    assert len(many) == len(few), (len(few), len(many))


async def test_changing_the_language_keeps_the_search(browse, sessions):
    import html
    import re

    browser = await _signed_in(browse)
    page = await browser.http.get("/calls", params={"number": "4420", "direction": "outbound"})
    back_to = html.unescape(re.search(r'name="next" value="([^"]*)"', page.text).group(1))
    assert back_to == "/calls?number=4420&direction=outbound"
    token = await browser.csrf("/calls")
    moved = await browser.http.post(
        "/language", data={"csrf_token": token, "lang": "fr", "next": back_to}
    )
    assert moved.status_code == 303 and moved.headers["location"] == back_to
    again = await browser.http.get(moved.headers["location"])
    assert 'lang="fr"' in again.text and 'value="4420"' in again.text
