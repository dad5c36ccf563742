"""The audit history."""

from __future__ import annotations

from typing import Annotated

from strawberry import relay

from api.domain import audit
from api.models import AuditEvent as EventRow
from api.resolvers.context import Info
from api.resolvers.mutations import node_pk
from api.resolvers.pagination import paginate
from api.schema.common import After, Connection, First, described
from api.schema.types import AuditEvent


async def audit_events(
    info: Info,
    first: First = None,
    after: After = None,
    subject_type: Annotated[str | None, described("Only changes to this kind of object.")] = None,
    subject_id: Annotated[int | None, described("Only changes to this object id.")] = None,
    client_id: Annotated[
        relay.GlobalID | None,
        described(
            "Only this client's history: changes to it and to what is its own (needs audit:read)."
        ),
    ] = None,
) -> Connection[AuditEvent]:
    stmt = audit.scoped_query(
        info.context.actor, client_id=node_pk(client_id, "Client", "clientId")
    )
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
