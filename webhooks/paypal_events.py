"""PayPal Checkout's HTTP side: REST webhook deliveries, and the payer's way back from PayPal.

* ``POST /webhooks/paypal/events`` stores the delivery, verifies its signature and acts on it
  (``api.domain.paypal_checkout``) before answering: 200 when it is done with (processed, a
  duplicate, nothing to do, or flagged for a person), 400 when it is not PayPal's (PayPal
  redelivers a genuine one for days, so a fixed configuration still gets it), 503 when the
  signing certificate could not be fetched (PayPal redelivers, the worker retries).
* ``GET /webhooks/paypal/return?token=<order>`` captures the order the payer approved and sends
  them to their portal's ``/topup/return?order=<id>&topup=<outcome>``; ``GET
  /webhooks/paypal/cancel`` only sends them back (``topup=canceled``).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from api.domain import paypal_checkout, paypal_ipn
from api.domain.errors import DomainError
from webhooks import read_body

ANSWERS = {"rejected": 400, "retry": 503, "failed": 503}


async def events_endpoint(request: Request) -> Response:
    body = await read_body(request, paypal_checkout.MAX_EVENT_BYTES)
    if body is None:
        return PlainTextResponse("too large", status_code=413)
    event = await paypal_checkout.receive_event(
        request.app.state.sessions,
        request.app.state.settings,
        body=body,
        headers=request.headers,
    )
    return PlainTextResponse(event.status, status_code=ANSWERS.get(event.status, 200))


async def return_endpoint(request: Request) -> Response:
    state = request.app.state
    order = await paypal_checkout.find_order(state.sessions, request.query_params.get("token", ""))
    if order is None:
        return PlainTextResponse("unknown order", status_code=404)
    try:
        order = await paypal_checkout.capture_order(state.sessions, state.settings, order)
    except DomainError:
        return _back(order, "failed")
    return _back(order, order.status.lower())


async def cancel_endpoint(request: Request) -> Response:
    order = await paypal_checkout.find_order(
        request.app.state.sessions, request.query_params.get("token", "")
    )
    if order is None:
        return PlainTextResponse("unknown order", status_code=404)
    return _back(order, "canceled")


def _back(order, outcome: str) -> RedirectResponse:
    """To the portal's top-up result page, which reads the order's state itself."""
    return RedirectResponse(
        f"{order.return_to}{paypal_ipn.PORTAL_RETURN_PATH}?order={order.id}&topup={outcome}",
        status_code=303,
    )
