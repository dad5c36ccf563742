"""The clients list's filters: label, characteristic, and a search that finds a number."""

from __future__ import annotations

from tests.api.conftest import gid

ERR = "errors { code field message }"
UPDATE = (
    "mutation($c: ID!, $label: String, $ch: Characteristic) { clientUpdate(input:"
    f" {{id: $c, label: $label, characteristic: $ch}}) {{ {ERR} }} }}"
)
NUMBERS = (
    "mutation($c: ID!, $n: [String!]!) { clientNumbersSet(input: {clientId: $c, numbers: $n})"
    f" {{ {ERR} }} }}"
)
LIST = (
    "query($label: String, $ch: Characteristic, $q: String) { clients(label: $label,"
    " characteristic: $ch, search: $q) { nodes { name } } }"
)


async def names(gql, token, **variables) -> list[str]:
    body = await gql(LIST, variables, token=token)
    return [n["name"] for n in body["data"]["clients"]["nodes"]]


async def test_clients_are_filtered_by_label_characteristic_and_a_number(gql, world):
    token = world.tokens["acme"]
    alice = gid("Client", world.acme_client_id)
    arnold = gid("Client", world.acme_client2_id)
    # given Alice labelled "Dental" and rated good, Arnold labelled "dental care", who calls
    # from +1 415 555 0199
    body = await gql(UPDATE, {"c": alice, "label": "Dental", "ch": "GOOD"}, token=token)
    assert body["data"]["clientUpdate"]["errors"] == []
    await gql(UPDATE, {"c": arnold, "label": "dental care", "ch": "CONFLICT"}, token=token)
    body = await gql(NUMBERS, {"c": arnold, "n": ["+1 415 555 0199"]}, token=token)
    assert body["data"]["clientNumbersSet"]["errors"] == []
    # then a label matches whole, case aside
    assert await names(gql, token, label="DENTAL") == ["Alice"]
    assert await names(gql, token, label="dental care ") == ["Arnold"]
    # a characteristic picks its clients
    assert await names(gql, token, ch="CONFLICT") == ["Arnold"]
    assert await names(gql, token, ch="NORMAL") == []
    # a search finds digits of a number, written any way, and text as before
    assert await names(gql, token, q="(415) 555-01") == ["Arnold"]
    assert await names(gql, token, q="dental") == ["Alice", "Arnold"]
    # filters add up
    assert await names(gql, token, q="dental", ch="GOOD") == ["Alice"]


async def test_another_resellers_clients_are_never_found_by_a_filter(gql, world):
    globex = world.tokens["globex"]
    await gql(
        UPDATE,
        {"c": gid("Client", world.acme_client_id), "label": "Dental"},
        token=world.tokens["acme"],
    )
    assert await names(gql, globex, label="Dental") == []
