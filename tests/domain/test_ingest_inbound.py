"""Inbound calls on numbers (DIDs): billed to the client holding the number, rated when the
number has an inbound per-minute rate."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from api.db import transaction
from api.domain import calls
from api.models import Call, Did, SubAccount
from tests.domain.test_ingest import call, markup_world, rows
from tests.factories import (
    assert_ledger_consistent,
    balance_of,
    client_balance,
    make_client,
    reseller_actor,
    reseller_balance,
)

FUNDED = 10_000_000
RESELLER_FUNDED = 100_000_000


async def held_number(s, client, number, inbound_rate, sub_account_id=None):
    s.add(
        Did(
            number=number,
            country="GB",
            currency="USD",
            inbound_rate=inbound_rate,
            status="assigned",
            reseller_id=client.reseller_id,
            client_id=client.id,
            sub_account_id=sub_account_id,
        )
    )
    await s.flush()


async def test_an_inbound_minute_on_a_rated_number_is_charged_at_both_levels(sessions):
    # given Alice (20 % package, 6/6) holds 442070000001 at 0.0060/min inbound
    async with transaction(sessions) as s:
        reseller, client, package = await markup_world(s)
        sub = await s.scalar(select(SubAccount).where(SubAccount.client_id == client.id))
        client.package_id = package.id
        await held_number(s, client, "442070000001", 6_000, sub.id)
    # when a 27 s call from outside comes in on it (the caller is nobody we know)
    inbound = call("in-1", "", dest="442070000001", direction="inbound", a_number="33123456789")
    async with transaction(sessions) as s:
        report = await calls.ingest(s, reseller_actor(reseller), rows(inbound))
    assert (report.ingested, report.rejected) == (1, 0)
    async with sessions() as s:
        stored = await s.scalar(select(Call))
        # then the reseller pays 60 s at 0.006 (6,000) and the client 30 s at 0.0072 (3,600)
        assert (stored.client_id, stored.sub_account_id) == (client.id, sub.id)
        assert (stored.rule, stored.matched_prefix) == ("inbound", "442070000001")
        assert (stored.cost_billed, stored.cost) == (60, 6_000)
        assert (stored.sell_rate, stored.sell_billed, stored.sell) == (Decimal("7200"), 30, 3_600)
        assert await client_balance(s, client) == FUNDED - 3_600
        assert await reseller_balance(s, reseller) == RESELLER_FUNDED - 6_000
        assert await balance_of(s, f"reseller:{reseller.id}:sales") == 3_600
        await assert_ledger_consistent(s)


async def test_a_flat_rate_number_records_its_inbound_calls_at_zero(sessions):
    async with transaction(sessions) as s:
        reseller, client, _ = await markup_world(s)
        await held_number(s, client, "442070000002", 0)
    inbound = call("in-2", "", dest="442070000002", direction="inbound", a_number="33123456789")
    async with transaction(sessions) as s:
        report = await calls.ingest(s, reseller_actor(reseller), rows(inbound))
    assert report.ingested == 1
    async with sessions() as s:
        stored = await s.scalar(select(Call))
        assert (stored.client_id, stored.rule, stored.cost, stored.sell) == (
            client.id,
            "inbound",
            0,
            0,
        )
        assert await client_balance(s, client) == FUNDED
        await assert_ledger_consistent(s)


async def test_another_resellers_number_is_not_its_callers(sessions):
    # given a number held by a client of another reseller
    async with transaction(sessions) as s:
        reseller, _, _ = await markup_world(s)
        other, other_client, _ = await markup_world(s)
        await held_number(s, other_client, "442070000003", 6_000)
        stranger = await make_client(s, reseller, "prepaid_permissive")
    # when the first reseller's switch reports an inbound call on it
    inbound = call("in-3", "", dest="442070000003", direction="inbound", a_number="3312345")
    async with transaction(sessions) as s:
        report = await calls.ingest(s, reseller_actor(reseller), rows(inbound))
    # then it is an unknown caller, and the other reseller's client pays nothing
    assert (report.ingested, report.rejected) == (0, 1)
    async with sessions() as s:
        assert await client_balance(s, other_client) == FUNDED
        assert await client_balance(s, stranger) == 0
        assert await s.scalar(select(Call)) is None
        assert other.id != reseller.id
