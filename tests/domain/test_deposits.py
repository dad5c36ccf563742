"""The deposit path: credits once per (source, external id), corrections never exceed what they
correct, commission moves with the money, and the ledger stays consistent after each."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from api.db import is_sqlite, transaction
from api.domain import deposits
from api.domain.errors import DomainError, ErrorCode
from api.models import Deposit, LedgerEntry
from tests.factories import (
    assert_ledger_consistent,
    balance_of,
    client_balance,
    make_client,
    make_reseller,
    reseller_balance,
)

pytestmark = pytest.mark.usefixtures("ledger_checked")

U = 1_000_000  # one unit in micros


async def _credit(session, client, amount=10 * U, external_id="TXN-1", **kw):
    args = {
        "source": deposits.PAYPAL,
        "external_id": external_id,
        "client_id": client.id,
        "reseller_id": None,
        "amount": amount,
        "currency": "USD",
        "memo": "PayPal",
        "raw_id": None,
        **kw,
    }
    return await deposits.credit(session, **args)


async def _correct(session, operation, external_id, amount, original="TXN-1"):
    return await operation(
        session,
        source=deposits.PAYPAL,
        external_id=external_id,
        original_external_id=original,
        amount=amount,
        currency="USD",
        memo="",
        raw_id=None,
        **({"reason": "reversal"} if external_id.startswith("REV") else {}),
    )


async def test_a_markup_client_deposit_credits_the_client_once(sessions):
    # given a markup reseller's client
    async with transaction(sessions) as s:
        reseller = await make_reseller(s)
        client = await make_client(s, reseller)
    # when the same payment is credited twice
    async with transaction(sessions) as s:
        first = await _credit(s, client)
    async with transaction(sessions) as s:
        again = await _credit(s, client, memo="told again")
    # then it landed once, in the reseller's books, and the second answer is the first one
    assert not first.replayed and again.replayed
    assert again.deposit.id == first.deposit.id and again.entry.id == first.entry.id
    async with sessions() as s:
        assert await client_balance(s, client) == 10 * U
        assert await balance_of(s, f"reseller:{reseller.id}:receipts") == -10 * U
        assert await reseller_balance(s, reseller) == 0
        assert await s.scalar(select(func.count()).select_from(Deposit)) == 1
        await assert_ledger_consistent(s)


async def test_a_commission_client_deposit_pays_the_commission_in_the_same_entry(sessions):
    # given a 10 % commission reseller's client
    async with transaction(sessions) as s:
        reseller = await make_reseller(s, "commission", commission_pct="10")
        client = await make_client(s, reseller)
    # when the client pays 25.00 directly
    async with transaction(sessions) as s:
        result = await _credit(s, client, 25 * U)
    # then the client has 25, the reseller 2.50, and one entry holds all four postings
    async with sessions() as s:
        assert await client_balance(s, client) == 25 * U
        assert await reseller_balance(s, reseller) == 2_500_000
        assert await balance_of(s, "operator:client_payments:USD") == -25 * U
        assert await balance_of(s, "operator:commission:USD") == -2_500_000
        assert await s.scalar(select(func.count()).select_from(LedgerEntry)) == 1
        assert result.deposit.commission == 2_500_000
        await assert_ledger_consistent(s)


async def test_a_reseller_deposit_credits_its_balance_with_the_operator(sessions):
    async with transaction(sessions) as s:
        reseller = await make_reseller(s, currency="EUR")
    async with transaction(sessions) as s:
        await deposits.credit(
            s,
            source=deposits.PAYPAL,
            external_id="CAP-1",
            client_id=None,
            reseller_id=reseller.id,
            amount=40 * U,
            currency="EUR",
            memo="card",
            raw_id=None,
        )
    async with transaction(sessions) as s:
        await _correct_reseller(s, "CAP-R1", 15 * U)
    async with sessions() as s:
        assert await reseller_balance(s, reseller) == 25 * U
        assert await balance_of(s, "operator:deposits:EUR") == -25 * U
        await assert_ledger_consistent(s)


async def _correct_reseller(session, external_id, amount):
    return await deposits.debit(
        session,
        source=deposits.PAYPAL,
        external_id=external_id,
        original_external_id="CAP-1",
        amount=amount,
        currency="EUR",
        memo="",
        raw_id=None,
    )


async def test_refunds_never_exceed_the_payment_and_claw_back_its_commission(sessions):
    # given a 10 % commission client who paid 10.00
    async with transaction(sessions) as s:
        reseller = await make_reseller(s, "commission", commission_pct="10")
        client = await make_client(s, reseller, "prepaid_permissive")
        await _credit(s, client)
    # when 3.33 and then 6.67 are refunded, and one more cent is asked for
    async with transaction(sessions) as s:
        await _correct(s, deposits.debit, "REF-1", 3_330_000)
    async with transaction(sessions) as s:
        await _correct(s, deposits.debit, "REF-2", 6_670_000)
    with pytest.raises(DomainError) as refused:
        async with transaction(sessions) as s:
            await _correct(s, deposits.debit, "REF-3", 10_000)
    # then the third is refused, and the commission went back exactly
    assert refused.value.code == ErrorCode.CONFLICT
    async with sessions() as s:
        assert await client_balance(s, client) == 0
        assert await reseller_balance(s, reseller) == 0
        assert await balance_of(s, "operator:commission:USD") == 0
        await assert_ledger_consistent(s)


async def test_a_canceled_reversal_gives_back_only_what_reversals_took(sessions):
    # given a paid 10.00 of which 4.00 was refunded and 6.00 reversed
    async with transaction(sessions) as s:
        reseller = await make_reseller(s)
        client = await make_client(s, reseller, "prepaid_permissive")
        await _credit(s, client)
        await _correct(s, deposits.debit, "REF-1", 4 * U)
        await _correct(s, deposits.debit, "REV-1", 6 * U)
    # when more than the reversal is reinstated, then it is refused
    with pytest.raises(DomainError):
        async with transaction(sessions) as s:
            await _correct(s, deposits.reinstate, "CR-1", 7 * U)
    # when the reversal is canceled
    async with transaction(sessions) as s:
        await _correct(s, deposits.reinstate, "CR-1", 6 * U)
    # then the client has 6.00 back, and nothing more can be reinstated
    with pytest.raises(DomainError):
        async with transaction(sessions) as s:
            await _correct(s, deposits.reinstate, "CR-2", 1)
    async with sessions() as s:
        assert await client_balance(s, client) == 6 * U
        await assert_ledger_consistent(s)


async def test_a_deposit_in_another_currency_or_for_an_unknown_payment_is_refused(sessions):
    async with transaction(sessions) as s:
        reseller = await make_reseller(s)
        client = await make_client(s, reseller)
    with pytest.raises(DomainError) as wrong_currency:
        async with transaction(sessions) as s:
            await _credit(s, client, currency="EUR")
    with pytest.raises(DomainError) as unknown:
        async with transaction(sessions) as s:
            await _correct(s, deposits.debit, "REF-1", U, original="NOPE")
    assert wrong_currency.value.field == "currency"
    assert unknown.value.code == ErrorCode.NOT_FOUND
    async with sessions() as s:
        assert await client_balance(s, client) == 0
        await assert_ledger_consistent(s)


async def test_the_same_payment_told_again_with_another_amount_is_refused(sessions):
    async with transaction(sessions) as s:
        reseller = await make_reseller(s)
        client = await make_client(s, reseller)
        await _credit(s, client)
    with pytest.raises(DomainError) as refused:
        async with transaction(sessions) as s:
            await _credit(s, client, 11 * U)
    assert refused.value.code == ErrorCode.IDEMPOTENCY_CONFLICT


async def test_concurrent_credits_of_one_payment_land_once(sessions, engine):
    if is_sqlite(str(engine.url)):
        pytest.skip("SQLite serializes writers; the race needs PostgreSQL")
    async with transaction(sessions) as s:
        reseller = await make_reseller(s, "commission", commission_pct="5")
        client = await make_client(s, reseller)

    async def deliver() -> bool:
        async with transaction(sessions) as s:
            return (await _credit(s, client)).replayed

    replayed = await asyncio.gather(*(deliver() for _ in range(5)))
    assert sorted(replayed) == [False, True, True, True, True]
    async with sessions() as s:
        assert await client_balance(s, client) == 10 * U
        assert await reseller_balance(s, reseller) == 500_000
        await assert_ledger_consistent(s)


async def test_concurrent_refunds_never_exceed_the_payment(sessions, engine):
    if is_sqlite(str(engine.url)):
        pytest.skip("SQLite serializes writers; the race needs PostgreSQL")
    async with transaction(sessions) as s:
        reseller = await make_reseller(s)
        client = await make_client(s, reseller, "prepaid_permissive")
        await _credit(s, client)

    async def refund(n: int) -> bool:
        try:
            async with transaction(sessions) as s:
                await _correct(s, deposits.debit, f"REF-{n}", 4 * U)
        except DomainError:
            return False
        return True

    done = await asyncio.gather(*(refund(n) for n in range(4)))
    assert sum(done) == 2
    async with sessions() as s:
        assert await client_balance(s, client) == 2 * U
        await assert_ledger_consistent(s)
