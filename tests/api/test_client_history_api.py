"""One client's audit history: ``auditEvents(clientId:)`` lists the changes to that client
and to what is its own, needs ``audit:read`` outright, and finds nothing of another tenant."""

from __future__ import annotations

from tests.api.conftest import gid

ERR = "errors { code field message }"
HISTORY = (
    "query($c: ID!) { auditEvents(clientId: $c) { edges { node"
    " { action actorLabel subjectType before after } } } }"
)


async def test_a_clients_history_has_its_changes_and_no_other_clients(gql, world):
    # given Acme's owner changes its two clients
    token = world.tokens["acme"]
    alice, arnold = gid("Client", world.acme_client_id), gid("Client", world.acme_client2_id)
    for client, label in ((alice, "vip"), (arnold, "other")):
        body = await gql(
            f'mutation($c: ID!) {{ clientUpdate(input: {{id: $c, label: "{label}",'
            f' creditLimit: "40"}}) {{ {ERR} }} }}',
            {"c": client},
            token=token,
        )
        assert body["data"]["clientUpdate"]["errors"] == []
    # when it reads Alice's history
    body = await gql(HISTORY, {"c": alice}, token=token)
    events = [e["node"] for e in body["data"]["auditEvents"]["edges"]]
    # then the newest is its change, money with its currency, and nothing is Arnold's
    assert events[0]["action"] == "client.updated"
    assert events[0]["actorLabel"] == "owner@acme.test"
    assert events[0]["after"]["label"] == "vip"
    assert events[0]["after"]["credit_limit"] == {"amount": "40.00", "currency": "USD"}
    assert all((e["after"] or {}).get("label") != "other" for e in events)


async def test_a_role_without_audit_read_is_refused_a_clients_history(gql, world):
    body = await gql(
        HISTORY, {"c": gid("Client", world.acme_client_id)}, token=world.tokens["acme_staff"]
    )
    assert body["data"] is None
    assert body["errors"][0]["message"] == "this needs the audit:read permission"


async def test_another_tenants_client_has_no_history_to_show(gql, world):
    body = await gql(
        HISTORY, {"c": gid("Client", world.globex_client_id)}, token=world.tokens["acme"]
    )
    assert body["data"]["auditEvents"]["edges"] == []
