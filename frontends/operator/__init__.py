"""The operator console, served under ``/operator`` of the platform host to the operator's
people (``frontends.consoles``): one module per page, its operations in the ``.graphql`` file
beside its template (``templates/operator/``)."""

from __future__ import annotations

from starlette.routing import Route

from frontends.consoles import OPERATOR, session_routes
from frontends.operator import overview, resellers


def routes() -> list[Route]:
    return [
        *session_routes(OPERATOR),
        *overview.routes(),
        *resellers.routes(),
    ]
