"""clientImpersonate (login as client): who may open such a session, what it may do, how long
it lasts, and how what is done with it is audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from api.domain import auth
from api.models import UserSession
from api.models.base import utcnow
from tests.api.conftest import PASSWORD, gid

IMPERSONATE = (
    "mutation($id: ID!) { clientImpersonate(clientId: $id) { token expiresAt"
    " user { email } errors { code field message } } }"
)
ME = "{ viewer { kind impersonator permissions client { name } user { email } } }"
PROFILE = (
    "mutation($input: ClientProfileUpdateInput!) { clientProfileUpdate(input: $input)"
    " { errors { code } } }"
)
CHANGE = (
    "mutation($c: String!, $n: String!) { passwordChange(currentPassword: $c, newPassword: $n)"
    " { ok errors { code message } } }"
)
HISTORY = (
    'query($id: Int!) { auditEvents(subjectType: "client", subjectId: $id, first: 20)'
    " { nodes { action actorLabel impersonatorLabel } } }"
)


async def _impersonate(gql, token: str, client_id: int) -> dict:
    body = await gql(IMPERSONATE, {"id": gid("Client", client_id)}, token=token)
    return body["data"]["clientImpersonate"]


@pytest.mark.parametrize("who", ["acme", "operator"])
async def test_an_owner_or_the_operator_acts_as_the_client(gql, world, who):
    opened = await _impersonate(gql, world.tokens[who], world.acme_client_id)
    assert opened["errors"] == [] and opened["user"] == {"email": "client@acme.test"}
    me = (await gql(ME, token=opened["token"]))["data"]["viewer"]
    assert me["kind"] == "client_user" and me["client"] == {"name": "Alice"}
    expected = "owner@acme.test" if who == "acme" else "admin@dialtone.test"
    assert me["impersonator"] == expected
    # the client's own login shows no one acting as it
    own = (await gql(ME, token=world.tokens["acme_client"]))["data"]["viewer"]
    assert own["impersonator"] is None


async def test_the_session_lasts_at_most_an_hour_and_then_is_nobody(gql, sessions, world):
    before = utcnow()
    opened = await _impersonate(gql, world.tokens["acme"], world.acme_client_id)
    async with sessions() as s:
        row = await s.scalar(
            select(UserSession).where(UserSession.token_hash == auth.hash_token(opened["token"]))
        )
    assert row.impersonator_id is not None
    assert row.expires_at <= before + timedelta(seconds=auth.IMPERSONATION_TTL + 5)
    # when the hour is over
    async with sessions() as s, s.begin():
        await s.execute(
            update(UserSession)
            .where(UserSession.id == row.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    me = (await gql(ME, token=opened["token"]))["data"]["viewer"]
    assert me["kind"] == "anonymous"


async def test_what_is_done_as_the_client_is_audited_with_both(gql, world):
    opened = await _impersonate(gql, world.tokens["acme"], world.acme_client_id)
    changed = await gql(PROFILE, {"input": {"contactName": "Dr Alice"}}, token=opened["token"])
    assert changed["data"]["clientProfileUpdate"]["errors"] == []
    events = (await gql(HISTORY, {"id": world.acme_client_id}, token=world.tokens["acme"]))["data"][
        "auditEvents"
    ]["nodes"]
    by_action = {e["action"]: e for e in events}
    assert by_action["client.impersonation_started"] == {
        "action": "client.impersonation_started",
        "actorLabel": "owner@acme.test",
        "impersonatorLabel": None,
    }
    updated = by_action["client.updated"]
    assert updated["actorLabel"] == "client@acme.test"
    assert updated["impersonatorLabel"] == "owner@acme.test"


async def test_acting_as_the_client_may_not_change_its_password(gql, world):
    opened = await _impersonate(gql, world.tokens["acme"], world.acme_client_id)
    refused = (await gql(CHANGE, {"c": PASSWORD, "n": "new-password-1"}, token=opened["token"]))[
        "data"
    ]["passwordChange"]
    assert refused["ok"] is False and refused["errors"][0]["code"] == "PERMISSION_DENIED"
    # and the client's password is as it was
    assert await gql.login("client@acme.test", PASSWORD)


async def test_nor_open_another_such_session_from_it(gql, world):
    opened = await _impersonate(gql, world.tokens["acme"], world.acme_client_id)
    again = await _impersonate(gql, opened["token"], world.acme_client_id)
    assert again["token"] is None and again["errors"][0]["code"] == "PERMISSION_DENIED"


@pytest.mark.parametrize(
    ("who", "client", "code"),
    [
        ("acme_staff", "acme_client_id", "PERMISSION_DENIED"),
        ("acme_client", "acme_client_id", "PERMISSION_DENIED"),
        ("globex", "acme_client_id", "NOT_FOUND"),
        ("acme", "globex_client_id", "NOT_FOUND"),
        ("acme", "acme_client2_id", "VALIDATION"),  # Arnold has no portal login
    ],
)
async def test_who_may_not_and_whom_not(gql, world, who, client, code):
    refused = await _impersonate(gql, world.tokens[who], getattr(world, client))
    assert refused["token"] is None
    assert [e["code"] for e in refused["errors"]] == [code]


async def test_no_api_token_may_log_in_as_a_client(gql, world):
    refused = await _impersonate(gql, world.api_token, world.acme_client_id)
    assert [e["code"] for e in refused["errors"]] == ["PERMISSION_DENIED"]
    assert "clients:impersonate" not in auth.TOKEN_SCOPES
