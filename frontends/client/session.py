"""Signing in and out of the client portal, and the language menu (``templates/client/login.*``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from frontends import i18n, signin
from frontends.client.common import belongs_here, page_of
from frontends.web import Page, local_path


async def login(request: Request) -> Response:
    page = await page_of(request)
    if not isinstance(page, Page):
        return page
    notice = None
    if request.method == "GET" and request.query_params.get("reset"):
        notice = page.gettext("Your new password is set. Sign in with it.")
    return await signin.login(
        page,
        template="client/login.html",
        admits=lambda page, viewer: belongs_here(page, viewer["client"]),
        home="/",
        notice=notice,
    )


async def logout(request: Request) -> Response:
    page = await page_of(request)
    if not isinstance(page, Page):
        return page
    return await signin.logout(page, to="/login")


async def language(request: Request) -> Response:
    """The language menu: remembered in this browser (``dialtone_lang``)."""
    page = await page_of(request)
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


def routes() -> list[Route]:
    return [
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/language", language, methods=["POST"]),
    ]
