"""Fixtures for the GraphQL API: the real app over ASGI, and a small world of two tenants."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.db import transaction
from api.domain import accounts, auth, payments
from api.domain.actors import SYSTEM, actor_for_user

PASSWORD = "demo1234"


class GQL:
    """Posts GraphQL to the app; each call is a fresh client (no cookies carried over)."""

    def __init__(self, app: Any):
        self.app = app

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://t")

    async def raw(self, query: str, variables: dict | None = None, token: str | None = None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.client() as http:
            return await http.post(
                "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
            )

    async def __call__(self, query: str, variables: dict | None = None, token: str | None = None):
        response = await self.raw(query, variables, token)
        assert response.status_code == 200, response.text
        return response.json()

    async def login(self, email: str, password: str = PASSWORD) -> str:
        body = await self(
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) "
            "{ token errors { code message } } }",
            {"e": email, "p": password},
        )
        assert body["data"]["login"]["errors"] == [], body
        return body["data"]["login"]["token"]


@pytest.fixture
async def app(settings):
    application = create_app(settings)
    yield application
    await application.state.engine.dispose()


@pytest.fixture
def gql(app) -> GQL:
    return GQL(app)


def gid(type_name: str, pk: int) -> str:
    import base64

    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


@dataclass
class World:
    acme_id: int
    globex_id: int
    acme_client_id: int
    acme_client2_id: int
    globex_client_id: int
    payment_entry_id: int
    api_token: str  # Acme's, with every scope
    tokens: dict[str, str]  # role name -> session token


@pytest.fixture
async def world(sessions, gql) -> World:
    """Acme (markup, USD) and Globex (commission 10 %, EUR), each with an owner, clients and
    money; a client login at Acme; an Acme API token. Sessions for every kind of viewer."""
    async with transaction(sessions) as s:
        await auth.create_user(
            s, SYSTEM, email="admin@dialtone.test", password=PASSWORD, role="operator"
        )
        acme = await accounts.create_reseller(
            s, SYSTEM, {"name": "Acme", "currency": "USD", "billing_model": "markup"}
        )
        globex = await accounts.create_reseller(
            s,
            SYSTEM,
            {
                "name": "Globex",
                "currency": "EUR",
                "billing_model": "commission",
                "commission_pct": "10",
            },
        )
        acme_owner = await auth.create_user(
            s,
            SYSTEM,
            email="owner@acme.test",
            password=PASSWORD,
            role="reseller_owner",
            reseller_id=acme.id,
        )
        await auth.create_user(
            s,
            SYSTEM,
            email="owner@globex.test",
            password=PASSWORD,
            role="reseller_owner",
            reseller_id=globex.id,
        )
        await auth.create_user(
            s,
            SYSTEM,
            email="staff@acme.test",
            password=PASSWORD,
            role="reseller_staff",
            reseller_id=acme.id,
        )
        c1, c2 = await accounts.create_clients(
            s, SYSTEM, acme.id, [{"name": "Alice"}, {"name": "Arnold", "billing_mode": "postpaid"}]
        )
        [g1] = await accounts.create_clients(s, SYSTEM, globex.id, [{"name": "Gina"}])
        await auth.create_user(
            s, SYSTEM, email="client@acme.test", password=PASSWORD, role="client", client_id=c1.id
        )
        await auth.create_user(
            s, SYSTEM, email="client@globex.test", password=PASSWORD, role="client", client_id=g1.id
        )
        for reseller in (acme, globex):
            await payments.reseller_deposit(s, SYSTEM, reseller.id, "1000", f"seed-{reseller.id}")
        paid = await payments.client_payment(s, SYSTEM, c1.id, "50", "seed-pay")
        await payments.client_transfer(s, SYSTEM, g1.id, "40", "seed-transfer")
        token = await auth.create_api_token(
            s,
            actor_for_user(acme_owner),
            name="all scopes",
            scopes=sorted(auth.TOKEN_SCOPES),
        )
    tokens = {
        name: await gql.login(email)
        for name, email in {
            "operator": "admin@dialtone.test",
            "acme": "owner@acme.test",
            "acme_staff": "staff@acme.test",
            "globex": "owner@globex.test",
            "acme_client": "client@acme.test",
            "globex_client": "client@globex.test",
        }.items()
    }
    return World(
        acme_id=acme.id,
        globex_id=globex.id,
        acme_client_id=c1.id,
        acme_client2_id=c2.id,
        globex_client_id=g1.id,
        payment_entry_id=paid.entry.id,
        api_token=token.token,
        tokens=tokens,
    )
