"""Field checks shared by the domain: each returns the cleaned value or raises a VALIDATION error
naming the field."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from api import money
from api.domain import dialing
from api.domain.errors import DomainError, DomainErrors, invalid

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LANG_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")


def clean(
    data: dict[str, Any],
    checks: dict[str, Callable[[Any], Any]],
    required: tuple[tuple[str, str], ...] = (),
) -> dict[str, Any]:
    """Run each given (non-null) field through its check; every failure is reported at once.
    ``required`` pairs a field with its public (camelCase) name."""
    out: dict[str, Any] = {}
    errors: list[DomainError] = []
    for name, value in data.items():
        if value is None:
            continue
        try:
            out[name] = checks[name](value)
        except DomainError as exc:
            errors.append(exc)
    for name, public in required:
        if name not in out and not any(e.field == public for e in errors):
            errors.append(invalid(public, f"{public} is required"))
    if errors:
        raise DomainErrors(errors)
    return out


def text(field: str, value: str | None, *, max_len: int, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise invalid(field, f"{field} is required")
    if len(value) > max_len:
        raise invalid(field, f"{field} takes at most {max_len} characters")
    return value


def choice(field: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise invalid(field, f"{field} must be one of: {', '.join(allowed)}")
    return value


def email(field: str, value: str | None, *, required: bool = False) -> str:
    value = text(field, value, max_len=320, required=required).lower()
    if value and not EMAIL_RE.match(value):
        raise invalid(field, "not a valid email address")
    return value


def language(field: str, value: str) -> str:
    value = value.strip()
    if not LANG_RE.match(value):
        raise invalid(field, "a language code such as en or pt-BR")
    return value


def country(field: str, value: str | None) -> str:
    value = (value or "").strip().upper()
    if value and not re.fullmatch(r"[A-Z]{2}", value):
        raise invalid(field, "a two-letter ISO country code")
    return value


def home_country(field: str, value: str | None) -> str:
    """The country a switch dials from (``api.domain.dialing``); ``""`` for none."""
    try:
        return dialing.home_country(value)
    except ValueError as exc:
        raise invalid(field, str(exc)) from None


def currency(field: str, value: str) -> str:
    value = (value or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise invalid(field, "a three-letter ISO currency code such as USD")
    return value


def timezone(field: str, value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid(field, f"unknown time zone {value!r}") from None
    return value


def amount(field: str, value, *, positive: bool = False, non_negative: bool = False) -> int:
    try:
        micros = value if isinstance(value, int) else money.parse(value)
    except money.MoneyError as exc:
        raise invalid(field, str(exc)) from None
    if positive and micros <= 0:
        raise invalid(field, "must be greater than zero")
    if non_negative and micros < 0:
        raise invalid(field, "must not be negative")
    return micros


def percent(field: str, value) -> Decimal:
    try:
        return money.parse_percent(value)
    except money.MoneyError as exc:
        raise invalid(field, str(exc)) from None
