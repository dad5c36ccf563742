"""The reseller portal's reports (``templates/manage/reports*``), each with its CSV:

* ``/manage/reports``: what there is;
* ``/manage/reports/calls``: every client's calls, or one client's (``?client=`` its global id,
  as the client card links it), searched by period, sub-account, number, destination,
  direction and result, a page at a time (the API's keyset cursors), with the totals of the
  whole search (calls, answered minutes, sell, cost, profit) and the API's export
  ``/exports/calls.csv`` with the same filters;
* ``/manage/reports/financial``: a month (``?month=YYYY-MM``), its days (a chart and a table)
  and its clients (``financialReport``); ``/manage/reports/financial.csv`` the same figures;
* ``/manage/reports/sub-accounts`` (``subAccountReport``) and ``/manage/reports/numbers``
  (``didReport``), narrowed to a client, with the API's ``/exports/sub-accounts.csv`` and
  ``/exports/dids.csv``.

The searches are plain GET forms; a filter that is not right is named above the results and
left out. Dates are UTC days, both ends included (``to`` is sent as the next day's midnight).
Who may read them is the API's (``reports:read``: owners and staff).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from babel.dates import format_skeleton
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from api.exports import _csv_response
from frontends.client.calls import Search as CallSearch
from frontends.client.calls import cursor, digits
from frontends.consoles import MANAGE, route, signed_in
from frontends.operations import OperationFailed
from frontends.web import Page

PAGE_SIZE = 50
DIRECTIONS = ("outbound", "inbound")
RESULTS = ("answered", "no_answer", "busy", "failed")
DID_STATUSES = ("owned", "assigned")
MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass
class Search(CallSearch):
    """A report's filters; ``problems`` says, per field, why what was typed there is left out
    (shown beside it, what was typed kept)."""

    problems: dict[str, str] = field(default_factory=dict)

    def refuse(self, name: str, message: str) -> None:
        self.problems.setdefault(name, message)
        self.errors.append(message)


def _cursor(page: Page, name: str) -> str | None:
    return cursor(page.request.query_params, name)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


async def _clients(page: Page, client_id: str = "") -> dict[str, Any]:
    """The reseller's clients (the filter's list) and, when one is chosen, its sub-accounts."""
    variables: dict[str, Any] = {"withSubAccounts": bool(client_id)}
    if client_id:
        variables["clientId"] = client_id
    return await signed_in(page, MANAGE, "ManageReportClients", variables)


def _chosen_client(page: Page, search: Search, clients: list[dict[str, Any]]) -> None:
    """``client`` of the query, kept when it is one of the reseller's clients."""
    wanted = search.values["client"]
    if wanted and not any(c["id"] == wanted for c in clients):
        search.refuse("client", page.gettext("That client is not one of yours."))
        search.values["client"] = ""


def _month_name(page: Page, month: str) -> str:
    return format_skeleton("yMMMM", date.fromisoformat(month + "-01"), locale=page.lang)


async def index(page: Page) -> Response:
    """What there is, under this month's figures so far."""
    month = datetime.now(UTC).strftime("%Y-%m")
    report, _ = await _financial(page, month)
    totals = report["totals"][0] if report and report["totals"] else None
    return page.render("manage/reports.html", totals=totals, month_name=_month_name(page, month))


# --- calls -------------------------------------------------------------------------------------


def _day(page: Page, search: Search, name: str, label: str) -> date | None:
    raw = search.values[name]
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        search.refuse(
            name,
            page.gettext("%(field)s is not a date: write it as YYYY-MM-DD.") % {"field": label},
        )
        return None


def read_call_search(page: Page, sub_accounts: list[dict[str, Any]]) -> Search:
    """The calls report's filters, checked: a bad one is named and left out (a bad date keeps
    what was typed in its field, to be corrected)."""
    params = page.request.query_params
    names = ("from", "to", "client", "sub", "number", "destination", "direction", "result")
    search = Search(values={n: str(params.get(n, "")).strip()[:64] for n in names})
    start = _day(page, search, "from", page.gettext("From"))
    end = _day(page, search, "to", page.gettext("To"))
    if start and end and end < start:
        search.refuse("to", page.gettext("The end date is before the start date."))
        end = None
    if start:
        search.variables["from"] = _midnight(start).isoformat()
        search.export["from"] = start.isoformat()
    if end:
        search.variables["to"] = _midnight(end + timedelta(days=1)).isoformat()
        search.export["to"] = (end + timedelta(days=1)).isoformat()
    client = search.values["client"]
    if client:
        search.variables["clientId"] = search.export["clientId"] = client
    sub = search.values["sub"]
    if sub:
        if client and any(s["id"] == sub for s in sub_accounts):
            search.variables["subAccountId"] = search.export["subAccountId"] = sub
        else:
            search.refuse("sub", page.gettext("That sub-account is not one of this client's."))
            search.values["sub"] = ""
    if search.values["number"]:
        found = digits(search.values["number"])
        if found:
            search.variables["number"] = search.export["number"] = found
        else:
            search.refuse("number", page.gettext("A number is written with digits only."))
    if search.values["destination"]:
        found = digits(search.values["destination"])
        if found:
            search.variables["destinationPrefix"] = search.export["destinationPrefix"] = found
        else:
            search.refuse(
                "destination",
                page.gettext("A destination is the first digits of the numbers called."),
            )
    direction = search.values["direction"].lower()
    search.values["direction"] = direction if direction in DIRECTIONS else ""
    if search.values["direction"]:
        search.variables["direction"] = direction.upper()
        search.export["direction"] = direction
    result = search.values["result"].lower()
    search.values["result"] = result if result in RESULTS else ""
    if search.values["result"]:
        search.variables["disposition"] = result.upper()
        search.export["disposition"] = result
    return search


async def calls(page: Page) -> Response:
    params = page.request.query_params
    wanted = str(params.get("client", "")).strip()[:64]
    listed = await _clients(page)
    clients = listed["clients"]["nodes"]
    if wanted and any(c["id"] == wanted for c in clients):
        sub_accounts = (await _clients(page, wanted))["subAccounts"]["nodes"]
    else:
        sub_accounts = []
    search = read_call_search(page, sub_accounts)
    _chosen_client(page, search, clients)
    if not search.values["client"]:
        search.variables.pop("clientId", None)
        search.export.pop("clientId", None)
    after, before = _cursor(page, "after"), _cursor(page, "before")
    variables = {**search.variables, "first": PAGE_SIZE}
    if after:
        variables["after"] = after
    elif before:
        variables["before"] = before
    try:
        data = await signed_in(page, MANAGE, "ManageReportCalls", variables)
    except OperationFailed:
        if not (after or before):
            raise
        # a cursor that is not one of ours (edited by hand): the first page of the search
        variables.pop("after", None)
        variables.pop("before", None)
        data = await signed_in(page, MANAGE, "ManageReportCalls", variables)
    result = data["calls"]
    info = result["pageInfo"]
    client_name = next((c["name"] for c in clients if c["id"] == search.values["client"]), None)
    return page.render(
        "manage/reports_calls.html",
        search=search,
        clients=clients,
        client_name=client_name,
        sub_accounts=sub_accounts,
        rows=[edge["node"] for edge in result["edges"]],
        totals=result["totals"],
        next_query=search.query(after=info["endCursor"]) if info["hasNextPage"] else None,
        previous_query=search.query(before=info["startCursor"])
        if info["hasPreviousPage"] and info["startCursor"]
        else None,
        first_query=search.query() if (after or before) else None,
        csv_url="/exports/calls.csv" + ("?" + urlencode(search.export) if search.export else ""),
    )


# --- the financial report ----------------------------------------------------------------------


def _month(page: Page) -> tuple[str, str, str | None]:
    """The month asked for (this month by default), the one shown, and why it is not the
    one asked for."""
    asked = str(page.request.query_params.get("month", "")).strip()[:16]
    this_month = datetime.now(UTC).strftime("%Y-%m")
    if not asked:
        return asked, this_month, None
    if not MONTH_RE.match(asked):
        return asked, this_month, page.gettext("The month is written YYYY-MM, e.g. 2026-03.")
    return asked, asked, None


def _shift(month: str, by: int) -> str:
    year, number = (int(part) for part in month.split("-"))
    index = year * 12 + number - 1 + by
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


async def _financial(page: Page, month: str) -> tuple[dict[str, Any] | None, str | None]:
    data = await signed_in(page, MANAGE, "ManageReportFinancial", {"month": month})
    payload = data["financialReport"]
    if payload["errors"]:
        return None, page.gettext("The month is written YYYY-MM, e.g. 2026-03.")
    return payload["report"], None


async def financial(page: Page) -> Response:
    asked, month, error = _month(page)
    report, refused = await _financial(page, month)
    currency = report["totals"][0]["currency"] if report and report["totals"] else ""
    days = []
    for day in (report or {}).get("days", []):
        figures = next((f for f in day["totals"] if f["currency"] == currency), None)
        days.append({"day": day["day"], "figures": figures})
    return page.render(
        "manage/reports_financial.html",
        asked=asked if error else month,
        month=month,
        month_name=_month_name(page, month),
        month_error=error or refused,
        report=report,
        currency=currency,
        totals=report["totals"][0] if report and report["totals"] else None,
        days=days,
        clients=(report or {}).get("clients", []),
        previous_month=_shift(month, -1),
        next_month=_shift(month, 1),
        chart={
            "series": [
                {"label": page.gettext("Revenue"), "key": "revenue"},
                {"label": page.gettext("Cost"), "key": "cost"},
                {"label": page.gettext("Profit"), "key": "profit"},
            ],
            "points": {
                key: [d["figures"][key]["amount"] if d["figures"] else "0" for d in days]
                for key in ("revenue", "cost", "profit")
            },
        },
    )


FINANCIAL_FIGURES = (
    ("calls", "calls"),
    ("answered_minutes", "answeredMinutes"),
    ("revenue", "revenue"),
    ("calls_sell", "callsSell"),
    ("client_fees", "clientFees"),
    ("charges", "charges"),
    ("invoiced", "invoiced"),
    ("cost", "cost"),
    ("calls_cost", "callsCost"),
    ("did_costs", "didCosts"),
    ("hostname_fees", "hostnameFees"),
    ("commissions", "commissions"),
    ("earnings", "earnings"),
    ("profit", "profit"),
    ("client_deposits", "clientDeposits"),
)
FINANCIAL_COLUMNS = ("section", "day", "client", "currency", *(n for n, _ in FINANCIAL_FIGURES))


def _figures(figures: dict[str, Any]) -> list[str]:
    out = []
    for _, key in FINANCIAL_FIGURES:
        value = figures[key]
        out.append(str(value["amount"] if isinstance(value, dict) else value))
    return out


async def financial_csv(page: Page) -> Response:
    _, month, error = _month(page)
    report, refused = (None, None) if error else await _financial(page, month)
    if error or refused or report is None:
        return PlainTextResponse(error or refused or "", status_code=400)

    async def rows():
        for day in report["days"]:
            for figures in day["totals"]:
                yield ["day", day["day"], "", figures["currency"], *_figures(figures)]
        for line in report["clients"]:
            figures = line["figures"]
            yield ["client", "", line["client"]["name"], figures["currency"], *_figures(figures)]
        for figures in report["totals"]:
            yield ["month", month, "", figures["currency"], *_figures(figures)]

    return _csv_response(rows(), FINANCIAL_COLUMNS, f"financial-{month}.csv")


# --- sub-accounts and numbers ------------------------------------------------------------------


async def _client_filter(page: Page) -> tuple[Search, list[dict[str, Any]]]:
    params = page.request.query_params
    search = Search(values={n: str(params.get(n, "")).strip()[:64] for n in ("client", "status")})
    clients = (await _clients(page))["clients"]["nodes"]
    _chosen_client(page, search, clients)
    if search.values["client"]:
        search.variables["clientId"] = search.export["clientId"] = search.values["client"]
    return search, clients


def _paged(page: Page, variables: dict[str, Any]) -> dict[str, Any]:
    after = _cursor(page, "after")
    out = {**variables, "first": PAGE_SIZE}
    if after:
        out["after"] = after
    return out


async def _run_paged(page: Page, operation: str, variables: dict[str, Any]) -> dict[str, Any]:
    try:
        return await signed_in(page, MANAGE, operation, variables)
    except OperationFailed:
        if "after" not in variables:
            raise
        variables.pop("after")
        return await signed_in(page, MANAGE, operation, variables)


async def sub_accounts(page: Page) -> Response:
    search, clients = await _client_filter(page)
    data = await _run_paged(page, "ManageReportSubAccounts", _paged(page, search.variables))
    result = data["subAccountReport"]
    info = result["pageInfo"]
    rows = [edge["node"] for edge in result["edges"]]
    for row in rows:
        row["dids_total"] = sum(Decimal(d["monthlyPrice"]["amount"]) for d in row["dids"])
    return page.render(
        "manage/reports_sub_accounts.html",
        search=search,
        clients=clients,
        rows=rows,
        next_query=search.query(after=info["endCursor"]) if info["hasNextPage"] else None,
        first_query=search.query() if _cursor(page, "after") else None,
        csv_url="/exports/sub-accounts.csv"
        + ("?" + urlencode(search.export) if search.export else ""),
    )


async def numbers(page: Page) -> Response:
    search, clients = await _client_filter(page)
    status = search.values["status"].lower()
    search.values["status"] = status if status in DID_STATUSES else ""
    if search.values["status"]:
        search.variables["status"] = status.upper()
        search.export["status"] = status
    data = await _run_paged(page, "ManageReportNumbers", _paged(page, search.variables))
    result = data["didReport"]
    info = result["pageInfo"]
    return page.render(
        "manage/reports_numbers.html",
        search=search,
        clients=clients,
        rows=[edge["node"] for edge in result["edges"]],
        totals=result["totals"],
        next_query=search.query(after=info["endCursor"]) if info["hasNextPage"] else None,
        first_query=search.query() if _cursor(page, "after") else None,
        csv_url="/exports/dids.csv" + ("?" + urlencode(search.export) if search.export else ""),
    )


def routes() -> list[Route]:
    return [
        route(MANAGE, "/reports", index, ["GET"]),
        route(MANAGE, "/reports/calls", calls, ["GET"]),
        route(MANAGE, "/reports/financial", financial, ["GET"]),
        route(MANAGE, "/reports/financial.csv", financial_csv, ["GET"]),
        route(MANAGE, "/reports/sub-accounts", sub_accounts, ["GET"]),
        route(MANAGE, "/reports/numbers", numbers, ["GET"]),
    ]
