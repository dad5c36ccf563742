"""Micro-unit money arithmetic.

All amounts are integers in micro-units (1 unit = 1,000,000 micros). No floats anywhere.

Rounding rule (DESIGN §4.2): half-up (away from zero for the magnitude) to the micro, applied
once, in :func:`round_micros`. Every computed fee or percentage goes through it exactly once.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

MICROS = 1_000_000
_MICRO = Decimal("0.000001")
MAX_AMOUNT = 10**15 * MICROS  # a quadrillion units: far above any real balance, inside BigInteger
MAX_DIGITS = 15  # the largest power of ten an amount in units may reach
# The one spelling of a decimal typed, imported or sent: ASCII digits, an optional minus, then
# optionally a point and digits. Decimal() alone also reads "1_0", "1e3", "+5", ".5", "NaN" and "٣".
DECIMAL_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


class MoneyError(ValueError):
    """An amount that cannot be represented exactly."""


def round_micros(value: Decimal) -> int:
    """Round a Decimal number of micros to a whole micro, half-up: the one rounding rule."""
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


def parse(value: str | Decimal | int) -> int:
    """Parse a decimal amount in units ("12.50") to micros, refusing more than six decimals."""
    if isinstance(value, (bool, float)):
        raise MoneyError("amounts must be decimal strings, not floats")
    if isinstance(value, Decimal):
        dec = value
    else:
        dec = read_decimal(value)
        if dec is None:
            raise MoneyError(f"not a decimal amount: {value!r}")
    if not dec.is_finite():
        raise MoneyError(f"not a finite amount: {value!r}")
    if dec and dec.adjusted() > MAX_DIGITS:  # checked before scaling: 1e999999 stays cheap
        raise MoneyError(f"amount out of range: {value!r}")
    scaled = dec.scaleb(6)  # exact: a shift of the exponent
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"more than six decimal places: {value!r}")
    micros = int(scaled)
    if abs(micros) > MAX_AMOUNT:
        raise MoneyError(f"amount out of range: {value!r}")
    return micros


def read_decimal(value: str | int) -> Decimal | None:
    """``value`` (an int or text, spaces around it ignored) as a Decimal when it is spelt as
    :data:`DECIMAL_TEXT` says, else None."""
    text = str(value).strip()
    return Decimal(text) if DECIMAL_TEXT.fullmatch(text) else None


def to_decimal(micros: int) -> Decimal:
    """Micros to a Decimal in units with exactly six places."""
    return (Decimal(micros) / MICROS).quantize(_MICRO)


def format_amount(micros: int, places: int = 2) -> str:
    """Human display: at least ``places`` decimals, more when the micros need them."""
    dec = to_decimal(micros).normalize()
    exponent = dec.as_tuple().exponent
    shown = max(places, -exponent if isinstance(exponent, int) else places)
    return f"{dec:.{shown}f}"


def percent_of(micros: int, pct: Decimal) -> int:
    """``pct`` percent of an amount, rounded once, half-up, to the micro."""
    return round_micros(Decimal(micros) * Decimal(pct) / 100)


def parse_percent(value: str | Decimal) -> Decimal:
    """A percentage between 0 and 100 with at most four decimals."""
    dec = value if isinstance(value, Decimal) else read_decimal(value)
    if dec is None:
        raise MoneyError(f"not a percentage: {value!r}")
    if not dec.is_finite() or dec < 0 or dec > 100:
        raise MoneyError("a percentage must be between 0 and 100")
    if dec != dec.quantize(Decimal("0.0001")):
        raise MoneyError("a percentage takes at most four decimal places")
    return dec
