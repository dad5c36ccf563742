"""Keyset pagination over an id column: never OFFSET. Cursors are opaque base64 of the id."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from sqlalchemy import Select

from api.domain.errors import DomainError, ErrorCode
from api.resolvers.context import Info
from api.schema.common import Connection, Edge, PageInfo

DEFAULT_PAGE = 50
MAX_PAGE = 500


def encode_cursor(key: int) -> str:
    return base64.urlsafe_b64encode(f"k:{key}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        prefix, value = text.split(":", 1)
        if prefix != "k":
            raise ValueError
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise DomainError(ErrorCode.VALIDATION, "not a valid cursor", "after") from None


def page_size(first: int | None) -> int:
    size = DEFAULT_PAGE if first is None else first
    if size < 0 or size > MAX_PAGE:
        raise DomainError(ErrorCode.VALIDATION, f"first must be between 0 and {MAX_PAGE}", "first")
    return size


async def paginate(
    info: Info,
    stmt: Select,
    key_column: Any,
    *,
    first: int | None,
    after: str | None,
    to_node: Callable[[Any], Any],
    newest_first: bool = False,
) -> Connection:
    size = page_size(first)
    if after is not None:
        key = decode_cursor(after)
        stmt = stmt.where(key_column < key if newest_first else key_column > key)
    stmt = stmt.order_by(key_column.desc() if newest_first else key_column.asc()).limit(size + 1)
    async with info.context.read() as session:
        rows = list((await session.scalars(stmt)).all())
    has_next = len(rows) > size
    rows = rows[:size]
    edges = [Edge(node=to_node(row), cursor=encode_cursor(row.id)) for row in rows]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )
