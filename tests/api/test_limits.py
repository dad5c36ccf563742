"""The API's limits and guard rails: query depth, aliases, validation once per document, page
size, cursors, keyset pagination, masking of unexpected errors, and GraphiQL only in debug."""

from __future__ import annotations

import base64
import dataclasses

import httpx

from api.app import create_app
from tests.api.conftest import gid

CLIENT_PAGE = (
    "query($first: Int, $after: String) { clients(first: $first, after: $after) {"
    " edges { cursor node { id name } } pageInfo { hasNextPage endCursor } } }"
)


def nested_query(levels: int) -> str:
    """A query whose fields nest ``levels`` deep: viewer > reseller > clients > nodes >
    reseller > clients > nodes > ... > a scalar."""
    path = ["viewer", "reseller"]
    while len(path) < levels - 1:
        path.append(("clients", "nodes", "reseller")[(len(path) - 2) % 3])
    if path[-1] == "clients":  # a connection has no scalar: end on the balance instead
        path[-1] = "balance"
    leaf = {"viewer": "kind", "balance": "amount"}.get(path[-1], "id")
    query = leaf
    for field in reversed(path):
        query = f"{field} {{ {query} }}"
    return "{ " + query + " }"


def errors_text(body: dict) -> str:
    return " ".join(e["message"] for e in body.get("errors") or [])


async def test_a_query_deeper_than_the_limit_is_refused(gql, settings, world):
    token = world.tokens["acme"]
    max_depth = settings.max_query_depth
    # depth counts nesting below the root field: N nested levels are depth N - 1
    allowed = await gql(nested_query(max_depth + 1), token=token)
    assert "errors" not in allowed, allowed
    assert allowed["data"]["viewer"]["reseller"]["clients"]["nodes"]

    # when the query nests one level more
    refused = await gql(nested_query(max_depth + 2), token=token)

    # then nothing runs and the error names the depth limit
    assert refused.get("data") is None
    assert "depth" in errors_text(refused)
    assert str(max_depth) in errors_text(refused)


async def test_more_aliases_than_the_limit_are_refused(gql, settings, world):
    limit = settings.max_aliases

    def aliased(n: int) -> str:
        return "{ " + " ".join(f"a{i}: viewer {{ kind }}" for i in range(n)) + " }"

    allowed = await gql(aliased(limit), token=world.tokens["acme"])
    assert "errors" not in allowed, allowed
    assert len(allowed["data"]) == limit

    refused = await gql(aliased(limit + 1), token=world.tokens["acme"])
    assert refused.get("data") is None
    assert "alias" in errors_text(refused).lower()


async def test_a_document_is_validated_once(gql, world, monkeypatch):
    import strawberry.schema.schema as strawberry_schema

    validated = []
    validate = strawberry_schema.validate

    def counting(schema, document, rules, *args, **kwargs):
        validated.append(document)
        return validate(schema, document, rules, *args, **kwargs)

    monkeypatch.setattr(strawberry_schema, "validate", counting)
    # when the same document (with the depth and alias limits) comes three times
    for _ in range(3):
        body = await gql("{ validatedOnce: viewer { kind } }", token=world.tokens["acme"])
        assert body["data"] == {"validatedOnce": {"kind": "reseller_user"}}
    # then it is validated the first time only
    assert len(validated) == 1


async def test_page_size_is_capped_at_500(gql, world):
    token = world.tokens["acme"]

    # when asking for 501 clients at once
    refused = await gql(CLIENT_PAGE, {"first": 501}, token=token)

    # then the error says the allowed range
    assert refused["data"] is None
    message = errors_text(refused)
    assert "first" in message and "500" in message
    assert refused["errors"][0]["path"] == ["clients"]

    # and 500 (or a negative) is fine / refused the same way
    accepted = await gql(CLIENT_PAGE, {"first": 500}, token=token)
    assert "errors" not in accepted, accepted
    assert len(accepted["data"]["clients"]["edges"]) == 2
    negative = await gql(CLIENT_PAGE, {"first": -1}, token=token)
    assert "500" in errors_text(negative)


async def test_an_invalid_after_cursor_is_a_clear_error(gql, world):
    token = world.tokens["acme"]
    bad_cursors = [
        "not a cursor!",
        "abc",
        base64.urlsafe_b64encode(b"x:1").decode(),
        base64.urlsafe_b64encode(b"k:abc").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ]
    for cursor in bad_cursors:
        body = await gql(CLIENT_PAGE, {"first": 2, "after": cursor}, token=token)
        assert body["data"] is None, cursor
        assert "cursor" in errors_text(body), (cursor, body)
        assert "Unexpected error" not in errors_text(body), cursor


async def test_keyset_pagination_walks_every_client_once(gql, world):
    token = world.tokens["acme"]
    # given Acme has 2 clients, and its owner adds 7 more at once
    body = await gql(
        "mutation($rows: [ClientFieldsInput!]!) { clientBulkCreate(input: {clients: $rows})"
        " { clients { id } errors { code field message } } }",
        {"rows": [{"name": f"Bulk {i}"} for i in range(7)]},
        token=token,
    )
    assert body["data"]["clientBulkCreate"]["errors"] == []
    assert len(body["data"]["clientBulkCreate"]["clients"]) == 7

    everything = await gql(CLIENT_PAGE, {"first": 500}, token=token)
    expected = [e["node"]["id"] for e in everything["data"]["clients"]["edges"]]
    assert len(expected) == 9
    assert gid("Client", world.globex_client_id) not in expected

    # when walking the list two at a time
    seen, cursor, pages = [], None, 0
    while True:
        page = (await gql(CLIENT_PAGE, {"first": 2, "after": cursor}, token=token))["data"]
        clients = page["clients"]
        pages += 1
        assert len(clients["edges"]) <= 2
        seen += [e["node"]["id"] for e in clients["edges"]]
        if not clients["pageInfo"]["hasNextPage"]:
            break
        cursor = clients["pageInfo"]["endCursor"]
        assert cursor == clients["edges"][-1]["cursor"]
        assert pages < 10, "pagination does not end"

    # then every client comes exactly once, in the same order as the full list
    assert pages == 5
    assert seen == expected
    assert len(set(seen)) == len(seen)

    # and asking after the last cursor gives an empty last page
    last = (await gql(CLIENT_PAGE, {"first": 2, "after": cursor}, token=token))["data"]
    after_last = await gql(
        CLIENT_PAGE,
        {"first": 2, "after": last["clients"]["pageInfo"]["endCursor"]},
        token=token,
    )
    assert after_last["data"]["clients"]["edges"] == []
    assert after_last["data"]["clients"]["pageInfo"]["hasNextPage"] is False


async def test_an_id_out_of_range_names_nothing(gql, world):
    # given a Client id too large for any database integer column
    huge = gid("Client", 2**70)
    # when it is looked up, then it is simply not there
    body = await gql(
        "query($id: ID!) { viewer { kind } node(id: $id) { id } }",
        {"id": huge},
        token=world.tokens["acme"],
    )
    assert "errors" not in body
    assert body["data"] == {"viewer": {"kind": "reseller_user"}, "node": None}


async def test_unexpected_errors_are_masked(settings, tmp_path):
    # given an app whose database has no tables: every lookup fails inside the driver,
    # which is no expected (domain) error
    broken = dataclasses.replace(
        settings, database_url=f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    )
    app = create_app(broken)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.post(
            "/graphql", json={"query": "{ viewer { kind } clients { edges { node { id } } } }"}
        )
    await app.state.engine.dispose()
    body = response.json()
    # then the error is masked: a generic message, no driver or SQL details
    [error] = body["errors"]
    assert error["message"] == "Unexpected error."
    assert error["path"] == ["clients"]
    text = str(body).lower()
    for leak in ("no such table", "sql", "operational", "aiosqlite", "traceback", "select"):
        assert leak not in text, leak
    # and, `clients` being non-null, the whole data is null rather than half-answered
    assert body["data"] is None


async def get_graphiql(app) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        return await http.get("/graphql", headers={"Accept": "text/html"})


async def test_graphiql_is_served_only_in_debug(app, settings):
    # given the test settings have debug on: GraphiQL is served at GET /graphql
    assert settings.debug is True
    response = await get_graphiql(app)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()

    # when debug is off, it is not
    production = create_app(dataclasses.replace(settings, debug=False))
    try:
        response = await get_graphiql(production)
    finally:
        await production.state.engine.dispose()
    assert response.status_code == 404
    assert not response.headers.get("content-type", "").startswith("text/html")
    assert "graphiql" not in response.text.lower()
