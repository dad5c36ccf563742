"""The client portal, served at ``/`` of a reseller's host: one module per page (its
operations in the ``.graphql`` file beside its template, ``templates/client/``), and what
they share (``common``)."""

from __future__ import annotations

from starlette.routing import Route

from frontends.client import (
    calls,
    home,
    impersonation,
    invoices,
    numbers,
    password,
    payments,
    profile,
    session,
    sub_accounts,
    topup,
)


def routes() -> list[Route]:
    return [
        *session.routes(),
        *password.routes(),
        *home.routes(),
        *calls.routes(),
        *numbers.routes(),
        *sub_accounts.routes(),
        *topup.routes(),
        *payments.routes(),
        *invoices.routes(),
        *profile.routes(),
        *impersonation.routes(),
    ]
