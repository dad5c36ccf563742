"""Signing in and out of the client portal, and the language menu (``templates/client/login.*``)."""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from frontends import i18n
from frontends.client.common import belongs_here, page_of
from frontends.web import Page, local_path


async def login(request: Request) -> Response:
    page = await page_of(request)
    if not isinstance(page, Page):
        return page
    if request.method == "GET":
        notice = None
        if request.query_params.get("reset"):
            notice = page.gettext("Your new password is set. Sign in with it.")
        return page.render("client/login.html", email="", error=None, notice=notice)
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
        if belongs_here(page, viewer["client"]):
            page.pass_cookies(outcome)
            return page.redirect(local_path(form.get("next")))
        await page.run("PortalLogout", token=result["token"])
    elif result["retryAfterSeconds"]:
        wait = result["retryAfterSeconds"]
        minutes = max(1, math.ceil(wait / 60))
        response = page.render(
            "client/login.html",
            status=429,
            email=email,
            error=page.ngettext(
                "Too many attempts. Try again in %(num)d minute.",
                "Too many attempts. Try again in %(num)d minutes.",
                minutes,
            )
            % {"num": minutes},
        )
        response.headers["Retry-After"] = str(wait)
        return response
    return page.render(
        "client/login.html",
        status=400,
        email=email,
        error=page.gettext("Wrong email or password."),
    )


async def logout(request: Request) -> Response:
    page = await page_of(request)
    if not isinstance(page, Page):
        return page
    if await page.form() is not None and page.token:
        page.pass_cookies(await page.run("PortalLogout"))
    return page.redirect("/login")


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
