"""ledger.post: balanced entries, floors, idempotency, and invariants under random movements."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.db import transaction
from api.domain import accounts, ledger, payments
from api.domain.actors import SYSTEM
from api.domain.errors import DomainError, ErrorCode
from api.domain.ledger import Idempotency, LedgerInvariantError, Leg
from tests.factories import (
    assert_ledger_consistent,
    balance_of,
    client_balance,
    entry_count,
    fund_reseller,
    make_client,
    make_reseller,
    posting_count,
    reseller_actor,
    reseller_balance,
)

M = 1_000_000  # micros in one unit


async def _two_accounts(sessions, *, fund: str = "100"):
    """Given a funded reseller (markup, USD) and a client of it."""
    async with transaction(sessions) as s:
        reseller = await make_reseller(s)
        client = await make_client(s, reseller)
        await fund_reseller(s, reseller, fund)
    return reseller, client


async def _accounts(s, reseller, client):
    return (
        await accounts.reseller_account(s, reseller),
        await accounts.client_account(s, client, reseller.currency),
    )


def _idem(key: str, **params) -> Idempotency:
    return Idempotency.of("test", key, "move", params)


async def _snapshot(sessions, reseller, client):
    async with sessions() as s:
        return (
            await reseller_balance(s, reseller),
            await client_balance(s, client),
            await entry_count(s),
            await posting_count(s),
        )


async def test_unbalanced_legs_are_refused_and_change_nothing(sessions):
    reseller, client = await _two_accounts(sessions)
    before = await _snapshot(sessions, reseller, client)

    with pytest.raises(LedgerInvariantError, match="do not sum to zero"):
        async with transaction(sessions) as s:
            r_acc, c_acc = await _accounts(s, reseller, client)
            await ledger.post(
                s,
                kind="test",
                currency="USD",
                amount=5 * M,
                legs=[Leg(r_acc, -5 * M), Leg(c_acc, 4 * M)],
                idem=_idem("unbalanced"),
                actor=SYSTEM,
            )

    assert await _snapshot(sessions, reseller, client) == before


async def test_a_leg_in_another_currency_is_refused(sessions):
    reseller, client = await _two_accounts(sessions)
    async with transaction(sessions) as s:
        eur = await payments.operator_account(s, "deposits", "EUR")
    before = await _snapshot(sessions, reseller, client)

    with pytest.raises(LedgerInvariantError, match="EUR"):
        async with transaction(sessions) as s:
            r_acc, _ = await _accounts(s, reseller, client)
            await ledger.post(
                s,
                kind="test",
                currency="USD",
                amount=M,
                legs=[Leg(r_acc, -M), Leg(eur, M)],
                idem=_idem("fx"),
                actor=SYSTEM,
            )

    assert await _snapshot(sessions, reseller, client) == before


async def test_a_floor_is_enforced_with_insufficient_funds_and_nothing_changes(sessions):
    reseller, client = await _two_accounts(sessions, fund="10")
    before = await _snapshot(sessions, reseller, client)

    with pytest.raises(DomainError) as err:
        async with transaction(sessions) as s:
            r_acc, c_acc = await _accounts(s, reseller, client)
            await ledger.post(
                s,
                kind="test",
                currency="USD",
                amount=10 * M + 1,
                legs=[Leg(r_acc, -(10 * M + 1), floor=0), Leg(c_acc, 10 * M + 1)],
                idem=_idem("too-much"),
                actor=SYSTEM,
            )

    assert err.value.code == ErrorCode.INSUFFICIENT_FUNDS
    assert await _snapshot(sessions, reseller, client) == before
    async with sessions() as s:
        await assert_ledger_consistent(s)


async def test_a_debit_down_to_exactly_the_floor_is_allowed(sessions):
    reseller, client = await _two_accounts(sessions, fund="10")

    async with transaction(sessions) as s:
        r_acc, c_acc = await _accounts(s, reseller, client)
        posted = await ledger.post(
            s,
            kind="test",
            currency="USD",
            amount=10 * M,
            legs=[Leg(r_acc, -10 * M, floor=0), Leg(c_acc, 10 * M)],
            idem=_idem("all-of-it"),
            actor=SYSTEM,
        )

    assert posted.balances == {r_acc.id: 0, c_acc.id: 10 * M}
    async with sessions() as s:
        assert await reseller_balance(s, reseller) == 0
        assert await client_balance(s, client) == 10 * M
        await assert_ledger_consistent(s)


async def test_replaying_a_key_returns_the_same_entry_without_new_postings(sessions):
    reseller, client = await _two_accounts(sessions)

    async def move():
        async with transaction(sessions) as s:
            r_acc, c_acc = await _accounts(s, reseller, client)
            return await ledger.post(
                s,
                kind="test",
                currency="USD",
                amount=3 * M,
                legs=[Leg(r_acc, -3 * M, floor=0), Leg(c_acc, 3 * M)],
                idem=_idem("once", amount=3),
                actor=SYSTEM,
            )

    first = await move()
    after_first = await _snapshot(sessions, reseller, client)
    second = await move()

    assert not first.replayed
    assert second.replayed
    assert second.entry.id == first.entry.id
    assert await _snapshot(sessions, reseller, client) == after_first
    assert after_first[:2] == (97 * M, 3 * M)


async def test_the_same_key_for_a_different_request_is_an_idempotency_conflict(sessions):
    reseller, client = await _two_accounts(sessions)

    async with transaction(sessions) as s:
        await payments.client_transfer(s, reseller_actor(reseller), client.id, "3", "k-1")
    before = await _snapshot(sessions, reseller, client)

    with pytest.raises(DomainError) as err:
        async with transaction(sessions) as s:
            await payments.client_transfer(s, reseller_actor(reseller), client.id, "4", "k-1")

    assert err.value.code == ErrorCode.IDEMPOTENCY_CONFLICT
    assert err.value.field == "idempotencyKey"
    assert await _snapshot(sessions, reseller, client) == before


@pytest.mark.parametrize("key", ["", "x" * 201, "tab\tkey"])
async def test_a_bad_idempotency_key_is_refused(sessions, key):
    reseller, client = await _two_accounts(sessions)

    with pytest.raises(DomainError) as err:
        async with transaction(sessions) as s:
            await payments.client_transfer(s, reseller_actor(reseller), client.id, "1", key)

    assert err.value.code == ErrorCode.VALIDATION
    assert err.value.field == "idempotencyKey"


# --- many entries at once ----------------------------------------------------------------------


def _spec(r_acc, c_acc, micros: int, key: str) -> ledger.EntrySpec:
    return ledger.EntrySpec(
        kind="test",
        currency="USD",
        amount=micros,
        legs=[Leg(c_acc, -micros), Leg(r_acc, micros)],
        idem=_idem(key, amount=micros),
    )


async def test_posting_many_moves_the_balances_when_its_block_ends(sessions):
    reseller, client = await _two_accounts(sessions)
    key = uuid.uuid4().hex
    async with transaction(sessions) as s:
        r_acc, c_acc = await _accounts(s, reseller, client)
        specs = [_spec(r_acc, c_acc, n * M, f"{key}-{n}") for n in (1, 2)]
        # when two entries are posted around a block
        async with ledger.posting_many(s, specs, SYSTEM) as ids:
            # then inside it the entries exist and no balance moved yet
            assert len(ids) == 2 and None not in ids
            assert await client_balance(s, client) == 0
        # and after it both moved, each entry with its own postings
        assert c_acc.balance == -3 * M
        assert await client_balance(s, client) == -3 * M
        assert await reseller_balance(s, reseller) == 103 * M
        await assert_ledger_consistent(s)
    # and posting them again replays them: nothing moves, no new entry id
    async with transaction(sessions) as s:
        r_acc, c_acc = await _accounts(s, reseller, client)
        specs = [_spec(r_acc, c_acc, n * M, f"{key}-{n}") for n in (1, 2)]
        assert await ledger.post_many(s, specs, SYSTEM) == [None, None]
    assert (await _snapshot(sessions, reseller, client))[:2] == (103 * M, -3 * M)


async def test_a_block_that_fails_leaves_no_entry_of_posting_many(sessions):
    reseller, client = await _two_accounts(sessions)
    before = await _snapshot(sessions, reseller, client)
    async with transaction(sessions) as s:
        r_acc, c_acc = await _accounts(s, reseller, client)
        specs = [_spec(r_acc, c_acc, M, uuid.uuid4().hex)]
        # when the block raises and the caller carries on with its transaction
        with pytest.raises(RuntimeError):
            async with ledger.posting_many(s, specs, SYSTEM):
                raise RuntimeError("the rows naming the entries could not be written")
    # then the entries went with the block: nothing moved
    assert await _snapshot(sessions, reseller, client) == before
    async with sessions() as s:
        await assert_ledger_consistent(s)


# --- random sequences of movements -----------------------------------------------------------

OPS = ("deposit", "transfer", "payment", "charge", "refund")
movement = st.tuples(
    st.sampled_from(OPS),
    st.integers(min_value=0, max_value=3),  # which client
    st.integers(min_value=1, max_value=60 * M),  # amount in micros
    st.booleans(),  # replay the same request afterwards
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    commission=st.sampled_from(["0", "10", "12.5", "33.3333"]),
    moves=st.lists(movement, min_size=1, max_size=12),
)
async def test_ledger_invariants_hold_after_random_movements(sessions, commission, moves):
    """Given a markup and a commission reseller with two clients each (strict and permissive),
    when a random sequence of deposits, transfers, payments, charges and refunds runs (some
    refused, some replayed), then the ledger sums to zero, every cached balance matches its
    postings, and the balances are exactly what the posting rules say."""
    async with transaction(sessions) as s:
        markup = await make_reseller(s, "markup")
        agent = await make_reseller(s, "commission", currency="EUR", commission_pct=commission)
        clients = [
            await make_client(s, markup, "prepaid_strict"),
            await make_client(s, markup, "prepaid_permissive"),
            await make_client(s, agent, "prepaid_strict"),
            await make_client(s, agent, "prepaid_permissive"),
        ]
        deposits_before = await balance_of(s, "operator:deposits:USD")
    owner = {markup.id: markup, agent.id: agent}
    expected_reseller = {markup.id: 0, agent.id: 0}
    expected_client = {c.id: 0 for c in clients}
    moved: set[int] = set()  # clients a movement really reached (the status rule ran)
    run_id = uuid.uuid4().hex  # the operator's keys are shared by every example

    for step, (op, which, micros, replay) in enumerate(moves):
        client = clients[which]
        reseller = owner[client.reseller_id]
        actor = reseller_actor(reseller)
        key = f"{run_id}-{step}"
        pct_cut = payments.money.percent_of(micros, reseller.commission_pct)
        commission_model = reseller.billing_model == "commission"

        async def run(op=op, client=client, reseller=reseller, actor=actor, key=key, m=micros):
            async with transaction(sessions) as s:
                if op == "deposit":
                    return await payments.reseller_deposit(s, SYSTEM, reseller.id, m, key)
                if op == "transfer":
                    return await payments.client_transfer(s, actor, client.id, m, key)
                if op == "payment":
                    return await payments.client_payment(s, actor, client.id, m, key)
                if op == "charge":
                    return await payments.client_charge(s, actor, client.id, m, key, "usage")
                return await payments.client_refund(s, actor, client.id, m, key)

        try:
            await run()
        except DomainError as exc:
            assert exc.code == ErrorCode.INSUFFICIENT_FUNDS, exc.message
            if op == "refund":
                assert expected_client[client.id] < micros
            else:
                assert op in ("transfer", "payment")
                assert expected_reseller[reseller.id] < micros
            continue
        if op != "deposit":
            moved.add(client.id)
        if op == "deposit":
            expected_reseller[reseller.id] += micros
        elif op == "transfer" or (op == "payment" and commission_model):
            expected_reseller[reseller.id] -= micros
            expected_reseller[reseller.id] += pct_cut if commission_model else 0
            expected_client[client.id] += micros
        elif op == "payment":
            expected_client[client.id] += micros
        elif op == "charge":
            expected_client[client.id] -= micros
            expected_reseller[reseller.id] += micros if commission_model else 0
        else:  # refund
            expected_client[client.id] -= micros
            if commission_model:
                expected_reseller[reseller.id] += micros - pct_cut
        if replay:
            again = await run()
            assert again.replayed

    async with sessions() as s:
        await assert_ledger_consistent(s)
        for rid, want in expected_reseller.items():
            assert await reseller_balance(s, rid) == want
        for client in clients:
            assert await client_balance(s, client) == expected_client[client.id]
            refreshed = await s.get(type(client), client.id)
            if client.billing_mode == "prepaid_strict":
                want_status = "active" if expected_client[client.id] > 0 else "suspended"
                if client.id in moved:
                    assert refreshed.status == want_status
            else:
                assert refreshed.status == "active"
        deposited = sum(m for op, w, m, _ in moves if op == "deposit" and w < 2)
        assert await balance_of(s, "operator:deposits:USD") == deposits_before - deposited
