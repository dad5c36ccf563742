"""The reseller portal, served under ``/manage`` of a reseller's own host to its owner and
staff (``frontends.consoles``): one module per page, its operations in the ``.graphql`` file
beside its template (``templates/manage/``)."""

from __future__ import annotations

from starlette.routing import Route

from frontends.consoles import MANAGE, session_routes
from frontends.manage import client_card, clients, dashboard, impersonation, reports


def routes() -> list[Route]:
    return [
        *session_routes(MANAGE),
        *dashboard.routes(),
        *clients.routes(),
        *impersonation.routes(),
        *client_card.routes(),
        *reports.routes(),
    ]
