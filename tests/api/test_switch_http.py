"""POST /switch/authorize: the lean endpoint switches call before connecting."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal

import httpx
from sqlalchemy import select, update

from api.app import create_app
from api.db import transaction
from api.domain import auth, callers
from api.domain.actors import SYSTEM, actor_for_user
from api.models import ApiToken, Package, Reseller, User
from tests.callers_data import make_deck, make_package, set_rate
from tests.factories import count_statements

SWITCH_KEY = "switch-key-for-tests-0123456789"


async def acme_caller(sessions, world, settings):
    """Alice (50.00) with sub-account alice.sip on Acme's 20 % package (6/6) over a deck with
    the UK at 0.0100/min."""
    async with transaction(sessions) as s:
        deck = await make_deck(s, [{"prefix": "44", "destination": "UK", "rate": 10_000}])
        acme = await s.get(Reseller, world.acme_id)
        acme.base_deck_id = deck.id
        package = await make_package(
            s, acme, markup_pct=Decimal(20), first_increment=6, increment=6
        )
        await callers.create_sub_account(
            s,
            SYSTEM,
            world.acme_client_id,
            {"username": "alice.sip", "package_id": package.id},
            settings=settings,
        )
    return deck


async def post(app, body, token=None, raw: bytes | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        if raw is not None:
            return await http.post("/switch/authorize", content=raw, headers=headers)
        return await http.post("/switch/authorize", json=body, headers=headers)


CALL = {"sub_account": "alice.sip", "destination": "+44 7700 900"}


async def test_an_api_token_gets_a_compact_answer(app, world, sessions, settings):
    await acme_caller(sessions, world, settings)
    response = await post(app, CALL, world.api_token)
    assert response.status_code == 200
    assert response.json() == {
        "allowed": True,
        "reason": "ACTIVE",
        "message": "",
        "max_seconds": 14400,
        "destination": "447700900",
        "client_id": world.acme_client_id,
        "sub_account_id": response.json()["sub_account_id"],
        "currency": "USD",
        "prefix": "44",
        "destination_name": "UK",
        "sell_rate": "0.012",
        "sell_connection_fee": "0",
        "sell_increments": [6, 6],
        "cost_rate": "0.01",
        "cost_connection_fee": "0",
        "cost_increments": [60, 60],
        "rule": "markup",
    }


async def test_a_rate_change_is_answered_at_once(app, world, sessions, settings):
    deck = await acme_caller(sessions, world, settings)
    assert (await post(app, CALL, world.api_token)).json()["sell_rate"] == "0.012"
    async with transaction(sessions) as s:
        await set_rate(s, deck, "44", 20_000)
    assert (await post(app, CALL, world.api_token)).json()["sell_rate"] == "0.024"


async def test_a_package_change_is_answered_at_once(app, world, sessions, settings):
    await acme_caller(sessions, world, settings)
    assert (await post(app, CALL, world.api_token)).json()["sell_rate"] == "0.012"
    async with transaction(sessions) as s:
        await s.execute(
            update(Package)
            .where(Package.reseller_id == world.acme_id)
            .values(markup_pct=Decimal(50), version=Package.version + 1)
        )
    assert (await post(app, CALL, world.api_token)).json()["sell_rate"] == "0.015"


async def test_an_authorization_reads_beside_an_open_writer(world, sessions, settings):
    """An authorization only reads: on SQLite it takes no write lock, so a writer's open
    transaction neither blocks it nor shows it its uncommitted change. The same holds with an
    API token used in the last minute (its last use is written at most once a minute)."""
    deck = await acme_caller(sessions, world, settings)
    app = create_app(dataclasses.replace(settings, switch_key=SWITCH_KEY))
    try:
        await post(app, CALL, world.api_token)  # the token's use is written now
        async with transaction(sessions) as s:
            await set_rate(s, deck, "44", 20_000)  # written, not yet committed
            assert (await post(app, CALL, SWITCH_KEY)).json()["sell_rate"] == "0.012"
            assert (await post(app, CALL, world.api_token)).json()["sell_rate"] == "0.012"
        assert (await post(app, CALL, SWITCH_KEY)).json()["sell_rate"] == "0.024"
    finally:
        await app.state.engine.dispose()


async def test_an_api_token_records_its_use_at_most_once_a_minute(app, world, sessions, settings):
    await acme_caller(sessions, world, settings)
    token = select(ApiToken).where(ApiToken.token_hash == auth.hash_token(world.api_token))
    # the first use is recorded
    assert (await post(app, CALL, world.api_token)).status_code == 200
    async with sessions() as s:
        first_use = (await s.scalar(token)).last_used_at
    assert first_use is not None
    # the next one, within the minute, writes nothing
    with count_statements(app.state.engine) as statements:
        assert (await post(app, CALL, world.api_token)).status_code == 200
    writes = [s for s in statements if s.lstrip().upper().startswith(("UPDATE", "BEGIN IMMEDIATE"))]
    assert writes == []
    async with sessions() as s:
        assert (await s.scalar(token)).last_used_at == first_use
    # a use older than a minute is recorded again
    async with transaction(sessions) as s:
        (await s.scalar(token)).last_used_at = first_use - timedelta(minutes=2)
    assert (await post(app, CALL, world.api_token)).status_code == 200
    async with sessions() as s:
        assert (await s.scalar(token)).last_used_at >= first_use


async def test_refusals_carry_their_reason(app, world, sessions, settings):
    await acme_caller(sessions, world, settings)
    async with transaction(sessions) as s:
        await callers.add_to_blacklist(
            s, SYSTEM, reseller_id=world.acme_id, number="447700900", reason="not allowed"
        )
    body = (await post(app, CALL, world.api_token)).json()
    assert (body["allowed"], body["reason"], body["message"]) == (
        False,
        "BLACKLISTED",
        "not allowed",
    )
    body = (await post(app, {"a_number": "123", "destination": "44"}, world.api_token)).json()
    assert (body["allowed"], body["reason"]) == (False, "PIN_REQUIRED")


async def test_credentials_are_required(app, world, sessions, settings):
    await acme_caller(sessions, world, settings)
    assert (await post(app, CALL)).status_code == 401
    assert (await post(app, CALL, "dtk_not-a-real-token")).status_code == 401
    assert (await post(app, CALL, "something-else")).status_code == 401
    # a session token is not a switch credential
    assert (await post(app, CALL, world.tokens["acme"])).status_code == 401
    # with no switch key configured, the empty key opens nothing
    response = await post(app, CALL, " ")
    assert response.status_code == 401


async def test_a_token_without_calls_write_is_forbidden(app, world, sessions):
    async with transaction(sessions) as s:
        owner = await s.scalar(select(User).where(User.email == "owner@acme.test"))
        token = await auth.create_api_token(
            s, actor_for_user(owner), name="reads", scopes=["clients:read"]
        )
    response = await post(app, CALL, token.token)
    assert response.status_code == 403
    assert "calls:write" in response.json()["error"]


async def test_another_resellers_token_sees_an_unknown_caller(app, world, sessions, settings):
    await acme_caller(sessions, world, settings)
    async with transaction(sessions) as s:
        owner = await s.scalar(select(User).where(User.email == "owner@globex.test"))
        token = await auth.create_api_token(
            s, actor_for_user(owner), name="switch", scopes=["calls:write"]
        )
    body = (await post(app, CALL, token.token)).json()
    assert body == {
        "allowed": False,
        "reason": "UNKNOWN_CALLER",
        "message": "unknown caller",
        "max_seconds": 0,
        "destination": "447700900",
    }


async def test_malformed_requests_are_400_with_a_message(app, world):
    token = world.api_token
    cases = {
        b"{not json": "not valid JSON",
        b"[1, 2]": "JSON object",
        b'{"destination": "44"}': "give sub_account",
        b'{"sub_account": "x"}': "destination is required",
        b'{"sub_account": ["x"], "destination": "44"}': "sub_account must be a string",
        b'{"sub_account": "x", "destination": "44", "colour": "red"}': "unknown fields: colour",
    }
    for raw, message in cases.items():
        response = await post(app, None, token, raw=raw)
        assert response.status_code == 400, raw
        assert message in response.json()["error"], (raw, response.json())


async def test_the_switch_key_is_an_operator_credential(world, sessions, settings):
    await acme_caller(sessions, world, settings)
    app = create_app(dataclasses.replace(settings, switch_key=SWITCH_KEY))
    try:
        body = (await post(app, CALL, SWITCH_KEY)).json()
        assert (body["allowed"], body["client_id"]) == (True, world.acme_client_id)
        assert (await post(app, CALL, SWITCH_KEY + "x")).status_code == 401
    finally:
        await app.state.engine.dispose()
