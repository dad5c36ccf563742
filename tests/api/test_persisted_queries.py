"""Persisted queries: the portals' .graphql documents, sent by their SHA-256 instead of their
text (Apollo's ``extensions.persistedQuery.sha256Hash``), and a setting that lets a browser
session run nothing else."""

from __future__ import annotations

import dataclasses
import json

import httpx
import pytest

from api.app import create_app
from frontends.operations import DOCUMENTS, OPERATIONS, document_id
from tests.api.conftest import PASSWORD

BALANCE = OPERATIONS["ClientBalance"]
BALANCE_ID = document_id(BALANCE.source)


def persisted(name: str, variables: dict | None = None) -> dict:
    source = OPERATIONS[name].source
    return {
        "operationName": name,
        "variables": variables or {},
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": document_id(source)}},
    }


def test_every_portal_document_has_its_id():
    assert {document_id(op.source) for op in OPERATIONS.values()} == set(DOCUMENTS)
    assert DOCUMENTS[BALANCE_ID] == BALANCE.source


async def test_a_persisted_query_answers_as_its_text_does(gql, world):
    token = world.tokens["acme_client"]
    async with gql.client() as http:
        headers = {"Authorization": f"Bearer {token}"}
        by_text = await http.post(
            "/graphql",
            json={"query": BALANCE.source, "operationName": "ClientBalance"},
            headers=headers,
        )
        by_id = await http.post("/graphql", json=persisted("ClientBalance"), headers=headers)
        # a GET carries it in the query string
        by_get = await http.get(
            "/graphql",
            params={
                "operationName": "ClientBalance",
                "extensions": json.dumps(persisted("ClientBalance")["extensions"]),
            },
            headers={**headers, "Accept": "application/json"},
        )
    assert by_id.status_code == by_get.status_code == 200, by_get.text
    client = by_id.json()["data"]["viewer"]["client"]
    assert client["balance"]["currency"] == "USD"
    assert by_id.json() == by_text.json() == by_get.json()


async def test_an_unknown_or_mismatched_hash_is_refused(gql, world):
    headers = {"Authorization": f"Bearer {world.tokens['acme_client']}"}
    async with gql.client() as http:
        unknown = await http.post(
            "/graphql",
            json={"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}},
            headers=headers,
        )
        mismatched = await http.post(
            "/graphql",
            json={"query": "{ viewer { user { email } } }", **persisted("ClientBalance")},
            headers=headers,
        )
    assert unknown.status_code == 400 and "PersistedQueryNotFound" in unknown.text
    assert mismatched.status_code == 400 and "sha256Hash" in mismatched.text


@pytest.fixture
async def locked_app(settings):
    app = create_app(dataclasses.replace(settings, cookie_queries="persisted"))
    yield app
    await app.state.engine.dispose()


async def test_with_persisted_only_a_browser_session_runs_only_the_portals_documents(
    locked_app, world
):
    transport = httpx.ASGITransport(app=locked_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
        # given a browser signed in with the session cookie
        login = await http.post(
            "/graphql",
            json={
                "query": "mutation($e: String!, $p: String!) { login(email: $e, password: $p)"
                " { token csrfToken errors { code } } }",
                "variables": {"e": "client@acme.test", "p": PASSWORD},
            },
        )
        csrf = login.json()["data"]["login"]["csrfToken"]
        headers = {"X-CSRF-Token": csrf}
        # when it sends a query of its own, it is refused; a persisted one runs
        free = await http.post(
            "/graphql", json={"query": "{ viewer { user { email } } }"}, headers=headers
        )
        allowed = await http.post("/graphql", json=persisted("ClientBalance"), headers=headers)
        # and a portal document sent as text is one of the allowed ones too
        as_text = await http.post(
            "/graphql",
            json={"query": BALANCE.source, "operationName": "ClientBalance"},
            headers=headers,
        )
        # an API client with a Bearer token still sends any query
        token = login.json()["data"]["login"]["token"]
        bearer = await httpx.AsyncClient(transport=transport, base_url="http://localhost").post(
            "/graphql",
            json={"query": "{ viewer { user { email } } }"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert free.status_code == 403 and "persisted" in free.text
    assert allowed.status_code == 200 and allowed.json()["data"]["viewer"]["client"]
    assert as_text.status_code == 200
    assert bearer.json()["data"]["viewer"]["user"]["email"] == "client@acme.test"


def test_the_setting_reads_its_two_values_and_refuses_others():
    from api.settings import Settings

    assert Settings.from_env({}).cookie_queries == "any"
    assert Settings.from_env({"DIALTONE_COOKIE_QUERIES": "Persisted"}).cookie_queries == (
        "persisted"
    )
    with pytest.raises(ValueError, match="DIALTONE_COOKIE_QUERIES"):
        Settings.from_env({"DIALTONE_COOKIE_QUERIES": "some"})
