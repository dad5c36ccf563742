"""The Calls page (``templates/client/calls.*``): the client's calls searched by period, number,
destination, direction and sub-account, a page at a time (keyset: the next and previous links
carry the API's cursors), the totals of everything the search selects, and the CSV of exactly
that search (the API's own export, ``/exports/calls.csv``, linked with the same filters).

The search is a plain GET form, so the page works without JavaScript; with htmx, changing a
filter replaces the results alone (``HX-Request``) and the address follows. Dates are UTC days,
both ends included: ``to`` is sent to the API as the next day's midnight ("started before").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from frontends.client.common import page_of, signed_in, to_login
from frontends.operations import OperationFailed
from frontends.web import Page

PAGE_SIZE = 50
DIRECTIONS = ("outbound", "inbound")
CURSOR_RE = re.compile(r"^[A-Za-z0-9_=-]{1,200}$")


@dataclass
class Search:
    """The search of a request: what the form shows back, and what the API is asked."""

    values: dict[str, str] = field(default_factory=dict)  # the form's fields as given
    variables: dict[str, Any] = field(default_factory=dict)  # the operation's filter
    export: dict[str, str] = field(default_factory=dict)  # the CSV export's query
    errors: list[str] = field(default_factory=list)

    def query(self, **cursor: str) -> str:
        """The page's query string for these filters (and a cursor)."""
        kept = {k: v for k, v in self.values.items() if v}
        return urlencode({**kept, **cursor})


def _day(page: Page, search: Search, name: str, label: str) -> date | None:
    raw = search.values[name]
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        search.errors.append(
            page.gettext("%(field)s is not a date: write it as YYYY-MM-DD.") % {"field": label}
        )
        search.values[name] = ""
        return None


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def read_search(page: Page, params: Any, sub_accounts: list[dict[str, Any]]) -> Search:
    """The filters of the query string, checked: a bad one is named and left out."""
    names = ("from", "to", "number", "destination", "direction", "sub")
    search = Search(values={n: str(params.get(n, "")).strip()[:64] for n in names})
    start = _day(page, search, "from", page.gettext("From"))
    end = _day(page, search, "to", page.gettext("To"))
    if start and end and end < start:
        search.errors.append(page.gettext("The end date is before the start date."))
        search.values["to"], end = "", None
    if start:
        search.variables["from"] = _midnight(start).isoformat()
        search.export["from"] = start.isoformat()
    if end:
        search.variables["to"] = _midnight(end + timedelta(days=1)).isoformat()
        search.export["to"] = (end + timedelta(days=1)).isoformat()
    number = search.values["number"]
    if number:
        if found := digits(number):
            search.variables["number"] = search.export["number"] = found
        else:
            search.errors.append(page.gettext("A number is written with digits only."))
            search.values["number"] = ""
    destination = search.values["destination"]
    if destination:
        if found := digits(destination):
            search.variables["destinationPrefix"] = search.export["destinationPrefix"] = found
        else:
            search.errors.append(
                page.gettext("A destination is the first digits of the numbers called.")
            )
            search.values["destination"] = ""
    direction = search.values["direction"].lower()
    if direction in DIRECTIONS:
        search.values["direction"] = direction
        search.variables["direction"] = direction.upper()
        search.export["direction"] = direction
    else:
        search.values["direction"] = ""
    sub = search.values["sub"]
    if sub:
        if any(s["id"] == sub for s in sub_accounts):
            search.variables["subAccountId"] = search.export["subAccountId"] = sub
        else:
            search.errors.append(page.gettext("That sub-account is not one of yours."))
            search.values["sub"] = ""
    return search


def cursor(params: Any, name: str) -> str | None:
    """The query's keyset cursor ``name``, or None when it is not one."""
    value = str(params.get(name, ""))
    return value if CURSOR_RE.match(value) else None


def digits(value: str) -> str | None:
    """A number as typed (spaces, dots, brackets, ``+`` and dashes dropped), or None when it
    is not digits."""
    kept = re.sub(r"[\s().+-]", "", value)
    return kept if kept.isdigit() else None


async def calls(request: Request) -> Response:
    page = await page_of(request)
    if not isinstance(page, Page):
        return page
    viewer = await signed_in(page, "ClientCallsViewer")
    if viewer is None:
        return to_login(page)
    params = request.query_params
    search = read_search(page, params, viewer["subAccounts"]["nodes"])
    after, before = cursor(params, "after"), cursor(params, "before")
    variables = {**search.variables, "first": PAGE_SIZE}
    if after:
        variables["after"] = after
    elif before:
        variables["before"] = before
    try:
        data = (await page.run("ClientCalls", variables)).data
    except OperationFailed:
        if not (after or before):
            raise
        # a cursor that is not one of ours (edited by hand): the first page of the search
        variables.pop("after", None)
        variables.pop("before", None)
        data = (await page.run("ClientCalls", variables)).data
    client = viewer["viewer"]["client"]
    currency = client["balance"]["currency"]
    result = data["calls"]
    totals = next((t for t in result["totals"] if t["currency"] == currency), None)
    info = result["pageInfo"]
    values = {
        "client": client,
        "currency": currency,
        "search": search,
        "sub_accounts": viewer["subAccounts"]["nodes"],
        "rows": [edge["node"] for edge in result["edges"]],
        "totals": totals,
        "next_query": search.query(after=info["endCursor"]) if info["hasNextPage"] else None,
        "previous_query": search.query(before=info["startCursor"])
        if info["hasPreviousPage"] and info["startCursor"]
        else None,
        "first_query": search.query() if (after or before) else None,
        "csv_url": "/exports/calls.csv" + ("?" + urlencode(search.export) if search.export else ""),
    }
    partial = request.headers.get("HX-Request") == "true"
    if partial and request.headers.get("HX-History-Restore-Request") != "true":
        return page.render("client/_calls_results.html", **values)
    return page.render("client/calls.html", **values)


def routes() -> list[Route]:
    return [Route("/calls", calls, methods=["GET"])]
