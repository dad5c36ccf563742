"""The PDF of an invoice: HTML from the Jinja2 template ``templates/invoice.html`` in the
reseller's brand (display name, colors, logo, support email, footer), laid out by fpdf2.

fpdf2's built-in fonts speak Latin-1: characters outside it are shown as ``?``."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api import money
from api.models import Brand, Client, Invoice, InvoiceLine, Reseller

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
DEFAULT_TITLE_COLOR = "#1f2937"
DEFAULT_HEADER_COLOR = "#e5e7eb"


@dataclass(frozen=True)
class BrandLook:
    name: str
    title_color: str
    header_color: str
    support_email: str
    footer: str
    logo: bytes | None


def brand_look(reseller: Reseller, brand: Brand | None) -> BrandLook:
    if brand is None:
        return BrandLook(reseller.name, DEFAULT_TITLE_COLOR, DEFAULT_HEADER_COLOR, "", "", None)
    return BrandLook(
        name=brand.display_name or reseller.name,
        title_color=brand.title_background or DEFAULT_TITLE_COLOR,
        header_color=brand.header_background or DEFAULT_HEADER_COLOR,
        support_email=brand.support_email,
        footer=brand.footer_text,
        logo=brand.logo,
    )


def _day(moment: datetime | None) -> str:
    return moment.date().isoformat() if moment else ""


def _quantity(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text if "." not in text or len(text.split(".")[1]) <= 4 else f"{value:.4f}"


def render_html(invoice: Invoice, lines: list[InvoiceLine], client: Client, look: BrandLook) -> str:
    period = ""
    if invoice.period_end is not None:
        start = _day(invoice.period_start) or "start"
        period = f"{start} to {_day(invoice.period_end)}"
    return _ENV.get_template("invoice.html").render(
        brand=look,
        title="Credit note" if invoice.kind == "credit_note" else "Invoice",
        invoice=invoice,
        client=client,
        issued=_day(invoice.issued_at or invoice.created_at),
        due=_day(invoice.due_at),
        period=period,
        lines=[
            {
                "article_number": line.article_number,
                "description": line.description,
                "quantity": _quantity(line.quantity),
                "unit": line.unit,
                "unit_price": money.format_amount(line.unit_price),
                "tax_pct": f"{line.tax_pct.normalize():f}",
                "tax": money.format_amount(line.tax),
                "amount": money.format_amount(line.amount),
            }
            for line in lines
        ],
        subtotal=money.format_amount(invoice.subtotal),
        tax=money.format_amount(invoice.tax),
        total=money.format_amount(invoice.total),
    )


def render_pdf(
    invoice: Invoice, lines: list[InvoiceLine], client: Client, look: BrandLook
) -> bytes:
    html = render_html(invoice, lines, client, look)
    pdf = FPDF(format="A4")
    pdf.set_title(f"Invoice {invoice.number or ''}".strip())
    pdf.set_author(_latin1(look.name))
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    if look.logo:
        # a logo the PDF library cannot read is left out, never fatal
        with contextlib.suppress(Exception):
            pdf.image(io.BytesIO(look.logo), x=pdf.w - pdf.r_margin - 40, y=10, w=40)
    pdf.write_html(_latin1(html))
    return bytes(pdf.output())


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")
