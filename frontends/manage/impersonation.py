"""Log in as client (``POST /manage/clients/{client_id}/impersonate``): a reseller owner opens
the client's portal, on this host, as the client.

The API opens the session (``clientImpersonate``: at most an hour, audited with both, no
password or user changes); the page keeps its token in a cookie of its own
(:data:`frontends.web.IMPERSONATION_COOKIE`) beside the owner's session, so the client portal
runs as the client while it is there (``frontends.client.common.page_of``) and "Back" ends it
and comes back here with the owner still signed in (``frontends.client.impersonation``)."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.responses import Response
from starlette.routing import Route

from frontends.consoles import MANAGE, forbidden, posted, route
from frontends.web import IMPERSONATION_COOKIE, Page, not_found


async def impersonate(page: Page) -> Response:
    if await posted(page, MANAGE) is None:
        return page.redirect("/manage/clients")
    client_id = page.request.path_params["client_id"]
    result = (await page.run("ManageClientImpersonate", {"clientId": client_id})).data[
        "clientImpersonate"
    ]
    if result["errors"]:
        code = result["errors"][0]["code"]
        if code == "NOT_FOUND":
            return not_found(page.request)
        if code == "PERMISSION_DENIED":
            return forbidden(page, MANAGE)
        message = page.gettext("This client has no portal login yet: give it one first.")
        return page.render("manage/impersonation_refused.html", status=400, message=message)
    response = page.redirect("/")
    # the cookie lasts as long as the session the API opened (at most an hour)
    expires = datetime.fromisoformat(result["expiresAt"])
    response.set_cookie(
        IMPERSONATION_COOKIE,
        result["token"],
        max_age=max(0, int((expires - datetime.now(UTC)).total_seconds())),
        httponly=True,
        samesite="lax",
        secure=page.request.app.state.settings.cookie_secure,
    )
    return response


def routes() -> list[Route]:
    return [route(MANAGE, "/clients/{client_id}/impersonate", impersonate, ["POST"])]
