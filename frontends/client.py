"""The client portal, served at ``/`` of a reseller's host: login, logout, the language menu
and the Home page. Each page's operations are in the ``.graphql`` file beside its template
(``templates/client/``).

Who may sign in: a client user of the reseller whose host it is. Anyone else (a reseller's
staff, the operator, another reseller's client) is told "wrong email or password", as for a
wrong password, and the session the login made is closed at once: a portal on one brand's
host never shows another's.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from strawberry.relay import to_base64

from frontends import i18n
from frontends.web import Page, local_path, not_found

CHART_DAYS = 30


def _belongs_here(page: Page, client: dict[str, Any] | None) -> bool:
    """Whether the viewer's client is one of this host's reseller's clients."""
    if client is None or page.theme.reseller_id is None:
        return False
    return client["reseller"]["id"] == to_base64("Reseller", page.theme.reseller_id)


async def _page(request: Request) -> Page | Response:
    page = await Page.of(request)
    return not_found(request) if page is None else page


# --- login / logout ----------------------------------------------------------------------------


async def login(request: Request) -> Response:
    page = await _page(request)
    if not isinstance(page, Page):
        return page
    if request.method == "GET":
        return page.render("client/login.html", email="", error=None)
    form = await page.form()
    if form is None:
        return page.render(
            "client/login.html",
            status=403,
            email="",
            error=page.gettext("This form has expired. Please try again."),
        )
    email = form.get("email", "").strip()
    outcome = await page.run(
        "PortalLogin", {"email": email, "password": form.get("password", "")}, anonymous=True
    )
    result = outcome.data["login"]
    if not result["errors"]:
        viewer = (await page.run("PortalViewer", token=result["token"])).data["viewer"]
        if _belongs_here(page, viewer["client"]):
            page.pass_cookies(outcome)
            return page.redirect(local_path(form.get("next")))
        await page.run("PortalLogout", token=result["token"])
    return page.render(
        "client/login.html",
        status=400,
        email=email,
        error=page.gettext("Wrong email or password."),
    )


async def logout(request: Request) -> Response:
    page = await _page(request)
    if not isinstance(page, Page):
        return page
    if await page.form() is not None and page.token:
        page.pass_cookies(await page.run("PortalLogout"))
    return page.redirect("/login")


async def language(request: Request) -> Response:
    """The language menu: remembered in this browser (``dialtone_lang``)."""
    page = await _page(request)
    if not isinstance(page, Page):
        return page
    form = await page.form()
    if form is None:
        return page.redirect("/")
    chosen = i18n.supported(form.get("lang"))
    response = page.redirect(local_path(form.get("next")))
    if chosen:
        response.set_cookie(
            i18n.COOKIE,
            chosen,
            max_age=365 * 24 * 3600,
            samesite="lax",
            secure=request.app.state.settings.cookie_secure,
        )
    return response


# --- home --------------------------------------------------------------------------------------


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


async def _signed_in(page: Page, operation: str, variables: dict | None = None) -> dict | None:
    """The operation's data when a client of this host is signed in (its language spoken)."""
    if not page.token:
        return None
    data = (await page.run(operation, variables)).data
    client = data["viewer"]["client"]
    if not _belongs_here(page, client):
        return None
    page.speak(client["language"])
    return data


async def home(request: Request) -> Response:
    page = await _page(request)
    if not isinstance(page, Page):
        return page
    today = datetime.now(UTC).date()
    data = await _signed_in(page, "ClientHome", _periods(today))
    if data is None:
        return page.redirect("/login")
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
    page = await _page(request)
    if not isinstance(page, Page):
        return page
    data = await _signed_in(page, "ClientBalance")
    if data is None:  # the session ended: htmx takes the browser to the login page
        response = page.redirect("/login")
        response.headers["HX-Redirect"] = "/login"
        return response
    return page.render("client/_balance.html", client=data["viewer"]["client"])


def routes() -> list[Route]:
    return [
        Route("/", home, methods=["GET"]),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/language", language, methods=["POST"]),
        Route("/home/balance", balance, methods=["GET"]),
    ]
