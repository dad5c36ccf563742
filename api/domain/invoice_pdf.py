"""The PDF of an invoice or credit note, in its reseller's brand (display name, colors, logo,
support email, footer) and in its client's language, laid out by fpdf2.

The language is the client's own, else its reseller's brand's default, else English
(``api.i18n.language_of``); headings and labels come from the same gettext catalogues as the
portal, amounts and dates are written by Babel for that language (amounts exact to the
micro-unit, at least the currency's digits). The text is set in DejaVu Sans, embedded from
Debian's ``fonts-dejavu-core`` (installed by ``make install`` where missing), with fpdf2's text
shaping (HarfBuzz, ``uharfbuzz``): Hebrew and Cyrillic names print as written, Hebrew right to
left, numbers left to right inside it. A Hebrew document mirrors: text is aligned to the
right, the table's columns run from the right.

The lines' descriptions are the invoice's own data, printed as they are: a call line's is
written in the client's language when drafted (``Calls to <destination>``, the destination as
the rate deck names it), a fee's as the fee was charged, and the reseller may edit them."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from api.i18n import N_, RTL, DocumentFormat, translations
from api.models import Brand, Client, Invoice, InvoiceLine, Reseller

DEFAULT_TITLE_COLOR = "#1f2937"
DEFAULT_HEADER_COLOR = "#e5e7eb"
# Debian's fonts-dejavu-core (the Makefile installs it where missing)
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"),)
FONT = "DejaVuSans.ttf"
BOLD_FONT = "DejaVuSans-Bold.ttf"
FAMILY = "DejaVu"
# the units the platform writes on lines, printed in the document's language (a unit the
# reseller typed is printed as typed)
UNITS = {"min": N_("min"), "pcs": N_("pcs")}


@dataclass(frozen=True)
class BrandLook:
    name: str
    title_color: str
    header_color: str
    support_email: str
    footer: str
    logo: bytes | None
    language: str = ""  # the brand's default language (empty: none set)


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
        language=brand.default_language or "",
    )


def font_files() -> tuple[Path, Path]:
    """The regular and bold TTF files embedded in every PDF."""
    for folder in FONT_DIRS:
        regular, bold = folder / FONT, folder / BOLD_FONT
        if regular.is_file() and bold.is_file():
            return regular, bold
    raise RuntimeError(
        f"the invoice font {FONT} is missing: install Debian's fonts-dejavu-core (make install)"
    )


def _rgb(color: str, default: str) -> tuple[int, int, int]:
    value = (color or default).lstrip("#")
    if len(value) == 3:
        value = "".join(ch * 2 for ch in value)
    try:
        return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)
    except ValueError:
        return _rgb(default, default)


def _readable_on(fill: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black or white text, whichever reads better on ``fill`` (WCAG relative luminance)."""

    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in fill)
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return (0, 0, 0) if (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) else (255, 255, 255)


class _Document:
    """One PDF being written: its fonts, its language and its direction."""

    def __init__(self, lang: str, title: str, author: str) -> None:
        self.lang = lang
        self.rtl = lang in RTL
        self.start = "R" if self.rtl else "L"
        self.pdf = FPDF(format="A4")
        self.pdf.set_lang(lang)
        self.pdf.set_title(title)
        self.pdf.set_author(author)
        regular, bold = font_files()
        self.pdf.add_font(FAMILY, "", str(regular))
        self.pdf.add_font(FAMILY, "B", str(bold))
        self.pdf.set_text_shaping(True)
        self.pdf.add_page()
        self.width = self.pdf.w - self.pdf.l_margin - self.pdf.r_margin

    def text(
        self,
        text: str,
        *,
        size: float = 10,
        bold: bool = False,
        color: tuple[int, int, int] = (0, 0, 0),
        height: float = 5.5,
    ) -> None:
        """A paragraph, aligned to the start of the line (the right in Hebrew)."""
        self.pdf.set_font(FAMILY, "B" if bold else "", size)
        self.pdf.set_text_color(*color)
        self.pdf.multi_cell(
            self.width, height, text, align=self.start, new_x="LMARGIN", new_y="NEXT"
        )
        self.pdf.set_text_color(0, 0, 0)

    def gap(self, height: float = 4) -> None:
        self.pdf.ln(height)

    def ordered(self, cells: list) -> list:
        """Cells in reading order, placed left to right (mirrored in Hebrew)."""
        return cells[::-1] if self.rtl else cells


def render_pdf(
    invoice: Invoice,
    lines: list[InvoiceLine],
    client: Client,
    look: BrandLook,
    lang: str = "en",
) -> bytes:
    """The invoice's PDF in ``lang`` (see the module docstring)."""
    _: Callable[[str], str] = translations(lang).gettext
    fmt = DocumentFormat(lang)
    cur = invoice.currency
    if invoice.kind == "credit_note":
        title = _("Credit note %(number)s") % {"number": invoice.number or ""}
    elif invoice.number:
        title = _("Invoice %(number)s") % {"number": invoice.number}
    else:
        title = _("Draft invoice")
    doc = _Document(lang, title.strip(), look.name)
    pdf = doc.pdf

    if look.logo:
        # a logo the PDF library cannot read is left out, never fatal
        x = pdf.l_margin if doc.rtl else pdf.w - pdf.r_margin - 40
        with contextlib.suppress(Exception):
            pdf.image(io.BytesIO(look.logo), x=x, y=10, w=40)
    doc.text(look.name, size=18, bold=True, color=_rgb(look.title_color, DEFAULT_TITLE_COLOR))
    doc.gap(2)
    doc.text(title, size=14, bold=True, height=7)
    doc.gap(2)

    billed = client.company or client.name
    if client.contact_name and client.contact_name != billed:
        billed = f"{billed}, {client.contact_name}"
    doc.text(_("Billed to: %(client)s") % {"client": billed})
    doc.text(_("Issued: %(date)s") % {"date": fmt.date(invoice.issued_at or invoice.created_at)})
    if invoice.due_at is not None:
        doc.text(_("Due: %(date)s") % {"date": fmt.date(invoice.due_at)})
    if invoice.period_end is not None:
        if invoice.period_start is not None:
            period = _("Period: %(start)s to %(end)s") % {
                "start": fmt.date(invoice.period_start),
                "end": fmt.date(invoice.period_end),
            }
        else:
            period = _("Period: until %(end)s") % {"end": fmt.date(invoice.period_end)}
        doc.text(period)
    doc.text(_("Currency: %(currency)s") % {"currency": cur})
    doc.gap()

    fill = _rgb(look.header_color, DEFAULT_HEADER_COLOR)
    headings = FontFace(emphasis="BOLD", color=_readable_on(fill), fill_color=fill)
    pdf.set_font(FAMILY, "", 8.5)
    widths = [14, 32, 12, 12, 8, 10, 12]
    amounts = {2, 3, 4, 5, 6}  # the columns of figures, aligned right in both directions
    with pdf.table(
        col_widths=tuple(doc.ordered(widths)),
        headings_style=headings,
        line_height=5,
        text_align=tuple(doc.ordered(["R" if i in amounts else doc.start for i in range(7)])),
        first_row_as_headings=True,
    ) as table:
        header = table.row()
        headings_text = [_("Article"), _("Description"), _("Quantity"), _("Price")]
        headings_text += [_("Tax %"), _("Tax"), _("Amount")]
        for heading in doc.ordered(headings_text):
            header.cell(heading)
        for line in lines:
            row = table.row()
            quantity = fmt.quantity(Decimal(line.quantity))
            unit = _(UNITS[line.unit]) if line.unit in UNITS else line.unit
            for value in doc.ordered(
                [
                    line.article_number,
                    line.description,
                    f"{quantity} {unit}".strip(),
                    fmt.money(line.unit_price, cur),
                    fmt.percent(Decimal(line.tax_pct)),
                    fmt.money(line.tax, cur),
                    fmt.money(line.amount, cur),
                ]
            ):
                row.cell(value)
    doc.gap()

    label_w, value_w = 45.0, 40.0
    for label, micros, bold in (
        (_("Subtotal"), invoice.subtotal, False),
        (_("Tax"), invoice.tax, False),
        (_("Total"), invoice.total, True),
    ):
        pdf.set_font(FAMILY, "B" if bold else "", 10)
        pdf.set_x(pdf.l_margin if doc.rtl else pdf.w - pdf.r_margin - label_w - value_w)
        cells = doc.ordered([(label, label_w, doc.start), (fmt.money(micros, cur), value_w, "R")])
        for text, width, align in cells:
            pdf.cell(width, 6, text, align=align)
        pdf.ln(6)
    doc.gap(6)
    if look.support_email:
        doc.text(_("Questions: %(email)s") % {"email": look.support_email}, size=9)
    if look.footer:
        doc.text(look.footer, size=8, color=(102, 102, 102))
    return bytes(pdf.output())
