"""A client's payment history: keyset pages of ``api.domain.payment_history``."""

from __future__ import annotations

from api.domain import payment_history
from api.models import LedgerEntry as EntryRow
from api.resolvers.context import Info
from api.resolvers.pagination import decode_cursor, encode_cursor, page_size
from api.schema.common import Connection, Edge, PageInfo
from api.schema.payment_history import ClientPayment


async def client_payments(
    info: Info, client_id: int, *, first: int | None, after: str | None
) -> Connection[ClientPayment]:
    size = page_size(first)
    stmt = payment_history.payments_query(info.context.actor, client_id)
    if after is not None:
        stmt = stmt.where(EntryRow.id < decode_cursor(after))
    stmt = stmt.order_by(EntryRow.id.desc()).limit(size + 1)
    async with info.context.read() as session:
        rows = list((await session.scalars(stmt)).all())
        has_next = len(rows) > size
        found = await payment_history.describe(session, rows[:size])
    edges = [
        Edge(node=ClientPayment.from_domain(p), cursor=encode_cursor(p.entry.id)) for p in found
    ]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
