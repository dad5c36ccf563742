"""Signing in and out, for every portal: the client portal at ``/login``, the reseller portal
at ``/manage/login`` and the operator console at ``/operator/login``. Each says who it admits
(``admits``, given the viewer of the new session); anyone else is told "wrong email or
password", as for a wrong password, and the session the login made is closed at once, so a
portal never shows what is not its own. A throttled login says how long to wait (429 and
``Retry-After``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from frontends.web import Page, local_path

Admits = Callable[[Page, dict[str, Any]], bool]


async def login(page: Page, *, template: str, admits: Admits, home: str, **values: Any) -> Response:
    """The login page (GET) or its form's answer (POST): on success, to the form's ``next``
    (a path of this site) or ``home``."""
    if page.request.method == "GET":
        return page.render(template, email="", error=None, **values)
    form = await page.form()
    if form is None:
        return page.render(
            template,
            status=403,
            email="",
            error=page.gettext("This form has expired. Please try again."),
            **values,
        )
    email = form.get("email", "").strip()
    outcome = await page.run(
        "PortalLogin", {"email": email, "password": form.get("password", "")}, anonymous=True
    )
    result = outcome.data["login"]
    if not result["errors"]:
        viewer = (await page.run("PortalViewer", token=result["token"])).data["viewer"]
        if admits(page, viewer):
            page.pass_cookies(outcome)
            return page.redirect(local_path(form.get("next"), home))
        await page.run("PortalLogout", token=result["token"])
    elif result["retryAfterSeconds"]:
        wait = result["retryAfterSeconds"]
        minutes = max(1, math.ceil(wait / 60))
        response = page.render(
            template,
            status=429,
            email=email,
            error=page.ngettext(
                "Too many attempts. Try again in %(num)d minute.",
                "Too many attempts. Try again in %(num)d minutes.",
                minutes,
            )
            % {"num": minutes},
            **values,
        )
        response.headers["Retry-After"] = str(wait)
        return response
    return page.render(
        template,
        status=400,
        email=email,
        error=page.gettext("Wrong email or password."),
        **values,
    )


async def logout(page: Page, *, to: str) -> Response:
    """Close the session (a POST with its CSRF token) and go to the login page ``to``."""
    if await page.form() is not None and page.token:
        page.pass_cookies(await page.run("PortalLogout"))
    return page.redirect(to)
