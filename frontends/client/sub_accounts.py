"""The Sub-accounts page (``templates/client/sub_accounts.*``): each SIP account's username,
the server and realm to register with, its caller ID (chosen among the numbers the client holds:
``subAccountCallerIdSet`` refuses any other), and a password reset whose new secret is shown
on the answering page only, this once (never in an address, never stored by the page)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from frontends.client.common import page_of, placed, signed_in, to_login
from frontends.web import Page


def _error_text(page: Page, error: dict[str, Any], caller_id: str) -> str:
    """The API's refusal, in the page's language."""
    if error.get("code") == "NOT_FOUND":
        return page.gettext("That sub-account is not one of yours.")
    if error.get("field") == "callerId":
        if "is not one of your numbers" in error.get("message", ""):
            return page.gettext(
                "%(number)s is not one of your numbers: the caller ID must be a number you hold."
            ) % {"number": caller_id}
        return page.gettext("A caller ID is a phone number, e.g. +1 415 555 0100.")
    return error.get("message", "")


async def _show(page: Page, status: int = 200, **extra: Any) -> Response | None:
    data = await signed_in(page, "ClientSubAccounts")
    if data is None:
        return None
    failed = placed(extra.get("failed"), data["subAccounts"]["nodes"])
    return page.render(
        "client/sub_accounts.html",
        status=status,
        path="/sub-accounts",
        sub_accounts=data["subAccounts"]["nodes"],
        numbers=data["viewer"]["client"]["callerIdNumbers"],
        saved=extra.get("saved"),
        failed=failed,
        secret=extra.get("secret"),
    )


async def sub_accounts(request: Request) -> Response:
    page = await page_of(request)
    if not isinstance(page, Page):
        return page
    saved = request.query_params.get("saved", "")[:64] or None
    return await _show(page, saved=saved) or to_login(page)


async def _checked_form(page: Page) -> dict[str, str] | Response:
    if page.request.method == "GET":  # the language menu of an answer to a POST comes back here
        return page.redirect("/sub-accounts")
    if not page.token:
        return to_login(page)
    form = await page.form()
    if form is None:
        failed = {"id": None, "message": page.gettext("This form has expired. Please try again.")}
        return await _show(page, 403, failed=failed) or to_login(page)
    if await signed_in(page, "PortalViewer") is None:  # the session is this host's client's
        return to_login(page)
    return form


async def set_caller_id(request: Request) -> Response:
    page = await page_of(request)
    if not isinstance(page, Page):
        return page
    form = await _checked_form(page)
    if not isinstance(form, dict):
        return form
    sub_id, caller_id = form.get("id", ""), form.get("caller_id", "").strip()
    result = (
        await page.run("ClientSubAccountCallerIdSet", {"id": sub_id, "callerId": caller_id})
    ).data["subAccountCallerIdSet"]
    if result["errors"]:
        failed = {"id": sub_id, "message": _error_text(page, result["errors"][0], caller_id)}
        return await _show(page, 400, failed=failed) or to_login(page)
    return page.redirect(f"/sub-accounts?saved={result['subAccount']['username']}")


async def reset_password(request: Request) -> Response:
    page = await page_of(request)
    if not isinstance(page, Page):
        return page
    form = await _checked_form(page)
    if not isinstance(form, dict):
        return form
    sub_id = form.get("id", "")
    result = (await page.run("ClientSubAccountSecretReset", {"id": sub_id})).data[
        "subAccountSecretReset"
    ]
    if result["errors"]:
        failed = {"id": sub_id, "message": _error_text(page, result["errors"][0], "")}
        return await _show(page, 400, failed=failed) or to_login(page)
    secret = {"id": sub_id, "username": result["subAccount"]["username"], "value": result["secret"]}
    return await _show(page, secret=secret) or to_login(page)


def routes() -> list[Route]:
    return [
        Route("/sub-accounts", sub_accounts, methods=["GET"]),
        Route("/sub-accounts/caller-id", set_caller_id, methods=["GET", "POST"]),
        Route("/sub-accounts/password", reset_password, methods=["GET", "POST"]),
    ]
