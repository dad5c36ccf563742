"""Call authorization: every reason code, the duration arithmetic, tenancy, fresh rates."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from api.db import transaction
from api.domain import accounts, callers, payments, rating
from api.domain import authorize as authorize_module
from api.domain.actors import SYSTEM
from api.domain.authorize import Reason, authorize
from api.models import PackageOverride, Reseller
from tests.callers_data import assign_deck, make_deck, make_package, set_rate
from tests.factories import (
    count_statements,
    fund_reseller,
    make_client,
    make_reseller,
    reseller_actor,
    unique_key,
)

DECK = [
    # UK: 0.0100/min, 60/60; London 0.0080/min with a 0.01 connection fee
    {"prefix": "44", "destination": "United Kingdom", "country": "GB", "rate": 10_000},
    {
        "prefix": "4420",
        "destination": "UK London",
        "country": "GB",
        "rate": 8_000,
        "connection_fee": 10_000,
    },
    {"prefix": "1", "destination": "USA", "country": "US", "rate": 5_000},
]


async def world(
    sessions,
    settings,
    *,
    model: str = "markup",
    reseller_funds: str | None = "1000",
    client_funds: str | None = "1",
    mode: str = "prepaid_strict",
    markup_pct: str = "20",
    **client_kw,
):
    """Given a reseller (markup, or commission) on a base deck, a package (20 % markup, 6/6),
    a client with ``client_funds`` and a sub-account ``alice`` on that package."""
    async with transaction(sessions) as s:
        reseller = await make_reseller(s, model, commission_pct="10" if model != "markup" else "0")
        deck = await make_deck(s, DECK)
        await assign_deck(s, reseller, deck)
        package = await make_package(
            s, reseller, markup_pct=Decimal(markup_pct), first_increment=6, increment=6
        )
        if reseller_funds:
            await fund_reseller(s, reseller, reseller_funds)
        client = await make_client(s, reseller, mode, **client_kw)
        if client_funds:
            await payments.client_payment(s, SYSTEM, client.id, client_funds, unique_key())
        sub, _secret = await callers.create_sub_account(
            s,
            SYSTEM,
            client.id,
            {"username": f"alice{client.id}", "package_id": package.id},
            settings=settings,
        )
    return reseller, deck, package, client, sub


async def ask(sessions, settings, actor=None, **kw):
    async with sessions() as s:
        return await authorize(s, actor, secret_key=settings.secret_key, **kw)


async def test_a_funded_sub_account_may_call_for_what_its_balance_buys(sessions, settings):
    # given a client with 1.00 on a 20 % package (cost 0.0100 -> sell 0.0120/min, 6/6)
    *_, sub = await world(sessions, settings)
    # when its sub-account calls the UK
    d = await ask(sessions, settings, sub_account_username=sub.username, destination="+44 7700 900")
    # then it may, for 1.00 / 0.012 * 60 = 5000 s, down to whole 6 s increments: 4998 s
    assert (d.allowed, d.reason, d.max_seconds) == (True, Reason.ACTIVE, 4998)
    assert (d.prefix, d.destination_name, d.destination) == ("44", "United Kingdom", "447700900")
    assert d.cost_rate == 10_000 and d.sell_rate == Decimal(12_000)
    assert (d.sell_first_increment, d.sell_increment, d.rule) == (6, 6, "markup")
    assert (d.cost_first_increment, d.cost_increment) == (60, 60)


async def test_connection_fee_comes_off_the_duration(sessions, settings):
    # given the same client calling London: sell 0.0096/min + 0.012 connection
    *_, sub = await world(sessions, settings)
    d = await ask(sessions, settings, sub_account_username=sub.username, destination="442071")
    # then (1.00 - 0.012) / 0.0096 * 60 = 6175 s -> 6174 s in 6 s increments
    assert (d.prefix, d.max_seconds) == ("4420", 6174)
    assert d.sell_connection_fee == Decimal(12_000)


async def test_the_resellers_balance_at_cost_limits_the_duration(sessions, settings):
    # given a markup reseller with only 0.05 left (0.0100/min at cost, 60/60)
    *_, sub = await world(sessions, settings, reseller_funds="0.05")
    d = await ask(sessions, settings, sub_account_username=sub.username, destination="447")
    # then the call may last 5 minutes, not the client's 4998 s
    assert (d.allowed, d.max_seconds) == (True, 300)


async def test_a_reseller_without_funds_refuses_its_clients_calls(sessions, settings):
    *_, sub = await world(sessions, settings, reseller_funds=None)
    d = await ask(sessions, settings, sub_account_username=sub.username, destination="447")
    assert (d.allowed, d.reason, d.max_seconds) == (
        False,
        Reason.RESELLER_INSUFFICIENT_FUNDS,
        0,
    )


async def test_a_commission_reseller_does_not_pay_per_call(sessions, settings):
    # given a commission reseller whose client got 1.00 from it (the reseller keeps 999 + 10 %)
    # and a personal rate of +50 %
    _reseller, _deck, _p, client, sub = await world(
        sessions, settings, model="commission", client_funds=None
    )
    async with transaction(sessions) as s:
        await payments.client_transfer(s, SYSTEM, client.id, "1", unique_key())
        row = await accounts.get_client(s, SYSTEM, client.id)
        row.personal_rate_pct = Decimal(50)
    d = await ask(sessions, settings, sub_account_username=sub.username, destination="447")
    # then the client pays 0.015/min at the deck's 60/60: 1.00 buys 4000 s -> 3960 s
    assert (d.allowed, d.rule, d.sell_rate, d.max_seconds) == (
        True,
        "personal",
        Decimal(15_000),
        3960,
    )


async def test_a_strict_client_without_money_is_refused(sessions, settings):
    *_, sub = await world(sessions, settings, client_funds=None)
    d = await ask(sessions, settings, sub_account_username=sub.username, destination="447")
    assert (d.allowed, d.reason) == (False, Reason.INSUFFICIENT_FUNDS)


async def test_a_balance_below_the_first_increment_is_insufficient(sessions, settings):
    # 6 s at 0.012/min costs 0.0012
    *_, sub = await world(sessions, settings, client_funds="0.001")
    d = await ask(sessions, settings, sub_account_username=sub.username, destination="447")
    assert d.reason == Reason.INSUFFICIENT_FUNDS


async def test_a_suspended_strict_client_at_zero_is_insufficient_funds(sessions, settings):
    # given a strict client charged down to zero (and so suspended)
    _r, _d, _p, client, sub = await world(sessions, settings)
    async with transaction(sessions) as s:
        await payments.client_charge(s, SYSTEM, client.id, "1", unique_key(), "usage")
        assert (await accounts.get_client(s, SYSTEM, client.id)).status == "suspended"
    d = await ask(sessions, settings, sub_account_username=sub.username, destination="447")
    assert (d.allowed, d.reason) == (False, Reason.INSUFFICIENT_FUNDS)


async def test_a_client_suspended_by_hand_is_suspended_with_its_reason_whatever_its_balance(
    sessions, settings
):
    # given a strict client without money and a postpaid client at its limit, both suspended
    # by their reseller for a reason of its own
    *_, strict, strict_sub = await world(sessions, settings, client_funds=None)
    *_, postpaid, postpaid_sub = await world(
        sessions, settings, mode="postpaid", client_funds=None, credit_limit="1"
    )
    async with transaction(sessions) as s:
        await payments.client_charge(s, SYSTEM, postpaid.id, "1", unique_key(), "usage")
        for client in (strict, postpaid):
            await accounts.update_client(
                s, SYSTEM, client.id, {"status": "suspended", "status_reason": "fraud check"}
            )
    # then the switch hears why: the reseller's reason, not the balance
    for sub in (strict_sub, postpaid_sub):
        d = await ask(sessions, settings, sub_account_username=sub.username, destination="447")
        assert (d.allowed, d.reason, d.message, d.max_seconds) == (
            False,
            Reason.SUSPENDED,
            "fraud check",
            0,
        )


async def test_postpaid_calls_on_credit_until_the_limit(sessions, settings):
    # given a postpaid client at 0 with a credit limit of 1.00
    *_, sub = await world(sessions, settings, mode="postpaid", client_funds=None, credit_limit="1")
    d = await ask(sessions, settings, sub_account_username=sub.username, destination="447")
    assert (d.allowed, d.max_seconds) == (True, 4998)


async def test_postpaid_at_its_limit_is_credit_limit_reached(sessions, settings):
    _r, _d, _p, client, sub = await world(
        sessions, settings, mode="postpaid", client_funds=None, credit_limit="1"
    )
    async with transaction(sessions) as s:
        await payments.client_charge(s, SYSTEM, client.id, "1", unique_key(), "usage")
    d = await ask(sessions, settings, sub_account_username=sub.username, destination="447")
    assert (d.allowed, d.reason) == (False, Reason.CREDIT_LIMIT_REACHED)


async def test_a_permissive_client_may_call_into_the_negative(sessions, settings):
    *_, sub = await world(sessions, settings, mode="prepaid_permissive", client_funds=None)
    d = await ask(sessions, settings, sub_account_username=sub.username, destination="447")
    assert (d.allowed, d.max_seconds) == (True, settings.max_call_seconds)


async def test_a_suspended_client_or_disabled_sub_account_is_suspended(sessions, settings):
    _r, _d, _p, client, sub = await world(sessions, settings)
    async with transaction(sessions) as s:
        await callers.update_sub_account(s, SYSTEM, sub.id, {"status": "disabled"})
    d = await ask(sessions, settings, sub_account_username=sub.username, destination="447")
    assert (d.reason, d.message) == (Reason.SUSPENDED, "sub-account disabled")
    async with transaction(sessions) as s:
        await callers.update_sub_account(s, SYSTEM, sub.id, {"status": "active"})
        await accounts.update_client(
            s, SYSTEM, client.id, {"status": "suspended", "status_reason": "unpaid invoice"}
        )
    d = await ask(sessions, settings, sub_account_username=sub.username, destination="447")
    assert (d.allowed, d.reason, d.message) == (False, Reason.SUSPENDED, "unpaid invoice")


async def test_blacklisted_destination_caller_or_client(sessions, settings):
    reseller, _d, _p, client, sub = await world(sessions, settings)
    async with transaction(sessions) as s:
        await callers.add_to_blacklist(
            s, SYSTEM, reseller_id=reseller.id, number="+44 900 1", reason="premium numbers"
        )
    d = await ask(sessions, settings, sub_account_username=sub.username, destination="449001")
    assert (d.allowed, d.reason, d.message) == (False, Reason.BLACKLISTED, "premium numbers")
    d = await ask(sessions, settings, sub_account_username=sub.username, destination="449002")
    assert d.allowed
    async with transaction(sessions) as s:
        await callers.add_to_blacklist(s, SYSTEM, client_id=client.id, reason="fraud")
    d = await ask(sessions, settings, sub_account_username=sub.username, destination="449002")
    assert (d.reason, d.message) == (Reason.BLACKLISTED, "fraud")


async def test_callers_by_a_number_and_pin(sessions, settings):
    # given a client with the A-number +1 555 0100 and the PIN 4321
    _r, _d, _p, client, _sub = await world(sessions, settings)
    async with transaction(sessions) as s:
        await callers.set_client_numbers(s, SYSTEM, client.id, ["+1 (555) 0100"])
        await callers.set_pin(s, SYSTEM, client.id, "4321", settings=settings)
    # when it calls from its number, the number identifies it
    d = await ask(sessions, settings, a_number="15550100", destination="447")
    assert (d.allowed, d.client_id, d.sub_account_id) == (True, client.id, None)
    # an unlisted number needs the PIN; the right PIN identifies it, a wrong one nobody
    d = await ask(sessions, settings, a_number="15559999", destination="447")
    assert (d.allowed, d.reason) == (False, Reason.PIN_REQUIRED)
    d = await ask(sessions, settings, a_number="15559999", pin="4321", destination="447")
    assert (d.allowed, d.client_id) == (True, client.id)
    d = await ask(sessions, settings, a_number="15559999", pin="0000", destination="447")
    assert d.reason == Reason.UNKNOWN_CALLER


async def test_no_package_sells_at_cost(sessions, settings):
    # given a client calling by A-number with no package of its own
    _r, _d, _p, client, _sub = await world(sessions, settings)
    async with transaction(sessions) as s:
        await callers.set_client_numbers(s, SYSTEM, client.id, ["15550100"])
    d = await ask(sessions, settings, a_number="15550100", destination="447")
    assert (d.rule, d.sell_rate, d.sell_first_increment) == ("base", Decimal(10_000), 60)


async def test_unknown_callers_and_other_tenants(sessions, settings):
    reseller, *_, sub = await world(sessions, settings)
    d = await ask(sessions, settings, sub_account_username="nobody", destination="447")
    assert (d.allowed, d.reason) == (False, Reason.UNKNOWN_CALLER)
    # another reseller asking about this sub-account learns nothing
    async with transaction(sessions) as s:
        other = await make_reseller(s)
    d = await ask(
        sessions,
        settings,
        reseller_actor(other),
        sub_account_username=sub.username,
        destination="447",
    )
    assert (d.reason, d.client_id, d.prefix) == (Reason.UNKNOWN_CALLER, None, "")
    # its own reseller is answered
    d = await ask(
        sessions,
        settings,
        reseller_actor(reseller),
        sub_account_username=sub.username,
        destination="447",
    )
    assert d.allowed


async def test_no_route(sessions, settings):
    reseller, *_, sub = await world(sessions, settings)
    d = await ask(sessions, settings, sub_account_username=sub.username, destination="999")
    assert (d.allowed, d.reason) == (False, Reason.NO_ROUTE)
    async with transaction(sessions) as s:
        (await accounts.get_reseller(s, SYSTEM, reseller.id)).base_deck_id = None
    d = await ask(sessions, settings, sub_account_username=sub.username, destination="447")
    assert d.reason == Reason.NO_ROUTE


async def test_a_package_refusing_below_cost(sessions, settings):
    # given an override selling the UK at 0.0050 under a cost of 0.0100
    _r, _d, package, _c, sub = await world(sessions, settings)
    async with transaction(sessions) as s:
        s.add(PackageOverride(package_id=package.id, kind="prefix", key="44", rate=5_000))
        row = await s.get(type(package), package.id)
        row.version += 1
    d = await ask(sessions, settings, sub_account_username=sub.username, destination="447")
    assert (d.allowed, d.rule, d.sell_rate) == (True, "prefix", Decimal(5_000))
    # when the package opts to refuse calls sold below cost
    async with transaction(sessions) as s:
        row = await s.get(type(package), package.id)
        row.refuse_below_cost, row.version = True, row.version + 1
    d = await ask(sessions, settings, sub_account_username=sub.username, destination="447")
    assert (d.allowed, d.reason) == (False, Reason.BELOW_COST)
    # and a destination sold above cost still goes through
    d = await ask(sessions, settings, sub_account_username=sub.username, destination="1212")
    assert d.allowed


async def test_a_rate_change_is_seen_by_the_next_authorization(sessions, settings):
    _r, deck, *_, sub = await world(sessions, settings)
    d = await ask(sessions, settings, sub_account_username=sub.username, destination="447")
    assert d.sell_rate == Decimal(12_000)
    # when the UK rate doubles
    async with transaction(sessions) as s:
        await set_rate(s, deck, "44", 20_000)
    # then the very next authorization prices at the new rate
    d = await ask(sessions, settings, sub_account_username=sub.username, destination="447")
    assert (d.cost_rate, d.sell_rate, d.max_seconds) == (20_000, Decimal(24_000), 2496)


async def test_a_package_change_is_seen_by_the_next_authorization(sessions, settings):
    _r, _d, package, _c, sub = await world(sessions, settings)
    await ask(sessions, settings, sub_account_username=sub.username, destination="447")
    async with transaction(sessions) as s:
        row = await s.get(type(package), package.id)
        row.markup_pct, row.version = Decimal(50), row.version + 1
    d = await ask(sessions, settings, sub_account_username=sub.username, destination="447")
    assert d.sell_rate == Decimal(15_000)


async def test_the_callers_row_read_on_the_driver_is_sqlalchemys(engine, sessions, settings):
    # given a client with a personal percent (a Numeric) and a deck and package (timestamps)
    _r, _d, _p, client, sub = await world(sessions, settings, model="commission")
    async with transaction(sessions) as s:
        (await accounts.get_client(s, SYSTEM, client.id)).personal_rate_pct = Decimal("12.5")
    params = {"dialled": "447", "calling": "447", "key": sub.username}
    query = authorize_module._BY_SUB_ACCOUNT
    # when the caller's row is read on the driver, and through SQLAlchemy
    fast = await query.first(engine, params)
    async with engine.connect() as conn:
        slow = (await conn.execute(query.statement, params)).first()
    # then it is the same row, value for value and type for type
    assert fast._asdict() == slow._asdict()
    assert [type(v) for v in fast] == [type(v) for v in slow]
    assert fast.id == client.id and fast.personal_rate_pct == Decimal("12.5")


async def test_warm_up_builds_the_decks_before_the_first_authorization(engine, sessions, settings):
    *_, sub = await world(sessions, settings)
    assert await authorize_module.warm_up(engine) >= 1
    with count_statements(engine) as statements:
        d = await ask(sessions, settings, sub_account_username=sub.username, destination="447")
    assert d.allowed
    assert not [s for s in statements if "FROM rates" in s]
    # and the batch lookup that ingestion uses is built too, not left to the first batch
    async with sessions() as s:
        priced_on = select(Reseller.base_deck_id).where(Reseller.base_deck_id.is_not(None))
        deck_ids = set(await s.scalars(priced_on))
        indexes = [await rating.deck_index(s, deck_id) for deck_id in deck_ids]
    assert indexes and all(index._ranges is not None for index in indexes)
