"""Calls: the report connection (keyset on started_at, id) and the ingestion mutation."""

from __future__ import annotations

import base64
from datetime import datetime

from strawberry import relay

from api.domain import calls as calls_domain
from api.domain import cdr_formats, reports
from api.domain.actors import Actor
from api.domain.errors import DomainError, ErrorCode
from api.resolvers.context import Info
from api.resolvers.mutations import node_pk, run
from api.resolvers.pagination import page_size
from api.schema.calls import (
    Call,
    CallConnection,
    CallRowError,
    CallsIngestInput,
    CallsIngestPayload,
    IngestTotals,
)
from api.schema.common import Edge, Money, PageInfo

MAX_BATCH = 1000


def encode_cursor(started_at: datetime, pk: int) -> str:
    return base64.urlsafe_b64encode(f"c:{started_at.isoformat()}|{pk}".encode()).decode()


def decode_cursor(cursor: str, field: str = "after") -> tuple[datetime, int]:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        kind, rest = text.split(":", 1)
        stamp, pk = rest.rsplit("|", 1)
        if kind != "c":
            raise ValueError(kind)
        moment = datetime.fromisoformat(stamp)
        if moment.tzinfo is None:
            raise ValueError(stamp)
        return moment, int(pk)
    except (ValueError, UnicodeDecodeError):
        raise DomainError(ErrorCode.VALIDATION, "not a valid cursor", field) from None


async def calls(
    info: Info,
    *,
    first: int | None,
    after: str | None,
    before: str | None = None,
    client_id: relay.GlobalID | None,
    sub_account_id: relay.GlobalID | None,
    reseller_id: relay.GlobalID | None,
    started_from: datetime | None,
    started_to: datetime | None,
    direction: str | None,
    disposition: str | None,
    prefix: str | None,
    number: str | None,
) -> CallConnection:
    actor = info.context.actor
    size = page_size(first)
    if after is not None and before is not None:
        raise DomainError(ErrorCode.VALIDATION, "give after or before, not both", "before")
    position = decode_cursor(after) if after is not None else None
    backward = decode_cursor(before, "before") if before is not None else None
    wanted = reports.CallFilter(
        reseller_id=node_pk(reseller_id, "Reseller", "resellerId"),
        client_id=node_pk(client_id, "Client", "clientId"),
        sub_account_id=node_pk(sub_account_id, "SubAccount", "subAccountId"),
        started_from=started_from,
        started_to=started_to,
        direction=direction,
        disposition=disposition,
        prefix=prefix,
        number=number,
    )
    async with info.context.read() as session:
        scoped = await reports.scoped_filter(session, actor, wanted)
        rows, more = await reports.calls_page(
            session, actor, scoped, size=size, after=position, before=backward
        )
    show = reports.shows_cost(actor)
    edges = [
        Edge(node=Call.from_model(row, show), cursor=encode_cursor(row.started_at, row.id))
        for row in rows
    ]
    return CallConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=True if backward is not None else more,
            has_previous_page=more if backward is not None else after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        call_filter=scoped,
    )


def payload_fields(report: calls_domain.IngestReport) -> dict:
    return {
        "ingested": report.ingested,
        "duplicates": report.duplicates,
        "rejected": report.rejected,
        "row_errors": [
            CallRowError(row=i.row, message=i.message, duplicate=i.duplicate) for i in report.issues
        ],
        "totals": [
            IngestTotals(
                currency=t.currency,
                calls=t.calls,
                answered_seconds=t.seconds,
                cost=Money.of(t.cost, t.currency),
                sell=Money.of(t.sell, t.currency),
            )
            for t in sorted(report.totals.values(), key=lambda t: t.currency)
        ],
    }


def _records(input: CallsIngestInput):
    for row, call in enumerate(input.calls, start=1):
        try:
            yield (
                row,
                cdr_formats.record_from_mapping(
                    {
                        "call_id": call.call_id,
                        "destination": call.destination,
                        "started_at": call.started_at,
                        "duration": call.duration,
                        "billsec": call.billsec,
                        "disposition": call.disposition.value,
                        "direction": call.direction.value,
                        "sub_account": call.sub_account,
                        "a_number": call.a_number,
                    }
                ),
            )
        except cdr_formats.RecordError as exc:
            yield row, str(exc)


async def calls_ingest(info: Info, input: CallsIngestInput) -> CallsIngestPayload:
    async def action(session, actor: Actor) -> dict:
        actor.require("calls:write")
        if len(input.calls) > MAX_BATCH:
            raise DomainError(
                ErrorCode.LIMIT_EXCEEDED, f"send at most {MAX_BATCH} calls a request", "calls"
            )
        report = await calls_domain.ingest(session, actor, _records(input), input.home_country)
        return payload_fields(report)

    return await run(info, CallsIngestPayload, action)
