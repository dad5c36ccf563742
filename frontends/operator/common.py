"""What the operator console's pages share: the signed-in operator's POSTed form, the
amounts a form gives, the API's refusals in the page's language, and the idempotency key a
money form carries."""

from __future__ import annotations

import secrets
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.responses import Response

from frontends import consoles
from frontends.consoles import OPERATOR
from frontends.web import Page, not_found


async def posted(page: Page) -> dict[str, str] | None:
    """The form POSTed by a signed-in operator (``consoles.posted``)."""
    return await consoles.posted(page, OPERATOR)


def expired(page: Page) -> str:
    return page.gettext("This form has expired. Please try again.")


def decimal(raw: str | None) -> str | None:
    """A form's number as the API's Decimal (a string), or None when it is not a number."""
    try:
        value = Decimal((raw or "").strip().replace(",", "."))
    except InvalidOperation:
        return None
    return str(value) if value.is_finite() else None


def idempotency_key() -> str:
    """The key a money form carries from when it is rendered: posting it twice moves money once."""
    return secrets.token_urlsafe(18)


def refusal(page: Page, errors: list[dict[str, Any]], by_field: dict[str, str]) -> str:
    """The first refusal of the API, in the page's language: a conflict's text, else the
    text for its field, else the API's own words after a translated lead."""
    for error in errors:
        if error.get("code") == "CONFLICT" and "conflict" in by_field:
            return by_field["conflict"]
    for error in errors:
        if error.get("field") in by_field:
            return by_field[error["field"]]
    reason = errors[0].get("message", "") if errors else ""
    return page.gettext("Refused: %(reason)s") % {"reason": reason}


def missing(page: Page) -> Response:
    """The answer for an object that is not there (or not visible)."""
    return not_found(page.request)
