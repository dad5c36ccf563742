"""The audit history."""

from __future__ import annotations

from api.domain import audit
from api.models import AuditEvent as EventRow
from api.resolvers.context import Info
from api.resolvers.pagination import paginate
from api.schema.common import Connection
from api.schema.types import AuditEvent


async def audit_events(
    info: Info,
    first: int | None = None,
    after: str | None = None,
    subject_type: str | None = None,
    subject_id: int | None = None,
) -> Connection[AuditEvent]:
    stmt = audit.scoped_query(info.context.actor)
    if subject_type is not None:
        stmt = stmt.where(EventRow.subject_type == subject_type)
    if subject_id is not None:
        stmt = stmt.where(EventRow.subject_id == subject_id)
    return await paginate(
        info,
        stmt,
        EventRow.id,
        first=first,
        after=after,
        to_node=AuditEvent.from_model,
        newest_first=True,
    )
