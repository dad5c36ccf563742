"""A client's payment history (``api.domain.payment_history``): ``Client.payments``."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry import relay

from api.domain import payment_history as domain
from api.schema.common import Money


@strawberry.enum(
    description="How a payment came: MANUAL (recorded by the reseller: cash, bank transfer), "
    "RESELLER_CREDIT (credit the reseller moved from its own balance), PAYPAL (the PayPal "
    "button, IPN), PAYPAL_CHECKOUT (PayPal Checkout: card or PayPal account)."
)
class PaymentMethod(Enum):
    MANUAL = "manual"
    RESELLER_CREDIT = "reseller_credit"
    PAYPAL = "paypal"
    PAYPAL_CHECKOUT = "paypal_checkout"


@strawberry.enum(
    description="What became of a payment: COMPLETED (nothing taken back), PARTIALLY_REFUNDED "
    "(part of it refunded or reversed), REFUNDED (all of it refunded), REVERSED (all of it "
    "taken back, a reversal or chargeback among what took it)."
)
class PaymentStatus(Enum):
    COMPLETED = "completed"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    REVERSED = "reversed"


@strawberry.enum(
    description="A correction of a payment: REFUND, REVERSAL (a chargeback), CANCELED_REVERSAL "
    "(gives back what a reversal took)."
)
class PaymentCorrectionKind(Enum):
    REFUND = "refund"
    REVERSAL = "reversal"
    CANCELED_REVERSAL = "canceled_reversal"


@strawberry.type(description="A refund, reversal or canceled reversal of a payment.")
class PaymentCorrection:
    id: relay.GlobalID = strawberry.field(description="Its ledger entry.")
    kind: PaymentCorrectionKind = strawberry.field(description="What it is.")
    amount: Money = strawberry.field(description="The amount it moved (positive).")
    created_at: datetime = strawberry.field(description="When it happened (UTC).")


@strawberry.type(
    description="A payment into a client's balance, with what was refunded or reversed of it."
)
class ClientPayment:
    id: relay.GlobalID = strawberry.field(
        description="Its ledger entry (the paymentId a refund names)."
    )
    created_at: datetime = strawberry.field(description="When it was credited (UTC).")
    amount: Money = strawberry.field(description="The amount credited.")
    method: PaymentMethod = strawberry.field(description="How it came.")
    status: PaymentStatus = strawberry.field(description="What became of it.")
    refunded: Money = strawberry.field(
        description="What refunds and reversals took of it, net of canceled reversals."
    )
    memo: str = strawberry.field(description="The note given with it.")
    corrections: list[PaymentCorrection] = strawberry.field(
        description="Its refunds, reversals and canceled reversals, oldest first."
    )

    @classmethod
    def from_domain(cls, payment: domain.Payment) -> ClientPayment:
        entry = payment.entry
        return cls(
            id=relay.GlobalID("LedgerEntry", str(entry.id)),
            created_at=entry.created_at,
            amount=Money.of(entry.amount, entry.currency),
            method=PaymentMethod(payment.method),
            status=PaymentStatus(payment.status),
            refunded=Money.of(payment.taken_back, entry.currency),
            memo=entry.memo,
            corrections=[
                PaymentCorrection(
                    id=relay.GlobalID("LedgerEntry", str(c.entry_id)),
                    kind=PaymentCorrectionKind(c.kind),
                    amount=Money.of(c.amount, entry.currency),
                    created_at=c.created_at,
                )
                for c in payment.corrections
            ],
        )
