"""HTTP routes of invoices: an invoice's PDF, and the export of sent invoices.

``GET /invoices/{id}.pdf`` answers an invoice's PDF: as it was sent (a sent invoice's document
never changes), or a draft rendered now (a reseller's preview). ``id`` is the invoice's global
id or its number in the database. Its reseller (``clients:read``), the operator and its client
(sent ones only) may read it; anyone else gets 404.

``GET /exports/invoices.csv?from=&to=&clientId=`` streams the sent invoices and credit notes
(``status`` sent, paid or void) issued in ``[from, to)`` for an external bookkeeping system:
one row per line, with the invoice's number, dates, client and totals repeated on each, in
issue order. Money columns are decimals in units. Needs ``reports:read`` (a reseller: its own;
the operator: every reseller's); a client user gets 403.

Authentication of both: ``Authorization: Bearer`` (a session or API token) or the session cookie.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from api import money
from api.domain import auth, invoices
from api.domain.actors import Actor
from api.domain.errors import DomainError, ErrorCode
from api.exports import _bearer, _csv_response, _error, _moment, _pk, _report_actor
from api.models import Client, Invoice, InvoiceLine
from api.resolvers.auth import SESSION_COOKIE

CSV_COLUMNS = (
    "invoice_number",
    "kind",
    "status",
    "issued_at",
    "due_at",
    "client_id",
    "client_name",
    "currency",
    "line",
    "article_number",
    "description",
    "quantity",
    "unit",
    "unit_price",
    "amount",
    "tax_pct",
    "tax",
    "invoice_subtotal",
    "invoice_tax",
    "invoice_total",
    "invoice_paid",
)
CHUNK = 500


async def invoice_pdf(request: Request) -> Response:
    token = _bearer(request) or request.cookies.get(SESSION_COOKIE)
    actor: Actor = await auth.actor_for_request(request.app.state.engine, token)
    if not actor.is_authenticated:
        return _error(401, "log in first")
    try:
        invoice_id = _pk("id", request.path_params["invoice_id"], "Invoice")
        assert invoice_id is not None
        async with request.app.state.sessions() as session:
            invoice, content = await invoices.pdf_of(session, actor, invoice_id)
    except DomainError as exc:
        return _error(404 if exc.code == ErrorCode.NOT_FOUND else 400, exc.message)
    name = invoice.number or f"draft-{invoice.id}"
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
    )


async def invoices_csv(request: Request) -> Response:
    actor = await _report_actor(request)
    if not isinstance(actor, Actor):
        return actor
    q = request.query_params
    try:
        stmt = invoices.invoices_query(
            actor, client_id=_pk("clientId", q.get("clientId"), "Client")
        )
        start, end = _moment("from", q.get("from")), _moment("to", q.get("to"))
    except DomainError as exc:
        return _error(404 if exc.code == ErrorCode.NOT_FOUND else 400, exc.message)
    stmt = stmt.where(Invoice.status != "draft", Invoice.issued_at.is_not(None))
    if start is not None:
        stmt = stmt.where(Invoice.issued_at >= start)
    if end is not None:
        stmt = stmt.where(Invoice.issued_at < end)
    sessions = request.app.state.sessions

    async def rows() -> AsyncIterator[list[str]]:
        last_key = None
        async with sessions() as session:
            while True:
                page = stmt.order_by(Invoice.issued_at, Invoice.id).limit(CHUNK)
                if last_key is not None:
                    page = page.where(
                        (Invoice.issued_at > last_key[0])
                        | ((Invoice.issued_at == last_key[0]) & (Invoice.id > last_key[1]))
                    )
                batch = list(await session.scalars(page))
                if not batch:
                    return
                last_key = (batch[-1].issued_at, batch[-1].id)
                lines = await invoices.lines_of(session, [i.id for i in batch])
                names = dict(
                    (
                        await session.execute(
                            select(Client.id, Client.name).where(
                                Client.id.in_({i.client_id for i in batch})
                            )
                        )
                    ).all()
                )
                for invoice in batch:
                    for line in lines[invoice.id]:
                        yield _row(invoice, line, names.get(invoice.client_id, ""))

    return _csv_response(rows(), CSV_COLUMNS, "invoices.csv")


def _row(invoice: Invoice, line: InvoiceLine, client_name: str) -> list[str]:
    units = money.format_amount
    return [
        invoice.number or "",
        invoice.kind,
        invoice.status,
        invoice.issued_at.isoformat() if invoice.issued_at else "",
        invoice.due_at.isoformat() if invoice.due_at else "",
        str(invoice.client_id),
        client_name,
        invoice.currency,
        str(line.position),
        line.article_number,
        line.description,
        f"{line.quantity.normalize():f}",
        line.unit,
        units(line.unit_price),
        units(line.amount),
        f"{line.tax_pct.normalize():f}",
        units(line.tax),
        units(invoice.subtotal),
        units(invoice.tax),
        units(invoice.total),
        units(invoice.paid),
    ]
