"""Call authorization: the switch asks, before connecting, whether a call may go through and
for how long.

Who calls, in this order:
  1. a sub-account username (SIP account);
  2. else an A-number listed on a client (``client_numbers``);
  3. else a PIN given with the call: the client whose PIN digest matches.
  An unlisted (or withheld) A-number without a PIN is ``PIN_REQUIRED`` (the switch may prompt for
  one); an unknown sub-account, or a PIN that matches nobody, is ``UNKNOWN_CALLER``. A caller of
  another tenant than the asking reseller's is unknown too (only the operator sees all).

Numbers (``api.domain.dialing``): the A-number is read without a home country (as client
numbers are stored); the dialled number by the caller's reseller's home country, so that
``011…`` from a North-American switch or ``0…`` from a British one is priced by its country code.
When that reading differs from the one without (the caller's query checked the blacklist for
that one), one more indexed query checks the blacklist for it.

Then, in this order (the first that applies is the answer):
  reseller suspended -> SUSPENDED; the destination or the calling number on the reseller's
  blacklist, or the client itself -> BLACKLISTED (with the entry's reason text); sub-account
  disabled -> SUSPENDED; client not active -> INSUFFICIENT_FUNDS when the balance rule suspended
  it (``accounts.AUTO_SUSPEND_REASON``), CREDIT_LIMIT_REACHED when that rule blocked it at its
  credit limit, else SUSPENDED with the status reason a person gave, whatever the balance;
  no base deck or no matching prefix -> NO_ROUTE; a package that refuses calls sold below cost
  selling below it -> BELOW_COST; the client cannot pay the first increment ->
  INSUFFICIENT_FUNDS / CREDIT_LIMIT_REACHED; the reseller cannot pay it at cost (markup model
  only) -> RESELLER_INSUFFICIENT_FUNDS; else ACTIVE.

Prices. Cost: the reseller's base deck. Sell, markup model: the sub-account's package, else the
client's package; with neither, the client pays the deck's cost rate and increments (rule
``base``, no markup — assign a package to earn on calls). Sell, commission model: the base rate
plus the client's personal percent.

Maximum duration = the smallest of: what the client's funds buy at the sell price (strict prepaid:
its balance; postpaid: balance + credit limit; permissive prepaid: not limited, it may go
negative); what the reseller's balance buys at cost (markup model only: commission resellers
don't pay per call); ``DIALTONE_MAX_CALL_SECONDS``. Both use ``rating.max_seconds``, whole
increments.

Rates are read through ``rating.deck_index`` / ``rating.package_pricing``, keyed by the deck's and
package's version that the caller's own query reads: a rate change is seen by the very next
authorization. ``warm_up`` builds the decks' indexes when a process starts, before it takes
traffic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import String, bindparam, cast, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db import DriverQuery
from api.domain import accounts, dialing, rating, secrets
from api.domain.actors import Actor
from api.models import (
    Account,
    BlacklistEntry,
    Client,
    ClientNumber,
    Package,
    RateDeck,
    Reseller,
    SubAccount,
)

DEFAULT_MAX_CALL_SECONDS = 14400


class Reason(StrEnum):
    ACTIVE = "ACTIVE"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    RESELLER_INSUFFICIENT_FUNDS = "RESELLER_INSUFFICIENT_FUNDS"
    SUSPENDED = "SUSPENDED"
    BLACKLISTED = "BLACKLISTED"
    UNKNOWN_CALLER = "UNKNOWN_CALLER"
    PIN_REQUIRED = "PIN_REQUIRED"
    NO_ROUTE = "NO_ROUTE"
    CREDIT_LIMIT_REACHED = "CREDIT_LIMIT_REACHED"
    BELOW_COST = "BELOW_COST"


@dataclass
class Decision:
    allowed: bool
    reason: Reason
    message: str = ""  # the text to play (blacklist reason, status reason)
    max_seconds: int = 0
    reseller_id: int | None = None
    client_id: int | None = None
    sub_account_id: int | None = None
    currency: str = ""
    destination: str = ""  # the normalized dialled number
    prefix: str = ""
    destination_name: str = ""
    cost_rate: int | None = None  # micros per minute
    cost_connection_fee: int | None = None
    cost_first_increment: int | None = None
    cost_increment: int | None = None
    sell_rate: Decimal | None = None  # micros per minute, exact
    sell_connection_fee: Decimal | None = None
    sell_first_increment: int | None = None
    sell_increment: int | None = None
    rule: str = ""  # what set the sell price: prefix | country | nanpa | markup | base | personal


_CLIENT_BALANCE = (
    select(Account.balance)
    .where(Account.key == literal("client:") + cast(Client.id, String))
    .scalar_subquery()
)
_RESELLER_BALANCE = (
    select(Account.balance)
    .where(Account.key == literal("reseller:") + cast(Reseller.id, String))
    .scalar_subquery()
)
_BLACKLISTED = (
    select(BlacklistEntry.reason)
    .where(
        BlacklistEntry.reseller_id == Client.reseller_id,
        or_(
            # two plain parameters (the same number twice when one is missing), not an
            # expanding IN: no re-rendering of the statement on every execution
            BlacklistEntry.number.in_([bindparam("dialled"), bindparam("calling")]),
            BlacklistEntry.client_id == Client.id,
        ),
    )
    .limit(1)
    .scalar_subquery()
)
_CALLER_COLUMNS = (
    Client.id,
    Client.reseller_id,
    Client.status,
    Client.status_reason,
    Client.billing_mode,
    Client.credit_limit,
    Client.package_id,
    Client.personal_rate_pct,
    Reseller.billing_model,
    Reseller.status.label("reseller_status"),
    Reseller.status_reason.label("reseller_status_reason"),
    Reseller.base_deck_id,
    Reseller.currency,
    Reseller.home_country,
    _CLIENT_BALANCE.label("client_balance"),
    _RESELLER_BALANCE.label("reseller_balance"),
    _BLACKLISTED.label("blacklist_reason"),
    # the stamps the rating caches are keyed by, so that a cache hit needs no more SQL
    RateDeck.version.label("deck_version"),
    RateDeck.created_at.label("deck_created_at"),
    Package.version.label("package_version"),
    Package.created_at.label("package_created_at"),
    Package.refuse_below_cost,
)


def _caller_query(package_id, *extra, join=None):
    """The caller's client and reseller, both balances, the reason of the first blacklist entry
    of that reseller naming a ``checked`` number or the client, and the version stamps of the
    base deck and of the package that prices the call: one round trip, built once."""
    stmt = select(*_CALLER_COLUMNS, *extra).select_from(Client)
    if join is not None:
        stmt = stmt.join(*join)
    return (
        stmt.join(Reseller, Reseller.id == Client.reseller_id)
        .outerjoin(RateDeck, RateDeck.id == Reseller.base_deck_id)
        .outerjoin(Package, Package.id == package_id)
        .where(Client.deleted_at.is_(None))
    )


# run on the driver: the hot path of a switch's authorization (``DriverQuery``)
_BY_SUB_ACCOUNT = DriverQuery(
    _caller_query(
        func.coalesce(SubAccount.package_id, Client.package_id),
        SubAccount.id.label("sub_id"),
        SubAccount.status.label("sub_status"),
        SubAccount.package_id.label("sub_package_id"),
        join=(SubAccount, SubAccount.client_id == Client.id),
    ).where(SubAccount.username == bindparam("key"))
)
_BY_NUMBER = DriverQuery(
    _caller_query(
        Client.package_id, join=(ClientNumber, ClientNumber.client_id == Client.id)
    ).where(ClientNumber.number == bindparam("key"))
)
_BY_PIN = DriverQuery(_caller_query(Client.package_id).where(Client.pin_digest == bindparam("key")))
# the reason of a blacklist entry of the reseller for a number, when its dial plan reads the
# dialled number otherwise than the caller's query did
_BLACKLIST_REASON = DriverQuery(
    select(BlacklistEntry.reason)
    .where(
        BlacklistEntry.reseller_id == bindparam("reseller_id"),
        BlacklistEntry.number == bindparam("number"),
    )
    .limit(1)
)


async def warm_up(engine: AsyncEngine) -> int:
    """Build this process's index of every deck a reseller prices on (how many), and its batch
    lookup, and the dial plans of the resellers' home countries, so that the first
    authorizations and batches of calls after a start need not wait for them (100,000
    prefixes take about a second of CPU, during which the process answers nothing else)."""
    async with engine.connect() as conn:
        deck_ids = (
            await conn.scalars(
                select(Reseller.base_deck_id).where(Reseller.base_deck_id.is_not(None)).distinct()
            )
        ).all()
        homes = (await conn.scalars(select(Reseller.home_country).distinct())).all()
    for home in homes:
        dialing.normalizer(home)
    for deck_id in deck_ids:
        (await rating.deck_index(engine, deck_id)).prepare_batches()
    return len(deck_ids)


async def authorize(
    db: rating.Database,
    actor: Actor | None = None,
    *,
    sub_account_username: str | None = None,
    a_number: str | None = None,
    pin: str | None = None,
    destination: str,
    now: datetime | None = None,
    secret_key: str = "",
    max_call_seconds: int = DEFAULT_MAX_CALL_SECONDS,
) -> Decision:
    """May this call go through, and for how long? ``actor`` scopes the lookup to its tenant
    (the operator, the switch key or ``None`` see every tenant); the caller checks the
    permission (``calls:write``) before asking."""
    scope = None if actor is None or actor.is_operator else actor.reseller_id
    # read without a home country until the caller (and so its reseller's) is known
    number = dialing.normalize(destination or "")
    calling = dialing.normalize(a_number or "")
    sub_id = sub_status = sub_package = None
    # the numbers the blacklist is checked for
    checked = {"dialled": number or calling, "calling": calling or number}

    # who calls
    if sub_account_username:
        row = await _BY_SUB_ACCOUNT.first(db, {**checked, "key": sub_account_username.strip()})
        if row is not None:
            sub_id, sub_status, sub_package = row.sub_id, row.sub_status, row.sub_package_id
    else:
        row = None
        if calling:
            row = await _BY_NUMBER.first(db, {**checked, "key": calling})
        if row is None:
            if not pin:
                return Decision(False, Reason.PIN_REQUIRED, "enter your PIN", destination=number)
            digest = secrets.pin_digest(secret_key, pin.strip())
            row = await _BY_PIN.first(db, {**checked, "key": digest})
    if row is None or (scope is not None and row.reseller_id != scope):
        return Decision(False, Reason.UNKNOWN_CALLER, "unknown caller", destination=number)
    blacklist_reason = row.blacklist_reason
    if row.home_country:
        dialled = dialing.normalize(destination or "", row.home_country)
        if dialled != number:
            number = dialled
            if blacklist_reason is None:
                params = {"reseller_id": row.reseller_id, "number": number}
                listed = await _BLACKLIST_REASON.first(db, params)
                blacklist_reason = listed.reason if listed is not None else None

    decision = Decision(
        False,
        Reason.ACTIVE,
        reseller_id=row.reseller_id,
        client_id=row.id,
        sub_account_id=sub_id,
        currency=row.currency,
        destination=number,
    )

    def refuse(reason: Reason, message: str = "") -> Decision:
        decision.reason, decision.message, decision.allowed = reason, message, False
        decision.max_seconds = 0
        return decision

    if row.reseller_status != "active":
        return refuse(Reason.SUSPENDED, row.reseller_status_reason or "service suspended")

    # the reseller's blacklist: the destination, the calling number, or the client
    if blacklist_reason is not None:
        return refuse(Reason.BLACKLISTED, blacklist_reason)

    if sub_status is not None and sub_status != "active":
        return refuse(Reason.SUSPENDED, "sub-account disabled")

    balance = row.client_balance or 0
    mode = row.billing_mode
    if row.status != "active":
        if row.status_reason == accounts.AUTO_SUSPEND_REASON:
            return refuse(Reason.INSUFFICIENT_FUNDS, "insufficient funds")
        if row.status_reason == accounts.AUTO_BLOCK_REASON:
            return refuse(Reason.CREDIT_LIMIT_REACHED, "credit limit reached")
        return refuse(Reason.SUSPENDED, row.status_reason or "service suspended")

    # prices
    if row.base_deck_id is None or not number:
        return refuse(Reason.NO_ROUTE, "no route to this destination")
    index = await rating.deck_index(db, row.base_deck_id, (row.deck_version, row.deck_created_at))
    cost = index.lookup(number, now)
    if cost is None:
        return refuse(Reason.NO_ROUTE, "no route to this destination")
    markup = row.billing_model == "markup"
    refuse_below_cost = False
    if not markup:
        sell = rating.commission_price(cost, row.personal_rate_pct or Decimal(0))
    else:
        package_id = sub_package or row.package_id
        pricing = None
        if package_id:
            stamp = (row.package_version, row.package_created_at)
            pricing = await rating.package_pricing(db, package_id, stamp)
        if pricing is None:
            sell = rating.commission_price(cost, Decimal(0))
        else:
            sell = pricing.price(number, cost)
            refuse_below_cost = bool(row.refuse_below_cost)
    decision.prefix, decision.destination_name = cost.prefix, cost.destination
    decision.cost_rate, decision.cost_connection_fee = cost.rate, cost.connection_fee
    decision.cost_first_increment, decision.cost_increment = cost.first_increment, cost.increment
    decision.sell_rate, decision.sell_connection_fee = sell.rate, sell.connection_fee
    decision.sell_first_increment, decision.sell_increment = sell.first_increment, sell.increment
    decision.rule = sell.rule
    if refuse_below_cost and (sell.rate < cost.rate or sell.connection_fee < cost.connection_fee):
        return refuse(Reason.BELOW_COST, "this destination is not available")

    # how long
    cap = max_call_seconds
    longest = cap
    if mode != "prepaid_permissive":
        funds = balance + (row.credit_limit if mode == "postpaid" else 0)
        longest = rating.max_seconds(
            funds, sell.rate, sell.connection_fee, sell.first_increment, sell.increment, cap
        )
        if longest <= 0:
            if mode == "postpaid":
                return refuse(Reason.CREDIT_LIMIT_REACHED, "credit limit reached")
            return refuse(Reason.INSUFFICIENT_FUNDS, "insufficient funds")
    if markup:
        reseller_longest = rating.max_seconds(
            row.reseller_balance or 0,
            cost.rate,
            cost.connection_fee,
            cost.first_increment,
            cost.increment,
            cap,
        )
        if reseller_longest <= 0:
            return refuse(Reason.RESELLER_INSUFFICIENT_FUNDS, "service temporarily unavailable")
        longest = min(longest, reseller_longest)
    decision.allowed, decision.max_seconds = True, longest
    return decision
