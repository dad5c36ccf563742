"""Logging in and out, sessions (Bearer and cookie + CSRF), API tokens and their scopes, and
what ``viewer`` reports for every kind of caller: checked the way an integrator would, through
HTTP, with the database only read (or aged) to look at what is stored."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import func, select, update

from api.db import Base, transaction
from api.models import ApiToken, Client, LedgerEntry, User, UserSession
from api.models.base import utcnow
from tests.api.conftest import PASSWORD, gid

LOGIN = (
    "mutation($e: String!, $p: String!) { login(email: $e, password: $p) {"
    " token csrfToken expiresAt user { email role } errors { code field message } } }"
)
LOGOUT = "mutation { logout { ok errors { code message } } }"
VIEWER = "{ viewer { authenticated kind permissions user { email } reseller { name } } }"
CLIENT_CREATE = (
    "mutation($n: String!) { clientCreate(input: {name: $n}) {"
    " client { id name } errors { code field message } } }"
)
CLIENTS = "{ clients(first: 500) { nodes { id name } } }"
TOKEN_CREATE = (
    "mutation($n: String!, $s: [String!]!, $x: DateTime) {"
    " apiTokenCreate(input: {name: $n, scopes: $s, expiresAt: $x}) {"
    " token apiToken { id name prefix scopes lastUsedAt expiresAt revokedAt }"
    " errors { code field message } } }"
)
TOKEN_REVOKE = (
    "mutation($t: ID!) { apiTokenRevoke(input: {id: $t}) {"
    " apiToken { id revokedAt } errors { code field message } } }"
)
PAYMENT = (
    'mutation($c: ID!, $k: String!) { clientPaymentRecord(input: {clientId: $c, amount: "25",'
    " idempotencyKey: $k}) { entry { id kind amount { amount } } client { balance { amount } }"
    " errors { code field message } } }"
)

OWNER_PERMISSIONS = [
    "audit:read",
    "brand:read",
    "brand:write",
    "calls:write",
    "clients:impersonate",
    "clients:read",
    "clients:write",
    "payments:write",
    "paypal:manage",
    "reports:read",
    "tokens:manage",
    "webhooks:read",
    "webhooks:write",
]
TOKEN_SCOPES = [
    p
    for p in OWNER_PERMISSIONS
    if p not in ("tokens:manage", "paypal:manage", "clients:impersonate")
]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def login(gql, email: str, password: str = PASSWORD) -> dict:
    body = await gql(LOGIN, {"e": email, "p": password})
    return body["data"]["login"]


async def viewer(gql, token: str | None) -> dict:
    return (await gql(VIEWER, token=token))["data"]["viewer"]


async def count(sessions, stmt) -> int:
    async with transaction(sessions) as s:
        return await s.scalar(stmt)


async def create_token(gql, owner: str, scopes: list[str], name: str = "partner", expires=None):
    body = await gql(TOKEN_CREATE, {"n": name, "s": scopes, "x": expires}, token=owner)
    payload = body["data"]["apiTokenCreate"]
    assert payload["errors"] == [], payload
    return payload


# --- login, logout, sessions -------------------------------------------------------------------


async def test_login_returns_a_session_token_csrf_token_and_the_user(gql, world):
    # when the Acme owner logs in with the right password
    payload = await login(gql, "owner@acme.test")

    # then there are no errors, a dts_ session token, a CSRF token and the user
    assert payload["errors"] == []
    assert payload["token"].startswith("dts_")
    assert payload["csrfToken"]
    assert payload["expiresAt"]
    assert payload["user"] == {"email": "owner@acme.test", "role": "reseller_owner"}


async def test_login_ignores_the_case_of_the_email(gql, world):
    payload = await login(gql, "  Owner@ACME.test ")
    assert payload["errors"] == []
    assert payload["user"]["email"] == "owner@acme.test"


async def test_wrong_password_and_unknown_email_give_the_same_invalid_credentials(gql, world):
    # when someone logs in with a wrong password, or with an email nobody has
    wrong_password = await login(gql, "owner@acme.test", "not-the-password")
    unknown_email = await login(gql, "nobody@acme.test", PASSWORD)

    # then both get INVALID_CREDENTIALS, the same message, and no token at all
    for payload in (wrong_password, unknown_email):
        [error] = payload["errors"]
        assert error["code"] == "INVALID_CREDENTIALS"
        assert payload["token"] is None
        assert payload["csrfToken"] is None
        assert payload["user"] is None
    assert wrong_password["errors"][0]["message"] == unknown_email["errors"][0]["message"]


async def test_passwords_are_stored_as_argon2_hashes(sessions, world):
    async with transaction(sessions) as s:
        hashes = (await s.scalars(select(User.password_hash))).all()
    assert len(hashes) == 6
    for stored in hashes:
        assert stored.startswith("$argon2")
        assert PASSWORD not in stored


async def test_a_session_token_works_as_bearer(gql, world):
    # given a session of the Acme owner
    token = (await login(gql, "owner@acme.test"))["token"]

    # when it is sent as a Bearer token
    seen = await viewer(gql, token)

    # then the viewer is that owner, with the owner's permissions
    assert seen["authenticated"] is True
    assert seen["kind"] == "reseller_user"
    assert seen["user"] == {"email": "owner@acme.test"}
    assert seen["reseller"] == {"name": "Acme"}
    assert seen["permissions"] == OWNER_PERMISSIONS


async def test_logout_revokes_the_session(gql, sessions, world):
    # given a working session
    token = (await login(gql, "owner@acme.test"))["token"]
    assert (await viewer(gql, token))["authenticated"] is True

    # when it logs out
    body = await gql(LOGOUT, token=token)

    # then the same token is anonymous from now on, and the session row is revoked
    assert body["data"]["logout"] == {"ok": True, "errors": []}
    seen = await viewer(gql, token)
    assert (seen["authenticated"], seen["kind"], seen["user"]) == (False, "anonymous", None)
    async with transaction(sessions) as s:
        row = await s.scalar(select(UserSession).where(UserSession.token_hash == sha256(token)))
        assert row.revoked_at is not None
    # other sessions of other users are untouched
    assert (await viewer(gql, world.tokens["acme_staff"]))["authenticated"] is True


async def test_an_expired_session_is_anonymous(gql, sessions, world):
    # given a session whose expiry has passed
    token = (await login(gql, "owner@acme.test"))["token"]
    async with transaction(sessions) as s:
        await s.execute(
            update(UserSession)
            .where(UserSession.token_hash == sha256(token))
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )

    # then using it is anonymous, and it may not create anything
    seen = await viewer(gql, token)
    assert (seen["authenticated"], seen["kind"], seen["permissions"]) == (False, "anonymous", [])
    body = await gql(CLIENT_CREATE, {"n": "Too late"}, token=token)
    assert body["data"]["clientCreate"]["errors"][0]["code"] == "UNAUTHENTICATED"
    assert await count(sessions, select(func.count()).where(Client.name == "Too late")) == 0


async def test_unknown_and_malformed_tokens_are_anonymous(gql, world):
    for token in ("dts_not-a-real-session", "dtk_not-a-real-token", "something-else"):
        seen = await viewer(gql, token)
        assert (seen["authenticated"], seen["kind"]) == (False, "anonymous"), token


async def test_only_the_sha256_of_tokens_is_stored(gql, sessions, world):
    # given a fresh session token and a fresh API token
    session_token = (await login(gql, "owner@acme.test"))["token"]
    api_token = (await create_token(gql, world.tokens["acme"], ["clients:read"]))["token"]

    # then their SHA-256 is stored ...
    async with transaction(sessions) as s:
        assert await s.scalar(
            select(func.count()).where(UserSession.token_hash == sha256(session_token))
        )
        assert await s.scalar(select(func.count()).where(ApiToken.token_hash == sha256(api_token)))
        # ... and no row of any table contains either raw token (nor the world's API token)
        for table in Base.metadata.sorted_tables:
            for row in (await s.execute(select(table))).all():
                text = repr(tuple(row))
                for raw in (session_token, api_token, world.api_token):
                    assert raw not in text, f"{table.name} stores a raw token"


# --- cookie sessions and CSRF ------------------------------------------------------------------


async def cookie_login(http, email: str = "owner@acme.test") -> dict:
    response = await http.post(
        "/graphql", json={"query": LOGIN, "variables": {"e": email, "p": PASSWORD}}
    )
    assert response.status_code == 200, response.text
    return response


async def test_login_sets_an_httponly_session_cookie(gql, world):
    async with gql.client() as http:
        # when logging in through a browser-like client
        response = await cookie_login(http)
        payload = response.json()["data"]["login"]

        # then the session cookie holds the token, HttpOnly; the CSRF cookie is readable by JS
        set_cookies = response.headers.get_list("set-cookie")
        [session_cookie] = [c for c in set_cookies if c.startswith("dialtone_session=")]
        assert "httponly" in session_cookie.lower()
        assert "samesite=lax" in session_cookie.lower()
        [csrf_cookie] = [c for c in set_cookies if c.startswith("dialtone_csrf=")]
        assert "httponly" not in csrf_cookie.lower()
        assert http.cookies.get("dialtone_session") == payload["token"]
        assert http.cookies.get("dialtone_csrf") == payload["csrfToken"]

        # and the client kept it: the next request (with its CSRF header) is the owner
        response = await http.post(
            "/graphql", json={"query": VIEWER}, headers={"X-CSRF-Token": payload["csrfToken"]}
        )
        assert response.json()["data"]["viewer"]["user"] == {"email": "owner@acme.test"}


async def test_a_cookie_post_without_csrf_header_is_refused_and_changes_nothing(
    gql, sessions, world
):
    async with gql.client() as http:
        await cookie_login(http)
        before = await count(sessions, select(func.count()).select_from(Client))

        # when a cookie-authenticated POST comes without X-CSRF-Token, or with a wrong one
        for headers in ({}, {"X-CSRF-Token": "forged"}):
            response = await http.post(
                "/graphql",
                json={"query": CLIENT_CREATE, "variables": {"n": "Forged"}},
                headers=headers,
            )

            # then it is a 403 with code CSRF
            assert response.status_code == 403, headers
            [error] = response.json()["errors"]
            assert error["extensions"]["code"] == "CSRF"

    # and no client was created
    assert await count(sessions, select(func.count()).select_from(Client)) == before
    assert await count(sessions, select(func.count()).where(Client.name == "Forged")) == 0


async def test_a_cookie_post_with_the_login_csrf_token_works(gql, sessions, world):
    async with gql.client() as http:
        csrf = (await cookie_login(http)).json()["data"]["login"]["csrfToken"]

        response = await http.post(
            "/graphql",
            json={"query": CLIENT_CREATE, "variables": {"n": "By cookie"}},
            headers={"X-CSRF-Token": csrf},
        )

    assert response.status_code == 200
    payload = response.json()["data"]["clientCreate"]
    assert payload["errors"] == []
    assert payload["client"]["name"] == "By cookie"
    assert await count(sessions, select(func.count()).where(Client.name == "By cookie")) == 1


async def test_a_mutation_over_get_with_the_cookie_changes_nothing(gql, sessions, world):
    # GET is not guarded by the CSRF check, so it must never run a mutation
    async with gql.client() as http:
        await cookie_login(http)
        response = await http.get(
            "/graphql",
            params={
                "query": 'mutation { clientCreate(input: {name: "Via GET"}) { errors { code } } }'
            },
            headers={"Accept": "application/json"},
        )
    assert response.status_code == 400
    assert "GET" in response.text
    assert await count(sessions, select(func.count()).where(Client.name == "Via GET")) == 0


async def test_logout_by_cookie_clears_the_cookies_and_ends_the_session(gql, world):
    async with gql.client() as http:
        login_payload = (await cookie_login(http)).json()["data"]["login"]
        response = await http.post(
            "/graphql", json={"query": LOGOUT}, headers={"X-CSRF-Token": login_payload["csrfToken"]}
        )
        assert response.json()["data"]["logout"] == {"ok": True, "errors": []}
        assert http.cookies.get("dialtone_session") is None
    assert (await viewer(gql, login_payload["token"]))["kind"] == "anonymous"


# --- API tokens --------------------------------------------------------------------------------


async def test_api_token_create_shows_the_secret_once(gql, world):
    owner = world.tokens["acme"]

    # when the Acme owner creates a token
    payload = await create_token(gql, owner, ["clients:read", "payments:write"], name="CRM sync")

    # then the secret is returned, dtk_..., and its first 12 characters are the prefix
    secret = payload["token"]
    assert secret.startswith("dtk_")
    assert len(secret) > 30
    record = payload["apiToken"]
    assert record["prefix"] == secret[:12]
    assert record["name"] == "CRM sync"
    assert record["scopes"] == ["clients:read", "payments:write"]
    assert (record["lastUsedAt"], record["expiresAt"], record["revokedAt"]) == (None, None, None)

    # and apiTokens lists it (with the world's token) but never the secret
    body = await gql(
        "{ apiTokens { nodes { id name prefix scopes } } }",
        token=owner,
    )
    listed = {t["name"]: t for t in body["data"]["apiTokens"]["nodes"]}
    assert set(listed) == {"all scopes", "CRM sync"}
    assert listed["CRM sync"] == {
        "id": record["id"],
        "name": "CRM sync",
        "prefix": secret[:12],
        "scopes": ["clients:read", "payments:write"],
    }
    assert secret not in str(body)
    # the secret works
    assert (await viewer(gql, secret))["kind"] == "api_token"


async def test_a_read_only_token_lists_clients_but_cannot_create_one(gql, sessions, world):
    # given a token with only clients:read
    token = (await create_token(gql, world.tokens["acme"], ["clients:read"]))["token"]

    # then it lists Acme's clients
    body = await gql(CLIENTS, token=token)
    assert sorted(c["name"] for c in body["data"]["clients"]["nodes"]) == ["Alice", "Arnold"]

    # but clientCreate is PERMISSION_DENIED and creates nothing
    before = await count(sessions, select(func.count()).select_from(Client))
    body = await gql(CLIENT_CREATE, {"n": "Sneaky"}, token=token)
    payload = body["data"]["clientCreate"]
    assert payload["client"] is None
    [error] = payload["errors"]
    assert error["code"] == "PERMISSION_DENIED"
    assert await count(sessions, select(func.count()).select_from(Client)) == before

    # nor may it record a payment
    entries = await count(sessions, select(func.count()).select_from(LedgerEntry))
    body = await gql(PAYMENT, {"c": gid("Client", world.acme_client_id), "k": "ro-1"}, token=token)
    assert body["data"]["clientPaymentRecord"]["errors"][0]["code"] == "PERMISSION_DENIED"
    assert await count(sessions, select(func.count()).select_from(LedgerEntry)) == entries


async def test_a_payments_token_records_a_payment(gql, sessions, world):
    # given a token that may read clients and record payments
    token = (await create_token(gql, world.tokens["acme"], ["clients:read", "payments:write"]))[
        "token"
    ]
    entries_before = await count(sessions, select(func.count()).select_from(LedgerEntry))

    # when it records a payment of 25 for Alice (who has 50)
    body = await gql(PAYMENT, {"c": gid("Client", world.acme_client_id), "k": "tok-1"}, token=token)

    # then the payment is recorded and Alice's balance grows
    payload = body["data"]["clientPaymentRecord"]
    assert payload["errors"] == []
    assert payload["entry"]["kind"] == "client_payment"
    assert payload["entry"]["amount"]["amount"] == "25.000000"
    assert payload["client"]["balance"]["amount"] == "75.000000"
    entries_after = await count(sessions, select(func.count()).select_from(LedgerEntry))
    assert entries_after == entries_before + 1


async def test_a_payments_only_token_records_a_payment(gql, world):
    token = (await create_token(gql, world.tokens["acme"], ["payments:write"]))["token"]
    body = await gql(PAYMENT, {"c": gid("Client", world.acme_client_id), "k": "po-1"}, token=token)
    payload = body["data"]["clientPaymentRecord"]
    assert payload["errors"] == []
    assert payload["entry"]["kind"] == "client_payment"


async def test_last_used_at_is_set_once_the_token_is_used(gql, sessions, world):
    created = await create_token(gql, world.tokens["acme"], ["clients:read"])
    token, token_id = created["token"], created["apiToken"]["id"]
    assert created["apiToken"]["lastUsedAt"] is None

    await gql(CLIENTS, token=token)

    async with transaction(sessions) as s:
        row = await s.scalar(select(ApiToken).where(ApiToken.token_hash == sha256(token)))
        assert row.last_used_at is not None
        assert abs(row.last_used_at - utcnow()) < timedelta(minutes=1)
    body = await gql(
        "query($t: ID!) { node(id: $t) { ... on ApiToken { lastUsedAt } } }",
        {"t": token_id},
        token=world.tokens["acme"],
    )
    assert body["data"]["node"]["lastUsedAt"] is not None


async def test_a_revoked_token_is_anonymous(gql, world):
    owner = world.tokens["acme"]
    created = await create_token(gql, owner, ["clients:read"])
    token = created["token"]
    assert (await viewer(gql, token))["kind"] == "api_token"

    # when the owner revokes it
    body = await gql(TOKEN_REVOKE, {"t": created["apiToken"]["id"]}, token=owner)
    assert body["data"]["apiTokenRevoke"]["errors"] == []
    assert body["data"]["apiTokenRevoke"]["apiToken"]["revokedAt"] is not None

    # then it is anonymous and lists nothing
    seen = await viewer(gql, token)
    assert (seen["authenticated"], seen["kind"], seen["permissions"]) == (False, "anonymous", [])
    assert (await gql(CLIENTS, token=token))["data"]["clients"]["nodes"] == []


async def test_an_expired_token_is_anonymous(gql, sessions, world):
    # given a token created with an expiry, which has since passed
    expires = (utcnow() + timedelta(days=1)).isoformat()
    created = await create_token(gql, world.tokens["acme"], ["clients:read"], expires=expires)
    token = created["token"]
    assert created["apiToken"]["expiresAt"] is not None
    assert (await viewer(gql, token))["kind"] == "api_token"
    async with transaction(sessions) as s:
        await s.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == sha256(token))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )

    # then it is anonymous
    seen = await viewer(gql, token)
    assert (seen["authenticated"], seen["kind"]) == (False, "anonymous")
    assert (await gql(CLIENTS, token=token))["data"]["clients"]["nodes"] == []


async def test_an_expiry_in_the_past_is_refused(gql, sessions, world):
    past = (utcnow() - timedelta(hours=1)).isoformat()
    body = await gql(
        TOKEN_CREATE, {"n": "old", "s": ["clients:read"], "x": past}, token=world.tokens["acme"]
    )
    payload = body["data"]["apiTokenCreate"]
    assert (payload["token"], payload["apiToken"]) == (None, None)
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("VALIDATION", "expiresAt")]


async def test_unknown_or_no_scopes_are_a_validation_error_on_scopes(gql, sessions, world):
    before = await count(sessions, select(func.count()).select_from(ApiToken))
    for scopes in (["clients:read", "root:everything"], ["tokens:manage"], []):
        body = await gql(TOKEN_CREATE, {"n": "x", "s": scopes}, token=world.tokens["acme"])
        payload = body["data"]["apiTokenCreate"]
        assert payload["token"] is None, scopes
        [error] = payload["errors"]
        assert (error["code"], error["field"]) == ("VALIDATION", "scopes"), scopes
    assert "root:everything" in error["message"] or "clients:read" in error["message"]
    assert await count(sessions, select(func.count()).select_from(ApiToken)) == before


async def test_only_the_reseller_owner_creates_tokens(gql, sessions, world):
    before = await count(sessions, select(func.count()).select_from(ApiToken))
    cases = {
        "acme_staff": "PERMISSION_DENIED",
        "acme_client": "PERMISSION_DENIED",
        "operator": "PERMISSION_DENIED",
        None: "UNAUTHENTICATED",
    }
    for viewer_name, code in cases.items():
        token = world.tokens[viewer_name] if viewer_name else None
        body = await gql(TOKEN_CREATE, {"n": "mine", "s": ["clients:read"]}, token=token)
        payload = body["data"]["apiTokenCreate"]
        assert payload["token"] is None, viewer_name
        assert [e["code"] for e in payload["errors"]] == [code], viewer_name
    # an API token cannot mint tokens either, even one with every scope
    body = await gql(TOKEN_CREATE, {"n": "child", "s": ["clients:read"]}, token=world.api_token)
    assert body["data"]["apiTokenCreate"]["errors"][0]["code"] == "PERMISSION_DENIED"
    assert await count(sessions, select(func.count()).select_from(ApiToken)) == before


async def test_another_reseller_cannot_revoke_or_list_acme_tokens(gql, world):
    created = await create_token(gql, world.tokens["acme"], ["clients:read"])
    body = await gql(TOKEN_REVOKE, {"t": created["apiToken"]["id"]}, token=world.tokens["globex"])
    assert body["data"]["apiTokenRevoke"]["errors"][0]["code"] == "NOT_FOUND"
    listed = await gql("{ apiTokens { nodes { name } } }", token=world.tokens["globex"])
    assert listed["data"]["apiTokens"]["nodes"] == []
    assert (await viewer(gql, created["token"]))["kind"] == "api_token"


# --- viewer ------------------------------------------------------------------------------------


async def test_viewer_reports_the_kind_and_permissions_of_every_caller(gql, world):
    expected = {
        "operator": (
            "operator",
            "admin@dialtone.test",
            None,
            [
                "audit:read",
                "brand:read",
                "brand:write",
                "calls:write",
                "clients:impersonate",
                "clients:read",
                "clients:write",
                "payments:write",
                "paypal:manage",
                "reports:read",
                "reseller_balance:write",
                "resellers:read",
                "resellers:write",
                "webhooks:read",
                "webhooks:write",
            ],
        ),
        "acme": ("reseller_user", "owner@acme.test", "Acme", OWNER_PERMISSIONS),
        "acme_staff": (
            "reseller_user",
            "staff@acme.test",
            "Acme",
            [
                "brand:read",
                "clients:read",
                "clients:write",
                "payments:write",
                "reports:read",
                "webhooks:read",
            ],
        ),
        "acme_client": ("client_user", "client@acme.test", "Acme", ["self:read", "self:write"]),
        "api_token": ("api_token", None, "Acme", TOKEN_SCOPES),
        "anonymous": ("anonymous", None, None, []),
    }
    tokens = {**world.tokens, "api_token": world.api_token, "anonymous": None}
    for name, (kind, email, reseller, permissions) in expected.items():
        body = await gql(
            "{ viewer { authenticated kind permissions user { email } reseller { name }"
            " client { name } } }",
            token=tokens[name],
        )
        seen = body["data"]["viewer"]
        assert seen["authenticated"] is (name != "anonymous"), name
        assert seen["kind"] == kind, name
        assert seen["permissions"] == permissions, name
        assert (seen["user"] or {}).get("email") == email, name
        assert (seen["reseller"] or {}).get("name") == reseller, name
        assert (seen["client"] or {}).get("name") == ("Alice" if name == "acme_client" else None)
