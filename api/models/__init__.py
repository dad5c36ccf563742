"""Every ORM model, imported so that ``Base.metadata`` knows all tables."""

from api.models.audit import AuditEvent
from api.models.ledger import Account, LedgerEntry, Posting
from api.models.tenants import Client, Reseller
from api.models.users import ApiToken, User, UserSession

__all__ = [
    "Account",
    "ApiToken",
    "AuditEvent",
    "Client",
    "LedgerEntry",
    "Posting",
    "Reseller",
    "User",
    "UserSession",
]
