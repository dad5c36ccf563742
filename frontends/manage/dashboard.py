"""The reseller portal's dashboard (``templates/manage/dashboard.*``)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from frontends.consoles import MANAGE, route, signed_in
from frontends.web import Page


async def dashboard(page: Page) -> Response:
    data = await signed_in(page, MANAGE, "ManageDashboard")
    return page.render("manage/dashboard.html", reseller=data["viewer"]["reseller"])


def routes() -> list[Route]:
    return [route(MANAGE, "", dashboard, ["GET"])]
