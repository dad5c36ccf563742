"""PayPal REST app credentials: one app per reseller (its markup-model clients pay into it)
and one for the operator (resellers topping up, and commission-model clients, pay into it).

The client secret is write-only: stored encrypted at rest (``api.domain.secrets``, under the
key derived from ``DIALTONE_SECRET_KEY``), decrypted only to ask PayPal for a token, never
returned nor audited. A reseller's owner manages its own app; the operator manages its own
and, for support, any reseller's.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.domain import accounts, audit, secrets
from api.domain import validation as v
from api.domain.actors import Actor
from api.domain.errors import DomainError, ErrorCode, invalid, not_found
from api.domain.paypal_rest import RestApp
from api.models import PaypalCredentials
from api.settings import Settings

OPERATOR = "operator"
PERMISSION = "paypal:manage"
AUDIT_FIELDS = ("client_id", "webhook_id", "sandbox")
_ID_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def owner_key(reseller_id: int | None) -> str:
    """Whose app: ``operator`` or ``reseller:<id>``."""
    return OPERATOR if reseller_id is None else f"reseller:{reseller_id}"


def _token(field: str, value: str | None, *, max_len: int) -> str:
    value = v.text(field, value, max_len=max_len, required=True)
    if not _ID_RE.match(value):
        raise invalid(field, f"{field} takes letters, digits, dashes and underscores only")
    return value


def _check_sandbox(sandbox: bool, settings: Settings) -> None:
    if sandbox and not settings.paypal_sandbox:
        raise invalid("sandbox", "sandbox apps are refused unless DIALTONE_PAYPAL_SANDBOX is on")


async def find(session: AsyncSession, owner: str) -> PaypalCredentials | None:
    return await session.scalar(select(PaypalCredentials).where(PaypalCredentials.owner == owner))


async def read(
    session: AsyncSession, actor: Actor, reseller_id: int | None
) -> PaypalCredentials | None:
    """The app of the reseller the actor acts on (None: the operator's), without its secret."""
    reseller = await accounts.acting_reseller(session, actor, reseller_id, PERMISSION)
    return await find(session, owner_key(reseller.id if reseller else None))


async def set_credentials(
    session: AsyncSession,
    actor: Actor,
    reseller_id: int | None,
    data: dict[str, Any],
    *,
    settings: Settings,
) -> PaypalCredentials:
    """Create or replace an app. ``client_secret`` may be left out to keep the stored one."""
    reseller = await accounts.acting_reseller(session, actor, reseller_id, PERMISSION)
    owner_id = reseller.id if reseller else None
    fields = v.clean(
        data,
        {
            "client_id": lambda x: _token("clientId", x, max_len=128),
            "client_secret": lambda x: v.text("clientSecret", x, max_len=256, required=True),
            "webhook_id": lambda x: _token("webhookId", x, max_len=64),
            "sandbox": bool,
        },
        required=(("client_id", "clientId"), ("webhook_id", "webhookId")),
    )
    fields.setdefault("sandbox", False)
    _check_sandbox(fields["sandbox"], settings)
    secret = fields.pop("client_secret", None)
    row = await find(session, owner_key(owner_id))
    if row is None and secret is None:
        raise invalid("clientSecret", "clientSecret is required for a new app")
    if secret is not None:
        fields["secret_encrypted"] = secrets.encrypt(settings.secret_key, secret)
    if row is None:
        row = PaypalCredentials(owner=owner_key(owner_id), reseller_id=owner_id, **fields)
        session.add(row)
        await session.flush()
        await audit.record(
            session,
            actor,
            subject_type="paypal_credentials",
            subject_id=row.id,
            action="paypal_credentials.created",
            reseller_id=owner_id,
            after=audit.snapshot(row, AUDIT_FIELDS),
        )
        return row
    before = audit.snapshot(row, AUDIT_FIELDS)
    for name, value in fields.items():
        setattr(row, name, value)
    await session.flush()
    changed_before, changed_after = audit.changes(before, audit.snapshot(row, AUDIT_FIELDS))
    if secret is not None:
        changed_after["secret"] = "replaced"
    await audit.record(
        session,
        actor,
        subject_type="paypal_credentials",
        subject_id=row.id,
        action="paypal_credentials.updated",
        reseller_id=owner_id,
        before=changed_before,
        after=changed_after,
    )
    return row


async def delete_credentials(session: AsyncSession, actor: Actor, reseller_id: int | None) -> int:
    """Remove an app: no new orders are made with it (events of earlier ones then stay
    unverified). Returns the removed row's id."""
    reseller = await accounts.acting_reseller(session, actor, reseller_id, PERMISSION)
    owner_id = reseller.id if reseller else None
    row = await find(session, owner_key(owner_id))
    if row is None:
        raise not_found("PayPal app", "resellerId")
    removed = row.id
    await audit.record(
        session,
        actor,
        subject_type="paypal_credentials",
        subject_id=removed,
        action="paypal_credentials.deleted",
        reseller_id=owner_id,
        before=audit.snapshot(row, AUDIT_FIELDS),
    )
    await session.delete(row)
    await session.flush()
    return removed


def rest_app(row: PaypalCredentials, settings: Settings) -> RestApp:
    """The app's credentials in the clear, to make calls with."""
    _check_sandbox(row.sandbox, settings)
    try:
        secret = secrets.decrypt(settings.secret_key, row.secret_encrypted)
    except secrets.SecretUnreadable:
        raise DomainError(
            ErrorCode.CONFLICT,
            "the PayPal client secret was stored under another secret key; set it again",
        ) from None
    return RestApp(client_id=row.client_id, secret=secret, sandbox=row.sandbox)
