"""GraphQL API of logins (``users``) and of a reseller's base deck as the operator sees it."""

from __future__ import annotations

from tests.api.conftest import gid
from tests.api.test_rates_api import make_deck

USERS = (
    "query($r: ID, $role: Role) { users(resellerId: $r, role: $role, first: 100)"
    " { nodes { email role active reseller { name } } } }"
)


def emails(body) -> set[str]:
    return {u["email"] for u in body["data"]["users"]["nodes"]}


async def test_the_operator_lists_every_login_and_filters_them(gql, world):
    op = world.tokens["operator"]
    every = await gql(USERS, token=op)
    assert {"admin@dialtone.test", "owner@acme.test", "client@globex.test"} <= emails(every)
    acme = await gql(USERS, {"r": gid("Reseller", world.acme_id)}, token=op)
    assert emails(acme) == {"owner@acme.test", "staff@acme.test", "client@acme.test"}
    operators = await gql(USERS, {"role": "OPERATOR"}, token=op)
    assert emails(operators) == {"admin@dialtone.test"}
    owner = next(u for u in acme["data"]["users"]["nodes"] if u["email"] == "owner@acme.test")
    assert owner == {
        "email": "owner@acme.test",
        "role": "reseller_owner",
        "active": True,
        "reseller": {"name": "Acme"},
    }


async def test_a_reseller_sees_its_own_team_only_and_a_client_nothing(gql, world):
    acme = await gql(USERS, token=world.tokens["acme_staff"])
    assert emails(acme) == {"owner@acme.test", "staff@acme.test"}
    other = await gql(USERS, {"r": gid("Reseller", world.globex_id)}, token=world.tokens["acme"])
    assert emails(other) == set()
    for name in ("acme_client", "globex_client"):
        assert emails(await gql(USERS, token=world.tokens[name])) == set(), name


async def test_a_resellers_base_deck_is_shown_to_the_operator_and_itself_only(gql, world):
    deck_id = await make_deck(gql, world)
    query = "{ resellers(first: 10) { nodes { name baseDeckId } } }"
    seen = await gql(query, token=world.tokens["operator"])
    assert {r["name"]: r["baseDeckId"] for r in seen["data"]["resellers"]["nodes"]} == {
        "Acme": deck_id,
        "Globex": None,
    }
    own = await gql(query, token=world.tokens["acme"])
    assert own["data"]["resellers"]["nodes"] == [{"name": "Acme", "baseDeckId": deck_id}]
    client = await gql(
        "{ viewer { client { reseller { baseDeckId } } } }", token=world.tokens["acme_client"]
    )
    assert client["data"]["viewer"]["client"]["reseller"] == {"baseDeckId": None}
