"""The portals' languages: which one a page speaks, its catalogue, and Babel's formatting.

English, French, Russian and Hebrew. A page speaks, in this order: the language picked in this
browser (the ``dialtone_lang`` cookie, set by the language menu), the client's own
(``Client.language``), the brand's default (when the reseller set one), the browser's
``Accept-Language``, else English. A code such as ``fr-CA`` or ``pt-BR`` counts as its base
language; one we do not speak is skipped. Hebrew is written right to left.

Catalogues are gettext ``.po`` files under ``frontends/locale/<lang>/LC_MESSAGES/``, compiled
to ``.mo`` by ``make install`` (``pybabel compile``), loaded by ``api.i18n`` (the invoice PDF
and the emails read the same ones). Money and dates are formatted by Babel
for the page's language.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache

from babel import Locale
from babel.dates import format_date, format_datetime, format_skeleton
from babel.numbers import format_currency, format_decimal, get_currency_precision

from api.i18n import (  # noqa: F401 - the portals' names for them
    DEFAULT,
    LANGUAGES,
    LOCALE_DIR,
    RTL,
    direction,
    supported,
    translations,
)

COOKIE = "dialtone_lang"


def accepted(header: str | None) -> list[str]:
    """The languages of an ``Accept-Language`` header, most wanted first (``q=0`` dropped)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "").split(",")):
        code, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        if code and weight > 0:
            ranked.append((-weight, index, code))
    return [code for _weight, _index, code in sorted(ranked)]


def choose(
    *, picked: str | None, client: str | None, brand: str | None, accept_language: str | None
) -> str:
    """The page's language (see the module docstring for the order)."""
    candidates: Iterable[str | None] = (picked, client, brand, *accepted(accept_language))
    for code in candidates:
        found = supported(code)
        if found:
            return found
    return DEFAULT


@cache
def language_name(lang: str) -> str:
    """A language's name in itself, e.g. ``Français``, ``עברית``."""
    return Locale.parse(lang).get_display_name(lang).capitalize()


class Formatter:
    """Money, numbers and dates written the way a language writes them."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def money(self, amount: str | Decimal | None, currency: str) -> str:
        """A GraphQL ``Money`` (decimal string and currency) for reading, e.g. ``$1,234.50``."""
        try:
            value = Decimal(amount if amount is not None else "0")
        except InvalidOperation:
            return f"{amount} {currency}"
        # rounded half-up to the currency's digits (our one rounding rule), then written
        quantum = Decimal(1).scaleb(-get_currency_precision(currency))
        return format_currency(value.quantize(quantum, ROUND_HALF_UP), currency, locale=self.lang)

    def number(self, value: str | Decimal | int | float, digits: int = 2) -> str:
        quantum = Decimal(1).scaleb(-digits)
        pattern = "#,##0." + "0" * digits if digits else "#,##0"
        value = Decimal(str(value)).quantize(quantum, ROUND_HALF_UP)
        return format_decimal(value, format=pattern, locale=self.lang)

    def date(self, value: date | str, form: str = "medium") -> str:
        if isinstance(value, str):
            value = date.fromisoformat(value[:10])
        return format_date(value, format=form, locale=self.lang)

    def day(self, value: date | str) -> str:
        """A short day for a chart's axis, e.g. ``7 Dec``."""
        if isinstance(value, str):
            value = date.fromisoformat(value[:10])
        return format_skeleton("MMMd", value, locale=self.lang)

    def days(self, values: Iterable[date | str]) -> list[str]:
        return [self.day(value) for value in values]

    def moment(self, value: datetime | str) -> str:
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return format_datetime(value, format="medium", locale=self.lang)
