"""The Profile page (``templates/client/profile.*``): the client's contact details, its own
language (which the portal then speaks) and low-balance threshold, through
``clientProfileUpdate``; its portal users; the signed-in user's password, through
``passwordChange`` (its other sessions end)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from frontends import i18n
from frontends.client.common import page_of, signed_in, to_login
from frontends.web import Page

FIELDS = ("contact_name", "email", "phone", "language", "low_balance_threshold")
INPUT_NAMES = {
    "contact_name": "contactName",
    "email": "email",
    "phone": "phone",
    "language": "language",
    "low_balance_threshold": "lowBalanceThreshold",
}


def _threshold(amount: str) -> str:
    """A stored amount for the form's input (two decimals, more only when it has them)."""
    value = Decimal(amount).normalize()
    return str(value.quantize(Decimal("0.01")) if value.as_tuple().exponent >= -2 else value)


def _form_of(client: dict[str, Any]) -> dict[str, str]:
    return {
        "contact_name": client["contactName"],
        "email": client["email"],
        "phone": client["phone"],
        "language": i18n.supported(client["language"]) or i18n.DEFAULT,
        "low_balance_threshold": _threshold(client["lowBalanceThreshold"]["amount"]),
    }


def _show(page: Page, data: dict[str, Any], status: int = 200, **values: Any) -> Response:
    client = data["viewer"]["client"]
    values.setdefault("form", _form_of(client))
    return page.render(
        "client/profile.html",
        status=status,
        client=client,
        currency=client["lowBalanceThreshold"]["currency"],
        user_email=data["viewer"]["user"]["email"],
        **values,
    )


def _profile_error(page: Page, errors: list[dict[str, Any]]) -> str:
    messages = {
        "email": page.gettext("Enter a valid email address."),
        "lowBalanceThreshold": page.gettext("Enter an amount of zero or more."),
        "language": page.gettext("Choose a language from the list."),
    }
    for error in errors:
        if error["field"] in messages:
            return messages[error["field"]]
    return page.gettext("Some details are too long. Please shorten them.")


def _password_error(page: Page, errors: list[dict[str, Any]]) -> str:
    fields = {e["field"] for e in errors}
    if any(e["code"] == "PERMISSION_DENIED" for e in errors):
        return page.gettext("Only the client changes its password, not someone acting as it.")
    if "currentPassword" in fields:
        return page.gettext("The current password is wrong.")
    if any(e["code"] == "CONFLICT" for e in errors):
        return page.gettext("The new password is the same as the current one.")
    return page.gettext("Choose a password of at least 8 characters.")


async def profile(request: Request) -> Response:
    page = await page_of(request)
    if not isinstance(page, Page):
        return page
    data = await signed_in(page, "ClientProfile")
    if data is None:
        return to_login(page)
    notice = {
        "saved": page.gettext("Your details are saved."),
        "password": page.gettext("Your password is changed. Your other sessions are signed out."),
    }.get(request.query_params.get("done", ""))
    return _show(page, data, notice=notice)


async def save(request: Request) -> Response:
    page = await page_of(request)
    if not isinstance(page, Page):
        return page
    data = await signed_in(page, "ClientProfile")
    if data is None:
        return to_login(page)
    form = await page.form()
    if form is None:
        return _show(
            page, data, 403, profile_error=page.gettext("This form has expired. Please try again.")
        )
    given = {name: form.get(name, "").strip() for name in FIELDS}
    variables: dict[str, Any] = {INPUT_NAMES[n]: given[n] for n in FIELDS if n != "language"}
    variables["language"] = i18n.supported(given["language"]) or given["language"]
    try:
        variables["lowBalanceThreshold"] = str(Decimal(given["low_balance_threshold"] or "0"))
    except InvalidOperation:
        return _show(
            page,
            data,
            400,
            form=given,
            profile_error=page.gettext("Enter an amount of zero or more."),
        )
    result = (await page.run("ClientProfileSave", {"input": variables})).data
    result = result["clientProfileUpdate"]
    if result["errors"]:
        return _show(
            page, data, 400, form=given, profile_error=_profile_error(page, result["errors"])
        )
    response = page.redirect("/profile?done=saved")
    # the portal speaks the client's own language from now on, whatever was picked before
    response.delete_cookie(i18n.COOKIE)
    return response


async def change_password(request: Request) -> Response:
    page = await page_of(request)
    if not isinstance(page, Page):
        return page
    data = await signed_in(page, "ClientProfile")
    if data is None:
        return to_login(page)
    form = await page.form()
    if form is None:
        return _show(
            page, data, 403, password_error=page.gettext("This form has expired. Please try again.")
        )
    new = form.get("new_password", "")
    if new != form.get("confirm_password", ""):
        return _show(
            page, data, 400, password_error=page.gettext("The two passwords are not the same.")
        )
    outcome = await page.run(
        "PortalPasswordChange", {"current": form.get("current_password", ""), "new": new}
    )
    result = outcome.data["passwordChange"]
    if result["errors"]:
        return _show(page, data, 400, password_error=_password_error(page, result["errors"]))
    return page.redirect("/profile?done=password")


def routes() -> list[Route]:
    return [
        Route("/profile", profile, methods=["GET"]),
        Route("/profile", save, methods=["POST"]),
        Route("/profile/password", change_password, methods=["POST"]),
    ]
