"""PayPal IPN: the messages PayPal sent and what became of them, and a client's top-up form.
Assembled as ``PaypalIpnQuery`` (a base of Query in schema.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import Enum

import strawberry
from strawberry import relay

from api import money
from api.domain import paypal_ipn as ipn_domain
from api.resolvers.context import Info
from api.schema.common import Connection, Money
from api.schema.types import Client, _resolve_scoped

PaypalIpnStatus = strawberry.enum(
    Enum("PaypalIpnStatus", {s.upper(): s for s in ipn_domain.STATUSES}),
    description=(
        "What became of an IPN message: RECEIVED and RETRY wait for verification; INVALID "
        "(PayPal did not confirm it), REFUSED (sandbox while it is off), FAILED (never "
        "verified), FLAGGED (verified but did not check out: see reason), PENDING (a payment "
        "PayPal holds, or a refund, reversal or canceled reversal told before what it "
        "corrects: applied when that is recorded, flagged after "
        "DIALTONE_PAYPAL_CORRECTION_WAIT_DAYS), IGNORED, "
        "DUPLICATE (already recorded) moved no money; CREDITED, DEBITED, REINSTATED did."
    ),
)


@strawberry.type(description="One field of a form, by its name.")
class FormField:
    name: str = strawberry.field(description="The field's name.")
    value: str = strawberry.field(description="Its value.")


@strawberry.type(description="A PayPal IPN message as it was received, and what became of it.")
class PaypalIpnMessage(relay.Node):
    id: relay.NodeID[int]
    received_at: datetime = strawberry.field(description="When it arrived (UTC).")
    status: PaypalIpnStatus = strawberry.field(description="What became of it.")
    reason: str = strawberry.field(
        description="Why it was flagged, refused, postponed or ignored (empty otherwise)."
    )
    payment_status: str = strawberry.field(description="PayPal's payment_status, e.g. Completed.")
    txn_type: str = strawberry.field(description="PayPal's txn_type, e.g. web_accept.")
    txn_id: str = strawberry.field(description="PayPal's transaction id.")
    parent_txn_id: str = strawberry.field(
        description="The payment a refund, reversal or canceled reversal refers to."
    )
    receiver_email: str = strawberry.field(description="Who was paid (PayPal account email).")
    payer_email: str = strawberry.field(description="Who paid (payer_email).")
    payer_name: str = strawberry.field(
        description="The payer's name (first_name last_name, else payer_business_name), read in "
        "the message's charset."
    )
    item_name: str = strawberry.field(
        description="What was paid for (item_name), read in the message's charset."
    )
    gross: str = strawberry.field(description="mc_gross exactly as PayPal sent it.")
    currency: str = strawberry.field(description="mc_currency exactly as PayPal sent it.")
    test_ipn: bool = strawberry.field(description="Whether it came from PayPal's sandbox.")
    attempts: int = strawberry.field(description="Verification attempts made so far.")
    next_attempt_at: datetime | None = strawberry.field(
        description="When verification is tried again (status RETRY)."
    )
    verified_at: datetime | None = strawberry.field(description="When PayPal confirmed it.")
    processed_at: datetime | None = strawberry.field(description="When it was settled.")
    charset: str = strawberry.field(description="The encoding its charset field named.")
    body: str = strawberry.field(description="The message as received, read in its charset.")
    fields: list[FormField] = strawberry.field(
        description="Every field of the message by PayPal's names, percent-decoded and read in "
        "its charset."
    )
    client_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, row) -> PaypalIpnMessage:
        fields = ipn_domain.fields_of(row.raw, row.charset)
        return cls(
            id=row.id,
            received_at=row.received_at,
            status=PaypalIpnStatus(row.status),
            reason=row.reason,
            payment_status=row.payment_status,
            txn_type=row.txn_type,
            txn_id=row.txn_id,
            parent_txn_id=row.parent_txn_id,
            receiver_email=row.receiver_email,
            payer_email=row.payer_email,
            payer_name=ipn_domain.payer_name(fields),
            item_name=fields.get("item_name", ""),
            gross=row.gross,
            currency=row.currency,
            test_ipn=row.test_ipn,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            verified_at=row.verified_at,
            processed_at=row.processed_at,
            charset=row.charset,
            body=row.raw.decode(row.charset, errors="replace"),
            fields=[FormField(name=n, value=v) for n, v in fields.items()],
            client_pk=row.client_id,
        )

    @strawberry.field(description="The amount and currency, when mc_gross reads as an amount.")
    def amount(self) -> Money | None:
        try:
            micros = money.parse(self.gross)
        except money.MoneyError:
            return None
        return Money.of(micros, self.currency)

    @strawberry.field(description="The client it is for, once known.")
    async def client(self, info: Info) -> Client | None:
        if self.client_pk is None:
            return None
        return Client.from_model(await info.context.loaders.client.load(self.client_pk))

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        return await _resolve_scoped(cls, info, node_ids, ipn_domain.get_message)


@strawberry.type(
    description="What a client portal needs for its PayPal top-up form: post `hiddenFields` "
    "and an `amount` chosen from `amounts` to `actionUrl`."
)
class PaypalTopUpForm:
    action_url: str = strawberry.field(description="Where the form posts (PayPal).")
    receiver_email: str = strawberry.field(description="The PayPal account paid (business).")
    currency: str = strawberry.field(description="The currency paid in (the balance's).")
    amounts: list[Money] = strawberry.field(description="The amounts offered.")
    custom: str = strawberry.field(description="The signed reference of the client.")
    notify_url: str = strawberry.field(description="Where PayPal posts its IPN message.")
    return_url: str = strawberry.field(description="Where PayPal sends the payer back.")
    hidden_fields: list[FormField] = strawberry.field(
        description="Every field of the form but amount, by PayPal's names."
    )

    @classmethod
    def from_domain(cls, form: ipn_domain.TopUpForm) -> PaypalTopUpForm:
        return cls(
            action_url=form.action_url,
            receiver_email=form.receiver_email,
            currency=form.currency,
            amounts=[Money.of(micros, form.currency) for micros in form.amounts],
            custom=form.custom,
            notify_url=form.notify_url,
            return_url=form.return_url,
            hidden_fields=[FormField(name=n, value=v) for n, v in form.hidden_fields()],
        )


from api.resolvers import paypal_ipn as r  # noqa: E402  (resolvers use the types above)


@strawberry.type(description="Reads of PayPal IPN.")
class PaypalIpnQuery:
    paypal_ipn_messages: Connection[PaypalIpnMessage] = strawberry.field(
        resolver=r.paypal_ipn_messages,
        description="PayPal IPN messages, newest first: all (operator) or the reseller's own "
        "(for its clients, or paid to its PayPal receiver email without a client reference "
        "we signed).",
    )
    paypal_top_up_form: PaypalTopUpForm | None = strawberry.field(
        resolver=r.paypal_top_up_form,
        description="The viewing client's PayPal top-up form; null for other viewers or "
        "while PayPal is not set up.",
    )
