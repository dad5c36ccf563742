"""Invoices: the list, and a reseller's changes. Thin: parse, call the domain, map."""

from __future__ import annotations

from typing import Annotated, Any

from strawberry import relay

from api.domain import invoices as domain
from api.domain.actors import Actor
from api.models import Invoice as InvoiceRow
from api.resolvers.context import Info
from api.resolvers.mutations import node_pk, run
from api.resolvers.pagination import paginate
from api.schema.common import INPUT, After, Connection, First, described


async def invoices(
    info: Info,
    first: First = None,
    after: After = None,
    client_id: Annotated[relay.GlobalID | None, described("Only this client's.")] = None,
    status: Annotated[InvoiceStatus | None, described("Only of this status.")] = None,
) -> Connection[Invoice]:
    stmt = domain.invoices_query(
        info.context.actor,
        client_id=node_pk(client_id, "Client", "clientId"),
        status=status.value if status else None,
    )
    return await paginate(
        info,
        stmt,
        InvoiceRow.id,
        first=first,
        after=after,
        to_node=Invoice.from_model,
        newest_first=True,
    )


def _given(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _done(invoice, line=None) -> dict[str, Any]:
    out: dict[str, Any] = {"invoice": Invoice.from_model(invoice)}
    if line is not None:
        out["line"] = InvoiceLine.from_model(line, invoice.currency)
    return out


async def invoice_draft(info: Info, input: Annotated[InvoiceDraftInput, INPUT]) -> InvoicePayload:
    async def action(session, actor: Actor):
        client_id = node_pk(input.client_id, "Client", "clientId")
        return _done(await domain.draft_for_client(session, actor, client_id))

    return await run(info, InvoicePayload, action)


async def invoice_line_update(
    info: Info, input: Annotated[InvoiceLineUpdateInput, INPUT]
) -> InvoicePayload:
    async def action(session, actor: Actor):
        data = _given(
            article_number=input.article_number,
            description=input.description,
            unit=input.unit,
            quantity=input.quantity,
            unit_price=input.unit_price,
        )
        line_id = node_pk(input.id, "InvoiceLine", "id")
        invoice, line = await domain.update_line(session, actor, line_id, data)
        return _done(invoice, line)

    return await run(info, InvoicePayload, action)


async def invoice_line_add(
    info: Info, input: Annotated[InvoiceLineAddInput, INPUT]
) -> InvoicePayload:
    async def action(session, actor: Actor):
        data = _given(
            article_number=input.article_number,
            description=input.description,
            unit=input.unit,
            quantity=input.quantity,
            unit_price=input.unit_price,
        )
        invoice_id = node_pk(input.invoice_id, "Invoice", "invoiceId")
        invoice, line = await domain.add_line(session, actor, invoice_id, data)
        return _done(invoice, line)

    return await run(info, InvoicePayload, action)


async def invoice_line_delete(
    info: Info, input: Annotated[InvoiceLineDeleteInput, INPUT]
) -> InvoicePayload:
    async def action(session, actor: Actor):
        line_id = node_pk(input.id, "InvoiceLine", "id")
        return _done(await domain.delete_line(session, actor, line_id))

    return await run(info, InvoicePayload, action)


async def invoice_send(info: Info, input: Annotated[InvoiceIdInput, INPUT]) -> InvoicePayload:
    async def action(session, actor: Actor):
        invoice_id = node_pk(input.id, "Invoice", "invoiceId")
        return _done(await domain.send(session, actor, invoice_id))

    return await run(info, InvoicePayload, action)


async def invoice_void(info: Info, input: Annotated[InvoiceIdInput, INPUT]) -> InvoicePayload:
    async def action(session, actor: Actor):
        invoice_id = node_pk(input.id, "Invoice", "invoiceId")
        return _done(await domain.void(session, actor, invoice_id))

    return await run(info, InvoicePayload, action)


async def credit_note_create(
    info: Info, input: Annotated[CreditNoteCreateInput, INPUT]
) -> CreditNotePayload:
    async def action(session, actor: Actor):
        invoice_id = node_pk(input.invoice_id, "Invoice", "invoiceId")
        note, replayed = await domain.credit_note(
            session, actor, invoice_id, input.amount, input.reason, input.idempotency_key
        )
        return {"credit_note": Invoice.from_model(note), "replayed": replayed}

    return await run(info, CreditNotePayload, action)


# Imported last: api.schema.invoices imports this module for its root fields.
from api.schema.invoices import (  # noqa: E402
    CreditNoteCreateInput,
    CreditNotePayload,
    Invoice,
    InvoiceDraftInput,
    InvoiceIdInput,
    InvoiceLine,
    InvoiceLineAddInput,
    InvoiceLineDeleteInput,
    InvoiceLineUpdateInput,
    InvoicePayload,
    InvoiceStatus,
)
