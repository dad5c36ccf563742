"""Invoices of postpaid clients: drafted from uninvoiced charges, edited, sent, settled.

Uninvoiced charges ("orders") of a postpaid client are its ``calls`` ledger entries that no
invoice has claimed, and its fee charges (``fee_charges``) with no invoice. Call ingestion
posts one ``calls`` entry per client per batch, committed with the batch's calls, and each
stored call names it (``calls.entry_id``); nothing marks a call when it is ingested. A draft
claims entries, not a window of time: it records in ``invoice_entries`` every unclaimed
``calls`` entry of the client posted before its ``period_end`` (one ``INSERT … SELECT``; the
entry id is that table's primary key, so no entry, and no call, is ever on two invoices), and
its call lines are those entries' calls grouped by destination (through the index on
``calls.entry_id``). So a call lands on exactly one invoice, however late its CDR came: a call
delivered a month after it started is on the next draft after its delivery, and so is a call
whose batch was still uncommitted while a draft was made (the draft could not see its entry,
so the next one claims it). An invoice's call lines add up to what its claimed entries debited
the client. ``period_start`` is the previous draft's ``period_end`` (``clients.invoiced_until``):
the invoice bills what was posted in between, and anything posted before that no invoice had.

The lookup is an index scan of the client's entries (``ix_ledger_entries_client_id_id``) from
its floor (``clients.invoice_entry_floor``) on: every entry at or below the floor that charged
the client is claimed. A draft raises the floor to the highest entry it claimed that was posted
before its cutoff: :data:`CLAIM_HORIZON` (a day) before its end and, on PostgreSQL,
:data:`CLOCK_MARGIN` before the start of the oldest transaction open on the database (read
before the entries are). An entry's id is given when its batch posts, inside the batch's
transaction, so an entry still uncommitted below the floor would belong to a transaction open
since before that cutoff: there is none, and the floor never passes over an entry a later
draft must claim. (SQLite runs one writer at a time: no batch is in flight beside a draft.)

Drafting (:func:`draft`):

* when the client reaches its credit limit: the status rule (``accounts.apply_balance_status``)
  blocks it and calls :func:`limit_reached`, in the transaction of the charge that reached the
  limit (a batch of calls, a fee), which drafts up to that moment;
* by the reseller on request (GraphQL ``invoiceDraft``).

The client's row is locked first, and a client has at most one draft: while a draft is open,
nothing else is drafted for it (its charges since wait for the next invoice), so drafting twice
changes nothing. A client with no uninvoiced charge gets no draft.

Lines: one per destination group of calls (article ``CALL-<prefix>``, quantity the chargeable
minutes, amount the exact sum of the calls' prices), one per fee charge (``FEE-MONTHLY`` /
``FEE-SETUP``). Each line's tax is ``tax_pct`` % of its amount, rounded once half-up
(``money.percent_of``); the invoice's tax is the sum of its lines'. The reseller edits a draft's
lines (description, quantity, price: amount = quantity * price, rounded once), adds and removes
lines, and sends it: it gets the reseller's next number (``INV-000001``…), its due date
(``clients.invoice_due_days``), its PDF (``api.domain.invoice_pdf``), an ``invoice.issued``
event with the PDF emailed to the client, and the ledger entry of what the document changed
(``payments.invoice_adjustment``: nothing for an unchanged tax-free invoice). A sent invoice is
never edited again. Payments settle it (``api.domain.settlement``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import BigInteger, Select, func, insert, literal, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from api import money
from api.domain import accounts, alerts, audit, invoice_pdf, ledger, notifications, payments
from api.domain import validation as v
from api.domain.actors import Actor
from api.domain.errors import DomainError, ErrorCode, invalid, not_found
from api.domain.ledger import Idempotency
from api.i18n import language_of, translations
from api.models import (
    Brand,
    Call,
    Client,
    ClientTaxRate,
    FeeCharge,
    Invoice,
    InvoiceDocument,
    InvoiceEntry,
    InvoiceLine,
    InvoicePayment,
    LedgerEntry,
    Reseller,
)
from api.models.base import utcnow

READ = "clients:read"
WRITE = "payments:write"
STATUSES = ("draft", "sent", "paid", "void")
LINE_KINDS = ("calls", "fee", "item")
MAX_LINES = 500
MAX_QUANTITY = Decimal(10) ** 12
_QUANTITY_PLACES = Decimal("0.000001")
_MINUTE = Decimal(60)
CALLS_ENTRY = "calls"  # the ledger entries of a client's calls of a batch (api.domain.calls)
# a client's floor passes over claimed entries posted this long before a draft, and this long
# before the oldest transaction open on PostgreSQL (for the clocks of different servers)
CLAIM_HORIZON = timedelta(days=1)
CLOCK_MARGIN = timedelta(hours=1)
# a client's row is locked to serialize its invoices' changes: FOR NO KEY UPDATE on
# PostgreSQL, which does not wait for the key-share locks that rows naming the client take (a
# call batch's ledger entries), so a draft or a payment never deadlocks with one
_CLIENT_LOCK = {"key_share": True}


# --- reading -------------------------------------------------------------------------------------


def can_see(actor: Actor, invoice: Invoice) -> bool:
    if actor.client_id is not None:
        return invoice.client_id == actor.client_id and invoice.status != "draft"
    return actor.can(READ) and actor.sees_reseller(invoice.reseller_id)


def is_overdue(invoice: Invoice, now: datetime | None = None) -> bool:
    """Whether an invoice is overdue: sent, past its due date, with something still to pay (a
    credit note, a draft, a paid or a void invoice never is). The worker's ``overdue_at`` says
    when its overdue email went; this says where it stands now."""
    return (
        invoice.kind == "invoice"
        and invoice.status == "sent"
        and invoice.due_at is not None
        and invoice.due_at < (now or utcnow())
        and invoice.total > invoice.paid
    )


def invoices_query(
    actor: Actor,
    *,
    client_id: int | None = None,
    status: str | None = None,
) -> Select:
    """The invoices an actor may list: a client its own sent ones, a reseller its clients',
    the operator all; optionally one client's, or one status."""
    stmt = select(Invoice)
    if actor.client_id is not None:
        stmt = stmt.where(Invoice.client_id == actor.client_id, Invoice.status != "draft")
    elif not actor.is_authenticated or not actor.can(READ):
        return stmt.where(False)
    elif not actor.is_operator:
        stmt = stmt.where(Invoice.reseller_id == actor.reseller_id)
    if client_id is not None:
        stmt = stmt.where(Invoice.client_id == client_id)
    if status is not None:
        stmt = stmt.where(Invoice.status == v.choice("status", status, STATUSES))
    return stmt


async def get_invoice(
    session: AsyncSession,
    actor: Actor,
    invoice_id: int,
    *,
    for_update: bool = False,
    field: str = "invoiceId",
) -> Invoice:
    invoice = await session.get(Invoice, invoice_id, with_for_update=for_update or None)
    if invoice is None or not can_see(actor, invoice):
        raise not_found("invoice", field)
    return invoice


async def lines_of(session: AsyncSession, invoice_ids: Sequence[int]) -> dict[int, list]:
    out: dict[int, list[InvoiceLine]] = {i: [] for i in invoice_ids}
    if not invoice_ids:
        return out
    for line in await session.scalars(
        select(InvoiceLine)
        .where(InvoiceLine.invoice_id.in_(list(invoice_ids)))
        .order_by(InvoiceLine.invoice_id, InvoiceLine.position, InvoiceLine.id)
    ):
        out[line.invoice_id].append(line)
    return out


async def pdf_of(session: AsyncSession, actor: Actor, invoice_id: int) -> tuple[Invoice, bytes]:
    """A sent invoice's PDF (as it was sent), or a draft's rendered now (reseller only)."""
    invoice = await get_invoice(session, actor, invoice_id)
    if invoice.status != "draft":
        document = await session.get(InvoiceDocument, invoice.id)
        if document is not None:
            return invoice, document.content
    return invoice, await _render(session, invoice)


# --- drafting -----------------------------------------------------------------------------------


async def limit_reached(session: AsyncSession, actor: Actor, client: Client) -> Invoice | None:
    """The status rule blocked ``client`` at its credit limit: draft its uninvoiced charges."""
    return await draft(session, actor, client, until=utcnow(), reason="credit_limit")


async def draft_for_client(session: AsyncSession, actor: Actor, client_id: int) -> Invoice:
    """The reseller asks for an invoice of a client's uninvoiced charges now."""
    actor.require(WRITE)
    client = await accounts.get_client(session, actor, client_id, field="clientId")
    if actor.client_id is not None:
        raise not_found("client", "clientId")
    if client.billing_mode != "postpaid":
        raise invalid("clientId", "only postpaid clients are invoiced")
    existing = await _open_draft(session, client.id)
    if existing is not None:
        raise DomainError(
            ErrorCode.CONFLICT, "the client has a draft invoice already; send it first", "clientId"
        )
    invoice = await draft(session, actor, client, until=utcnow(), reason="manual")
    if invoice is None:
        raise DomainError(ErrorCode.CONFLICT, "the client has no uninvoiced charges", "clientId")
    return invoice


async def _open_draft(session: AsyncSession, client_id: int) -> Invoice | None:
    return await session.scalar(
        select(Invoice)
        .where(
            Invoice.client_id == client_id,
            Invoice.status == "draft",
            Invoice.kind == "invoice",
        )
        .limit(1)
    )


@dataclass
class _CallGroup:
    destination: str
    prefix: str
    seconds: int
    amount: int


def _unclaimed_calls(client_id: int, floor: int, until: datetime) -> Select:
    """The client's ``calls`` entries above its floor, posted before ``until``, that charged it
    and that no invoice has claimed: read through the entries' (client, id) index from the
    floor on."""
    claimed = select(InvoiceEntry.entry_id).where(InvoiceEntry.entry_id == LedgerEntry.id)
    return select(LedgerEntry.id).where(
        LedgerEntry.client_id == client_id,
        LedgerEntry.id > floor,
        LedgerEntry.kind == CALLS_ENTRY,
        LedgerEntry.amount != 0,
        LedgerEntry.created_at < until,
        ~claimed.exists(),
    )


async def _claim_cutoff(session: AsyncSession, until: datetime) -> datetime:
    """How recent an entry the client's floor may pass over (see the module docstring):
    :data:`CLAIM_HORIZON` before ``until`` and, on PostgreSQL, :data:`CLOCK_MARGIN` before the
    start of the oldest transaction open on the database, so that every entry below the floor
    was committed when the draft claimed. (On SQLite a draft holds the only write lock: no
    batch is in flight beside it.)"""
    cutoff = until - CLAIM_HORIZON
    if session.get_bind().dialect.name == "postgresql":
        oldest = await session.scalar(
            text("SELECT min(xact_start) FROM pg_stat_activity WHERE datname = current_database()")
        )
        if oldest is not None:
            cutoff = min(cutoff, oldest - CLOCK_MARGIN)
    return cutoff


async def _claim_calls(
    session: AsyncSession, invoice: Invoice, floor: int, until: datetime, cutoff: datetime
) -> tuple[list[_CallGroup], int]:
    """Claim the client's unclaimed ``calls`` entries for ``invoice`` (one INSERT … SELECT),
    and read their calls grouped by destination (through ``calls.entry_id``); with the
    client's new floor: the highest entry claimed that was posted before ``cutoff``."""
    await session.execute(
        insert(InvoiceEntry).from_select(
            ["entry_id", "invoice_id"],
            _unclaimed_calls(invoice.client_id, floor, until).add_columns(
                literal(invoice.id, BigInteger)
            ),
        )
    )
    stmt = (
        select(
            Call.destination_name,
            func.min(Call.matched_prefix),
            func.coalesce(func.sum(Call.sell_billed - Call.free_seconds), 0),
            func.coalesce(func.sum(Call.sell), 0),
        )
        .join(InvoiceEntry, InvoiceEntry.entry_id == Call.entry_id)
        .where(InvoiceEntry.invoice_id == invoice.id)
        .group_by(Call.destination_name)
        .order_by(Call.destination_name)
    )
    groups = [
        _CallGroup(name or "Other", prefix or "", int(seconds), int(amount))
        for name, prefix, seconds, amount in await session.execute(stmt)
        if amount
    ]
    highest = await session.scalar(
        select(func.max(InvoiceEntry.entry_id))
        .join(LedgerEntry, LedgerEntry.id == InvoiceEntry.entry_id)
        .where(InvoiceEntry.invoice_id == invoice.id, LedgerEntry.created_at < cutoff)
    )
    return groups, max(floor, highest or 0)


async def tax_pct_for(
    session: AsyncSession, reseller: Reseller, client: Client, on: date | None = None
) -> Decimal:
    """The tax rate of a client's invoice lines on the day ``on`` (today, UTC): its own rate
    valid that day (the latest one given, if several are), else its reseller's rate."""
    day = on or utcnow().date()
    own = await session.scalar(
        select(ClientTaxRate.rate_pct)
        .where(
            ClientTaxRate.client_id == client.id,
            ClientTaxRate.valid_from <= day,
            (ClientTaxRate.valid_to.is_(None)) | (ClientTaxRate.valid_to >= day),
        )
        .order_by(ClientTaxRate.id.desc())
        .limit(1)
    )
    return Decimal(own if own is not None else (reseller.tax_rate_pct or 0))


async def draft(
    session: AsyncSession,
    actor: Actor,
    client: Client,
    *,
    until: datetime,
    reason: str,
    advance_empty: bool = False,
) -> Invoice | None:
    """Draft an invoice of ``client``'s charges not invoiced yet: the calls of its ``calls``
    ledger entries posted before ``until`` that no invoice has claimed, and its fee charges
    without an invoice. None when it has a draft open already or nothing to invoice (see the
    module docstring)."""
    # lock the client: concurrent drafts of one client run one after the other
    start, floor = (
        await session.execute(
            select(Client.invoiced_until, Client.invoice_entry_floor)
            .where(Client.id == client.id)
            .with_for_update(**_CLIENT_LOCK)
        )
    ).one()
    if await _open_draft(session, client.id) is not None:
        return None
    reseller = await session.get(Reseller, client.reseller_id)
    assert reseller is not None
    # the cutoff is read before the entries are, so that it predates every batch in flight
    cutoff = await _claim_cutoff(session, until)
    has_calls = (
        await session.scalar(_unclaimed_calls(client.id, floor, until).limit(1))
    ) is not None
    fees = list(
        await session.scalars(
            select(FeeCharge)
            .where(
                FeeCharge.client_id == client.id,
                FeeCharge.invoice_id.is_(None),
                FeeCharge.client_amount != 0,
            )
            .order_by(FeeCharge.id)
        )
    )
    if not has_calls and not fees:
        if advance_empty and (start is None or until > start):
            # nothing posted before `until` is left to invoice: the worker need not look again
            await session.execute(
                update(Client).where(Client.id == client.id).values(invoiced_until=until)
            )
            client.invoiced_until = until
        return None
    tax_pct = await tax_pct_for(session, reseller, client)
    # the call lines are described in the client's language (the destination is the deck's)
    _ = translations(await notifications.client_language(session, client)).gettext
    invoice = Invoice(
        reseller_id=reseller.id,
        client_id=client.id,
        kind="invoice",
        status="draft",
        reason=reason,
        currency=reseller.currency,
        period_start=start,
        period_end=max(until, start) if start is not None else until,
    )
    session.add(invoice)
    await session.flush()
    groups: list[_CallGroup] = []
    if has_calls:
        groups, new_floor = await _claim_calls(session, invoice, floor, until, cutoff)
        if new_floor > floor:
            await session.execute(
                update(Client).where(Client.id == client.id).values(invoice_entry_floor=new_floor)
            )
            set_committed_value(client, "invoice_entry_floor", new_floor)
    lines: list[InvoiceLine] = []
    for group in groups:
        minutes = (Decimal(group.seconds) / _MINUTE).quantize(_QUANTITY_PLACES)
        per_minute = (
            money.round_micros(Decimal(group.amount) * _MINUTE / group.seconds)
            if group.seconds
            else group.amount
        )
        lines.append(
            _line(
                invoice,
                kind="calls",
                article_number=f"CALL-{group.prefix}" if group.prefix else "CALL",
                description=_("Calls to %(destination)s") % {"destination": group.destination},
                unit="min",
                quantity=minutes if group.seconds else Decimal(1),
                unit_price=per_minute,
                amount=group.amount,
                tax_pct=tax_pct,
                charged=group.amount,
            )
        )
    for fee in fees:
        fee.invoice_id = invoice.id
        lines.append(
            _line(
                invoice,
                kind="fee",
                article_number=f"FEE-{fee.kind.upper()}",
                description=(fee.description or f"{fee.kind} fee")[:300],
                unit="pcs",
                quantity=Decimal(1),
                unit_price=fee.client_amount,
                amount=fee.client_amount,
                tax_pct=tax_pct,
                charged=fee.client_amount,
            )
        )
    for position, line in enumerate(lines, start=1):
        line.position = position
    session.add_all(lines)
    if start is None or until > start:
        await session.execute(
            update(Client).where(Client.id == client.id).values(invoiced_until=until)
        )
        client.invoiced_until = until
    _totals(invoice, lines)
    invoice.charged = sum(line.charged for line in lines)
    await session.flush()
    await _audit(session, actor, invoice, "invoice.drafted")
    return invoice


def _line(invoice: Invoice, **fields: Any) -> InvoiceLine:
    line = InvoiceLine(invoice_id=invoice.id, **fields)
    line.tax = money.percent_of(line.amount, line.tax_pct)
    return line


def _totals(invoice: Invoice, lines: Sequence[InvoiceLine]) -> None:
    invoice.subtotal = sum(line.amount for line in lines)
    invoice.tax = sum(line.tax for line in lines)
    invoice.total = invoice.subtotal + invoice.tax


async def _audit(session: AsyncSession, actor: Actor, invoice: Invoice, action: str) -> None:
    await audit.record(
        session,
        actor,
        subject_type="invoice",
        subject_id=invoice.id,
        action=action,
        reseller_id=invoice.reseller_id,
        client_id=invoice.client_id,
        after={
            "number": invoice.number,
            "status": invoice.status,
            "subtotal": money.format_amount(invoice.subtotal),
            "tax": money.format_amount(invoice.tax),
            "total": money.format_amount(invoice.total),
        },
    )


# --- editing a draft ------------------------------------------------------------------------------


async def _draft_for_write(session: AsyncSession, actor: Actor, invoice_id: int) -> Invoice:
    actor.require(WRITE)
    if actor.client_id is not None:
        raise not_found("invoice", "invoiceId")
    invoice = await get_invoice(session, actor, invoice_id, for_update=True)
    if invoice.status != "draft":
        raise DomainError(
            ErrorCode.CONFLICT,
            "a sent invoice is never edited: void it or issue a credit note",
            "invoiceId",
        )
    return invoice


def _quantity(field: str, value: Any) -> Decimal:
    try:
        dec = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise invalid(field, "not a number") from exc
    if not dec.is_finite() or dec < 0 or dec > MAX_QUANTITY:
        raise invalid(field, "a quantity is a number from 0 up to a trillion")
    if dec != dec.quantize(_QUANTITY_PLACES):
        raise invalid(field, "a quantity takes at most six decimal places")
    return dec


def _clean_line(data: dict[str, Any]) -> dict[str, Any]:
    checks = {
        "article_number": lambda x: v.text("articleNumber", x, max_len=40),
        "description": lambda x: v.text("description", x, max_len=300, required=True),
        "unit": lambda x: v.text("unit", x, max_len=16),
        "quantity": lambda x: _quantity("quantity", x),
        "unit_price": lambda x: v.amount("unitPrice", x),
    }
    return v.clean(data, checks, ())


async def _lines_of_draft(session: AsyncSession, invoice: Invoice) -> list[InvoiceLine]:
    return (await lines_of(session, [invoice.id]))[invoice.id]


async def _draft_line_for_write(
    session: AsyncSession, actor: Actor, line_id: int
) -> tuple[Invoice, InvoiceLine]:
    """A line of a draft the actor may change, with its draft (locked); a line of an invoice it
    cannot see is not found."""
    line = await session.get(InvoiceLine, line_id)
    if line is None:
        raise not_found("invoice line", "lineId")
    try:
        invoice = await _draft_for_write(session, actor, line.invoice_id)
    except DomainError as exc:
        if exc.code == ErrorCode.NOT_FOUND:
            raise not_found("invoice line", "lineId") from exc
        raise
    return invoice, line


async def update_line(
    session: AsyncSession, actor: Actor, line_id: int, data: dict[str, Any]
) -> tuple[Invoice, InvoiceLine]:
    """Change a draft's line: description, article number, unit, quantity, price. A change of
    quantity or price sets the amount to quantity * price, rounded once."""
    invoice, line = await _draft_line_for_write(session, actor, line_id)
    fields = _clean_line(data)
    if "description" in data and not fields.get("description"):
        raise invalid("description", "a line needs a description")
    for name, value in fields.items():
        setattr(line, name, value)
    if {"quantity", "unit_price"} & fields.keys():
        line.amount = money.round_micros(Decimal(line.quantity) * line.unit_price)
    line.tax = money.percent_of(line.amount, line.tax_pct)
    _check_amount(line.amount)
    await session.flush()
    _totals(invoice, await _lines_of_draft(session, invoice))
    await session.flush()
    await _audit(session, actor, invoice, "invoice.line_updated")
    return invoice, line


async def add_line(
    session: AsyncSession, actor: Actor, invoice_id: int, data: dict[str, Any]
) -> tuple[Invoice, InvoiceLine]:
    """Add a line to a draft (quantity * price, rounded once; the invoice's tax rate), given in
    full or taken from an article of the client's price list (``price_list_item_id``: its
    number, description, unit and price less the client's discount, unless given)."""
    invoice = await _draft_for_write(session, actor, invoice_id)
    data = dict(data)
    item_id = data.pop("price_list_item_id", None)
    fields = _clean_line(data)
    client = await session.get(Client, invoice.client_id)
    reseller = await session.get(Reseller, invoice.reseller_id)
    assert client is not None and reseller is not None
    if item_id is not None:
        from api.domain import price_lists

        item = await price_lists.item_for_client(session, client, item_id)
        fields.setdefault("article_number", item.article_number)
        fields.setdefault("description", item.description)
        fields.setdefault("unit", item.unit)
        fields.setdefault(
            "unit_price", price_lists.discounted(item.unit_price, client.discount_pct)
        )
    if not fields.get("description"):
        raise invalid("description", "a line needs a description")
    quantity = fields.get("quantity", Decimal(1))
    unit_price = fields.get("unit_price", 0)
    lines = await _lines_of_draft(session, invoice)
    if len(lines) >= MAX_LINES:
        raise invalid("invoiceId", f"an invoice has at most {MAX_LINES} lines")
    amount = money.round_micros(quantity * unit_price)
    _check_amount(amount)
    line = _line(
        invoice,
        kind="item",
        article_number=fields.get("article_number", ""),
        description=fields["description"],
        unit=fields.get("unit", "pcs"),
        quantity=quantity,
        unit_price=unit_price,
        amount=amount,
        tax_pct=await tax_pct_for(session, reseller, client),
        charged=0,
        position=max((x.position for x in lines), default=0) + 1,
    )
    session.add(line)
    await session.flush()
    _totals(invoice, [*lines, line])
    await session.flush()
    await _audit(session, actor, invoice, "invoice.line_added")
    return invoice, line


async def delete_line(session: AsyncSession, actor: Actor, line_id: int) -> Invoice:
    invoice, line = await _draft_line_for_write(session, actor, line_id)
    await session.delete(line)
    await session.flush()
    _totals(invoice, await _lines_of_draft(session, invoice))
    await session.flush()
    await _audit(session, actor, invoice, "invoice.line_deleted")
    return invoice


def _check_amount(amount: int) -> None:
    if abs(amount) > money.MAX_AMOUNT:
        raise invalid("quantity", "the line's amount is out of range")


# --- sending --------------------------------------------------------------------------------------


async def _next_number(session: AsyncSession, reseller_id: int) -> str:
    """The reseller's next invoice number; the row's update serializes concurrent sends."""
    sequence = await session.scalar(
        update(Reseller)
        .where(Reseller.id == reseller_id)
        .values(invoice_sequence=Reseller.invoice_sequence + 1)
        .returning(Reseller.invoice_sequence)
    )
    return f"INV-{int(sequence):06d}"


async def _render(session: AsyncSession, invoice: Invoice) -> bytes:
    client = await session.get(Client, invoice.client_id)
    reseller = await session.get(Reseller, invoice.reseller_id)
    assert client is not None and reseller is not None
    brand = await session.scalar(select(Brand).where(Brand.reseller_id == reseller.id))
    lines = (await lines_of(session, [invoice.id]))[invoice.id]
    look = invoice_pdf.brand_look(reseller, brand)
    lang = language_of(client.language, look.language)
    return invoice_pdf.render_pdf(invoice, lines, client, look, lang)


async def send(session: AsyncSession, actor: Actor, invoice_id: int) -> Invoice:
    """Send a draft (see the module docstring): number, due date, PDF, the ledger entry of
    what the document changed, the ``invoice.issued`` event and its email to the client."""
    invoice = await _draft_for_write(session, actor, invoice_id)
    lines = await _lines_of_draft(session, invoice)
    if not lines:
        raise invalid("invoiceId", "an invoice without lines cannot be sent")
    if invoice.total < 0:
        raise invalid("invoiceId", "an invoice's total cannot be negative")
    client = await session.get(Client, invoice.client_id, with_for_update=_CLIENT_LOCK)
    reseller = await session.get(Reseller, invoice.reseller_id)
    assert client is not None and reseller is not None
    now = utcnow()
    invoice.number = await _next_number(session, reseller.id)
    invoice.status = "sent"
    invoice.issued_at = now
    invoice.due_at = now + timedelta(days=client.invoice_due_days)
    _totals(invoice, lines)
    moved = await payments.invoice_adjustment(
        session,
        actor,
        client=client,
        reseller=reseller,
        invoice_id=invoice.id,
        step="sent",
        net=invoice.subtotal - invoice.charged,
        tax=invoice.tax,
        memo=f"invoice {invoice.number}",
    )
    if moved is not None:
        invoice.adjustment_entry_id = moved.entry.id
    await session.flush()
    content = await _render(session, invoice)
    session.add(InvoiceDocument(invoice_id=invoice.id, content=content))
    await session.flush()
    await _audit(session, actor, invoice, "invoice.sent")
    brand_name = await notifications.sender_name(session, reseller.id)
    _ = await alerts.speech(session, client)
    total = _.money(invoice.total, invoice.currency)
    due = _.fmt.date(invoice.due_at)
    emails = [
        notifications.Email(
            to=to,
            subject=_(
                "Invoice %(number)s from %(brand)s: %(total)s",
                number=invoice.number,
                brand=brand_name,
                total=total,
            ),
            text=(
                _("Hello %(name)s,", name=client.contact_name or client.name)
                + "\n\n"
                + _(
                    "Please find attached invoice %(number)s of %(total)s, due on %(due)s.",
                    number=invoice.number,
                    total=total,
                    due=due,
                )
                + f"\n\n{brand_name}\n"
            ),
            attachments=[
                notifications.Attachment(f"{invoice.number}.pdf", "application/pdf", content)
            ],
        )
        for to in await notifications.client_emails(session, client)
    ]
    await notifications.publish(
        session,
        reseller_id=reseller.id,
        type="invoice.issued",
        client_id=client.id,
        data=_invoice_event(
            invoice,
            subtotal=money.format_amount(invoice.subtotal),
            tax=money.format_amount(invoice.tax),
            total=money.format_amount(invoice.total),
        ),
        emails=emails,
    )
    return invoice


def _invoice_event(invoice: Invoice, **amounts: str) -> dict[str, Any]:
    """The data of an ``invoice.*`` event: the invoice, its client, currency and due date, and
    the amounts given (as decimal strings)."""
    return {
        "invoice": {
            "id": notifications.global_id("Invoice", invoice.id),
            "number": invoice.number,
            "client": notifications.global_id("Client", invoice.client_id),
            **amounts,
            "currency": invoice.currency,
            "dueAt": invoice.due_at.isoformat() if invoice.due_at else None,
        }
    }


# --- after sending: void and credit notes ---------------------------------------------------


async def _sent_for_write(session: AsyncSession, actor: Actor, invoice_id: int) -> Invoice:
    actor.require(WRITE)
    if actor.client_id is not None:
        raise not_found("invoice", "invoiceId")
    invoice = await get_invoice(session, actor, invoice_id)
    # the client's row first, then the invoice's: the order a payment takes them in
    await session.get(Client, invoice.client_id, with_for_update=_CLIENT_LOCK)
    await session.refresh(invoice, with_for_update=True)
    if invoice.kind != "invoice":
        raise invalid("invoiceId", "a credit note cannot be voided or credited")
    if invoice.status == "draft":
        raise DomainError(
            ErrorCode.CONFLICT, "a draft is edited, not voided or credited", "invoiceId"
        )
    return invoice


def _tax_part(invoice: Invoice, amount: int) -> int:
    """The tax inside ``amount`` of an invoice's total, in proportion, rounded once."""
    if not invoice.total or not invoice.tax:
        return 0
    return money.round_micros(Decimal(amount) * invoice.tax / invoice.total)


async def void(session: AsyncSession, actor: Actor, invoice_id: int) -> Invoice:
    """Void a sent invoice nothing was paid on: the document is cancelled and its total given
    back to the client (``payments.invoice_adjustment``, step ``void``). Its charges stay
    invoiced. An invoice with payments on it is credited instead (:func:`credit_note`)."""
    invoice = await _sent_for_write(session, actor, invoice_id)
    if invoice.status != "sent" or invoice.paid:
        raise DomainError(
            ErrorCode.CONFLICT,
            "only a sent invoice with nothing paid on it can be voided; issue a credit note",
            "invoiceId",
        )
    client = await session.get(Client, invoice.client_id, with_for_update=_CLIENT_LOCK)
    reseller = await session.get(Reseller, invoice.reseller_id)
    assert client is not None and reseller is not None
    invoice.status, invoice.voided_at = "void", utcnow()
    await session.flush()
    await payments.invoice_adjustment(
        session,
        actor,
        client=client,
        reseller=reseller,
        invoice_id=invoice.id,
        step="void",
        net=-(invoice.subtotal),
        tax=-(invoice.tax),
        memo=f"void of invoice {invoice.number}",
    )
    await _audit(session, actor, invoice, "invoice.voided")
    return invoice


async def credit_note(
    session: AsyncSession, actor: Actor, invoice_id: int, amount: Any, reason: str, key: str
) -> tuple[Invoice, bool]:
    """A credit note of ``amount`` on a sent invoice (at most what is still due on it): a
    numbered document of its own, the amount given back to the client on the ledger, and that
    part of the invoice settled by it. ``key`` is the request's idempotency key: repeated, it
    answers the same credit note (``True``: replayed) and changes nothing."""
    micros = v.amount("amount", amount, positive=True)
    reason = v.text("reason", reason, max_len=300, required=True)
    invoice = await _sent_for_write(session, actor, invoice_id)
    tax = _tax_part(invoice, micros)
    step = f"credit:{payments.idem_scope(actor)}:{key}"
    idem = Idempotency.of(
        "invoice",
        f"{invoice.id}:{step}",
        "invoice_adjustment",
        {"invoice": invoice.id, "step": step, "net": -(micros - tax), "tax": -tax},
    )
    entry = await ledger.find_replay(session, idem)
    if entry is not None:
        note = await session.scalar(select(Invoice).where(Invoice.adjustment_entry_id == entry.id))
        assert note is not None
        return note, True
    if invoice.status != "sent":
        raise DomainError(ErrorCode.CONFLICT, "the invoice is not open", "invoiceId")
    due = invoice.total - invoice.paid
    if micros > due:
        raise invalid("amount", f"only {money.format_amount(due)} is still due on the invoice")
    client = await session.get(Client, invoice.client_id, with_for_update=_CLIENT_LOCK)
    reseller = await session.get(Reseller, invoice.reseller_id)
    assert client is not None and reseller is not None
    now = utcnow()
    note = Invoice(
        reseller_id=reseller.id,
        client_id=client.id,
        kind="credit_note",
        credits_invoice_id=invoice.id,
        status="sent",
        reason="credit",
        currency=invoice.currency,
        subtotal=-(micros - tax),
        tax=-tax,
        total=-micros,
        number=(await _next_number(session, reseller.id)).replace("INV-", "CN-"),
        issued_at=now,
    )
    session.add(note)
    await session.flush()
    line = InvoiceLine(
        invoice_id=note.id,
        position=1,
        kind="item",
        article_number="CREDIT",
        description=f"Credit on invoice {invoice.number}: {reason}"[:300],
        unit="pcs",
        quantity=Decimal(1),
        unit_price=-(micros - tax),
        amount=-(micros - tax),
        tax_pct=Decimal(0),
        tax=-tax,
    )
    session.add(line)
    moved = await payments.invoice_adjustment(
        session,
        actor,
        client=client,
        reseller=reseller,
        invoice_id=invoice.id,
        step=step,
        net=-(micros - tax),
        tax=-tax,
        memo=f"credit note {note.number} on invoice {invoice.number}",
    )
    assert moved is not None
    note.adjustment_entry_id = moved.entry.id
    invoice.paid += micros
    session.add(InvoicePayment(invoice_id=invoice.id, entry_id=moved.entry.id, amount=micros))
    if invoice.paid == invoice.total:
        invoice.status, invoice.paid_at = "paid", now
    await session.flush()
    session.add(InvoiceDocument(invoice_id=note.id, content=await _render(session, note)))
    await session.flush()
    await _audit(session, actor, note, "invoice.credit_note_created")
    return note, False


async def get_line(session: AsyncSession, actor: Actor, line_id: int) -> InvoiceLine:
    line = await session.get(InvoiceLine, line_id)
    if line is None:
        raise not_found("invoice line", "id")
    invoice = await session.get(Invoice, line.invoice_id)
    if invoice is None or not can_see(actor, invoice):
        raise not_found("invoice line", "id")
    return line


# --- the worker: monthly drafts, overdue invoices ------------------------------------------


def month_start(now: datetime) -> datetime:
    return datetime(now.year, now.month, 1, tzinfo=UTC)


async def draft_monthly(
    sessions: async_sessionmaker[AsyncSession], settings: Any, now: datetime
) -> int:
    """The worker's ``invoices-monthly`` job: every postpaid client not invoiced up to the start
    of this month (UTC), and with no draft open, gets its draft of what was posted before then
    (``reason`` monthly), one client per transaction. A client with nothing to invoice has its
    ``invoiced_until`` moved on, so a run finds it again only next month. Returns how many
    invoices it drafted."""
    from api.db import transaction
    from api.domain.actors import SYSTEM

    until = month_start(now)
    open_draft = (
        select(Invoice.id).where(Invoice.client_id == Client.id, Invoice.status == "draft").exists()
    )
    drafted, last = 0, 0
    while True:
        async with sessions() as session:
            ids = list(
                await session.scalars(
                    select(Client.id)
                    .where(
                        Client.billing_mode == "postpaid",
                        Client.deleted_at.is_(None),
                        Client.id > last,
                        Client.invoiced_until.is_(None) | (Client.invoiced_until < until),
                        ~open_draft,
                    )
                    .order_by(Client.id)
                    .limit(200)
                )
            )
        if not ids:
            return drafted
        last = ids[-1]
        for client_id in ids:
            async with transaction(sessions) as session:
                client = await session.get(Client, client_id)
                assert client is not None
                done = await draft(
                    session, SYSTEM, client, until=until, reason="monthly", advance_empty=True
                )
                drafted += done is not None


async def mark_overdue(
    sessions: async_sessionmaker[AsyncSession], settings: Any, now: datetime
) -> int:
    """The worker's ``invoices-overdue`` job: each sent invoice past its due date is flagged
    once (``overdue_at``) with an ``invoice.overdue`` event and an email to its client; a
    client with ``overdue_block_days`` set is blocked (reason "invoice overdue", with the
    ``client.blocked`` alert) once one of its invoices is that many days past due. A payment
    that settles the overdue invoices unblocks it (``api.domain.settlement``). Returns how many
    invoices it flagged."""
    from api.db import transaction
    from api.domain.actors import SYSTEM
    from api.domain.settlement import OVERDUE_BLOCK_REASON

    flagged = 0
    async with transaction(sessions) as session:
        due = list(
            await session.scalars(
                select(Invoice)
                .where(
                    Invoice.status == "sent",
                    Invoice.kind == "invoice",
                    Invoice.due_at < now,
                    Invoice.overdue_at.is_(None),
                )
                .order_by(Invoice.id)
                .limit(500)
                .with_for_update(skip_locked=True)
            )
        )
        for invoice in due:
            invoice.overdue_at = now
            client = await session.get(Client, invoice.client_id)
            assert client is not None
            _ = await alerts.speech(session, client)
            owed = _.money(invoice.total - invoice.paid, invoice.currency)
            brand_name = await notifications.sender_name(session, invoice.reseller_id)
            await notifications.publish(
                session,
                reseller_id=invoice.reseller_id,
                type="invoice.overdue",
                client_id=client.id,
                data=_invoice_event(invoice, due=money.format_amount(invoice.total - invoice.paid)),
                emails=[
                    notifications.Email(
                        to=to,
                        subject=_(
                            "Invoice %(number)s is overdue: %(due)s",
                            number=invoice.number,
                            due=owed,
                        ),
                        text=(
                            _("Hello %(name)s,", name=client.contact_name or client.name)
                            + "\n\n"
                            + _(
                                "Invoice %(number)s was due on %(date)s; %(due)s is still to pay.",
                                number=invoice.number,
                                date=_.fmt.date(invoice.due_at),
                                due=owed,
                            )
                            + f"\n\n{brand_name}\n"
                        ),
                    )
                    for to in await notifications.client_emails(session, client)
                ],
            )
            flagged += 1
        rows = (
            await session.execute(
                select(Invoice.due_at, Client)
                .join(Client, Client.id == Invoice.client_id)
                .where(
                    Invoice.status == "sent",
                    Invoice.kind == "invoice",
                    Invoice.due_at < now,
                    Client.overdue_block_days.is_not(None),
                    Client.status == "active",
                )
            )
        ).all()
        for due_at, client in rows:
            if (
                client.status != "active"
                or due_at + timedelta(days=client.overdue_block_days) > now
            ):
                continue
            before = audit.snapshot(client, ("status", "status_reason"))
            client.status, client.status_reason = "blocked", OVERDUE_BLOCK_REASON
            await session.flush()
            await audit.record(
                session,
                SYSTEM,
                subject_type="client",
                subject_id=client.id,
                action="client.status_changed",
                reseller_id=client.reseller_id,
                client_id=client.id,
                before=before,
                after=audit.snapshot(client, ("status", "status_reason")),
            )
            await alerts.client_blocked(session, client)
    return flagged


# --- settings: the reseller's tax rate and limit step, a client's terms and tax rates -----------

INVOICE_SETTINGS_FIELDS = ("tax_rate_pct", "credit_limit_step")
TERMS_FIELDS = ("invoice_due_days", "overdue_block_days", "discount_pct", "price_list_id")


def _days(field: str, value: Any, *, nullable: bool = False) -> int | None:
    if value is None and nullable:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 366:
        raise invalid(field, "give a number of days from 0 to 366")
    return value


async def update_invoice_settings(
    session: AsyncSession, actor: Actor, reseller_id: int | None, data: dict[str, Any]
) -> Reseller:
    """A reseller's invoicing settings: its tax rate (percent) and the step a paid invoice
    raises a postpaid client's credit limit by. The reseller's own, or the operator's for the
    reseller it names."""
    if reseller_id is None and actor.is_operator:
        raise invalid("resellerId", "the operator must name the reseller")
    reseller = await accounts.acting_reseller(session, actor, reseller_id, "clients:write")
    assert reseller is not None
    checks = {
        "tax_rate_pct": lambda x: v.percent("taxRatePct", x),
        "credit_limit_step": lambda x: v.amount("creditLimitStep", x, non_negative=True),
    }
    fields = v.clean(data, checks, ())
    await audit.apply_changes(
        session,
        actor,
        reseller,
        fields,
        audited=INVOICE_SETTINGS_FIELDS,
        subject_type="reseller",
        reseller_id=reseller.id,
    )
    return reseller


async def update_terms(
    session: AsyncSession, actor: Actor, client_id: int, data: dict[str, Any]
) -> Client:
    """A client's payment terms (days to pay, days overdue before it is blocked: None never),
    its discount on its price list (percent) and its price list (None: the basic one)."""
    actor.require("clients:write")
    if actor.client_id is not None:
        raise not_found("client", "clientId")
    client = await accounts.get_client(session, actor, client_id, field="clientId")
    data = dict(data)
    fields: dict[str, Any] = {}
    if "invoice_due_days" in data:
        fields["invoice_due_days"] = _days("dueDays", data.pop("invoice_due_days"))
    if "overdue_block_days" in data:
        fields["overdue_block_days"] = _days(
            "blockAfterDaysOverdue", data.pop("overdue_block_days"), nullable=True
        )
    if "discount_pct" in data:
        fields["discount_pct"] = v.percent("discountPct", data.pop("discount_pct"))
    if "price_list_id" in data:
        list_id = data.pop("price_list_id")
        if list_id is not None:
            from api.models import PriceList

            found = await session.get(PriceList, list_id)
            if found is None or found.reseller_id != client.reseller_id:
                raise not_found("price list", "priceListId")
        fields["price_list_id"] = list_id
    await audit.apply_changes(
        session,
        actor,
        client,
        fields,
        audited=TERMS_FIELDS,
        subject_type="client",
        reseller_id=client.reseller_id,
        client_id=client.id,
    )
    return client


async def add_client_tax_rate(
    session: AsyncSession,
    actor: Actor,
    client_id: int,
    rate_pct: Any,
    valid_from: date,
    valid_to: date | None,
) -> ClientTaxRate:
    """A client's own tax rate from ``valid_from`` to ``valid_to`` (included; None: open). The
    latest one given wins where periods overlap."""
    actor.require("clients:write")
    if actor.client_id is not None:
        raise not_found("client", "clientId")
    client = await accounts.get_client(session, actor, client_id, field="clientId")
    rate = v.percent("ratePct", rate_pct)
    if valid_to is not None and valid_to < valid_from:
        raise invalid("validTo", "the period ends before it starts")
    row = ClientTaxRate(
        client_id=client.id, rate_pct=rate, valid_from=valid_from, valid_to=valid_to
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        actor,
        subject_type="client",
        subject_id=client.id,
        action="client.tax_rate_added",
        reseller_id=client.reseller_id,
        client_id=client.id,
        after={
            "rate_pct": str(rate),
            "valid_from": valid_from.isoformat(),
            "valid_to": valid_to.isoformat() if valid_to else None,
        },
    )
    return row


async def tax_rates_of(session: AsyncSession, client_ids: Sequence[int]) -> dict[int, list]:
    out: dict[int, list[ClientTaxRate]] = {i: [] for i in client_ids}
    for row in await session.scalars(
        select(ClientTaxRate)
        .where(ClientTaxRate.client_id.in_(list(client_ids)))
        .order_by(ClientTaxRate.client_id, ClientTaxRate.valid_from, ClientTaxRate.id)
    ):
        out[row.client_id].append(row)
    return out
