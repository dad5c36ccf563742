"""The Top up page (``templates/client/topup.*``) and the page PayPal sends the payer back to.

Two ways to pay, each shown only when the reseller set it up (read through GraphQL):

* the PayPal button (IPN): a form per the ``paypalTopUpForm`` query, one button per amount,
  posted straight to PayPal. PayPal tells us of the payment by IPN, on its own schedule.
* PayPal Checkout (Orders v2), by card or PayPal account: ``paypalOrderCreate`` makes the
  order and the browser is sent to PayPal's page to approve it (a plain redirect, no script
  from PayPal). PayPal sends the payer back to ``/webhooks/paypal/return``, which captures
  the order and redirects here with the order's id.

``/topup/return`` shows how it went (completed, pending, declined, canceled), read through
GraphQL: the order's status (Checkout), or the newest payment (the PayPal button: a payment
newer than the one the Top up page saw). While the money has not landed, its panel (the
outcome and the balance) asks again every few seconds (htmx, ``/topup/progress``) and stops
once it is settled, or after ``POLL_FOR`` (PayPal may hold a payment for days).
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from babel.numbers import (
    NumberFormatError,
    format_decimal,
    get_currency_precision,
    parse_decimal,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from strawberry.relay import to_base64

from frontends.client.common import page_of, signed_in, to_login
from frontends.web import Page

POLL_EVERY = "3s"
POLL_FOR = 15 * 60  # seconds: after that the page stops asking and says it may take longer
OUTCOMES = ("completed", "pending", "declined", "canceled", "unknown")
ORDER_OUTCOMES = {
    "COMPLETED": "completed",
    "PENDING": "pending",
    "APPROVED": "pending",  # approved, its capture not confirmed yet
    "DECLINED": "declined",
    "DENIED": "declined",
    "FAILED": "declined",
    "VOIDED": "declined",
    "CREATED": "canceled",  # never approved
    "PAYER_ACTION_REQUIRED": "canceled",
}


def _amount_value(amount: str, currency: str) -> str:
    """An amount as PayPal's form wants it: the currency's digits, e.g. ``10.00``."""
    quantum = Decimal(1).scaleb(-get_currency_precision(currency))
    return str(Decimal(amount).quantize(quantum))


def _button_form(form: dict[str, Any] | None, latest: str) -> dict[str, Any] | None:
    """The PayPal button's fields, its return address telling the result page which payment
    was the newest before this one."""
    if form is None or not form["amounts"]:
        return None
    fields = []
    for f in form["hiddenFields"]:
        value = f["value"]
        if f["name"] == "return":
            value += ("&" if "?" in value else "?") + urlencode({"after": latest})
        fields.append((f["name"], value))
    amounts = [(_amount_value(a["amount"], a["currency"]), a) for a in form["amounts"]]
    return {"action": form["actionUrl"], "fields": fields, "amounts": amounts}


async def _top_up_page(page: Page, *, status: int = 200, error: str | None = None, amount=""):
    data = await signed_in(page, "ClientTopUp")
    if data is None:
        return to_login(page)
    client = data["viewer"]["client"]
    latest = client["latest"]["nodes"]
    button = _button_form(data["paypalTopUpForm"], latest[0]["id"] if latest else "none")
    if not amount and button:
        amount = _typed_amount(page, button["amounts"][0][1]["amount"])
    return page.render(
        "client/topup.html",
        status=status,
        client=client,
        button=button,
        checkout=data["paypalCheckoutAvailable"],
        currency=client["balance"]["currency"],
        amount=amount,
        error=error,
    )


def _typed_amount(page: Page, amount: str) -> str:
    """An amount written for the page's language, as the payer would type it (e.g. ``25``)."""
    value = Decimal(amount)
    if value == value.to_integral_value():
        value = value.to_integral_value()
    return format_decimal(value, locale=page.lang, group_separator=False)


async def top_up(request: Request) -> Response:
    page = await page_of(request)
    if not isinstance(page, Page):
        return page
    return await _top_up_page(page)


def _checkout_error(page: Page, errors: list[dict[str, Any]]) -> str:
    code = errors[0]["code"]
    if code == "VALIDATION":
        return page.gettext("Enter an amount such as 25 or 25.50.")
    if code == "PROVIDER_UNAVAILABLE":
        return page.gettext("PayPal could not be reached. Please try again in a moment.")
    if code == "CONFLICT":
        return page.gettext("Card payments are not available at the moment.")
    return page.gettext("PayPal did not accept this payment. Please try again.")


async def checkout(request: Request) -> Response:
    """Start a Checkout top-up: make the order, send the payer to PayPal to approve it."""
    page = await page_of(request)
    if not isinstance(page, Page):
        return page
    form = await page.form()
    if form is None:
        return await _top_up_page(
            page, status=403, error=page.gettext("This form has expired. Please try again.")
        )
    if await signed_in(page, "ClientTopUp") is None:
        return to_login(page)
    typed = form.get("amount", "").strip()
    try:
        amount = parse_decimal(typed, locale=page.lang, strict=True)
    except NumberFormatError:
        amount = None
    if amount is None or not amount.is_finite() or amount <= 0:
        error = page.gettext("Enter an amount such as 25 or 25.50.")
        return await _top_up_page(page, status=400, error=error, amount=typed)
    result = (await page.run("TopUpCheckout", {"amount": str(amount)})).data["paypalOrderCreate"]
    if result["errors"]:
        error = _checkout_error(page, result["errors"])
        return await _top_up_page(page, status=400, error=error, amount=typed)
    return page.redirect(result["order"]["approveUrl"])


# --- the way back -----------------------------------------------------------------------------


async def _progress(page: Page) -> dict[str, Any] | None:
    """Where the top-up named by the query stands: its outcome, the client, whether to ask
    again; None when nobody of this host is signed in."""
    query = page.request.query_params
    told = query.get("topup", "")
    order = query.get("order", "")
    try:
        started = int(query.get("started", ""))
    except ValueError:
        started = int(time.time())
    amount = None
    if order:
        if not order.isdigit() or len(order) > 18:
            order = "0"
        data = await signed_in(page, "TopUpOrder", {"id": to_base64("PaypalOrder", order)})
        if data is None:
            return None
        node = data["node"]
        if node is None:
            outcome = "unknown"
        else:
            outcome = ORDER_OUTCOMES.get(node["status"], "pending")
            amount = node["amount"]
    else:
        data = await signed_in(page, "TopUpLatestPayment")
        if data is None:
            return None
        newest = data["viewer"]["client"]["payments"]["nodes"]
        if told == "canceled":
            outcome = "canceled"
        elif newest and newest[0]["id"] != query.get("after") and newest[0]["method"] == "PAYPAL":
            outcome = "completed"
            amount = newest[0]["amount"]
        else:
            outcome = "pending"
    waiting = outcome == "pending"
    late = waiting and time.time() - started > POLL_FOR
    params = {k: v for k, v in query.items() if k in ("topup", "order", "after", "via")}
    params["started"] = str(started)
    return {
        "client": data["viewer"]["client"],
        "outcome": outcome,
        "amount": amount,
        "poll": waiting and not late,
        "late": late,
        "progress_url": "/topup/progress?" + urlencode(params),
        "poll_every": POLL_EVERY,
    }


async def returned(request: Request) -> Response:
    page = await page_of(request)
    if not isinstance(page, Page):
        return page
    state = await _progress(page)
    if state is None:
        return to_login(page)
    return page.render("client/topup_return.html", **state)


async def progress(request: Request) -> Response:
    """The result panel alone (htmx asks again while the money has not landed)."""
    page = await page_of(request)
    if not isinstance(page, Page):
        return page
    state = await _progress(page)
    if state is None:
        return to_login(page)
    return page.render("client/_topup_progress.html", **state)


def routes() -> list[Route]:
    return [
        Route("/topup", top_up, methods=["GET"]),
        Route("/topup/checkout", checkout, methods=["POST"]),
        Route("/topup/return", returned, methods=["GET"]),
        Route("/topup/progress", progress, methods=["GET"]),
    ]
