"""The Numbers page (``templates/client/numbers.*``): the client's phone numbers (DIDs), each
with where its calls go, editable: one of its sub-accounts, an outside number, or nowhere
(``didForwardingSet``, which lets a client change its own numbers only). A plain POST form per
number; after a change the page is shown again (303) saying what was saved."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from frontends.client.common import page_of, placed, signed_in, to_login
from frontends.web import Page

MODES = ("none", "sub_account", "forward")


def _error_text(page: Page, error: dict[str, Any]) -> str:
    """The API's refusal, in the page's language."""
    field, message = error.get("field"), error.get("message", "")
    if error.get("code") == "NOT_FOUND":
        if field == "subAccountId":
            return page.gettext("That sub-account is not one of yours.")
        return page.gettext("That number is not one of yours.")
    if field == "forwardTo":
        if "itself" in message:
            return page.gettext("A number cannot forward to itself.")
        return page.gettext(
            "Enter the number to forward to with its country code, e.g. +1 212 555 0123."
        )
    if field == "subAccountId":
        return page.gettext("That sub-account is disabled: choose another one.")
    return message


async def _show(page: Page, *, status: int = 200, **extra: Any) -> Response | None:
    data = await signed_in(page, "ClientNumbers")
    if data is None:
        return None
    failed = placed(extra.get("failed"), data["dids"]["nodes"])
    return page.render(
        "client/numbers.html",
        status=status,
        path="/numbers",
        dids=data["dids"]["nodes"],
        sub_accounts=[s for s in data["subAccounts"]["nodes"] if s["status"] == "ACTIVE"],
        saved=extra.get("saved"),
        failed=failed,
    )


async def numbers(request: Request) -> Response:
    page = await page_of(request)
    if not isinstance(page, Page):
        return page
    saved = request.query_params.get("saved", "")[:32] or None
    return await _show(page, saved=saved) or to_login(page)


async def set_forwarding(request: Request) -> Response:
    page = await page_of(request)
    if not isinstance(page, Page):
        return page
    if request.method == "GET":  # the language menu of an answer to a POST comes back here
        return page.redirect("/numbers")
    if not page.token:
        return to_login(page)
    form = await page.form()
    if form is None:
        failed = {"id": None, "message": page.gettext("This form has expired. Please try again.")}
        return await _show(page, status=403, failed=failed) or to_login(page)
    did_id, mode = form.get("id", ""), form.get("mode", "")
    variables: dict[str, Any] = {"id": did_id}
    if mode == "sub_account":
        variables["subAccountId"] = form.get("sub_account") or None
        if variables["subAccountId"] is None:
            failed = {
                "id": did_id,
                "mode": mode,
                "message": page.gettext("Choose the sub-account to ring."),
            }
            return await _show(page, status=400, failed=failed) or to_login(page)
    elif mode == "forward":
        variables["forwardTo"] = form.get("forward_to", "").strip()
        if not variables["forwardTo"]:
            failed = {
                "id": did_id,
                "mode": mode,
                "message": page.gettext("Enter the number to forward to."),
            }
            return await _show(page, status=400, failed=failed) or to_login(page)
    elif mode != "none":
        return page.redirect("/numbers")
    data = await signed_in(page, "ClientNumbers")  # the session is this host's client's
    if data is None:
        return to_login(page)
    result = (await page.run("ClientDidForwardingSet", variables)).data["didForwardingSet"]
    if result["errors"]:
        failed = {
            "id": did_id,
            "mode": mode,
            "forward_to": form.get("forward_to", ""),
            "message": _error_text(page, result["errors"][0]),
        }
        return await _show(page, status=400, failed=failed) or to_login(page)
    return page.redirect(f"/numbers?saved={result['did']['number']}")


def routes() -> list[Route]:
    return [
        Route("/numbers", numbers, methods=["GET"]),
        Route("/numbers/forwarding", set_forwarding, methods=["GET", "POST"]),
    ]
