"""passwordChange, passwordReset / passwordResetRequest and clientProfileUpdate through the
API: who may call them, what they refuse, what they end; Client.users."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from api.domain import passwords
from api.models import Client, OutboxEmail, User, UserSession
from api.models.base import utcnow
from tests.api.conftest import PASSWORD

CHANGE = (
    "mutation($c: String!, $n: String!) { passwordChange(currentPassword: $c, newPassword: $n)"
    " { ok errors { code field message } } }"
)
RESET = (
    "mutation($t: String!, $p: String!) { passwordReset(token: $t, password: $p)"
    " { ok errors { code field message } } }"
)
REQUEST = "mutation($e: String!) { passwordResetRequest(email: $e) { ok errors { code } } }"
PROFILE = (
    "mutation($input: ClientProfileUpdateInput!) { clientProfileUpdate(input: $input) {"
    " client { contactName email phone language lowBalanceThreshold { amount currency } }"
    " errors { code field message } } }"
)
USERS = "query($id: ID!) { node(id: $id) { ... on Client { users { email role lastLoginAt } } } }"


async def test_a_user_changes_its_password_with_the_current_one(gql, sessions, world):
    # given two sessions of Acme's client user
    first = await gql.login("client@acme.test")
    second = await gql.login("client@acme.test")
    # when the first changes the password
    body = await gql(CHANGE, {"c": PASSWORD, "n": "new-password-1"}, token=first)
    assert body["data"]["passwordChange"] == {"ok": True, "errors": []}
    # then the first goes on, the second is ended, and only the new password logs in
    me = "{ viewer { kind } }"
    assert (await gql(me, token=first))["data"]["viewer"]["kind"] == "client_user"
    assert (await gql(me, token=second))["data"]["viewer"]["kind"] == "anonymous"
    assert await gql.login("client@acme.test", "new-password-1")


async def test_password_change_refuses_a_wrong_current_a_short_new_and_tokens(gql, world):
    token = world.tokens["acme"]
    wrong = (await gql(CHANGE, {"c": "nope-nope", "n": "new-password-1"}, token=token))["data"]
    assert wrong["passwordChange"]["errors"] == [
        {
            "code": "VALIDATION",
            "field": "currentPassword",
            "message": "the current password is wrong",
        }
    ]
    short = (await gql(CHANGE, {"c": PASSWORD, "n": "short"}, token=token))["data"]
    assert [e["field"] for e in short["passwordChange"]["errors"]] == ["newPassword"]
    same = (await gql(CHANGE, {"c": PASSWORD, "n": PASSWORD}, token=token))["data"]
    assert [e["code"] for e in same["passwordChange"]["errors"]] == ["CONFLICT"]
    # an API token has no password of its own; nobody has none either
    for who in (world.api_token, None):
        body = (await gql(CHANGE, {"c": PASSWORD, "n": "new-password-1"}, token=who))["data"]
        assert [e["code"] for e in body["passwordChange"]["errors"]] == ["UNAUTHENTICATED"]
    # and the password is still the old one
    assert await gql.login("owner@acme.test")


async def test_password_reset_with_a_token_once_and_never_forged_or_expired(
    gql, sessions, settings, world
):
    open_session = await gql.login("client@acme.test")
    async with sessions() as s:
        user = await s.scalar(select(User).where(User.email == "client@acme.test"))
    good = passwords.reset_token(settings.secret_key, user, utcnow() + timedelta(hours=1))
    expired = passwords.reset_token(settings.secret_key, user, utcnow() - timedelta(minutes=1))
    forged = passwords.reset_token("another-key", user, utcnow() + timedelta(hours=1))
    tampered = good.replace(f".{good.split('.')[1]}.", f".{int(good.split('.')[1]) + 999}.")
    for token in (expired, forged, tampered, "", "x.y.z"):
        body = (await gql(RESET, {"t": token, "p": "new-password-1"}))["data"]["passwordReset"]
        assert body["ok"] is False
        assert body["errors"] == [
            {"code": "VALIDATION", "field": "token", "message": passwords.BAD_LINK}
        ], token
    # the good one works once, and ends every session
    body = (await gql(RESET, {"t": good, "p": "new-password-1"}))["data"]["passwordReset"]
    assert body == {"ok": True, "errors": []}
    assert (await gql("{ viewer { kind } }", token=open_session))["data"]["viewer"]["kind"] == (
        "anonymous"
    )
    again = (await gql(RESET, {"t": good, "p": "new-password-2"}))["data"]["passwordReset"]
    assert [e["field"] for e in again["errors"]] == ["token"]
    assert await gql.login("client@acme.test", "new-password-1")
    async with sessions() as s:
        live = await s.scalar(
            select(UserSession.id).where(
                UserSession.user_id == user.id,
                UserSession.revoked_at.is_(None),
                UserSession.created_at < utcnow() - timedelta(seconds=0),
            )
        )
    assert live is not None  # the login just made


async def test_a_reset_request_on_the_platform_host_sends_nothing(gql, sessions, world):
    # the API's host here is no reseller's: the answer is the same, no email is queued
    body = (await gql(REQUEST, {"e": "client@acme.test"}))["data"]["passwordResetRequest"]
    assert body == {"ok": True, "errors": []}
    async with sessions() as s:
        subjects = list(await s.scalars(select(OutboxEmail.subject)))
    assert "Choose a new password" not in subjects


async def test_a_client_user_updates_its_own_profile_only(gql, sessions, world):
    client_token = world.tokens["acme_client"]
    body = await gql(
        PROFILE,
        {
            "input": {
                "contactName": "Alice A.",
                "email": "alice@example.test",
                "phone": "+1 555 0100",
                "language": "fr-CA",
                "lowBalanceThreshold": "12.5",
            }
        },
        token=client_token,
    )
    payload = body["data"]["clientProfileUpdate"]
    assert payload["errors"] == []
    assert payload["client"] == {
        "contactName": "Alice A.",
        "email": "alice@example.test",
        "phone": "+1 555 0100",
        "language": "fr-CA",  # kept as given (a language tag); the portal speaks French
        "lowBalanceThreshold": {"amount": "12.500000", "currency": "USD"},
    }
    async with sessions() as s:
        alice = await s.get(Client, world.acme_client_id)
    assert (alice.language, alice.low_balance_threshold) == ("fr-CA", 12_500_000)
    # a negative threshold is refused
    body = await gql(PROFILE, {"input": {"lowBalanceThreshold": "-1"}}, token=client_token)
    assert [e["field"] for e in body["data"]["clientProfileUpdate"]["errors"]] == [
        "lowBalanceThreshold"
    ]


async def test_only_a_client_user_may_call_client_profile_update(gql, world):
    for who in ("operator", "acme", "acme_staff"):
        body = await gql(PROFILE, {"input": {"phone": "1"}}, token=world.tokens[who])
        assert [e["code"] for e in body["data"]["clientProfileUpdate"]["errors"]] == [
            "PERMISSION_DENIED"
        ], who
    body = await gql(PROFILE, {"input": {"phone": "1"}}, token=world.api_token)
    assert [e["code"] for e in body["data"]["clientProfileUpdate"]["errors"]] == [
        "PERMISSION_DENIED"
    ]
    body = await gql(PROFILE, {"input": {"phone": "1"}})
    assert [e["code"] for e in body["data"]["clientProfileUpdate"]["errors"]] == ["UNAUTHENTICATED"]


async def test_client_users_are_seen_by_the_client_and_its_reseller_only(gql, world):
    from tests.api.conftest import gid

    alice = gid("Client", world.acme_client_id)
    for who in ("acme_client", "acme"):
        node = (await gql(USERS, {"id": alice}, token=world.tokens[who]))["data"]["node"]
        assert [(u["email"], u["role"]) for u in node["users"]] == [("client@acme.test", "client")]
        assert node["users"][0]["lastLoginAt"]
    # Globex does not see Acme's client at all
    assert (await gql(USERS, {"id": alice}, token=world.tokens["globex"]))["data"]["node"] is None


def test_the_reset_email_speaks_the_clients_language_else_the_brands():
    assert passwords._language("fr-CA", "ru") == "fr"
    assert passwords._language("es", "ru") == "ru"
    assert passwords._language("", "") == "en"
    email = passwords._reset_email("he", "a@b.test", "https://x/password/reset?token=t", 3600)
    assert email.subject == "בחירת סיסמה חדשה"
    assert "a@b.test" in email.text and "https://x/password/reset?token=t" in email.text
    assert "60 דקות" in email.text
