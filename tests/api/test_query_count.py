"""List queries run a fixed number of SQL statements, whatever the page size (no N+1)."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from api.db import transaction
from api.domain import accounts
from api.domain.actors import SYSTEM

CLIENTS = """
query($first: Int!) {
  clients(first: $first) {
    edges { cursor node {
      id name status billingMode
      balance { amount currency }
      creditLimit { amount currency }
      reseller { name balance { amount } }
      upcomingFees { dueOn amount { amount } subAccount { username } did { number } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


@contextmanager
def statements(engine):
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def test_client_list_of_200_runs_as_many_statements_as_one_of_10(app, gql, world, sessions):
    # given 200 more clients at Acme
    async with transaction(sessions) as s:
        await accounts.create_clients(
            s, SYSTEM, world.acme_id, [{"name": f"Bulk {i:03}"} for i in range(200)]
        )
    token = world.tokens["acme"]
    # when the owner lists 10, then 200 of them with balances and their reseller
    with statements(app.state.engine) as small:
        body = await gql(CLIENTS, {"first": 10}, token=token)
    assert len(body["data"]["clients"]["edges"]) == 10
    with statements(app.state.engine) as large:
        body = await gql(CLIENTS, {"first": 200}, token=token)
    # then the page is full and the statement count did not grow with it
    assert len(body["data"]["clients"]["edges"]) == 200
    assert body["data"]["clients"]["edges"][0]["node"]["balance"]["currency"] == "USD"
    assert len(large) == len(small), (len(small), len(large))
