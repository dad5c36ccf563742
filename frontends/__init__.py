"""The portals, served by the API's own app (``api.app.create_app``) on every host that has a
brand: server-rendered Jinja2 templates (``templates/``), htmx and Chart.js (from npm, copied
to ``static/vendor/`` by ``make install``), gettext catalogues (``locale/``). Pages read and
write only through the GraphQL operations beside their templates (``frontends.operations``).

``/`` is the client portal (``frontends.client``), ``/manage`` the reseller portal
(``frontends.manage``) and ``/operator`` the operator console (``frontends.operator``), all on
one foundation (``frontends.web``; the two staff portals share ``frontends.consoles``).
"""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from frontends import client, manage, operator

STATIC = Path(__file__).parent / "static"
STATIC_PATH = "/static"


def routes() -> list[BaseRoute]:
    return [
        *client.routes(),
        *manage.routes(),
        *operator.routes(),
        Mount(STATIC_PATH, app=StaticFiles(directory=STATIC, check_dir=False), name="static"),
    ]


__all__ = ["routes"]
