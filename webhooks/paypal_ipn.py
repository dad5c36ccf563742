"""``POST /webhooks/paypal/ipn``: PayPal's Instant Payment Notifications.

The message is stored exactly as it came and PayPal gets its 200 at once; verification (the
postback) and processing run after the answer is sent, and the worker retries what could not be
verified (``api.domain.paypal_ipn``).
"""

from __future__ import annotations

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import PlainTextResponse

from api.db import transaction
from api.domain import paypal_ipn
from webhooks import read_body


async def ipn_endpoint(request: Request) -> PlainTextResponse:
    raw = await read_body(request, paypal_ipn.MAX_BODY_BYTES)
    if raw is None:
        return PlainTextResponse("message too large", status_code=413)
    if not raw.strip():
        return PlainTextResponse("empty message", status_code=400)
    settings = request.app.state.settings
    sessions = request.app.state.sessions
    async with transaction(sessions) as session:
        message = await paypal_ipn.receive(
            session, settings, raw, request.client.host if request.client else ""
        )
        message_id, status = message.id, message.status
    task = None
    if status in paypal_ipn.WAITING:
        task = BackgroundTask(paypal_ipn.verify_and_process, sessions, settings, message_id)
    return PlainTextResponse("", status_code=200, background=task)
