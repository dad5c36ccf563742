"""The Home page (``templates/client/home.*``): balance or credit, status, this month's
figures and the last 30 days' spend, drawn and as a table."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from frontends.client.common import page_of, signed_in, to_login
from frontends.web import Page

CHART_DAYS = 30


def _periods(today: date) -> dict[str, str]:
    """This month so far and the chart's 30 UTC days (today included), as operation variables."""
    midnight = datetime.combine(today, time(0), tzinfo=UTC)
    return {
        "monthStart": midnight.replace(day=1).isoformat(),
        "chartFrom": (midnight - timedelta(days=CHART_DAYS - 1)).isoformat(),
        "chartTo": (midnight + timedelta(days=1)).isoformat(),
    }


def _chart(today: date, daily: list[dict[str, Any]], currency: str) -> list[dict[str, Any]]:
    """One row per day of the chart, days without calls at zero, oldest first."""
    by_day = {row["day"]: row for row in daily if row["currency"] == currency}
    rows = []
    for back in range(CHART_DAYS - 1, -1, -1):
        day = (today - timedelta(days=back)).isoformat()
        row = by_day.get(day)
        rows.append(
            {
                "day": day,
                "spend": row["sell"]["amount"] if row else "0",
                "minutes": row["minutes"] if row else "0",
                "calls": row["count"] if row else 0,
            }
        )
    return rows


async def home(request: Request) -> Response:
    page = await page_of(request)
    if not isinstance(page, Page):
        return page
    today = datetime.now(UTC).date()
    data = await signed_in(page, "ClientHome", _periods(today))
    if data is None:
        return to_login(page)
    client = data["viewer"]["client"]
    currency = client["balance"]["currency"]
    month = next((t for t in data["month"]["totals"] if t["currency"] == currency), None)
    return page.render(
        "client/home.html",
        client=client,
        month=month,
        currency=currency,
        chart=_chart(today, data["chart"]["daily"], currency),
    )


async def balance(request: Request) -> Response:
    """The balance panel alone (htmx refreshes it)."""
    page = await page_of(request)
    if not isinstance(page, Page):
        return page
    data = await signed_in(page, "ClientBalance")
    if data is None:  # the session ended: htmx takes the browser to the login page
        return to_login(page)
    return page.render("client/_balance.html", client=data["viewer"]["client"])


def routes() -> list[Route]:
    return [
        Route("/", home, methods=["GET"]),
        Route("/home/balance", balance, methods=["GET"]),
    ]
