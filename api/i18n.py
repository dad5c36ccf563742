"""The languages Dialtone speaks, and their one set of gettext catalogues.

English, French, Russian and Hebrew (written right to left). The catalogues are the portals'
(``frontends/locale/<lang>/LC_MESSAGES/messages.po``, compiled to ``.mo`` by ``make install``):
the portal pages, the invoice PDF and the emails a client gets all read them, so a word is
translated once. ``frontends.i18n`` chooses a page's language; a document or an email speaks
its client's (:func:`language_of`). Money and dates in documents are written by Babel
(:class:`DocumentFormat`).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, get_currency_precision
from babel.support import NullTranslations, Translations

from api import money

LOCALE_DIR = Path(__file__).resolve().parent.parent / "frontends" / "locale"
LANGUAGES = ("en", "fr", "ru", "he")
DEFAULT = "en"
RTL = frozenset({"he"})


def supported(code: str | None) -> str | None:
    """The language we speak for a code such as ``fr``, ``fr-CA`` or ``pt_BR``, or None."""
    base = (code or "").strip().replace("_", "-").split("-", 1)[0].lower()
    return base if base in LANGUAGES else None


def direction(lang: str) -> str:
    return "rtl" if lang in RTL else "ltr"


@cache
def translations(lang: str) -> NullTranslations:
    """The compiled catalogue of a language (English: the messages themselves)."""
    if lang == DEFAULT:
        return NullTranslations()
    return Translations.load(LOCALE_DIR, [lang], domain="messages")


def language_of(client_language: str | None, brand_language: str | None = None) -> str:
    """What a client's documents and emails speak: its own language, else its reseller's
    brand's default, else English (a language we do not speak is skipped)."""
    return supported(client_language) or supported(brand_language) or DEFAULT


def N_(message: str) -> str:
    """Marks a message for the catalogues without translating it here."""
    return message


class DocumentFormat:
    """Amounts (micro-units), dates and quantities written the way a language writes them.

    Amounts are exact: at least the currency's digits, more where the micro-units have them
    (a call line of 0.2412 is not shown as 0.24), so the lines of a document add up to its
    totals as printed."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def money(self, micros: int, currency: str) -> str:
        digits = get_currency_precision(currency)
        exact = money.to_decimal(micros).normalize()
        exponent = exact.as_tuple().exponent
        shown = max(digits, -exponent if isinstance(exponent, int) else digits)
        # the language's own currency pattern, with as many decimals as the amount needs
        standard = Locale.parse(self.lang).currency_formats["standard"].pattern
        pattern = standard.replace("0.00", "0." + "0" * shown if shown else "0")
        return format_currency(
            exact, currency, format=pattern, locale=self.lang, currency_digits=False
        )

    def quantity(self, value: Decimal) -> str:
        return format_decimal(Decimal(value).normalize(), format="#,##0.######", locale=self.lang)

    def percent(self, value: Decimal) -> str:
        return format_decimal(Decimal(value).normalize(), format="#,##0.####", locale=self.lang)

    def date(self, value: date | datetime | None) -> str:
        if value is None:
            return ""
        day = value.date() if isinstance(value, datetime) else value
        return format_date(day, format="medium", locale=self.lang)
