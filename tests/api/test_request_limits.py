"""Every route refuses a body or a query string over its documented size before reading it."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from api.app import create_app
from tests.api.conftest import gid
from tests.api.test_money_api import DEPOSIT, reseller_balance


@pytest.fixture
async def small(settings):
    """The app with limits small enough to cross in a test: 1,000 bytes of body, 200 of query."""
    app = create_app(dataclasses.replace(settings, max_body_bytes=1000, max_query_string_bytes=200))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        yield http
    await app.state.engine.dispose()


def chunks(total: int, size: int = 300):
    """A body sent chunked, with no Content-Length to refuse it by."""

    async def body():
        for start in range(0, total, size):
            yield b" " * min(size, total - start)

    return body()


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    "path", ["/graphql", "/switch/cdrs", "/switch/authorize", "/webhooks/paypal/ipn", "/login"]
)
async def test_a_body_over_its_stated_length_limit_is_refused_413_before_the_route(small, path):
    response = await small.post(path, content=b" " * 1001, headers=JSON)
    assert response.status_code == 413, path
    assert response.json() == {"error": "the request body is over the limit of 1000 bytes"}


@pytest.mark.parametrize("path", ["/graphql", "/webhooks/paypal/ipn", "/webhooks/paypal/events"])
async def test_a_chunked_body_is_refused_413_as_soon_as_it_passes_the_limit(small, path):
    chunked = await small.post(path, content=chunks(5000), headers=JSON)
    assert chunked.status_code == 413, path
    assert "1000 bytes" in chunked.json()["error"]


async def test_a_body_at_the_limit_is_read_as_usual(small):
    query = b'{"query": "{ __typename }"}'
    exact = query + b" " * (1000 - len(query))
    response = await small.post(
        "/graphql", content=exact, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("path", ["/graphql", "/healthz", "/exports/calls.csv"])
async def test_a_query_string_over_the_limit_is_refused_414(small, path):
    response = await small.get(path, params={"query": "x" * 200})
    assert response.status_code == 414
    assert response.json() == {"error": "the query string is over the limit of 200 bytes"}
    assert (await small.get("/healthz", params={"q": "x" * 150})).status_code == 200


async def test_a_malformed_content_length_is_a_400(small):
    response = await small.post("/graphql", content=b"{}", headers={"Content-Length": "1e3"})
    assert response.status_code == 400


async def asgi_get(app, path: str, query_string: bytes) -> int:
    """The status of a GET sent straight to the app: httpx itself refuses URLs over 64 KiB."""
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": query_string, "headers": [(b"host", b"t")], "server": ("t", 80),
        "client": ("127.0.0.1", 1),
    }  # fmt: skip
    await app(scope, receive, send)
    return sent[0]["status"]


async def test_a_20_mb_deposit_is_refused_by_default_and_moves_nothing(gql, world):
    # given the default limit (16 MiB), Acme holding 1000.00, and a deposit padded to 20 MB
    query = DEPOSIT + " " * (20 * 1024 * 1024)
    variables = {"r": gid("Reseller", world.acme_id), "a": "25.00", "k": "big"}
    async with gql.client() as http:
        response = await http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {world.tokens['operator']}"},
        )
    long_query = await asgi_get(gql.app, "/graphql", b"query=" + b"+" * (20 * 1024 * 1024))
    # then both are refused before they are read, and the balance has not moved
    assert response.status_code == 413
    assert long_query == 414
    assert (await reseller_balance(gql, world.tokens["acme"]))["amount"] == "1000.000000"
