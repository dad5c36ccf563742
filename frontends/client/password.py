"""Forgot password (``/password/forgot``) and the reset link's page (``/password/reset``),
``templates/client/password_*``.

The forgot page always answers the same ("if the address is known, an email is on its
way"): which addresses are logins is never told. The link's page sets the new password
through ``passwordReset``; a used, expired or forged link is refused there, and the form
offers to ask for a new one.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from frontends import i18n
from frontends.client.common import page_of
from frontends.web import Page


def _expired(page: Page, template: str, **values) -> Response:
    return page.render(
        template,
        status=403,
        error=page.gettext("This form has expired. Please try again."),
        **values,
    )


async def forgot(request: Request) -> Response:
    page = await page_of(request)
    if not isinstance(page, Page):
        return page
    if request.method == "GET":
        return page.render("client/password_forgot.html", email="", sent=False, error=None)
    form = await page.form()
    if form is None:
        return _expired(page, "client/password_forgot.html", email="", sent=False)
    await page.run(
        "PortalPasswordResetRequest", {"email": form.get("email", "").strip()}, anonymous=True
    )
    return page.render("client/password_forgot.html", email="", sent=True, error=None)


def _reset_error(page: Page, errors: list[dict]) -> str:
    fields = {e["field"] for e in errors}
    if "password" in fields:
        return page.gettext("Choose a password of at least 8 characters.")
    return page.gettext(
        "This link does not work any more: it was used, it expired or a newer one replaced it."
        " Ask for a new one."
    )


async def reset(request: Request) -> Response:
    page = await page_of(request)
    if not isinstance(page, Page):
        return page
    if request.method == "GET":
        page.speak(i18n.supported(request.query_params.get("lang")))  # the email's language
        token = request.query_params.get("token", "")
        return page.render("client/password_reset.html", token=token, error=None)
    form = await page.form()
    if form is None:
        return _expired(page, "client/password_reset.html", token="")
    page.speak(i18n.supported(form.get("lang")))
    token = form.get("token", "")
    password = form.get("password", "")
    if password != form.get("confirm", ""):
        return page.render(
            "client/password_reset.html",
            status=400,
            token=token,
            error=page.gettext("The two passwords are not the same."),
        )
    result = (
        await page.run(
            "PortalPasswordReset", {"token": token, "password": password}, anonymous=True
        )
    ).data["passwordReset"]
    if result["errors"]:
        bad_link = all(e["field"] != "password" for e in result["errors"])
        return page.render(
            "client/password_reset.html",
            status=400,
            token="" if bad_link else token,
            error=_reset_error(page, result["errors"]),
        )
    return page.redirect("/login?reset=1")


def routes() -> list[Route]:
    return [
        Route("/password/forgot", forgot, methods=["GET", "POST"]),
        Route("/password/reset", reset, methods=["GET", "POST"]),
    ]
