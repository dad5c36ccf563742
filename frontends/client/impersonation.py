"""The end of a "log in as client" (``POST /impersonation/end``, the banner's "Back" button):
the session opened from the reseller portal is closed, its cookie dropped, and the browser
goes back to the reseller portal, where its owner is still signed in."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from frontends.client.common import page_of, to_login
from frontends.web import IMPERSONATION_COOKIE, Page


async def end(request: Request) -> Response:
    page = await page_of(request)
    if not isinstance(page, Page):
        return page
    if not page.impersonating:
        return to_login(page)
    if await page.form() is not None:
        await page.run("PortalLogout")
    response = page.redirect("/manage/clients")
    response.delete_cookie(IMPERSONATION_COOKIE)
    return response


def routes() -> list[Route]:
    return [Route("/impersonation/end", end, methods=["POST"])]
