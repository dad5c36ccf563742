"""The reseller portal's reports over HTTP: the calls report's filters, totals and CSV against
calls of known prices, its pages and a statement count that does not grow with the rows; the
financial month, its days, clients and CSV; the sub-account and number reports and their CSV;
refused filters named beside their fields; who may read them."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from strawberry.relay import to_base64

from api.db import transaction
from api.domain import callers, calls, demo
from api.domain.actors import SYSTEM
from api.domain.cdr_formats import CallRecord
from api.models import Call, Client, SubAccount
from frontends.manage import reports
from tests.frontends.conftest import ACME_HOST, GLOBEX_HOST, PLATFORM_HOST, more_rows, statements

ROW_RE = re.compile(r'<tr>\s*<th scope="row"><bdi>')
# a day of no demo call (they are of the last 30 days), under the demo's rates (of 90 days)
DAY = (datetime.now(UTC) - timedelta(days=45)).replace(hour=9, minute=0, second=0, microsecond=0)
MICRO = Decimal("0.000001")


async def owner(browse, host: str = ACME_HOST):
    acme = browse(host)
    assert (await acme.login(demo.ACME_OWNER_EMAIL, path="/manage/login")).status_code == 303
    return acme


def figure(html: str, ident: str) -> str:
    return re.search(rf'id="{ident}"(?: class="[^"]*")?><bdi>([^<]+)</bdi>', html).group(1)


def link(html: str, ident: str) -> str:
    return re.search(rf'id="{ident}" href="([^"]+)"', html).group(1).replace("&amp;", "&")


def money(micros: int) -> str:
    value = (Decimal(micros) * MICRO).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"


async def _client(sessions, name: str = "Blue Harbor Dental") -> Client:
    async with sessions() as s:
        return await s.scalar(select(Client).where(Client.name == name))


async def _ingest(sessions, username: str, count: int, prefix: str, start=DAY, **kw) -> None:
    records = [
        CallRecord(
            call_id=f"report-{username}-{start:%Y%m%d%H%M}-{i}",
            destination=prefix + f"{i:08d}",
            started_at=start + timedelta(minutes=i),
            duration=910,
            sub_account=username,
            **{"billsec": 900, "disposition": "answered", **kw},
        )
        for i in range(count)
    ]
    async with transaction(sessions) as s:
        report = await calls.ingest(s, SYSTEM, enumerate(records, 1))
    assert report.ingested == count, report.issues[:3]


async def _known_calls(sessions, settings) -> dict:
    """Blue Harbor's new sub-account ``blue-reports`` makes 4 answered calls of 15 minutes to
    France on DAY (past the package's 30 free minutes), and 2 that were not answered; Northwind
    Cafe makes 3 to the UK the same day."""
    blue = await _client(sessions)
    async with transaction(sessions) as s:
        sub, _ = await callers.create_sub_account(
            s, SYSTEM, blue.id, {"username": "blue-reports"}, settings=settings
        )
    await _ingest(sessions, "blue-reports", 4, "331")
    await _ingest(
        sessions,
        "blue-reports",
        2,
        "336",
        start=DAY + timedelta(hours=2),
        disposition="busy",
        billsec=0,
    )
    await _ingest(sessions, "demo-northwindcafe", 3, "447")
    async with sessions() as s:
        rows = (await s.scalars(select(Call).where(Call.call_id.like("report-%")))).all()
    return {"blue": blue, "sub": sub, "rows": rows}


def _sums(rows) -> dict:
    return {
        "count": len(rows),
        "seconds": sum(r.billsec for r in rows),
        "sell": sum(int(r.sell) for r in rows),
        "cost": sum(r.cost for r in rows),
    }


async def test_the_calls_report_totals_filters_and_csv_match_the_calls(browse, sessions, settings):
    known = await _known_calls(sessions, settings)
    acme = await owner(browse)
    day = DAY.date().isoformat()
    # every client's calls of the day
    page = await acme.http.get("/manage/reports/calls", params={"from": day, "to": day})
    assert page.status_code == 200
    everyone = _sums(known["rows"])
    assert everyone["sell"] > 0 and everyone["cost"] > 0  # calls of real prices
    assert len(ROW_RE.findall(page.text)) == 9 == everyone["count"]
    assert figure(page.text, "total-calls") == "9"
    assert figure(page.text, "total-minutes") == f"{Decimal(everyone['seconds']) / 60:,.2f}"
    assert figure(page.text, "total-sell") == money(everyone["sell"])
    assert figure(page.text, "total-cost") == money(everyone["cost"])
    assert figure(page.text, "total-profit") == money(everyone["sell"] - everyone["cost"])
    assert "Northwind Cafe" in page.text and "Blue Harbor Dental" in page.text

    # one client, its new sub-account, answered calls to +33 1: the four
    gid = to_base64("Client", known["blue"].id)
    sub = to_base64("SubAccount", known["sub"].id)
    query = {"from": day, "to": day, "client": gid, "sub": sub, "destination": "+33 1"}
    query |= {"result": "answered", "direction": "outbound"}
    page = await acme.http.get("/manage/reports/calls", params=query)
    four = _sums([r for r in known["rows"] if r.destination.startswith("331")])
    assert len(ROW_RE.findall(page.text)) == 4 == four["count"]
    assert "Northwind Cafe" not in page.text.split('id="calls-table"')[1]
    assert figure(page.text, "total-minutes") == "60.00"
    assert figure(page.text, "total-sell") == money(four["sell"])
    assert figure(page.text, "total-profit") == money(four["sell"] - four["cost"])
    assert f'<option value="{sub}" selected>blue-reports</option>' in page.text
    assert 'value="answered" selected' in page.text and 'value="+33 1"' in page.text
    assert "<title>Calls of Blue Harbor Dental" in page.text

    # the CSV is the API's export of exactly that search, with the reseller's columns
    url = link(page.text, "calls-csv")
    assert url.startswith("/exports/calls.csv?") and "disposition=answered" in url
    exported = await acme.http.get(url)
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(r["call_id"] for r in rows) == sorted(
        r.call_id for r in known["rows"] if r.destination.startswith("331")
    )
    assert sum(Decimal(r["sell"]) for r in rows) == Decimal(four["sell"]) * MICRO
    assert sum(Decimal(r["cost"]) for r in rows) == Decimal(four["cost"]) * MICRO
    assert sum(Decimal(r["profit"]) for r in rows) == Decimal(four["sell"] - four["cost"]) * MICRO

    # the calls not answered, and a number searched for
    busy = await acme.http.get(
        "/manage/reports/calls", params={"from": day, "to": day, "result": "busy"}
    )
    assert figure(busy.text, "total-calls") == "2" and figure(busy.text, "total-minutes") == "0.00"
    uk = await acme.http.get("/manage/reports/calls", params={"number": "44700000001"})
    assert figure(uk.text, "total-calls") == "1"
    # another day has none of them
    later = (DAY.date() + timedelta(days=1)).isoformat()
    none = await acme.http.get("/manage/reports/calls", params={"from": later, "to": later})
    assert "No calls match this search." in none.text and figure(none.text, "total-calls") == "0"


async def test_a_bad_filter_is_named_beside_its_field_and_left_out(browse, sessions):
    acme = await owner(browse)
    acme_id = (await _client(sessions)).reseller_id
    async with sessions() as s:
        globex = await s.scalar(select(Client).where(Client.reseller_id != acme_id))
        total = await s.scalar(select(func.count()).where(Call.reseller_id == acme_id))
    page = await acme.http.get(
        "/manage/reports/calls",
        params={"from": "2026-13-01", "number": "abc", "client": to_base64("Client", globex.id)},
    )
    assert page.status_code == 200
    assert (
        '<p class="field-error" id="error-from">From is not a date: write it as YYYY-MM-DD.</p>'
        in page.text
    )
    assert 'value="2026-13-01" dir="ltr" aria-invalid="true" aria-describedby="error-from"' in (
        page.text
    )
    assert 'id="error-number">A number is written with digits only.' in page.text
    assert 'id="error-client">That client is not one of yours.' in page.text
    assert "The filters marked are not right" in page.text
    # the search ran without them: every call of Acme's, none of Globex's client
    assert figure(page.text, "total-calls") == f"{total:,}"
    assert globex.name not in page.text
    backwards = await acme.http.get(
        "/manage/reports/calls", params={"from": "2026-02-02", "to": "2026-02-01"}
    )
    assert 'id="error-to">The end date is before the start date.' in backwards.text
    month = await acme.http.get("/manage/reports/financial", params={"month": "2026-13"})
    assert month.status_code == 200
    assert 'id="month-error">The month is written YYYY-MM, e.g. 2026-03.' in month.text
    assert 'value="2026-13"' in month.text
    csv_refused = await acme.http.get("/manage/reports/financial.csv", params={"month": "March"})
    assert csv_refused.status_code == 400 and "YYYY-MM" in csv_refused.text


async def test_the_calls_report_pages_with_the_apis_cursors(browse, monkeypatch, sessions):
    monkeypatch.setattr(reports, "PAGE_SIZE", 10)
    acme = await owner(browse)
    blue = to_base64("Client", (await _client(sessions)).id)
    first = await acme.http.get("/manage/reports/calls", params={"client": blue})
    assert len(ROW_RE.findall(first.text)) == 10 and 'rel="prev"' not in first.text

    def follow(html: str, rel: str) -> str:
        found = re.search(rf'rel="{rel}" href="(/manage/reports/calls\?[^"]+)"', html)
        return found.group(1).replace("&amp;", "&")

    second = await acme.http.get(follow(first.text, "next"))
    third = await acme.http.get(follow(second.text, "next"))
    # 24 calls: 10 + 10 + 4; the client filter is kept from page to page
    assert len(ROW_RE.findall(third.text)) == demo.CALLS_PER_CLIENT - 20
    table = third.text.split('id="calls-table"')[1]
    assert 'rel="next"' not in table and "Northwind Cafe" not in table, table[-800:]
    back = await acme.http.get(follow(third.text, "prev"))

    def started(html: str) -> list[str]:
        return re.findall(r'<tr>\s*<th scope="row"><bdi>([^<]+)</bdi>', html)

    assert started(back.text) == started(second.text)
    assert set(started(first.text)).isdisjoint(started(second.text))
    # a cursor edited by hand gives the first page
    edited = await acme.http.get("/manage/reports/calls", params={"after": "bad!"})
    assert edited.status_code == 200


async def test_the_calls_report_runs_no_more_statements_for_more_rows(
    browse, sessions, settings, portal_app
):
    acme = await owner(browse)
    client = await _client(sessions)
    gid = to_base64("Client", client.id)
    pages = ["/manage/reports/calls", f"/manage/reports/calls?client={gid}"]
    pages += ["/manage/reports/sub-accounts", "/manage/reports/numbers"]
    pages += ["/manage/reports/financial"]
    few = await statements(acme, portal_app.state.engine, pages)
    # when the client gets 6 more sub-accounts and 3 more numbers, each sub-account calling
    async with transaction(sessions) as s:
        await more_rows(s, settings, client, payments_made=2, key="reports")
    for n in range(6):
        await _ingest(
            sessions, f"blue-extra-{n}", 3, "331", start=datetime.now(UTC) - timedelta(hours=n + 1)
        )
    many = await statements(acme, portal_app.state.engine, pages)
    assert many == few
    page = (await acme.http.get(pages[1])).text
    assert "blue-extra-5" in page


async def test_the_financial_month_its_days_clients_and_csv(browse, sessions, settings):
    acme = await owner(browse)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=6)
    month = start.strftime("%Y-%m")
    blue = await _client(sessions)
    card = f"/manage/clients/{to_base64('Client', blue.id)}"

    def blue_calls(html: str) -> int:
        row = re.search(rf'<a href="{card}">Blue Harbor Dental</a></th>(.*?)</tr>', html, re.S)
        return int(re.search(r"<bdi>([^<]+)</bdi>", row.group(1)).group(1))

    async def blue_csv() -> dict[str, str]:
        exported = await acme.http.get("/manage/reports/financial.csv", params={"month": month})
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        return next(
            r
            for r in csv.DictReader(io.StringIO(exported.text))
            if r["client"] == "Blue Harbor Dental"
        )

    before = await acme.http.get("/manage/reports/financial", params={"month": month})
    before_csv = await blue_csv()
    assert blue_calls(before.text) == int(before_csv["calls"])
    # when Blue Harbor makes 5 answered calls of 15 minutes now
    await _ingest(sessions, "demo-blueharbordental", 5, "331", start=start)
    async with sessions() as s:
        new = (await s.scalars(select(Call).where(Call.call_id.like("report-demo-blue%")))).all()
    sold = sum(int(c.sell) for c in new)
    assert sold > 0
    # then its row has 5 calls more, and its calls sold grew by what they cost it
    page = await acme.http.get("/manage/reports/financial", params={"month": month})
    assert blue_calls(page.text) == blue_calls(before.text) + 5
    after_csv = await blue_csv()
    grown = Decimal(after_csv["calls_sell"]) - Decimal(before_csv["calls_sell"])
    assert grown == Decimal(sold) * MICRO
    assert int(after_csv["calls"]) == int(before_csv["calls"]) + 5
    # the month, its days and its clients tell the same money as the CSV
    exported = await acme.http.get(link(page.text, "financial-csv"))
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    days = [r for r in rows if r["section"] == "day"]
    (total,) = [r for r in rows if r["section"] == "month"]
    assert len(days) == len(
        re.findall(
            r"<tr>\s*<th scope=\"row\">", page.text.split('id="days-table"')[1].split("</table>")[0]
        )
    )
    for name in ("revenue", "cost", "profit", "calls_sell"):
        assert sum(Decimal(d[name]) for d in days) == Decimal(total[name]), name
    assert figure(page.text, "total-revenue") == f"${Decimal(total['revenue']):,.2f}"
    assert figure(page.text, "total-profit") == f"${Decimal(total['profit']):,.2f}"
    # the chart has a point a day, each the day's revenue
    data = re.search(
        r'<script type="application/json" id="days-data">(.*?)</script>', page.text
    ).group(1)
    chart = json.loads(data)
    assert len(chart["labels"]) == len(days)
    assert [Decimal(v) for v in chart["points"]["revenue"]] == [Decimal(d["revenue"]) for d in days]
    # another month
    march = await acme.http.get("/manage/reports/financial", params={"month": "2026-03"})
    assert "March 2026 in total" in march.text
    assert 'href="/manage/reports/financial?month=2026-02"' in march.text


async def test_the_sub_account_and_number_reports_and_their_csv(browse, sessions, settings):
    acme = await owner(browse)
    blue = await _client(sessions)
    gid = to_base64("Client", blue.id)
    every = await acme.http.get("/manage/reports/sub-accounts")
    assert every.status_code == 200
    async with sessions() as s:
        usernames = set(
            (
                await s.scalars(
                    select(SubAccount.username)
                    .join(Client, Client.id == SubAccount.client_id)
                    .where(Client.reseller_id == blue.reseller_id)
                )
            ).all()
        )
    shown = set(
        re.findall(r'<th scope="row" class="text"><bdi dir="ltr">([^<]+)</bdi>', every.text)
    )
    assert shown == usernames
    one = await acme.http.get("/manage/reports/sub-accounts", params={"client": gid})
    shown = re.findall(r'<th scope="row" class="text"><bdi dir="ltr">([^<]+)</bdi>', one.text)
    assert shown == ["demo-blueharbordental"]
    exported = await acme.http.get(link(one.text, "report-csv"))
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["sub_account"] for r in rows] == shown and rows[0]["client"] == "Blue Harbor Dental"

    numbers = await acme.http.get("/manage/reports/numbers")
    assert numbers.status_code == 200
    exported = await acme.http.get(link(numbers.text, "report-csv"))
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert figure(numbers.text, "total-numbers") == str(len(rows))
    price = sum(Decimal(r["monthly_price"]) for r in rows)
    cost = sum(Decimal(r["monthly_cost"]) for r in rows)
    assert figure(numbers.text, "total-price") == f"${price:,.2f}"
    assert figure(numbers.text, "total-margin") == f"${price - cost:,.2f}"
    theirs = await acme.http.get(
        "/manage/reports/numbers", params={"client": gid, "status": "assigned"}
    )
    exported = await acme.http.get(link(theirs.text, "report-csv"))
    assert "status=assigned" in link(theirs.text, "report-csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["client"] for r in rows} == {"Blue Harbor Dental"}
    assert figure(theirs.text, "total-numbers") == str(len(rows))


async def test_staff_read_the_reports_and_others_do_not(browse, sessions):
    staff = browse(ACME_HOST)
    await staff.login(demo.ACME_STAFF_EMAIL, path="/manage/login")
    for path in ("/manage/reports", "/manage/reports/calls", "/manage/reports/financial"):
        page = await staff.http.get(path)
        assert page.status_code == 200, path
    index = await staff.http.get("/manage/reports")
    assert 'href="/manage/reports" aria-current="page"' in index.text
    for href in ("calls", "financial", "sub-accounts", "numbers"):
        assert f'href="/manage/reports/{href}"' in index.text
    # nobody signed in goes to the login page; the client's user is no reseller user
    stranger = browse(ACME_HOST)
    assert (await stranger.http.get("/manage/reports/calls")).headers["location"] == "/manage/login"
    client = browse(ACME_HOST)
    await client.login(demo.CLIENT_EMAIL)
    assert (await client.http.get("/manage/reports/financial.csv")).status_code == 303
    # the platform host has no reseller portal
    assert (await browse(PLATFORM_HOST).http.get("/manage/reports")).status_code == 404
    # Globex's owner sees Globex's own calls only
    globex = browse(GLOBEX_HOST)
    await globex.login(demo.GLOBEX_OWNER_EMAIL, path="/manage/login")
    page = await globex.http.get("/manage/reports/calls")
    assert page.status_code == 200 and "Blue Harbor Dental" not in page.text


async def test_the_index_shows_this_month_and_the_card_links_to_the_clients_calls(browse, sessions):
    acme = await owner(browse)
    index = await acme.http.get("/manage/reports")
    month = await acme.http.get("/manage/reports/financial")
    assert figure(index.text, "month-revenue") == figure(month.text, "total-revenue")
    assert figure(index.text, "month-profit") == figure(month.text, "total-profit")
    assert figure(index.text, "month-calls") == figure(month.text, "total-calls")
    # the client card's link opens the calls report of that client alone
    blue = await _client(sessions)
    card = (await acme.http.get(f"/manage/clients/{to_base64('Client', blue.id)}")).text
    to = re.search(r'<a href="([^"]+)" id="calls-report">', card).group(1)
    report = await acme.http.get(to.replace("&amp;", "&"))
    assert report.status_code == 200
    assert "<title>Calls of Blue Harbor Dental" in report.text
    assert len(ROW_RE.findall(report.text)) == demo.CALLS_PER_CLIENT
    assert figure(report.text, "total-calls") == str(demo.CALLS_PER_CLIENT)
    assert f'href="/manage/clients/{to_base64("Client", blue.id)}" id="client-card"' in report.text
