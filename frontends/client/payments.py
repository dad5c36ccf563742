"""The payment history (``templates/client/payments.html``): the client's payments, newest
first, with their method, status and refunds; keyset pages of ``PAGE`` (``?after=<cursor>``)."""

from __future__ import annotations

import base64
import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from frontends.client.common import page_of, signed_in, to_login
from frontends.web import Page

PAGE = 20
CURSOR = re.compile(r"[A-Za-z0-9_-]{1,60}={0,2}")


def _looks_like_cursor(value: str) -> bool:
    """Whether ``value`` is shaped like the API's opaque cursors (url-safe base64 of a key),
    so that a link edited by hand shows the first page rather than an error."""
    if not CURSOR.fullmatch(value):
        return False
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return False
    return text.startswith("k:") and text[2:].isdigit()


async def payments(request: Request) -> Response:
    page = await page_of(request)
    if not isinstance(page, Page):
        return page
    after = request.query_params.get("after") or None
    if after is not None and not _looks_like_cursor(after):
        after = None  # not a cursor the API gave: the first page
    data = await signed_in(page, "ClientPayments", {"first": PAGE, "after": after})
    if data is None:
        return to_login(page)
    client = data["viewer"]["client"]
    found = client["payments"]
    return page.render(
        "client/payments.html",
        client=client,
        payments=[edge["node"] for edge in found["edges"]],
        next_cursor=found["pageInfo"]["endCursor"] if found["pageInfo"]["hasNextPage"] else None,
        first_page=after is None,
    )


def routes() -> list[Route]:
    return [Route("/payments", payments, methods=["GET"])]
