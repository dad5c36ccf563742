"""GraphQL of invoices: the invoices and credit notes of postpaid clients, their lines, and the
changes a reseller makes (draft, edit its lines, send, void, credit). Assembled as
``InvoicesQuery`` / ``InvoicesMutation``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum

import strawberry
from strawberry import relay

from api import models
from api.domain import invoices as invoices_domain
from api.resolvers.context import Info
from api.schema.common import Connection, Money, UserError
from api.schema.types import Client, Reseller, _resolve_scoped

ERRORS = "Expected failures; when not empty, nothing was changed."
MICROS = Decimal(1_000_000)

InvoiceStatus = strawberry.enum(
    Enum("InvoiceStatus", {k.upper(): k for k in invoices_domain.STATUSES}),
    description=(
        "DRAFT: editable, not numbered; SENT: numbered and emailed, never edited again; "
        "PAID: settled in full; VOID: cancelled."
    ),
)
InvoiceKind = strawberry.enum(
    Enum("InvoiceKind", {"INVOICE": "invoice", "CREDIT_NOTE": "credit_note"}),
    description="An invoice, or a credit note given back on one.",
)
InvoiceLineKind = strawberry.enum(
    Enum("InvoiceLineKind", {k.upper(): k for k in invoices_domain.LINE_KINDS}),
    description="CALLS: a destination's calls; FEE: a fee charged; ITEM: a line added by hand.",
)


@strawberry.type(description="One line of an invoice: quantity times price, and its tax.")
class InvoiceLine(relay.Node):
    id: relay.NodeID[int]
    kind: InvoiceLineKind = strawberry.field(description="Calls, a fee, or an added item.")
    article_number: str = strawberry.field(description="The article number.")
    description: str = strawberry.field(description="What the line is for.")
    unit: str = strawberry.field(description="The unit of the quantity (min, pcs).")
    quantity: Decimal = strawberry.field(description="How many units.")
    unit_price: Money = strawberry.field(description="The price of one unit.")
    amount: Money = strawberry.field(description="Quantity times price, rounded once.")
    tax_pct: Decimal = strawberry.field(description="The tax rate of the line, in percent.")
    tax: Money = strawberry.field(description="The line's tax, rounded once.")

    @classmethod
    def from_model(cls, row: models.InvoiceLine, currency: str = "") -> InvoiceLine:
        return cls(
            id=row.id,
            kind=InvoiceLineKind(row.kind),
            article_number=row.article_number,
            description=row.description,
            unit=row.unit,
            quantity=Decimal(row.quantity).normalize() + 0,
            unit_price=Money.of(row.unit_price, currency),
            amount=Money.of(row.amount, currency),
            tax_pct=Decimal(row.tax_pct).quantize(Decimal("0.0001")),
            tax=Money.of(row.tax, currency),
        )

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        async def fetch(session, actor, pk):
            line = await invoices_domain.get_line(session, actor, pk)
            invoice = await session.get(models.Invoice, line.invoice_id)
            return line, invoice.currency

        class _Wrap:
            @staticmethod
            def from_model(pair):
                return cls.from_model(*pair)

        return await _resolve_scoped(_Wrap, info, node_ids, fetch)


@strawberry.type(description="An invoice or credit note of a postpaid client.")
class Invoice(relay.Node):
    id: relay.NodeID[int]
    kind: InvoiceKind = strawberry.field(description="Invoice or credit note.")
    number: str | None = strawberry.field(description="Its number, once sent (INV-000001).")
    status: InvoiceStatus = strawberry.field(description="Draft, sent, paid or void.")
    reason: str = strawberry.field(
        description="Why it was drafted: credit_limit, manual, monthly (credit for a note)."
    )
    currency: str = strawberry.field(description="The currency of its amounts.")
    period_start: datetime | None = strawberry.field(
        description=(
            "The end of the client's previous invoice (null: none): it covers the calls posted"
            " since, and any posted before that no invoice had."
        )
    )
    period_end: datetime | None = strawberry.field(
        description="The calls it covers were posted (ingested) before this."
    )
    subtotal: Money = strawberry.field(description="The lines' amounts before tax.")
    tax: Money = strawberry.field(description="The lines' tax.")
    total: Money = strawberry.field(description="Subtotal plus tax.")
    paid: Money = strawberry.field(description="What payments (and credit notes) settled.")
    due: Money = strawberry.field(description="What is still to pay: total minus paid.")
    issued_at: datetime | None = strawberry.field(description="When it was sent (UTC).")
    due_at: datetime | None = strawberry.field(description="When payment is due (UTC).")
    paid_at: datetime | None = strawberry.field(description="When it was paid in full (UTC).")
    voided_at: datetime | None = strawberry.field(description="When it was voided (UTC).")
    created_at: datetime = strawberry.field(description="When it was drafted (UTC).")
    overdue: bool = strawberry.field(
        description="Sent, past its due date and not paid in full (never a credit note)."
    )
    client_pk: strawberry.Private[int]
    reseller_pk: strawberry.Private[int]
    credits_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, row: models.Invoice) -> Invoice:
        cur = row.currency
        return cls(
            id=row.id,
            kind=InvoiceKind(row.kind),
            number=row.number,
            status=InvoiceStatus(row.status),
            reason=row.reason,
            currency=cur,
            period_start=row.period_start,
            period_end=row.period_end,
            subtotal=Money.of(row.subtotal, cur),
            tax=Money.of(row.tax, cur),
            total=Money.of(row.total, cur),
            paid=Money.of(row.paid, cur),
            due=Money.of(row.total - row.paid, cur),
            issued_at=row.issued_at,
            due_at=row.due_at,
            paid_at=row.paid_at,
            voided_at=row.voided_at,
            created_at=row.created_at,
            overdue=invoices_domain.is_overdue(row),
            client_pk=row.client_id,
            reseller_pk=row.reseller_id,
            credits_pk=row.credits_invoice_id,
        )

    @strawberry.field(description="Its lines, in order.")
    async def lines(self, info: Info) -> list[InvoiceLine]:
        rows = await info.context.loaders.invoice_lines.load(self.id)
        return [InvoiceLine.from_model(row, self.currency) for row in rows]

    @strawberry.field(description="The client it is addressed to.")
    async def client(self, info: Info) -> Client:
        return Client.from_model(await info.context.loaders.client.load(self.client_pk))

    @strawberry.field(description="The reseller who issued it.")
    async def reseller(self, info: Info) -> Reseller | None:
        if info.context.actor.client_id is not None:
            return None
        return Reseller.from_model(await info.context.loaders.reseller.load(self.reseller_pk))

    @strawberry.field(description="A credit note's invoice.")
    def credits_invoice_id(self) -> relay.GlobalID | None:
        return None if self.credits_pk is None else relay.GlobalID("Invoice", str(self.credits_pk))

    @strawberry.field(description="Where its PDF is downloaded (GET, logged in).")
    def pdf_url(self) -> str:
        return f"/invoices/{relay.GlobalID('Invoice', str(self.id))}.pdf"

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        return await _resolve_scoped(cls, info, node_ids, invoices_domain.get_invoice)


# --- inputs and payloads -----------------------------------------------------------------------


@strawberry.input(description="A postpaid client to invoice for its uninvoiced charges now.")
class InvoiceDraftInput:
    client_id: relay.GlobalID = strawberry.field(description="The client.")


@strawberry.input(description="Changes of a draft invoice's line; omitted fields stay.")
class InvoiceLineUpdateInput:
    id: relay.GlobalID = strawberry.field(description="The line.")
    article_number: str | None = strawberry.field(default=None, description="New article.")
    description: str | None = strawberry.field(default=None, description="New description.")
    unit: str | None = strawberry.field(default=None, description="New unit.")
    quantity: Decimal | None = strawberry.field(
        default=None, description="New quantity (up to six decimals)."
    )
    unit_price: Decimal | None = strawberry.field(
        default=None, description="New price of one unit, e.g. a lower price per minute."
    )


@strawberry.input(
    description=(
        "A line to add to a draft invoice: given in full, or an article of the client's price "
        "list (its number, description, unit and price less the client's discount, unless given)."
    )
)
class InvoiceLineAddInput:
    invoice_id: relay.GlobalID = strawberry.field(description="The draft invoice.")
    price_list_item_id: relay.GlobalID | None = strawberry.field(
        default=None, description="An article of the client's price list."
    )
    description: str | None = strawberry.field(default=None, description="What it is for.")
    unit_price: Decimal | None = strawberry.field(
        default=None, description="The price of one unit."
    )
    quantity: Decimal | None = strawberry.field(default=None, description="How many (1).")
    article_number: str | None = strawberry.field(default=None, description="Article number.")
    unit: str | None = strawberry.field(default=None, description="The unit (pcs).")


@strawberry.input(description="A line of a draft invoice to remove.")
class InvoiceLineDeleteInput:
    id: relay.GlobalID = strawberry.field(description="The line.")


@strawberry.input(description="An invoice to act on.")
class InvoiceIdInput:
    id: relay.GlobalID = strawberry.field(description="The invoice.")


@strawberry.input(description="A credit note to give on a sent invoice.")
class CreditNoteCreateInput:
    invoice_id: relay.GlobalID = strawberry.field(description="The sent invoice.")
    amount: Decimal = strawberry.field(
        description="What to give back, tax included; at most what is still due."
    )
    reason: str = strawberry.field(description="Why, shown on the credit note.")
    idempotency_key: str = strawberry.field(
        description="Your unique key for this request: repeating it changes nothing."
    )


@strawberry.type(description="The invoice a change was made to.")
class InvoicePayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    invoice: Invoice | None = strawberry.field(default=None, description="The invoice.")
    line: InvoiceLine | None = strawberry.field(
        default=None, description="The line changed or added."
    )


@strawberry.type(description="A credit note given.")
class CreditNotePayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    credit_note: Invoice | None = strawberry.field(default=None, description="The credit note.")
    replayed: bool = strawberry.field(
        default=False, description="True when this key was seen before and nothing changed."
    )


# --- settings, terms, price lists -------------------------------------------------------------


@strawberry.type(description="An article of a price list.")
class PriceListItem(relay.Node):
    id: relay.NodeID[int]
    article_number: str = strawberry.field(description="The article number.")
    description: str = strawberry.field(description="What it is.")
    unit: str = strawberry.field(description="Its unit (pcs, h, ...).")
    unit_price: Money = strawberry.field(description="The price of one unit.")

    @classmethod
    def from_model(cls, row: models.PriceListItem, currency: str) -> PriceListItem:
        return cls(
            id=row.id,
            article_number=row.article_number,
            description=row.description,
            unit=row.unit,
            unit_price=Money.of(row.unit_price, currency),
        )

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        from api.domain import price_lists

        async def fetch(session, actor, pk):
            item = await price_lists.get_item(session, actor, pk)
            reseller = await session.get(models.Reseller, item.reseller_id)
            return item, reseller.currency

        class _Wrap:
            @staticmethod
            def from_model(pair):
                return cls.from_model(*pair)

        return await _resolve_scoped(_Wrap, info, node_ids, fetch)


@strawberry.type(description="A reseller's price list.")
class PriceList(relay.Node):
    id: relay.NodeID[int]
    name: str = strawberry.field(description="Its name.")
    is_basic: bool = strawberry.field(description="Whether it is the list new clients are on.")
    reseller_pk: strawberry.Private[int]

    @classmethod
    def from_model(cls, row: models.PriceList) -> PriceList:
        return cls(id=row.id, name=row.name, is_basic=row.is_basic, reseller_pk=row.reseller_id)

    @strawberry.field(description="Its articles, by article number.")
    async def items(self, info: Info) -> list[PriceListItem]:
        rows = await info.context.loaders.price_list_items.load(self.id)
        reseller = await info.context.loaders.reseller.load(self.reseller_pk)
        return [PriceListItem.from_model(row, reseller.currency) for row in rows]

    @classmethod
    async def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        from api.domain import price_lists

        return await _resolve_scoped(cls, info, node_ids, price_lists.get_list)


@strawberry.type(description="A client's own tax rate for a period.")
class ClientTaxRate:
    rate_pct: Decimal = strawberry.field(description="The rate, in percent.")
    valid_from: date = strawberry.field(description="The first day it applies.")
    valid_to: date | None = strawberry.field(description="The last day (null: open).")


@strawberry.type(description="A client's invoicing terms.")
class ClientInvoiceTerms:
    due_days: int = strawberry.field(description="Days to pay an invoice.")
    block_after_days_overdue: int | None = strawberry.field(
        description="Days past due before the client is blocked (null: never)."
    )
    discount_pct: Decimal = strawberry.field(description="Its discount on its price list.")
    price_list_id: relay.GlobalID | None = strawberry.field(
        description="Its price list: its own, else the reseller's basic list."
    )
    tax_rates: list[ClientTaxRate] = strawberry.field(
        description="Its own tax rates, by start (the latest given wins where they overlap)."
    )


@strawberry.input(description="A reseller's invoicing settings; omitted fields stay.")
class InvoiceSettingsUpdateInput:
    reseller_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The reseller (operator only; yours otherwise)."
    )
    tax_rate_pct: Decimal | None = strawberry.field(
        default=None, description="The tax rate on its clients' invoices, in percent."
    )
    credit_limit_step: Decimal | None = strawberry.field(
        default=None, description="How much a paid invoice raises a postpaid client's limit."
    )


@strawberry.type(description="A reseller's invoicing settings after the change.")
class InvoiceSettingsPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    tax_rate_pct: Decimal | None = strawberry.field(default=None, description="Its tax rate.")
    credit_limit_step: Money | None = strawberry.field(
        default=None, description="Its credit limit step."
    )


@strawberry.input(description="A client's invoicing terms; omitted fields stay.")
class ClientInvoiceTermsUpdateInput:
    client_id: relay.GlobalID = strawberry.field(description="The client.")
    due_days: int | None = strawberry.field(default=None, description="Days to pay (0-366).")
    block_after_days_overdue: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="Days past due before it is blocked (0-366); null: never blocked.",
    )
    discount_pct: Decimal | None = strawberry.field(
        default=None, description="Its discount on its price list, in percent."
    )
    price_list_id: relay.GlobalID | None = strawberry.field(
        default=strawberry.UNSET, description="Its price list; null: the basic list."
    )


@strawberry.input(description="A client's own tax rate for a period.")
class ClientTaxRateAddInput:
    client_id: relay.GlobalID = strawberry.field(description="The client.")
    rate_pct: Decimal = strawberry.field(description="The rate, in percent.")
    valid_from: date = strawberry.field(description="The first day it applies.")
    valid_to: date | None = strawberry.field(default=None, description="The last day, if any.")


@strawberry.type(description="A client's invoicing terms after the change.")
class ClientInvoiceTermsPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    terms: ClientInvoiceTerms | None = strawberry.field(default=None, description="The terms.")


@strawberry.input(description="A new price list.")
class PriceListCreateInput:
    reseller_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The reseller (operator only; yours otherwise)."
    )
    name: str = strawberry.field(description="Its name, unique for the reseller.")


@strawberry.input(description="A new article of a price list.")
class PriceListItemCreateInput:
    price_list_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The price list (null: the reseller's basic list)."
    )
    reseller_id: relay.GlobalID | None = strawberry.field(
        default=None, description="The reseller of the basic list (operator only)."
    )
    article_number: str = strawberry.field(description="Its article number, unique in the list.")
    description: str = strawberry.field(description="What it is.")
    unit: str | None = strawberry.field(default=None, description="Its unit (pcs).")
    unit_price: Decimal = strawberry.field(description="The price of one unit.")


@strawberry.input(description="Changes of a price list's article; omitted fields stay.")
class PriceListItemUpdateInput:
    id: relay.GlobalID = strawberry.field(description="The article.")
    article_number: str | None = strawberry.field(
        default=None, description="New article number, unique in the list."
    )
    description: str | None = strawberry.field(default=None, description="New description.")
    unit: str | None = strawberry.field(default=None, description="New unit (empty: pcs).")
    unit_price: Decimal | None = strawberry.field(
        default=None, description="New price of one unit."
    )


@strawberry.input(description="An article to remove from its price list.")
class PriceListItemDeleteInput:
    id: relay.GlobalID = strawberry.field(description="The article.")


@strawberry.type(description="A price list after the change.")
class PriceListPayload:
    errors: list[UserError] = strawberry.field(description=ERRORS)
    price_list: PriceList | None = strawberry.field(default=None, description="The list.")
    item: PriceListItem | None = strawberry.field(
        default=None, description="The article added or changed."
    )


# --- root fields (the resolvers import the types above) ----------------------------------------

from api.resolvers import invoices as resolvers  # noqa: E402


@strawberry.type(description="Reads of invoices.")
class InvoicesQuery:
    invoices: Connection[Invoice] = strawberry.field(
        resolver=resolvers.invoices,
        description=(
            "Invoices and credit notes, newest first: all (operator), a reseller's clients', "
            "or a client's own sent ones (never its drafts)."
        ),
    )
    price_lists: Connection[PriceList] = strawberry.field(
        resolver=resolvers.price_lists,
        description="Price lists: all (operator) or the reseller's own.",
    )
    client_invoice_terms: ClientInvoiceTerms | None = strawberry.field(
        resolver=resolvers.client_invoice_terms,
        description="A client's invoicing terms and own tax rates (null: not found).",
    )


@strawberry.type(description="Changes of invoices.")
class InvoicesMutation:
    invoice_draft: InvoicePayload = strawberry.mutation(
        resolver=resolvers.invoice_draft,
        description=(
            "Draft an invoice of a postpaid client's uninvoiced calls and fees now: CONFLICT "
            "when it has a draft already or nothing to invoice."
        ),
    )
    invoice_line_update: InvoicePayload = strawberry.mutation(
        resolver=resolvers.invoice_line_update,
        description="Change a draft's line (CONFLICT once the invoice is sent).",
    )
    invoice_line_add: InvoicePayload = strawberry.mutation(
        resolver=resolvers.invoice_line_add,
        description="Add a line to a draft (CONFLICT once the invoice is sent).",
    )
    invoice_line_delete: InvoicePayload = strawberry.mutation(
        resolver=resolvers.invoice_line_delete,
        description="Remove a line from a draft (CONFLICT once the invoice is sent).",
    )
    invoice_send: InvoicePayload = strawberry.mutation(
        resolver=resolvers.invoice_send,
        description=(
            "Send a draft: numbered, its PDF emailed to the client, an invoice.issued event; "
            "what the edits changed against the charges is posted to the ledger."
        ),
    )
    invoice_void: InvoicePayload = strawberry.mutation(
        resolver=resolvers.invoice_void,
        description=(
            "Void a sent invoice nothing was paid on: its total is given back to the client "
            "(CONFLICT otherwise: give a credit note)."
        ),
    )
    credit_note_create: CreditNotePayload = strawberry.mutation(
        resolver=resolvers.credit_note_create,
        description=(
            "Give a credit note on a sent invoice: the amount goes back to the client and "
            "settles that much of the invoice."
        ),
    )
    invoice_settings_update: InvoiceSettingsPayload = strawberry.mutation(
        resolver=resolvers.invoice_settings_update,
        description="Set a reseller's tax rate and credit limit step.",
    )
    client_invoice_terms_update: ClientInvoiceTermsPayload = strawberry.mutation(
        resolver=resolvers.client_invoice_terms_update,
        description="Set a client's payment terms, discount and price list.",
    )
    client_tax_rate_add: ClientInvoiceTermsPayload = strawberry.mutation(
        resolver=resolvers.client_tax_rate_add,
        description="Give a client its own tax rate for a period.",
    )
    price_list_create: PriceListPayload = strawberry.mutation(
        resolver=resolvers.price_list_create, description="Create a price list."
    )
    price_list_item_create: PriceListPayload = strawberry.mutation(
        resolver=resolvers.price_list_item_create,
        description="Add an article to a price list (CONFLICT: its number is taken).",
    )
    price_list_item_update: PriceListPayload = strawberry.mutation(
        resolver=resolvers.price_list_item_update,
        description=(
            "Change an article of a price list (CONFLICT: the new number is taken); invoice "
            "lines taken from it before keep what they were given."
        ),
    )
    price_list_item_delete: PriceListPayload = strawberry.mutation(
        resolver=resolvers.price_list_item_delete,
        description=(
            "Remove an article from its price list; invoice lines taken from it stay as they are."
        ),
    )
