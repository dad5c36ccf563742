"""Invoices: the list, and a reseller's changes. Thin: parse, call the domain, map."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry import relay

from api.domain import invoices as domain
from api.domain import price_lists as price_lists_domain
from api.domain.actors import Actor
from api.models import Invoice as InvoiceRow
from api.models import PriceList as PriceListRow
from api.resolvers.context import Info
from api.resolvers.mutations import node_pk, run
from api.resolvers.pagination import paginate
from api.schema.common import INPUT, After, Connection, First, Money, described


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


def _pct(value) -> Decimal:
    """A percentage as stored: four decimals."""
    return Decimal(value).quantize(Decimal("0.0001"))


def _given(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _article(input: Any, **more: Any) -> dict[str, Any]:
    """The given article fields of a line's or a price list item's input (and ``more``)."""
    return _given(
        article_number=input.article_number,
        description=input.description,
        unit=input.unit,
        unit_price=input.unit_price,
        **more,
    )


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
        data = _article(input, quantity=input.quantity)
        line_id = node_pk(input.id, "InvoiceLine", "id")
        invoice, line = await domain.update_line(session, actor, line_id, data)
        return _done(invoice, line)

    return await run(info, InvoicePayload, action)


async def invoice_line_add(
    info: Info, input: Annotated[InvoiceLineAddInput, INPUT]
) -> InvoicePayload:
    async def action(session, actor: Actor):
        data = _article(
            input,
            quantity=input.quantity,
            price_list_item_id=node_pk(
                input.price_list_item_id, "PriceListItem", "priceListItemId"
            ),
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


async def price_lists(
    info: Info,
    first: First = None,
    after: After = None,
    reseller_id: Annotated[relay.GlobalID | None, described("Only this reseller's.")] = None,
) -> Connection[PriceList]:
    stmt = price_lists_domain.lists_query(
        info.context.actor, reseller_id=node_pk(reseller_id, "Reseller", "resellerId")
    )
    return await paginate(
        info, stmt, PriceListRow.id, first=first, after=after, to_node=PriceList.from_model
    )


async def _terms(session, client) -> ClientInvoiceTerms:
    rates = (await domain.tax_rates_of(session, [client.id]))[client.id]
    list_id = await price_lists_domain.list_id_of(session, client)
    return ClientInvoiceTerms(
        due_days=client.invoice_due_days,
        block_after_days_overdue=client.overdue_block_days,
        discount_pct=_pct(client.discount_pct),
        price_list_id=None if list_id is None else relay.GlobalID("PriceList", str(list_id)),
        tax_rates=[
            ClientTaxRate(rate_pct=_pct(r.rate_pct), valid_from=r.valid_from, valid_to=r.valid_to)
            for r in rates
        ],
    )


async def client_invoice_terms(
    info: Info, client_id: Annotated[relay.GlobalID, described("The client.")]
) -> ClientInvoiceTerms | None:
    from api.domain import accounts
    from api.domain.errors import DomainError

    async with info.context.read() as session:
        try:
            pk = node_pk(client_id, "Client", "clientId")
            assert pk is not None
            client = await accounts.get_client(session, info.context.actor, pk)
        except DomainError:
            return None
        if info.context.actor.client_id is None and not info.context.actor.can("clients:read"):
            return None
        return await _terms(session, client)


async def invoice_settings_update(
    info: Info, input: Annotated[InvoiceSettingsUpdateInput, INPUT]
) -> InvoiceSettingsPayload:
    async def action(session, actor: Actor):
        reseller = await domain.update_invoice_settings(
            session,
            actor,
            node_pk(input.reseller_id, "Reseller", "resellerId"),
            _given(tax_rate_pct=input.tax_rate_pct, credit_limit_step=input.credit_limit_step),
        )
        return {
            "tax_rate_pct": _pct(reseller.tax_rate_pct),
            "credit_limit_step": Money.of(reseller.credit_limit_step, reseller.currency),
        }

    return await run(info, InvoiceSettingsPayload, action)


async def client_invoice_terms_update(
    info: Info, input: Annotated[ClientInvoiceTermsUpdateInput, INPUT]
) -> ClientInvoiceTermsPayload:
    async def action(session, actor: Actor):
        data = _given(invoice_due_days=input.due_days, discount_pct=input.discount_pct)
        if input.block_after_days_overdue is not strawberry.UNSET:
            data["overdue_block_days"] = input.block_after_days_overdue
        if input.price_list_id is not strawberry.UNSET:
            data["price_list_id"] = node_pk(input.price_list_id, "PriceList", "priceListId")
        client_id = node_pk(input.client_id, "Client", "clientId")
        client = await domain.update_terms(session, actor, client_id, data)
        return {"terms": await _terms(session, client)}

    return await run(info, ClientInvoiceTermsPayload, action)


async def client_tax_rate_add(
    info: Info, input: Annotated[ClientTaxRateAddInput, INPUT]
) -> ClientInvoiceTermsPayload:
    async def action(session, actor: Actor):
        client_id = node_pk(input.client_id, "Client", "clientId")
        await domain.add_client_tax_rate(
            session, actor, client_id, input.rate_pct, input.valid_from, input.valid_to
        )
        from api.models import Client as ClientRow

        return {"terms": await _terms(session, await session.get(ClientRow, client_id))}

    return await run(info, ClientInvoiceTermsPayload, action)


async def price_list_create(
    info: Info, input: Annotated[PriceListCreateInput, INPUT]
) -> PriceListPayload:
    async def action(session, actor: Actor):
        row = await price_lists_domain.create_list(
            session, actor, node_pk(input.reseller_id, "Reseller", "resellerId"), input.name
        )
        return _list_payload(row)

    return await run(info, PriceListPayload, action)


def _list_payload(price_list: PriceListRow) -> dict[str, Any]:
    return {"price_list": PriceList.from_model(price_list)}


async def _item_payload(session, item) -> dict[str, Any]:
    """The payload of an article added or changed: it, and its list."""
    from api.models import Reseller as ResellerRow

    reseller = await session.get(ResellerRow, item.reseller_id)
    return {
        **_list_payload(await session.get(PriceListRow, item.price_list_id)),
        "item": PriceListItem.from_model(item, reseller.currency),
    }


async def price_list_item_create(
    info: Info, input: Annotated[PriceListItemCreateInput, INPUT]
) -> PriceListPayload:
    async def action(session, actor: Actor):
        data = _article(input, reseller_id=node_pk(input.reseller_id, "Reseller", "resellerId"))
        list_id = node_pk(input.price_list_id, "PriceList", "priceListId")
        item = await price_lists_domain.add_item(session, actor, list_id, data)
        return await _item_payload(session, item)

    return await run(info, PriceListPayload, action)


async def price_list_item_update(
    info: Info, input: Annotated[PriceListItemUpdateInput, INPUT]
) -> PriceListPayload:
    async def action(session, actor: Actor):
        data = _article(input)
        item_id = node_pk(input.id, "PriceListItem", "id")
        item = await price_lists_domain.update_item(session, actor, item_id, data)
        return await _item_payload(session, item)

    return await run(info, PriceListPayload, action)


async def price_list_item_delete(
    info: Info, input: Annotated[PriceListItemDeleteInput, INPUT]
) -> PriceListPayload:
    async def action(session, actor: Actor):
        item_id = node_pk(input.id, "PriceListItem", "id")
        return _list_payload(await price_lists_domain.delete_item(session, actor, item_id))

    return await run(info, PriceListPayload, action)


# Imported last: api.schema.invoices imports this module for its root fields.
from api.schema.invoices import (  # noqa: E402
    ClientInvoiceTerms,
    ClientInvoiceTermsPayload,
    ClientInvoiceTermsUpdateInput,
    ClientTaxRate,
    ClientTaxRateAddInput,
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
    InvoiceSettingsPayload,
    InvoiceSettingsUpdateInput,
    InvoiceStatus,
    PriceList,
    PriceListCreateInput,
    PriceListItem,
    PriceListItemCreateInput,
    PriceListItemDeleteInput,
    PriceListItemUpdateInput,
    PriceListPayload,
)
