"""The ``calls`` connection runs a fixed number of SQL statements, whatever the page size:
the nested client and sub-account a client UI shows are batched (no N+1)."""

from __future__ import annotations

from datetime import timedelta

from api.db import transaction
from api.domain import calls
from api.domain.actors import SYSTEM
from api.domain.cdr_formats import CallRecord
from tests.api.conftest import gid
from tests.api.test_calls_api import ALICE_SIP, T0, rate_world
from tests.api.test_query_count import statements

CALLS = """query($c: ID, $first: Int!, $from: DateTime, $to: DateTime) {
  calls(clientId: $c, first: $first, from: $from, to: $to) {
    edges { cursor node {
      id callId destination startedAt disposition billsec
      sell { amount currency } cost { amount } profit { amount }
      client { id name balance { amount currency } }
      subAccount { id username }
    } }
    pageInfo { hasNextPage endCursor }
    totals { currency count answeredMinutes sell { amount } cost { amount } fromRollups }
  }
}
"""


async def test_calls_page_of_200_runs_as_many_statements_as_one_of_10(app, gql, world, sessions):
    # given 205 calls of Alice's sub-account, one a minute
    await rate_world(sessions, world)
    records = [
        (
            n + 1,
            CallRecord(
                call_id=f"qc-{n}",
                destination="442071234567",
                started_at=T0 + timedelta(minutes=n),
                duration=30,
                billsec=27,
                disposition="answered",
                sub_account=ALICE_SIP,
            ),
        )
        for n in range(205)
    ]
    async with transaction(sessions) as s:
        report = await calls.ingest(s, SYSTEM, records)
    assert report.ingested == 205
    month = {
        "c": gid("Client", world.acme_client_id),
        "from": "2024-03-01T00:00:00+00:00",
        "to": "2024-04-01T00:00:00+00:00",
    }
    # when the reseller owner pages 10, then 200 of them with their client and sub-account
    with statements(app.state.engine) as small:
        body = await gql(CALLS, {**month, "first": 10}, token=world.tokens["acme"])
    assert "errors" not in body, body
    assert len(body["data"]["calls"]["edges"]) == 10
    with statements(app.state.engine) as large:
        body = await gql(CALLS, {**month, "first": 200}, token=world.tokens["acme"])
    assert "errors" not in body, body
    # then the page is full, the nested objects are there, totals come from the rollups
    result = body["data"]["calls"]
    assert len(result["edges"]) == 200
    node = result["edges"][0]["node"]
    assert node["client"]["name"] == "Alice"
    assert node["subAccount"]["username"] == ALICE_SIP
    assert node["client"]["balance"]["currency"] == "USD"
    assert result["totals"][0]["count"] == 205
    assert result["totals"][0]["fromRollups"] is True
    # and the statement count did not grow with the page
    assert len(large) == len(small), (len(small), len(large))


async def test_client_viewer_sees_its_own_client_and_sub_account_on_calls(gql, world, sessions):
    # given one call of Alice's sub-account
    await rate_world(sessions, world)
    async with transaction(sessions) as s:
        await calls.ingest(
            s,
            SYSTEM,
            [
                (
                    1,
                    CallRecord(
                        call_id="qc-own",
                        destination="442071234567",
                        started_at=T0,
                        duration=30,
                        billsec=27,
                        disposition="answered",
                        sub_account=ALICE_SIP,
                    ),
                )
            ],
        )
    # when Alice lists her calls with the nested objects
    body = await gql(
        "{ calls(first: 5) { edges { node { cost { amount } client { name } "
        "subAccount { username } } } } }",
        token=world.tokens["acme_client"],
    )
    # then she sees herself and her sub-account, and never the cost
    assert "errors" not in body, body
    [edge] = body["data"]["calls"]["edges"]
    assert edge["node"] == {
        "cost": None,
        "client": {"name": "Alice"},
        "subAccount": {"username": ALICE_SIP},
    }
