"""Login throttling: failures counted per account and per address, a growing wait, a typed
THROTTLED error with the time to wait, aliased logins counted one by one, lockouts audited,
counts in memory or shared through Redis."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets

import pytest
from sqlalchemy import select

from api.app import create_app
from api.domain import throttle
from api.domain.errors import ErrorCode
from api.models import AuditEvent, User
from tests.api.conftest import GQL, PASSWORD

LOGIN = (
    "mutation($e: String!, $p: String!) { login(email: $e, password: $p) {"
    " token retryAfterSeconds errors { code message field } } }"
)


async def attempt(gql, email: str, password: str) -> tuple[dict, dict]:
    response = await gql.raw(LOGIN, {"e": email, "p": password})
    assert response.status_code == 200
    return response.json()["data"]["login"], dict(response.headers)


@pytest.fixture
async def strict(settings):
    """An app whose address window is small (4 failures a minute) to see it work alone."""
    app = create_app(
        dataclasses.replace(
            settings, login_limits_address="4 per minute", login_limits_account="3 per minute"
        )
    )
    yield GQL(app)
    await app.state.engine.dispose()


async def test_three_wrong_passwords_lock_the_account_even_for_the_right_one(gql, sessions, world):
    # given three wrong passwords for Acme's owner
    for _ in range(3):
        payload, _headers = await attempt(gql, "owner@acme.test", "wrong-password")
        assert [e["code"] for e in payload["errors"]] == ["INVALID_CREDENTIALS"]
        assert payload["retryAfterSeconds"] is None
    # when the right password comes next
    payload, headers = await attempt(gql, "owner@acme.test", PASSWORD)
    # then it is refused, saying how long to wait, without a session
    assert payload["token"] is None
    assert payload["errors"] == [
        {
            "code": "THROTTLED",
            "message": "too many failed logins; try again in 1 minute",
            "field": None,
        }
    ]
    assert 50 <= payload["retryAfterSeconds"] <= 60
    assert int(headers["retry-after"]) == payload["retryAfterSeconds"]
    # and the lockout is in the audit history, once, on the user
    async with sessions() as s:
        user = await s.scalar(select(User).where(User.email == "owner@acme.test"))
        events = list(
            await s.scalars(select(AuditEvent).where(AuditEvent.action == "login.locked"))
        )
    assert [(e.subject_type, e.subject_id, e.reseller_id) for e in events] == [
        ("user", user.id, user.reseller_id)
    ]
    assert events[0].after["locked"] == ["account"]
    assert events[0].after["email"] == "owner@acme.test"
    # while another account still logs in from the same address
    payload, _headers = await attempt(gql, "owner@globex.test", PASSWORD)
    assert payload["errors"] == [] and payload["token"]


async def test_an_unknown_email_is_throttled_like_a_known_one(gql, world):
    answers = [(await attempt(gql, "nobody@acme.test", "x" * 8))[0] for _ in range(4)]
    assert [a["errors"][0]["code"] for a in answers] == [
        "INVALID_CREDENTIALS",
        "INVALID_CREDENTIALS",
        "INVALID_CREDENTIALS",
        "THROTTLED",
    ]


async def test_a_right_password_forgives_the_accounts_mistakes(gql, world):
    for _ in range(2):
        await attempt(gql, "owner@acme.test", "wrong-password")
    assert (await attempt(gql, "owner@acme.test", PASSWORD))[0]["errors"] == []
    # two more mistakes do not lock it: the count started again
    for _ in range(2):
        payload, _ = await attempt(gql, "owner@acme.test", "wrong-password")
        assert payload["errors"][0]["code"] == "INVALID_CREDENTIALS"


async def test_aliased_logins_in_one_request_count_one_by_one(gql, sessions, world):
    # given one POST with five aliased logins guessing passwords
    fields = " ".join(
        f'l{i}: login(email: "owner@acme.test", password: "guess-{i}-xx")'
        " { token retryAfterSeconds errors { code } }"
        for i in range(5)
    )
    response = await gql.raw(f"mutation {{ {fields} }}")
    data = response.json()["data"]
    # then the first three were tried, the last two throttled
    codes = [data[f"l{i}"]["errors"][0]["code"] for i in range(5)]
    assert codes == ["INVALID_CREDENTIALS"] * 3 + ["THROTTLED"] * 2
    assert data["l4"]["retryAfterSeconds"] > 0
    assert "retry-after" in response.headers


async def test_many_accounts_from_one_address_lock_the_address(strict, sessions, world):
    # given failures on four different accounts from one address (its window: 4 a minute)
    for email in ("a@x.test", "b@x.test", "c@x.test", "d@x.test"):
        payload, _ = await attempt(strict, email, "wrong-password")
        assert payload["errors"][0]["code"] == "INVALID_CREDENTIALS"
    # when a fifth account is tried from there, even with its right password
    payload, _ = await attempt(strict, "owner@acme.test", PASSWORD)
    # then the address is throttled
    assert payload["errors"][0]["code"] == "THROTTLED"
    async with sessions() as s:
        event = await s.scalar(select(AuditEvent).where(AuditEvent.action == "login.locked"))
    assert (event.subject_type, event.after["locked"]) == ("login", ["address"])
    assert event.actor_label == "login from 127.0.0.1"


async def test_the_lockout_ends_when_its_window_frees(sessions, world):
    # given a throttle of 2 failures a second
    gate = throttle.LoginThrottle("memory://", "2 per second", "100 per minute")

    async def go(password):
        return await throttle.login(
            sessions,
            gate,
            email="owner@acme.test",
            password=password,
            address="198.51.100.7",
            ttl_seconds=60,
            secret_key="k",
        )

    for _ in range(2):
        with pytest.raises(Exception) as info:
            await go("wrong-password")
        assert info.value.code == ErrorCode.INVALID_CREDENTIALS
    with pytest.raises(throttle.Throttled):
        await go(PASSWORD)
    # when the window has passed, the right password works again
    await asyncio.sleep(1.1)
    assert (await go(PASSWORD)).user.email == "owner@acme.test"


async def test_counts_in_redis_are_shared_by_every_process(sessions, world):
    # given two processes' throttles on one Redis, and an address of this test alone
    uri = "redis://127.0.0.1:6379/0"
    first = throttle.LoginThrottle(uri, "3 per minute", "100 per minute")
    second = throttle.LoginThrottle(uri, "3 per minute", "100 per minute")
    email = f"nobody-{secrets.token_hex(6)}@acme.test"
    address = f"2001:db8::{secrets.token_hex(2)}"
    try:
        # when three failures happen in the first
        for _ in range(3):
            with pytest.raises(Exception) as info:
                await throttle.login(
                    sessions,
                    first,
                    email=email,
                    password="wrong-password",
                    address=address,
                    ttl_seconds=60,
                    secret_key="k",
                )
            assert info.value.code == ErrorCode.INVALID_CREDENTIALS
        # then the second refuses the account too
        assert 0 < await second.wait(email, address) <= 60
    finally:
        await first.succeeded(email)
