"""Audit history: every change to resellers, clients, limits, billing modes and every money
movement is recorded with who did it, when, and the values before and after.

Money in the values is shown as the API shows it everywhere: a decimal string with its
currency (``{"amount": "20.00", "currency": "USD"}``), never micro-units. The fields that hold
money are named once, in :data:`MONEY_FIELDS`; their currency is the reseller's.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api import money
from api.domain.actors import Actor
from api.models import AuditEvent, Reseller

# the audited fields whose integers are micro-units of the reseller's currency
MONEY_FIELDS = frozenset(
    {
        "credit_limit",
        "credit_limit_step",
        "low_balance_threshold",
        "markup_fixed",
        "monthly_fee",
        "setup_fee",
        "monthly_price",
        "setup_price",
        "unit_price",
    }
)


def snapshot(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """The JSON-safe values of ``fields`` of a model row."""
    return {name: _jsonable(getattr(obj, name)) for name in fields}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def shown(values: dict[str, Any] | None, currency: str | None) -> dict[str, Any] | None:
    """``values`` with each money field's micro-units as an amount with its currency."""
    if values is None:
        return None
    return {
        name: (
            {"amount": money.format_amount(value), "currency": currency}
            if name in MONEY_FIELDS and isinstance(value, int) and not isinstance(value, bool)
            else value
        )
        for name, value in values.items()
    }


def _has_money(*values: dict[str, Any] | None) -> bool:
    return any(v is not None and not MONEY_FIELDS.isdisjoint(v) for v in values)


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict, dict]:
    """Only the fields that changed, on both sides."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


async def record(
    session: AsyncSession,
    actor: Actor,
    *,
    subject_type: str,
    subject_id: int,
    action: str,
    reseller_id: int | None,
    client_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    currency = None
    if reseller_id is not None and _has_money(before, after):
        reseller = await session.get(Reseller, reseller_id)
        currency = reseller.currency if reseller is not None else None
    event = event_of(
        actor,
        subject_type=subject_type,
        subject_id=subject_id,
        action=action,
        reseller_id=reseller_id,
        client_id=client_id,
        before=before,
        after=after,
        currency=currency,
    )
    session.add(event)
    await session.flush()
    return event


def event_of(
    actor: Actor,
    *,
    subject_type: str,
    subject_id: int,
    action: str,
    reseller_id: int | None,
    client_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    currency: str | None = None,
) -> AuditEvent:
    """The audit event :func:`record` writes, not yet added (for writing many at once); its
    money fields are shown in ``currency``."""
    return AuditEvent(
        actor_type=actor.audit_type,
        actor_id=actor.audit_id,
        actor_label=actor.label[:320],
        impersonator_id=actor.impersonator_id,
        impersonator_label=actor.impersonator_label[:320],
        reseller_id=reseller_id,
        client_id=client_id,
        subject_type=subject_type,
        subject_id=subject_id,
        action=action,
        before=shown(before, currency),
        after=shown(after, currency),
    )


async def apply_changes(
    session: AsyncSession,
    actor: Actor,
    obj: Any,
    fields: dict[str, Any],
    *,
    audited: tuple[str, ...],
    subject_type: str,
    reseller_id: int | None,
    client_id: int | None = None,
) -> dict[str, Any]:
    """Set ``fields`` on ``obj`` and record what really changed; returns the new values."""
    before = snapshot(obj, audited)
    for name, value in fields.items():
        setattr(obj, name, value)
    await session.flush()
    old, new = changes(before, snapshot(obj, audited))
    if new:
        await record(
            session,
            actor,
            subject_type=subject_type,
            subject_id=obj.id,
            action=f"{subject_type}.updated",
            reseller_id=reseller_id,
            client_id=client_id,
            before=old,
            after=new,
        )
    return new


def scoped_query(actor: Actor, *, client_id: int | None = None):
    """Audit events this actor may read: the operator all, a reseller its own tenant's.

    ``client_id`` asks for one client's history (the changes to it and to what is its own,
    money movements included): that needs ``audit:read`` outright (a role without it is
    refused, not shown an empty history); another tenant's client has no events to show."""
    stmt = select(AuditEvent)
    if client_id is not None:
        actor.require("audit:read")
        stmt = stmt.where(AuditEvent.client_id == client_id)
    if not actor.can("audit:read"):
        return stmt.where(False)
    if not actor.is_operator:
        stmt = stmt.where(AuditEvent.reseller_id == actor.reseller_id)
    return stmt


async def get_event(session: AsyncSession, actor: Actor, event_id: int) -> AuditEvent:
    from api.domain.errors import not_found

    if not actor.can("audit:read"):
        raise not_found("audit event")
    event = await session.get(AuditEvent, event_id)
    if event is None or not (actor.is_operator or event.reseller_id == actor.reseller_id):
        raise not_found("audit event")
    return event
