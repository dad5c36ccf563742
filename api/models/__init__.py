"""Every ORM model, imported so that ``Base.metadata`` knows all tables."""

from api.models.audit import AuditEvent
from api.models.brands import Brand, CacheStamp, Hostname
from api.models.calls import (
    BlacklistEntry,
    Call,
    CallRollup,
    ClientNumber,
    FreeMinutesUsage,
    SubAccount,
)
from api.models.fees import FeeCharge
from api.models.invoices import (
    ClientTaxRate,
    Invoice,
    InvoiceDocument,
    InvoiceEntry,
    InvoiceLine,
    InvoicePayment,
    PriceList,
    PriceListItem,
)
from api.models.ledger import Account, LedgerEntry, LedgerRollup, Posting
from api.models.notifications import (
    Event,
    OutboxAttachment,
    OutboxEmail,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from api.models.numbers import Did
from api.models.paypal import Deposit, PaypalIpnMessage
from api.models.paypal_checkout import PaypalCredentials, PaypalEvent, PaypalOrder
from api.models.rating import Package, PackageOverride, Rate, RateDeck
from api.models.tenants import Client, Reseller
from api.models.users import ApiToken, User, UserSession

__all__ = [
    "Account",
    "ApiToken",
    "AuditEvent",
    "BlacklistEntry",
    "Brand",
    "CacheStamp",
    "Call",
    "CallRollup",
    "Client",
    "ClientNumber",
    "ClientTaxRate",
    "Deposit",
    "Did",
    "Event",
    "FeeCharge",
    "FreeMinutesUsage",
    "Hostname",
    "Invoice",
    "InvoiceDocument",
    "InvoiceEntry",
    "InvoiceLine",
    "InvoicePayment",
    "LedgerEntry",
    "LedgerRollup",
    "OutboxAttachment",
    "OutboxEmail",
    "Package",
    "PackageOverride",
    "PaypalCredentials",
    "PaypalEvent",
    "PaypalIpnMessage",
    "PaypalOrder",
    "Posting",
    "PriceList",
    "PriceListItem",
    "Rate",
    "RateDeck",
    "Reseller",
    "SubAccount",
    "User",
    "UserSession",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
