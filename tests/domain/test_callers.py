"""Who calls: sub-accounts and their secrets, A-numbers, PINs, blacklist, deletion rule."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from sqlalchemy import select

from api.db import transaction
from api.domain import accounts, callers, secrets
from api.domain.actors import SYSTEM
from api.domain.errors import DomainError, DomainErrors, ErrorCode
from api.models import AuditEvent, Call, SubAccount
from api.models.base import utcnow
from tests.factories import client_actor, make_client, make_reseller, reseller_actor


async def two_tenants(sessions):
    async with transaction(sessions) as s:
        acme, globex = await make_reseller(s), await make_reseller(s)
        alice = await make_client(s, acme)
        bob = await make_client(s, acme)
        gina = await make_client(s, globex)
    return acme, globex, alice, bob, gina


async def test_the_secret_round_trips_only_under_its_key(settings):
    token = secrets.encrypt(settings.secret_key, "s3cret")
    assert token != "s3cret" and secrets.decrypt(settings.secret_key, token) == "s3cret"
    with pytest.raises(secrets.SecretUnreadable):
        secrets.decrypt("another key", token)
    expected = hashlib.md5(b"bob:dialtone:pw").hexdigest()
    assert secrets.ha1("bob", "dialtone", "pw") == expected


async def test_sub_accounts_are_scoped_to_their_tenant(sessions, settings):
    acme, globex, alice, _bob, _gina = await two_tenants(sessions)
    async with transaction(sessions) as s:
        sub, secret = await callers.create_sub_account(
            s, reseller_actor(acme), alice.id, {"username": "alice1"}, settings=settings
        )
    async with transaction(sessions) as s:
        # another reseller neither sees nor changes it
        with pytest.raises(DomainError) as exc:
            await callers.get_sub_account(s, reseller_actor(globex), sub.id)
        assert exc.value.code == ErrorCode.NOT_FOUND
        with pytest.raises(DomainError) as exc:
            await callers.read_secret(s, reseller_actor(globex), sub.id, settings=settings)
        assert exc.value.code == ErrorCode.NOT_FOUND
        # its client lists it but may not read the secret
        listed = list(await s.scalars(callers.sub_accounts_query(client_actor(alice))))
        assert [x.username for x in listed] == ["alice1"]
        with pytest.raises(DomainError) as exc:
            await callers.read_secret(s, client_actor(alice), sub.id, settings=settings)
        assert exc.value.code == ErrorCode.PERMISSION_DENIED
        assert list(await s.scalars(callers.sub_accounts_query(reseller_actor(globex)))) == []
        # its owner reads it
        _sub, plain = await callers.read_secret(s, reseller_actor(acme), sub.id, settings=settings)
        assert plain == secret


async def test_a_secret_stored_under_an_old_key_must_be_reset(sessions, settings):
    acme, _g, alice, _b, _gi = await two_tenants(sessions)
    async with transaction(sessions) as s:
        sub, _ = await callers.create_sub_account(
            s, SYSTEM, alice.id, {"username": "alice1"}, settings=settings
        )
    rotated = dataclasses.replace(settings, secret_key="a brand new key")
    async with transaction(sessions) as s:
        with pytest.raises(DomainError) as exc:
            await callers.read_secret(s, reseller_actor(acme), sub.id, settings=rotated)
        assert exc.value.code == ErrorCode.CONFLICT
        _sub, fresh = await callers.reset_secret(s, SYSTEM, sub.id, settings=rotated)
        assert (await callers.read_secret(s, SYSTEM, sub.id, settings=rotated))[1] == fresh


async def test_sub_account_validation(sessions, settings):
    _a, _globex, alice, _b, _gi = await two_tenants(sessions)
    async with transaction(sessions) as s:
        with pytest.raises(DomainErrors) as exc:
            await callers.create_sub_account(
                s,
                SYSTEM,
                alice.id,
                {"username": "x", "caller_id": "call me", "status": "gone"},
                settings=settings,
            )
        fields = sorted(e.field for e in exc.value.errors)
        assert fields == ["callerId", "status", "username"]


async def test_a_client_with_sub_accounts_cannot_be_deleted(sessions, settings):
    acme, _g, alice, _b, _gi = await two_tenants(sessions)
    async with transaction(sessions) as s:
        for name in ("alice1", "alice2"):
            await callers.create_sub_account(
                s, SYSTEM, alice.id, {"username": name}, settings=settings
            )
    async with transaction(sessions) as s:
        with pytest.raises(DomainError) as exc:
            await accounts.delete_client(s, reseller_actor(acme), alice.id)
        assert "its 2 sub-accounts" in exc.value.message


async def test_a_sub_account_with_calls_is_disabled_not_deleted(sessions, settings):
    acme, _g, alice, _b, _gi = await two_tenants(sessions)
    async with transaction(sessions) as s:
        sub, _ = await callers.create_sub_account(
            s, SYSTEM, alice.id, {"username": "alice1"}, settings=settings
        )
        s.add(
            Call(
                call_id="c-1",
                reseller_id=acme.id,
                client_id=alice.id,
                sub_account_id=sub.id,
                direction="outbound",
                destination="44",
                started_at=utcnow(),
                disposition="answered",
                currency="USD",
            )
        )
    async with transaction(sessions) as s:
        with pytest.raises(DomainError) as exc:
            await callers.delete_sub_account(s, reseller_actor(acme), sub.id)
        assert exc.value.code == ErrorCode.CONFLICT and "has calls on record" in exc.value.message
    async with sessions() as s:
        assert await s.scalar(select(SubAccount.id)) == sub.id


async def test_numbers_of_a_deleted_client_are_free_again(sessions):
    _acme, _g, alice, bob, _gi = await two_tenants(sessions)
    async with transaction(sessions) as s:
        await callers.set_client_numbers(s, SYSTEM, alice.id, ["15550100"])
    async with transaction(sessions) as s:
        with pytest.raises(DomainError) as exc:
            await callers.set_client_numbers(s, SYSTEM, bob.id, ["+1 555 0100"])
        assert exc.value.code == ErrorCode.CONFLICT and "15550100" in exc.value.message
    async with transaction(sessions) as s:
        await accounts.delete_client(s, SYSTEM, alice.id)
    async with transaction(sessions) as s:
        _client, numbers = await callers.set_client_numbers(s, SYSTEM, bob.id, ["15550100"])
        assert numbers == ["15550100"]
        assert await callers.client_numbers(s, alice.id) == []


async def test_pin_set_stores_a_keyed_digest_and_is_audited(sessions, settings):
    acme, _g, alice, bob, gina = await two_tenants(sessions)
    async with transaction(sessions) as s:
        await callers.set_pin(s, reseller_actor(acme), alice.id, "1234", settings=settings)
    async with transaction(sessions) as s:
        row = await accounts.get_client(s, SYSTEM, alice.id)
        assert row.pin_digest == secrets.pin_digest(settings.secret_key, "1234")
        assert row.pin_digest != secrets.pin_digest("other", "1234")
        # a PIN identifies one client on the whole platform
        with pytest.raises(DomainError) as exc:
            await callers.set_pin(s, SYSTEM, gina.id, "1234", settings=settings)
        assert exc.value.code == ErrorCode.CONFLICT
        for bad in ("123", "1234567890123", "12a4"):
            with pytest.raises(DomainError):
                await callers.set_pin(s, SYSTEM, bob.id, bad, settings=settings)
        actions = list(await s.scalars(select(AuditEvent.action)))
        assert "client.pin_set" in actions
        assert all("1234" not in str(e.after) for e in await s.scalars(select(AuditEvent)))


async def test_blacklist_is_per_reseller(sessions):
    acme, globex, alice, _b, gina = await two_tenants(sessions)
    async with transaction(sessions) as s:
        entry = await callers.add_to_blacklist(
            s, reseller_actor(acme), number="449001", reason="premium"
        )
        # the same number on another reseller's list is its own business
        await callers.add_to_blacklist(s, reseller_actor(globex), number="449001", reason="no")
        with pytest.raises(DomainError) as exc:
            await callers.add_to_blacklist(s, reseller_actor(acme), client_id=gina.id)
        assert exc.value.code == ErrorCode.NOT_FOUND
        with pytest.raises(DomainError) as exc:
            await callers.add_to_blacklist(s, reseller_actor(acme), number="1", client_id=alice.id)
        assert exc.value.field == "number"
        with pytest.raises(DomainError) as exc:
            await callers.remove_from_blacklist(s, reseller_actor(globex), entry.id)
        assert exc.value.code == ErrorCode.NOT_FOUND
        mine = list(await s.scalars(callers.blacklist_query(reseller_actor(acme))))
        assert [(e.number, e.reason) for e in mine] == [("449001", "premium")]
        assert list(await s.scalars(callers.blacklist_query(client_actor(alice)))) == []
