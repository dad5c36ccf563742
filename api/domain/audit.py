"""Audit history: every change to resellers, clients, limits, billing modes and every money
movement is recorded with who did it, when, and the values before and after."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.domain.actors import Actor
from api.models import AuditEvent


def snapshot(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """The JSON-safe values of ``fields`` of a model row."""
    return {name: _jsonable(getattr(obj, name)) for name in fields}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


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
    event = event_of(
        actor,
        subject_type=subject_type,
        subject_id=subject_id,
        action=action,
        reseller_id=reseller_id,
        client_id=client_id,
        before=before,
        after=after,
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
) -> AuditEvent:
    """The audit event :func:`record` writes, not yet added (for writing many at once)."""
    return AuditEvent(
        actor_type=actor.audit_type,
        actor_id=actor.audit_id,
        actor_label=actor.label[:320],
        reseller_id=reseller_id,
        client_id=client_id,
        subject_type=subject_type,
        subject_id=subject_id,
        action=action,
        before=before,
        after=after,
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


def scoped_query(actor: Actor):
    """Audit events this actor may read: the operator all, a reseller its own tenant's."""
    stmt = select(AuditEvent)
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
