"""PayPal Checkout (Orders v2): the REST apps money is paid into, and top-up orders.
Assembled as ``PaypalCheckoutQuery`` / ``PaypalCheckoutMutation`` (bases in schema.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from enum import Enum

import strawberry
from strawberry import relay

from api.domain import paypal_checkout as checkout_domain
from api.domain import paypal_credentials
from api.resolvers.context import Info
from api.schema.common import Connection, Money, UserError
from api.schema.types import Client, _resolve_scoped

ERRORS = "Expected failures; when not empty, nothing was changed."

PaypalOrderStatus = strawberry.enum(
    Enum("PaypalOrderStatus", {s: s for s in checkout_domain.ORDER_STATUSES}),
    description=(
        "Where an order stands: CREATED or PAYER_ACTION_REQUIRED (waiting for the payer), "
        "APPROVED (to be captured), PENDING (PayPal holds the capture), COMPLETED (credited), "
        "DECLINED, DENIED, FAILED or VOIDED (no money moved)."
    ),
)
PaypalEventStatus = strawberry.enum(
    Enum("PaypalEventStatus", {s.upper(): s for s in checkout_domain.EVENT_STATUSES}),
    description=(
        "What became of a webhook delivery: RECEIVED and RETRY (its certificate could not be "
        "fetched yet) wait, PENDING (a refund or reversal told before its capture is "
        "credited) waits for it and is flagged after DIALTONE_PAYPAL_CORRECTION_WAIT_DAYS; "
        "REJECTED (not PayPal's: see reason), FAILED (never verified), "
        "IGNORED (nothing to do, or about no order of ours), DUPLICATE (its money had moved "
        "already) and FLAGGED (verified but refused: see reason) moved no money; PROCESSED "
        "did what it said."
    ),
)
PaypalPayee = strawberry.enum(
    Enum("PaypalPayee", {"OPERATOR": "operator", "RESELLER": "reseller"}),
    description="Whose PayPal app is paid: the operator's or the reseller's own.",
)


@strawberry.type(
    description="A PayPal REST app money is paid into. Its client secret is write-only: it "
    "is stored encrypted and never shown."
)
class PaypalCredentials:
    paypal_client_id: str = strawberry.field(description="The app's client id at PayPal.")
    webhook_id: str = strawberry.field(
        description="The id of the app's webhook (its URL: /webhooks/paypal/events)."
    )
    sandbox: bool = strawberry.field(description="Whether it is a PayPal sandbox app.")
    updated_at: datetime = strawberry.field(description="When it was last set (UTC).")
    reseller_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, row) -> PaypalCredentials:
        return cls(
            paypal_client_id=row.client_id,
            webhook_id=row.webhook_id,
            sandbox=row.sandbox,
            updated_at=row.updated_at,
            reseller_pk=row.reseller_id,
        )

    @strawberry.field(description="The reseller whose app it is; null: the operator's.")
    def reseller_id(self) -> relay.GlobalID | None:
        return (
            None if self.reseller_pk is None else relay.GlobalID("Reseller", str(self.reseller_pk))
        )


@strawberry.type(description="A top-up paid through PayPal Checkout, by card or PayPal account.")
class PaypalOrder(relay.Node):
    id: relay.NodeID[int]
    paypal_order_id: str = strawberry.field(description="PayPal's id of the order.")
    status: PaypalOrderStatus = strawberry.field(description="Where it stands.")
    amount: Money = strawberry.field(description="The amount, in the balance's currency.")
    approve_url: str = strawberry.field(
        description="Send the payer here to approve (PayPal's page: account or card)."
    )
    capture_id: str | None = strawberry.field(description="PayPal's id of its capture, once made.")
    payee: PaypalPayee = strawberry.field(description="Whose PayPal app is paid.")
    sandbox: bool = strawberry.field(description="Whether it was made at PayPal's sandbox.")
    created_at: datetime = strawberry.field(description="When it was made (UTC).")
    updated_at: datetime = strawberry.field(description="When it last changed (UTC).")
    client_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, row) -> PaypalOrder:
        return cls(
            id=row.id,
            paypal_order_id=row.paypal_id,
            status=PaypalOrderStatus(row.status),
            amount=Money.of(row.amount, row.currency),
            approve_url=row.approve_url,
            capture_id=row.capture_id,
            payee=PaypalPayee(
                "operator" if row.payee == paypal_credentials.OPERATOR else "reseller"
            ),
            sandbox=row.sandbox,
            created_at=row.created_at,
            updated_at=row.updated_at,
            client_pk=row.client_id,
        )

    @strawberry.field(description="The client topped up; null: a reseller's own balance.")
    async def client(self, info: Info) -> Client | None:
        if self.client_pk is None:
            return None
        return Client.from_model(await info.context.loaders.client.load(self.client_pk))

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        return await _resolve_scoped(cls, info, node_ids, checkout_domain.get_order)


@strawberry.type(description="A webhook delivery from PayPal as it was received, and its fate.")
class PaypalWebhookEvent(relay.Node):
    id: relay.NodeID[int]
    received_at: datetime = strawberry.field(description="When it arrived (UTC).")
    event_id: str = strawberry.field(description="PayPal's id of the event (WH-…).")
    event_type: str = strawberry.field(description="E.g. PAYMENT.CAPTURE.COMPLETED.")
    status: PaypalEventStatus = strawberry.field(description="What became of it.")
    reason: str = strawberry.field(description="Why it was rejected, flagged or ignored.")
    attempts: int = strawberry.field(description="Verification attempts made so far.")
    processed_at: datetime | None = strawberry.field(description="When it was settled (UTC).")
    body: str = strawberry.field(description="The body as received (JSON).")
    order_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, row) -> PaypalWebhookEvent:
        return cls(
            id=row.id,
            received_at=row.received_at,
            event_id=row.event_id,
            event_type=row.event_type,
            status=PaypalEventStatus(row.status),
            reason=row.reason,
            attempts=row.attempts,
            processed_at=row.processed_at,
            body=row.body.decode("utf-8", errors="replace"),
            order_pk=row.order_id,
        )

    @strawberry.field(description="The global id of the order it is about, when known.")
    def order_id(self) -> relay.GlobalID | None:
        return None if self.order_pk is None else relay.GlobalID("PaypalOrder", str(self.order_pk))

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        return await _resolve_scoped(cls, info, node_ids, checkout_domain.get_event)


# --- inputs ------------------------------------------------------------------------------------


@strawberry.input(description="A PayPal REST app (from PayPal's developer dashboard).")
class PaypalCredentialsSetInput:
    paypal_client_id: str = strawberry.field(description="The app's client id.")
    paypal_client_secret: str | None = strawberry.field(
        default=None,
        description="The app's secret: required the first time, omitted to keep the stored one. "
        "Stored encrypted; never shown again.",
    )
    webhook_id: str = strawberry.field(
        description="The id PayPal gave the app's webhook for /webhooks/paypal/events."
    )
    sandbox: bool = strawberry.field(
        default=False, description="A sandbox app (refused unless the platform allows sandbox)."
    )
    reseller_id: relay.GlobalID | None = strawberry.field(
        default=None,
        description="Whose app: the operator may name a reseller; omitted, the viewer's own.",
    )


@strawberry.input(description="The PayPal app to remove.")
class PaypalCredentialsDeleteInput:
    reseller_id: relay.GlobalID | None = strawberry.field(
        default=None,
        description="Whose app: the operator may name a reseller; omitted, the viewer's own.",
    )


@strawberry.input(description="A top-up to pay through PayPal.")
class PaypalOrderCreateInput:
    amount: Decimal = strawberry.field(
        description="The amount, in the balance's currency (cents at most; whole units for "
        "HUF, JPY and TWD)."
    )
    client_id: relay.GlobalID | None = strawberry.field(
        default=None,
        description="The client to top up (a client tops up itself; a reseller omits it to top "
        "up its own balance with the operator).",
    )


@strawberry.input(description="An order whose payer approved it.")
class PaypalOrderCaptureInput:
    id: relay.GlobalID = strawberry.field(description="The order.")


# --- payloads ----------------------------------------------------------------------------------


@strawberry.type(description="A PayPal app set.")
class PaypalCredentialsPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    credentials: PaypalCredentials | None = strawberry.field(
        default=None, description="The app, without its secret."
    )


@strawberry.type(description="A PayPal app removed.")
class PaypalCredentialsDeletePayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    deleted: bool = strawberry.field(default=False, description="Whether an app was removed.")


@strawberry.type(description="A PayPal order made or captured.")
class PaypalOrderPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    order: PaypalOrder | None = strawberry.field(default=None, description="The order.")


# --- root fields -------------------------------------------------------------------------------

from api.resolvers import paypal_checkout as r  # noqa: E402  (resolvers use the types above)


@strawberry.type(description="Reads of PayPal Checkout.")
class PaypalCheckoutQuery:
    paypal_credentials: PaypalCredentials | None = strawberry.field(
        resolver=r.paypal_credentials_read,
        description="The viewer's PayPal app (operator: its own, or a reseller's); null when "
        "none is set or the viewer may not manage it.",
    )
    paypal_checkout_available: bool = strawberry.field(
        resolver=r.paypal_checkout_available,
        description="Whether the viewer (a client, or a reseller for its own balance) can top "
        "up through PayPal Checkout now (card or PayPal account): whoever it pays has set up "
        "its PayPal app.",
    )
    paypal_orders: Connection[PaypalOrder] = strawberry.field(
        resolver=r.paypal_orders,
        description="PayPal top-up orders the viewer may see, newest first.",
    )
    paypal_webhook_events: Connection[PaypalWebhookEvent] = strawberry.field(
        resolver=r.paypal_webhook_events,
        description="PayPal webhook deliveries, newest first: all (operator) or those about "
        "the reseller's orders.",
    )


@strawberry.type(description="Changes of PayPal Checkout.")
class PaypalCheckoutMutation:
    paypal_credentials_set: PaypalCredentialsPayload = strawberry.mutation(
        resolver=r.paypal_credentials_set,
        description="Set the PayPal app clients (or resellers) pay into (owner or operator).",
    )
    paypal_credentials_delete: PaypalCredentialsDeletePayload = strawberry.mutation(
        resolver=r.paypal_credentials_delete, description="Remove a PayPal app."
    )
    paypal_order_create: PaypalOrderPayload = strawberry.mutation(
        resolver=r.paypal_order_create,
        description="Start a top-up: an order at PayPal for the payer to approve at approveUrl.",
    )
    paypal_order_capture: PaypalOrderPayload = strawberry.mutation(
        resolver=r.paypal_order_capture,
        description="Capture an approved order; a completed capture is credited at once.",
    )
