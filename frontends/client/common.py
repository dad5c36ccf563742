"""What every client portal page shares: the host's page, who may see it, and the operation
run as the signed-in client.

Who may sign in: a client user of the reseller whose host it is. Anyone else (a reseller's
staff, the operator, another reseller's client) is told "wrong email or password", as for a
wrong password, and the session the login made is closed at once: a portal on one brand's
host never shows another's.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from strawberry.relay import to_base64

from frontends.web import IMPERSONATION_COOKIE, Page, not_found


def belongs_here(page: Page, client: dict[str, Any] | None) -> bool:
    """Whether the viewer's client is one of this host's reseller's clients."""
    if client is None or page.theme.reseller_id is None:
        return False
    return client["reseller"]["id"] == to_base64("Reseller", page.theme.reseller_id)


async def page_of(request: Request) -> Page | Response:
    """The request's page, or the plain 404 of a host that serves no portal."""
    page = await Page.of(request)
    if page is None:
        return not_found(request)
    page.act_as_client()
    return page


async def signed_in(page: Page, operation: str, variables: dict | None = None) -> dict | None:
    """The operation's data when a client of this host is signed in (its language spoken).

    The operation must select ``viewer { client { reseller { id } language } }``, and
    ``billingMode`` for the menu (without it, the menu shows every page)."""
    if not page.token:
        return None
    data = (await page.run(operation, variables)).data
    client = data["viewer"]["client"]
    if not belongs_here(page, client):
        return None
    page.speak(client["language"])
    page.billing_mode = client.get("billingMode")
    return data


def to_login(page: Page) -> Response:
    """Where a page goes when nobody of this host is signed in (htmx follows it too); when a
    "log in as client" session is over, back to the reseller portal."""
    to = "/manage/clients" if page.impersonating else "/login"
    response = page.redirect(to)
    response.headers["HX-Redirect"] = to
    if page.impersonating:
        response.delete_cookie(IMPERSONATION_COOKIE)
    return response


def placed(failed: dict[str, Any] | None, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A refusal shown beside its row, or above them all when its id is not one on the page."""
    if failed and failed["id"] not in {row["id"] for row in rows}:
        return {**failed, "id": None}
    return failed
