"""The client portal, served at ``/`` of a reseller's host: one module per page (its
operations in the ``.graphql`` file beside its template, ``templates/client/``), and what
they share (``common``)."""

from __future__ import annotations

from starlette.routing import Route

from frontends.client import calls, home, invoices, numbers, session, sub_accounts


def routes() -> list[Route]:
    return [
        *session.routes(),
        *home.routes(),
        *calls.routes(),
        *numbers.routes(),
        *sub_accounts.routes(),
        *invoices.routes(),
    ]
