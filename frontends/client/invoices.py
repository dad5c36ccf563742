"""The Invoices page (``templates/client/invoices.*``): a postpaid client's invoices and credit
notes, newest first, each with its dates, status, total, what is still due and its PDF.

The list is the API's ``invoices`` as the client sees them: sent ones only, never a draft.
Paid invoices are marked paid, overdue ones overdue (``Invoice.overdue``, the API's rule).
The PDF link is the invoice's ``pdfUrl`` (``GET /invoices/{id}.pdf``), which checks what the
``invoice`` query checks: a client reads its own sent invoices, anything else is 404. A
prepaid client without invoices gets a word on where its money is instead of an empty table.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from frontends.client.common import page_of, signed_in, to_login
from frontends.operations import OperationFailed
from frontends.web import Page

PAGE_SIZE = 25


async def invoices(request: Request) -> Response:
    page = await page_of(request)
    if not isinstance(page, Page):
        return page
    after = request.query_params.get("after") or None
    try:
        data = await signed_in(page, "ClientInvoices", {"first": PAGE_SIZE, "after": after})
    except OperationFailed:
        if after is None:
            raise
        return page.redirect("/invoices")  # a cursor that is not one: the first page
    if data is None:
        return to_login(page)
    listed = data["invoices"]
    return page.render(
        "client/invoices.html",
        client=data["viewer"]["client"],
        invoices=listed["nodes"],
        more=listed["pageInfo"]["endCursor"] if listed["pageInfo"]["hasNextPage"] else None,
        later=after is not None,
    )


def routes() -> list[Route]:
    return [Route("/invoices", invoices, methods=["GET"])]
