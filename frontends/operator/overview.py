"""The operator console's overview (``templates/operator/overview.*``)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from frontends.consoles import OPERATOR, route, signed_in
from frontends.web import Page


async def overview(page: Page) -> Response:
    data = await signed_in(page, OPERATOR, "OperatorOverview")
    return page.render("operator/overview.html", resellers=data["resellers"]["nodes"])


def routes() -> list[Route]:
    return [route(OPERATOR, "", overview, ["GET"])]
