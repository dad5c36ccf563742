"""PayPal Checkout (Orders v2): top-ups paid by card or PayPal account.

1. :func:`create_order` — a client tops up its balance, or a reseller its own balance with the
   operator. Whose REST app is paid follows the posting rules of deposits
   (``api/domain/payments.py``): a markup-model client pays its reseller's app, a
   commission-model client and a reseller pay the operator's. The order is made at PayPal
   (intent CAPTURE, our reference as ``custom_id``) in the reseller's currency, with return and
   cancel URLs on the reseller's host, and kept as a :class:`~api.models.PaypalOrder`.
2. The payer approves at ``approve_url``; PayPal sends them back to ``/webhooks/paypal/return``.
3. :func:`capture_order` (that return, or the ``paypalOrderCapture`` mutation) captures it; a
   COMPLETED capture is credited at once through :func:`api.domain.deposits.credit`, keyed by
   the capture id.
4. Webhooks (:func:`receive_event`): every delivery is stored raw, its signature verified
   offline (``api.domain.paypal_signatures``) with the webhook id of the app the order was paid
   into, then acted on: ``PAYMENT.CAPTURE.COMPLETED`` credits the capture (once, whether the
   return or the webhook comes first), ``REFUNDED`` / ``REVERSED`` debit it (never more than is
   left of it; told before the capture is credited, they wait as ``pending`` and are applied
   in the transaction that credits it (one naming a capture not known here yet waits
   unverified, and the worker verifies it once the capture is known), or flagged by the
   worker after ``DIALTONE_PAYPAL_CORRECTION_WAIT_DAYS``), ``PENDING`` waits, ``DECLINED`` /
   ``DENIED`` record the outcome and move no money, ``CHECKOUT.ORDER.APPROVED`` captures an
   order whose payer never came back.

No database transaction is open while PayPal is called.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api import money
from api.db import transaction
from api.domain import accounts, audit, brands, deposits, paypal_credentials, paypal_signatures
from api.domain import validation as v
from api.domain.actors import Actor
from api.domain.errors import DomainError, ErrorCode, invalid, not_found
from api.domain.paypal_rest import (
    Capture,
    PaypalError,
    PaypalRest,
    RestApp,
    amount_value,
    parse_amount,
)
from api.domain.paypal_signatures import CertificateCache, Transmission
from api.models import Client, PaypalEvent, PaypalOrder, Reseller
from api.models.base import utcnow
from api.settings import Settings

RETURN_PATH = "/webhooks/paypal/return"
CANCEL_PATH = "/webhooks/paypal/cancel"
ORDER_STATUSES = (
    "CREATED",
    "PAYER_ACTION_REQUIRED",
    "APPROVED",
    "PENDING",
    "COMPLETED",
    "DECLINED",
    "DENIED",
    "FAILED",
    "VOIDED",
)
SETTLED = frozenset({"COMPLETED", "DECLINED", "DENIED", "FAILED", "VOIDED"})
CAPTURE_EVENTS = {
    "PAYMENT.CAPTURE.COMPLETED": "COMPLETED",
    "PAYMENT.CAPTURE.PENDING": "PENDING",
    "PAYMENT.CAPTURE.DECLINED": "DECLINED",
    "PAYMENT.CAPTURE.DENIED": "DENIED",
}
DEBIT_EVENTS = {"PAYMENT.CAPTURE.REFUNDED": "refund", "PAYMENT.CAPTURE.REVERSED": "reversal"}
EVENT_STATUSES = (
    "received",
    "retry",
    "failed",
    "rejected",
    "pending",
    "ignored",
    "processed",
    "duplicate",
    "flagged",
)
MAX_EVENT_BYTES = 256 * 1024
RETRY_ATTEMPTS = 20  # tries of an event before it is given up (PayPal redelivers too)


# --- the gateway: PayPal's API and its certificates ------------------------------------------


@dataclass
class Gateway:
    rest: PaypalRest
    certs: CertificateCache


def gateway(settings: Settings) -> Gateway:
    """The process's gateway for these settings (its OAuth tokens and certificates cached)."""
    return _gateway(
        settings.paypal_api_url,
        settings.paypal_sandbox_api_url,
        settings.paypal_cert_origins,
        settings.paypal_cert_roots,
        settings.paypal_api_timeout_seconds,
    )


@lru_cache(maxsize=8)
def _gateway(
    api_url: str, sandbox_api_url: str, origins: tuple[str, ...], roots: str, timeout: int
) -> Gateway:
    return Gateway(
        PaypalRest(live_url=api_url, sandbox_url=sandbox_api_url, timeout=timeout),
        CertificateCache(origins=origins, roots=roots, timeout=timeout),
    )


def _provider_error(exc: PaypalError) -> DomainError:
    if exc.retryable:
        return DomainError(
            ErrorCode.PROVIDER_UNAVAILABLE, "PayPal could not be reached; try again shortly"
        )
    if exc.issue == "ORDER_NOT_APPROVED":
        return DomainError(ErrorCode.CONFLICT, "the payer has not approved this order yet")
    return DomainError(ErrorCode.PROVIDER_REFUSED, exc.message)


# --- who pays whom ----------------------------------------------------------------------------


def payee_for(reseller: Reseller, client: Client | None) -> str:
    """Whose app is paid: a markup-model client pays its reseller; a commission-model client
    (its balance is held by the operator) and a reseller topping up pay the operator."""
    if client is not None and reseller.billing_model == "markup":
        return paypal_credentials.owner_key(reseller.id)
    return paypal_credentials.OPERATOR


async def _payer(
    session: AsyncSession, actor: Actor, client_id: int | None
) -> tuple[Reseller, Client | None]:
    """The balance a top-up is for: a client user's own; a reseller user's client, or (no
    client named) the reseller's own balance; the operator must name a client."""
    if actor.client_id is not None:
        if client_id is not None and client_id != actor.client_id:
            raise not_found("client", "clientId")
        client_id = actor.client_id
    else:
        actor.require("payments:write")
    if client_id is None:
        if actor.reseller_id is None:
            raise invalid("clientId", "name the client (resellers are credited by a deposit)")
        return await accounts.get_reseller(session, actor, actor.reseller_id), None
    client = await accounts.get_client(session, actor, client_id, field="clientId")
    reseller = await session.get(Reseller, client.reseller_id)
    assert reseller is not None
    return reseller, client


async def _app(session: AsyncSession, payee: str, settings: Settings) -> RestApp:
    row = await paypal_credentials.find(session, payee)
    if row is None:
        who = "the operator" if payee == paypal_credentials.OPERATOR else "the reseller"
        raise DomainError(ErrorCode.CONFLICT, f"{who} has not set up PayPal Checkout yet")
    return paypal_credentials.rest_app(row, settings)


async def checkout_available(session: AsyncSession, actor: Actor, settings: Settings) -> bool:
    """Whether the viewer may top up through Checkout now: a client user (its own balance) or
    a reseller user (its own), whose payee (``payee_for``) has a usable PayPal app."""
    if actor.client_id is None and actor.reseller_id is None:
        return False
    try:
        reseller, client = await _payer(session, actor, None)
        await _app(session, payee_for(reseller, client), settings)
    except DomainError:
        return False
    return True


# --- 1. create --------------------------------------------------------------------------------


async def create_order(
    sessions: async_sessionmaker[AsyncSession],
    actor: Actor,
    settings: Settings,
    *,
    amount: Any,
    client_id: int | None = None,
) -> PaypalOrder:
    """An order at PayPal for ``amount`` (in the reseller's currency), to be approved by the
    payer at its ``approve_url``."""
    micros = v.amount("amount", amount, positive=True)
    async with transaction(sessions) as session:
        reseller, client = await _payer(session, actor, client_id)
        payee = payee_for(reseller, client)
        app = await _app(session, payee, settings)
        base = await brands.reseller_base_url(session, reseller.id, settings=settings)
    try:
        amount_value(micros, reseller.currency)
    except ValueError as exc:
        raise invalid("amount", str(exc)) from None
    reference = uuid.uuid4().hex
    what = f"top-up of {client.name}" if client else f"top-up of {reseller.name}'s balance"
    try:
        made = await gateway(settings).rest.create_order(
            app,
            amount=micros,
            currency=reseller.currency,
            reference=reference,
            description=what,
            return_url=base + RETURN_PATH,
            cancel_url=base + CANCEL_PATH,
            request_id=reference,
        )
    except PaypalError as exc:
        raise _provider_error(exc) from None
    async with transaction(sessions) as session:
        order = PaypalOrder(
            paypal_id=made.id,
            reference=reference,
            reseller_id=reseller.id,
            client_id=client.id if client else None,
            payee=payee,
            sandbox=app.sandbox,
            amount=micros,
            currency=reseller.currency,
            status=made.status if made.status in ORDER_STATUSES else "CREATED",
            approve_url=made.approve_url[:500],
            return_to=base,
        )
        session.add(order)
        await session.flush()
        await audit.record(
            session,
            actor,
            subject_type="paypal_order",
            subject_id=order.id,
            action="paypal_order.created",
            reseller_id=order.reseller_id,
            client_id=order.client_id,
            after={
                "paypal_id": order.paypal_id,
                "amount": money.format_amount(micros),
                "currency": order.currency,
            },
        )
    return order


# --- reading ----------------------------------------------------------------------------------


def orders_query(actor: Actor, *, client_id: int | None = None) -> Select:
    """Orders the actor may see: a client user's own; its tenant's for reseller users and
    tokens that read clients or take payments; all for the operator."""
    stmt = select(PaypalOrder)
    if actor.client_id is not None:
        stmt = stmt.where(PaypalOrder.client_id == actor.client_id)
    elif not (actor.can("clients:read") or actor.can("payments:write")):
        return stmt.where(false())
    elif not actor.is_operator:
        stmt = stmt.where(PaypalOrder.reseller_id == actor.reseller_id)
    if client_id is not None:
        stmt = stmt.where(PaypalOrder.client_id == client_id)
    return stmt


async def get_order(session: AsyncSession, actor: Actor, order_id: int) -> PaypalOrder:
    order = await session.scalar(orders_query(actor).where(PaypalOrder.id == order_id))
    if order is None:
        raise not_found("PayPal order")
    return order


# --- 2./3. capture ----------------------------------------------------------------------------


async def find_order(
    sessions: async_sessionmaker[AsyncSession], paypal_id: str
) -> PaypalOrder | None:
    """An order by PayPal's id (the ``token`` PayPal sends the payer back with)."""
    async with sessions() as session:
        return await session.scalar(select(PaypalOrder).where(PaypalOrder.paypal_id == paypal_id))


async def capture(
    sessions: async_sessionmaker[AsyncSession], actor: Actor, settings: Settings, order_id: int
) -> PaypalOrder:
    """Capture an order the actor may see (the mutation)."""
    async with transaction(sessions) as session:
        order = await get_order(session, actor, order_id)
    return await capture_order(sessions, settings, order)


async def capture_order(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, order: PaypalOrder
) -> PaypalOrder:
    """Capture an order whose payer approved it, and credit a completed capture. Anyone may
    ask (the payer's return needs no login): it only moves in the money the payer approved,
    once; an order already settled is answered as it is."""
    if order.status in SETTLED:
        return order
    async with transaction(sessions) as session:
        app = await _app(session, order.payee, settings)
    rest = gateway(settings).rest
    try:
        try:
            result = await rest.capture_order(
                app, order.paypal_id, request_id=f"{order.reference}-capture"
            )
        except PaypalError as exc:
            if exc.issue != "ORDER_ALREADY_CAPTURED":
                raise
            result = await rest.get_order(app, order.paypal_id)
    except PaypalError as exc:
        raise _provider_error(exc) from None
    async with transaction(sessions) as session:
        order = await _locked(session, order.id)
        for found in result.captures[:1]:
            await _apply_capture(session, order, found)
    return order


async def _locked(session: AsyncSession, order_id: int) -> PaypalOrder:
    """The order row, locked (PostgreSQL) and read afresh: the return and the webhook of one
    capture take turns."""
    order = await session.get(PaypalOrder, order_id, with_for_update=True, populate_existing=True)
    assert order is not None
    return order


async def _apply_capture(
    session: AsyncSession, order: PaypalOrder, found: Capture
) -> deposits.DepositResult | None:
    """Record a capture's outcome on its order; a COMPLETED one is credited (once)."""
    if order.capture_id not in (None, found.id):
        raise invalid("capture", f"order {order.paypal_id} was captured as {order.capture_id}")
    order.capture_id = found.id
    if found.status != "COMPLETED":
        if order.status != "COMPLETED" and found.status in ORDER_STATUSES:
            order.status = found.status
        await session.flush()
        return None
    if found.currency != order.currency:
        raise invalid("currency", f"captured in {found.currency}, the order is in {order.currency}")
    reseller = await session.get(Reseller, order.reseller_id)
    client = await session.get(Client, order.client_id) if order.client_id else None
    assert reseller is not None
    if payee_for(reseller, client) != order.payee:
        # the posting rules would credit it against an app that was not paid
        raise invalid("payee", "the reseller's billing model changed since the order was made")
    order.status = "COMPLETED"
    await session.flush()
    credited = await deposits.credit(
        session,
        source=deposits.PAYPAL,
        external_id=found.id,
        client_id=order.client_id,
        reseller_id=order.reseller_id,
        amount=found.amount,
        currency=found.currency,
        memo=f"PayPal Checkout order {order.paypal_id}",
        raw_id=None,
    )
    await _apply_waiting(session, order)
    return credited


async def _apply_waiting(session: AsyncSession, order: PaypalOrder) -> None:
    """The order's refunds and reversals that came before its capture was credited
    (``pending``): applied now, in the transaction that credits it, in the order they came."""
    waiting = await session.scalars(
        select(PaypalEvent)
        .where(PaypalEvent.order_id == order.id, PaypalEvent.status == "pending")
        .order_by(PaypalEvent.id)
        .with_for_update()
    )
    for event in list(waiting):
        _settle(event, await _act_saved(session, order, _parse(event.body)))
        await session.flush()


# --- 4. webhooks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status: str
    reason: str = ""
    deposit_id: int | None = None
    capture_after: bool = False  # an approved order to capture


async def receive_event(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    body: bytes,
    headers: Mapping[str, str],
) -> PaypalEvent:
    """Store a delivery as it came, then verify and act on it."""
    kept = {k.lower(): val for k, val in headers.items() if k.lower().startswith("paypal-")}
    async with transaction(sessions) as session:
        event = PaypalEvent(body=body, headers=json.dumps(kept, sort_keys=True))
        session.add(event)
        await session.flush()
    return await process_event(sessions, settings, event.id)


async def process_event(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, event_id: int
) -> PaypalEvent:
    # find the order it is about, and the webhook id of the app that was paid
    async with transaction(sessions) as session:
        event = await session.get(PaypalEvent, event_id, with_for_update=True)
        assert event is not None
        event.attempts += 1
        try:
            data = _parse(event.body)
        except ValueError as exc:
            return _settle(event, Outcome("rejected", str(exc)))
        event.event_id = str(data.get("id", ""))[:64]
        event.event_type = str(data.get("event_type", ""))[:64]
        order = await _order_of(session, data)
        if order is None:
            return _settle(event, _unknown(data))
        event.order_id = order.id
        if order.sandbox and not settings.paypal_sandbox:
            return _settle(event, Outcome("rejected", "sandbox events are refused here"))
        row = await paypal_credentials.find(session, order.payee)
        if row is None:
            return _settle(event, Outcome("rejected", "no PayPal app to verify it with"))
        webhook_id, headers, body = row.webhook_id, json.loads(event.headers), event.body

    outcome = await _verify(settings, webhook_id, headers, body, event.attempts)
    # act on it, and record what became of it, in one transaction
    async with transaction(sessions) as session:
        event = await session.get(PaypalEvent, event_id, with_for_update=True)
        assert event is not None
        if outcome is None:
            order = await _locked(session, order.id)
            outcome = await _act_saved(session, order, data)
        _settle(event, outcome)
    if outcome.capture_after:
        # when PayPal cannot capture now, the payer's return or the mutation does it later
        with contextlib.suppress(DomainError):
            await capture_order(sessions, settings, order)
    return event


def _unknown(data: dict[str, Any]) -> Outcome:
    """An event about no order of ours: ignored, but a refund or reversal of a capture waits
    (the capture may be ours, its answer lost; its COMPLETED event tells it)."""
    capture_id = _keys(data).get("capture_id")
    if capture_id and data.get("event_type") in DEBIT_EVENTS:
        return Outcome("pending", f"waiting for the capture {capture_id} to be known (unverified)")
    return Outcome("ignored", "not about an order of ours (unverified)")


def _settle(event: PaypalEvent, outcome: Outcome) -> PaypalEvent:
    event.status = outcome.status
    event.reason = outcome.reason[:500]
    event.deposit_id = outcome.deposit_id
    event.processed_at = utcnow()
    return event


async def _verify(
    settings: Settings, webhook_id: str, headers: dict[str, str], body: bytes, attempts: int
) -> Outcome | None:
    """None when PayPal signed this body for this webhook; else why not."""
    try:
        await paypal_signatures.verify(
            gateway(settings).certs,
            Transmission.from_headers(headers),
            webhook_id=webhook_id,
            body=body,
        )
    except paypal_signatures.SignatureInvalid as exc:
        return Outcome("rejected", f"signature: {exc}")
    except paypal_signatures.CertificateUnavailable as exc:
        return Outcome("failed" if attempts >= RETRY_ATTEMPTS else "retry", str(exc))
    return None


def _parse(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_EVENT_BYTES:
        raise ValueError("the body is larger than any PayPal event")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("the body is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("resource"), dict):
        raise ValueError("the body is not a PayPal event")
    return data


def _up_link(resource: dict[str, Any], kind: str) -> str | None:
    """The id at the end of the resource's ``up`` link to a ``captures`` or ``orders`` URL."""
    for link in resource.get("links") or ():
        if isinstance(link, dict) and link.get("rel") == "up":
            parts = str(link.get("href", "")).rstrip("/").split("/")
            if len(parts) >= 2 and parts[-2] == kind:
                return parts[-1]
    return None


def _keys(data: dict[str, Any]) -> dict[str, str]:
    """What ties an event to an order: our reference (custom_id), PayPal's order id, the
    capture id."""
    resource = data["resource"]
    event_type = str(data.get("event_type", ""))
    keys: dict[str, str] = {}
    if event_type in CAPTURE_EVENTS and resource.get("custom_id"):
        keys["reference"] = str(resource["custom_id"])
    related = (resource.get("supplementary_data") or {}).get("related_ids") or {}
    if event_type.startswith("CHECKOUT.ORDER."):
        keys["paypal_id"] = str(resource.get("id", ""))
    elif related.get("order_id") or _up_link(resource, "orders"):
        keys["paypal_id"] = str(related.get("order_id") or _up_link(resource, "orders"))
    if event_type in CAPTURE_EVENTS and resource.get("id"):
        keys["capture_id"] = str(resource["id"])
    elif event_type in DEBIT_EVENTS:
        capture_id = _up_link(resource, "captures")
        if capture_id is None and data.get("resource_type") == "capture":
            capture_id = str(resource.get("id", ""))
        if capture_id:
            keys["capture_id"] = capture_id
    return {k: val for k, val in keys.items() if val}


async def _order_of(session: AsyncSession, data: dict[str, Any]) -> PaypalOrder | None:
    """The order the event is about; None when it names none of ours, or names two."""
    keys = _keys(data)
    columns = {
        "reference": PaypalOrder.reference,
        "paypal_id": PaypalOrder.paypal_id,
        "capture_id": PaypalOrder.capture_id,
    }
    if not keys:
        return None
    found = list(
        await session.scalars(
            select(PaypalOrder).where(or_(*(columns[k] == val for k, val in keys.items())))
        )
    )
    if len(found) != 1:
        return None
    order = found[0]
    agree = all(
        getattr(order, name) in (None, val) if name == "capture_id" else getattr(order, name) == val
        for name, val in keys.items()
    )
    return order if agree else None


async def _act(session: AsyncSession, order: PaypalOrder, data: dict[str, Any]) -> Outcome:
    event_type = str(data.get("event_type", ""))
    resource = data["resource"]
    if event_type in CAPTURE_EVENTS:
        status = CAPTURE_EVENTS[event_type]
        micros, currency = _amount(resource)
        moved = await _apply_capture(
            session, order, Capture(str(resource["id"]), status, micros, currency)
        )
        if moved is None:
            return Outcome("processed", f"capture {status.lower()}: no money moves")
        return _moved(moved)
    if event_type in DEBIT_EVENTS:
        reason = DEBIT_EVENTS[event_type]
        capture_id = _keys(data).get("capture_id") or order.capture_id
        if not capture_id:
            raise invalid("capture", "the event names no capture")
        if await deposits.find(session, deposits.PAYPAL, capture_id) is None:
            # told before the capture is credited: kept, and applied when it is
            return Outcome("pending", f"waiting for the capture {capture_id} to be credited")
        external_id = str(resource.get("id", ""))
        if not external_id or external_id == capture_id:  # a capture-shaped reversal
            external_id = f"{capture_id}-{reason}"
        micros, currency = _amount(resource)
        return _moved(
            await deposits.debit(
                session,
                source=deposits.PAYPAL,
                external_id=external_id,
                original_external_id=capture_id,
                amount=micros,
                currency=currency,
                memo=f"PayPal {reason} of capture {capture_id}",
                raw_id=None,
                reason=reason,
            )
        )
    if event_type == "CHECKOUT.ORDER.APPROVED" and order.status not in SETTLED:
        order.status = "APPROVED"
        await session.flush()
        return Outcome("processed", "approved: capturing", capture_after=True)
    return Outcome("ignored", f"{event_type or 'an event'} moves no money")


async def _act_saved(session: AsyncSession, order: PaypalOrder, data: dict[str, Any]) -> Outcome:
    """:func:`_act` in a savepoint: refused, it leaves nothing behind and is flagged."""
    try:
        async with session.begin_nested():
            return await _act(session, order, data)
    except DomainError as exc:
        return Outcome("flagged", exc.message)


def _amount(resource: dict[str, Any]) -> tuple[int, str]:
    try:
        return parse_amount(resource.get("amount"))
    except (ValueError, TypeError, AttributeError):
        raise invalid("amount", "the event carries no valid amount") from None


def _moved(result: deposits.DepositResult) -> Outcome:
    if result.replayed:
        return Outcome("duplicate", "this money had moved already", result.deposit.id)
    return Outcome("processed", "", result.deposit.id)


def events_query(actor: Actor, *, status: str | None = None) -> Select:
    """Webhook deliveries the actor may read: all (operator), those about its orders (reseller
    users and tokens that read clients), none (others)."""
    stmt = select(PaypalEvent)
    if actor.client_id is not None or not actor.can("clients:read"):
        return stmt.where(false())
    if not actor.is_operator:
        stmt = stmt.join(PaypalOrder, PaypalOrder.id == PaypalEvent.order_id).where(
            PaypalOrder.reseller_id == actor.reseller_id
        )
    if status is not None:
        stmt = stmt.where(PaypalEvent.status == status)
    return stmt


async def get_event(session: AsyncSession, actor: Actor, event_id: int) -> PaypalEvent:
    event = await session.scalar(events_query(actor).where(PaypalEvent.id == event_id))
    if event is None:
        raise not_found("PayPal webhook event")
    return event


# --- the worker -------------------------------------------------------------------------------


async def retry_due(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> int:
    """The worker's job: try again the events whose certificate could not be fetched, then
    settle the refunds and reversals that wait for their capture (:func:`settle_waiting`)."""
    async with sessions() as session:
        ids = list(
            await session.scalars(
                select(PaypalEvent.id)
                .where(PaypalEvent.status == "retry")
                .order_by(PaypalEvent.id)
                .limit(200)
            )
        )
    for event_id in ids:
        await process_event(sessions, settings, event_id)
    return len(ids) + await settle_waiting(sessions, settings, now)


async def settle_waiting(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
) -> int:
    """Events still ``pending``, oldest first: each is acted on again (its capture may have
    been credited, or become known, since: one about no known order is verified then), and
    one that still waits ``DIALTONE_PAYPAL_CORRECTION_WAIT_DAYS`` after it came is flagged.
    Returns how many stopped waiting."""
    async with sessions() as session:
        rows = (
            await session.execute(
                select(PaypalEvent.id, PaypalEvent.order_id)
                .where(PaypalEvent.status == "pending")
                .order_by(PaypalEvent.received_at, PaypalEvent.id)
                .limit(200)
            )
        ).all()
    settled = 0
    for event_id, order_id in rows:
        if order_id is None and await _order_known(sessions, event_id):
            await process_event(sessions, settings, event_id)  # verified, then acted on
        async with transaction(sessions) as session:
            if order_id is not None:  # the order first, as a capture's credit locks them
                order = await _locked(session, order_id)
            event = await session.get(
                PaypalEvent, event_id, with_for_update=True, populate_existing=True
            )
            assert event is not None
            if event.status != "pending":
                settled += 1
                continue
            outcome = Outcome(event.status, event.reason)
            if order_id is not None:
                outcome = await _act_saved(session, order, _parse(event.body))
            if outcome.status == "pending" and event.received_at <= now - (
                settings.paypal_correction_wait
            ):
                days = settings.paypal_correction_wait_days
                outcome = Outcome("flagged", f"still {outcome.reason} after {days} days")
            _settle(event, outcome)
            settled += outcome.status != "pending"
    return settled


async def _order_known(sessions: async_sessionmaker[AsyncSession], event_id: int) -> bool:
    """Whether the event now names an order of ours."""
    async with sessions() as session:
        event = await session.get(PaypalEvent, event_id)
        assert event is not None
        return await _order_of(session, _parse(event.body)) is not None
