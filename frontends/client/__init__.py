"""The client portal, served at ``/`` of a reseller's host: one module per page (its
operations in the ``.graphql`` file beside its template, ``templates/client/``), and what
they share (``common``)."""

from __future__ import annotations

from starlette.routing import Route

from frontends.client import home, payments, session, topup


def routes() -> list[Route]:
    return [*session.routes(), *home.routes(), *topup.routes(), *payments.routes()]
