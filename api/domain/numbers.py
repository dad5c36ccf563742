"""Numbers (DIDs): the operator's inventory, orders by resellers, assignment to clients.

Inventory. The operator imports numbers from CSV (``dialtone dids import FILE``, or
``didsImport``) with the header ``number,country,city,monthly_cost,setup_cost,per_minute,
currency`` (columns in any order; ``number``, ``country`` and ``monthly_cost`` required).
``number`` is E.164 (a leading ``+``, spaces, dots, dashes and brackets are dropped: 7 to 15
digits, not starting with 0); ``country`` an ISO 3166 alpha-2 code; ``city`` the city or rate
centre; the costs are the operator's, in units (``1.50``): monthly, one-time setup (blank 0),
and the inbound rate per minute (blank 0: a flat-rate number); ``currency`` blank = the
import's default. A number already in the inventory and still available is updated; one a
reseller holds is refused (its costs do not change under it). Bad rows are reported with their
line number and reason; the good ones land.

Life of a number (``status``):

* ``available`` — in the inventory. Every reseller may search it: lists show a reseller the
  numbers in its own currency; one in another currency is refused when ordered.
* ``owned`` — a reseller ordered it: its setup cost was charged to the reseller's balance at
  once, through the ledger (``payments.did_setup_fee``: refused with INSUFFICIENT_FUNDS and
  nothing changed when the balance does not cover it), in the same transaction as the change
  of owner. The order is a conditional ``UPDATE … WHERE status = 'available'`` checked by its
  row count, so of two resellers ordering the same number at once exactly one gets it (the
  other is told it is no longer available). Orders take an idempotency key: the same request
  again (even at the same moment) answers as the first did; a key whose number was released
  since is refused. A number without setup cost moves no money and makes no entry, so ordering
  it again is a conflict, not a replay. The reseller's monthly cost is due from the order's day
  (``reseller_next_billing_date``, for the recurring fees); its setup is marked charged.
* ``assigned`` — the reseller gave it to one of its clients, optionally to one of that
  client's sub-accounts, with its own monthly and setup price. Routing: ``forward`` when a
  forwarding number is given, else ``sub_account`` when a sub-account is, else ``none``. The
  client's monthly price is due from the assignment's day (``client_next_billing_date``); its
  setup price is charged later, when the reseller asks for it (``client_setup_fee_charged``
  stays false here). Unassigning makes it ``owned`` again, the client's side cleared.

Releasing gives an ``owned`` number back to the inventory (``available``, every reseller field
cleared); an assigned number must be unassigned first, so that a client never loses a number
by a single step. Nothing is refunded. Every change is an audit event on the number
(``did.ordered``, ``did.assigned``, ``did.unassigned``, ``did.released``; an import is one
``did.imported`` event), which is the number's history. A client holding numbers cannot be
deleted, nor can a sub-account numbers are assigned to.

Who may do what: the inventory is the operator's (``resellers:write`` imports); listing needs
``clients:read`` (a reseller sees its own numbers and the available ones in its currency; a
client user the numbers assigned to it, without the operator's costs); ordering, assigning,
unassigning and releasing need ``clients:write`` (a reseller for itself, the operator naming
the reseller). Another reseller's number is not found. The reports need ``reports:read``.

Forwarding of an assigned number (:func:`set_forwarding`): to one of its client's sub-accounts,
to an outside number, or nowhere. The reseller may set it (``clients:write``), and so may the
client user holding the number (``self:write``): that is the only thing a client changes on a
number; another client's number is not found.

Inbound calls: :func:`inbound_rate` looks up many dialled numbers in one statement and tells
who holds each one and its per-minute inbound rate, for rating.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from api import money
from api.domain import accounts, audit, callers, dialing, ledger, payments
from api.domain import validation as v
from api.domain.actors import Actor
from api.domain.errors import DomainError, ErrorCode, invalid, not_found
from api.domain.rates import ImportResult, RowError, csv_micros, read_csv
from api.models import Client, Did, Package, Reseller, SubAccount
from api.models.base import utcnow

STATUSES = ("available", "owned", "assigned")
ROUTINGS = ("none", "sub_account", "forward")
CSV_COLUMNS = (
    "number",
    "country",
    "city",
    "monthly_cost",
    "setup_cost",
    "per_minute",
    "currency",
)
REQUIRED_COLUMNS = ("number", "country", "monthly_cost")
CHUNK = 1000
LOOKUP_CHUNK = 500
NUMBER_RE = re.compile(r"^[1-9][0-9]{6,14}$")
NUMBER_CHARS_RE = re.compile(r"^\+?[0-9 ().-]+$")
MAX_CITY = 200
MAX_SHOWN_IN_MESSAGE = 10
AUDIT_FIELDS = (
    "number",
    "status",
    "reseller_id",
    "client_id",
    "sub_account_id",
    "routing",
    "forward_to",
    "monthly_price",
    "setup_price",
    "reseller_next_billing_date",
    "client_next_billing_date",
)


# --- numbers -----------------------------------------------------------------------------------


def normalize(raw: str) -> str:
    """E.164 digits of a number (``+``, spaces, dots, dashes, brackets dropped), or ValueError."""
    text = (raw or "").strip()
    if not NUMBER_CHARS_RE.match(text):
        raise ValueError(f"number must be E.164 digits with an optional leading +: {raw!r}")
    digits = "".join(ch for ch in text if ch.isdigit())
    if not NUMBER_RE.match(digits):
        raise ValueError(f"number must be 7 to 15 digits, not starting with 0: {raw!r}")
    return digits


def _csv_row(cells: dict[str, str], default_currency: str) -> dict[str, Any]:
    number = normalize(cells["number"])
    country = cells["country"].strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise ValueError(f"country must be a two-letter ISO code: {country!r}")
    city = cells.get("city", "").strip()
    if len(city) > MAX_CITY or not city.isprintable():
        raise ValueError(f"city takes at most {MAX_CITY} printable characters")
    currency = cells.get("currency", "").strip().upper() or default_currency
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise ValueError(f"currency must be a three-letter ISO code: {currency!r}")
    return {
        "number": number,
        "country": country,
        "city": city,
        "currency": currency,
        "monthly_cost": csv_micros("monthly_cost", cells["monthly_cost"], blank_zero=False),
        "setup_cost": csv_micros("setup_cost", cells.get("setup_cost", ""), blank_zero=True),
        "inbound_rate": csv_micros("per_minute", cells.get("per_minute", ""), blank_zero=True),
    }


# --- import ------------------------------------------------------------------------------------


def _require_operator(actor: Actor, permission: str) -> None:
    actor.require(permission)
    if not actor.is_operator:
        raise DomainError(ErrorCode.PERMISSION_DENIED, "the number inventory is the operator's")


def _upsert(session: AsyncSession):
    if session.bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = Did.__table__
    stmt = insert(table)
    columns = ("country", "city", "currency", "monthly_cost", "setup_cost", "inbound_rate")
    return stmt.on_conflict_do_update(
        index_elements=["number"],
        set_={
            **{name: stmt.excluded[name] for name in columns},
            "updated_at": stmt.excluded.updated_at,
        },
        where=table.c.status == "available",
    )


async def import_numbers(
    session: AsyncSession,
    actor: Actor,
    lines: Iterable[str],
    *,
    currency: str = "USD",
    progress: Callable[[int], None] | None = None,
    chunk: int = CHUNK,
) -> ImportResult:
    """Import CSV rows into the inventory (see the module docstring); ``progress`` is called
    with the number of rows read after each chunk."""
    _require_operator(actor, "resellers:write")
    default_currency = v.currency("currency", currency)
    result = ImportResult()
    stmt = _upsert(session)
    conn = await session.connection()
    batch: list[tuple[int, dict[str, Any]]] = []
    lines_of: dict[str, int] = {}  # number -> the line it was first read on
    seen = 0

    async def flush() -> None:
        if batch:
            held = set(
                await session.scalars(
                    select(Did.number).where(
                        Did.number.in_([row["number"] for _, row in batch]),
                        Did.status != "available",
                    )
                )
            )
            now = utcnow()
            rows = []
            for line, row in batch:
                if row["number"] in held:
                    result.errors.append(
                        RowError(line, f"number {row['number']} is held by a reseller: not changed")
                    )
                    continue
                rows.append({**row, "status": "available", "created_at": now, "updated_at": now})
            if rows:
                await conn.execute(stmt, rows)
                result.imported += len(rows)
            batch.clear()
        if progress is not None:
            progress(seen)

    for line, row, reason in read_csv(
        lines, REQUIRED_COLUMNS, CSV_COLUMNS, lambda cells: _csv_row(cells, default_currency)
    ):
        seen += 1
        if reason is None and row["number"] in lines_of:
            reason = f"number {row['number']} is already on line {lines_of[row['number']]}"
        if reason is not None:
            result.errors.append(RowError(line, reason))
            continue
        lines_of[row["number"]] = line
        batch.append((line, row))
        if len(batch) >= chunk:
            await flush()
    await flush()
    result.errors.sort(key=lambda e: e.line)
    if result.imported:
        await audit.record(
            session,
            actor,
            subject_type="did_inventory",
            subject_id=0,
            action="did.imported",
            reseller_id=None,
            after={"imported": result.imported, "rejected": result.rejected},
        )
    return result


# --- reading -----------------------------------------------------------------------------------


def _reseller_currency(actor: Actor):
    return select(Reseller.currency).where(Reseller.id == actor.reseller_id).scalar_subquery()


def _visible(actor: Actor) -> list:
    """Conditions for the numbers an actor may see (see the module docstring)."""
    if not actor.is_authenticated:
        return [False]
    if actor.client_id is not None:
        return [Did.client_id == actor.client_id, Did.status == "assigned"]
    if not actor.can("clients:read"):
        return [False]
    if actor.is_operator:
        return []
    return [
        or_(
            Did.reseller_id == actor.reseller_id,
            and_(Did.status == "available", Did.currency == _reseller_currency(actor)),
        )
    ]


def dids_query(
    actor: Actor,
    *,
    status: str | None = None,
    country: str | None = None,
    city: str | None = None,
    prefix: str | None = None,
    reseller_id: int | None = None,
    client_id: int | None = None,
    sub_account_id: int | None = None,
) -> Select:
    """The numbers an actor may list, with optional filters: status, country, city (a part of
    it, any case), number prefix (digits), reseller (operator), client, sub-account."""
    stmt = select(Did).where(*_visible(actor))
    if status is not None:
        stmt = stmt.where(Did.status == v.choice("status", status, STATUSES))
    if country:
        stmt = stmt.where(Did.country == v.country("country", country))
    if city:
        city = v.text("city", city, max_len=MAX_CITY)
        stmt = stmt.where(func.lower(Did.city).contains(city.lower(), autoescape=True))
    if prefix:
        digits = "".join(ch for ch in prefix if ch.isdigit())
        if not digits or len(digits) > 15 or not NUMBER_CHARS_RE.match(prefix.strip()):
            raise invalid("prefix", "a number prefix is 1 to 15 digits")
        stmt = stmt.where(Did.number.startswith(digits))
    if reseller_id is not None:
        stmt = stmt.where(Did.reseller_id == reseller_id)
    if client_id is not None:
        stmt = stmt.where(Did.client_id == client_id)
    if sub_account_id is not None:
        stmt = stmt.where(Did.sub_account_id == sub_account_id)
    return stmt


def available_query(actor: Actor, **filters: Any) -> Select:
    """The available numbers of the inventory an actor may order (search)."""
    if actor.client_id is not None:
        return select(Did).where(False)
    return dids_query(actor, status="available", **filters)


def can_see(actor: Actor, did: Did) -> bool:
    if not actor.is_authenticated:
        return False
    if actor.client_id is not None:
        return did.status == "assigned" and did.client_id == actor.client_id
    if not actor.can("clients:read"):
        return False
    return actor.is_operator or did.reseller_id == actor.reseller_id or did.status == "available"


async def get_did(
    session: AsyncSession, actor: Actor, did_id: int | None, *, field: str = "id"
) -> Did:
    """A number the actor may see; another reseller's is not found."""
    did = await session.get(Did, did_id) if did_id else None
    if did is None or not can_see(actor, did):
        raise not_found("number", field)
    return did


def shows_cost(actor: Actor) -> bool:
    """Whether the viewer may see the operator's costs of a number (not a client)."""
    return actor.client_id is None


async def _acting_reseller(
    session: AsyncSession, actor: Actor, reseller_id: int | None
) -> Reseller:
    reseller = await accounts.acting_reseller(session, actor, reseller_id, "clients:write")
    if reseller is None:
        raise invalid("resellerId", "the operator must name the reseller")
    return reseller


async def _reseller_of(session: AsyncSession, actor: Actor, did: Did) -> Reseller:
    actor.require("clients:write")
    if did.reseller_id is None or not actor.sees_reseller(did.reseller_id):
        raise not_found("number", "id")
    reseller = await session.get(Reseller, did.reseller_id)
    assert reseller is not None
    return reseller


# --- ordering ----------------------------------------------------------------------------------


@dataclass
class Order:
    did: Did
    replayed: bool = False
    entry_id: int | None = None


async def order(
    session: AsyncSession,
    actor: Actor,
    did_id: int | None,
    key: str,
    *,
    reseller_id: int | None = None,
) -> Order:
    """A reseller orders an available number: it becomes the reseller's, and its setup cost is
    charged to the reseller's balance at once (see the module docstring)."""
    reseller = await _acting_reseller(session, actor, reseller_id)
    did = await session.get(Did, did_id) if did_id else None
    if did is None:
        raise not_found("number", "id")
    idem = payments.Idempotency.of(
        payments.idem_scope(actor),
        key,
        "did_order",
        {"reseller": reseller.id, "did": did.id, "amount": did.setup_cost},
    )
    entry = await ledger.find_replay(session, idem)  # checks the key, refuses another request's
    if entry is not None:
        if did.reseller_id == reseller.id:
            return Order(did, replayed=True, entry_id=entry.id)
        raise DomainError(
            ErrorCode.CONFLICT,
            "this key ordered the number before and it was released since: use a new key",
            "idempotencyKey",
        )
    if did.reseller_id == reseller.id:
        raise DomainError(ErrorCode.CONFLICT, "the reseller already holds this number", "id")
    if did.status != "available" or not (actor.is_operator or can_see(actor, did)):
        raise not_found("number", "id")
    if did.currency != reseller.currency:
        raise invalid(
            "id",
            f"the number is priced in {did.currency}, the reseller's balance is in "
            f"{reseller.currency}",
        )
    today = utcnow()
    async with session.begin_nested():
        taken = await session.execute(
            update(Did)
            .where(Did.id == did.id, Did.status == "available")
            .values(
                status="owned",
                reseller_id=reseller.id,
                ordered_at=today,
                reseller_next_billing_date=today.date(),
                reseller_setup_fee_charged=True,
                updated_at=today,
            )
            .returning(Did.id),
            execution_options={"synchronize_session": False},
        )
        if taken.scalar_one_or_none() is None:
            return await _lost_race(session, did, reseller, idem)
        await session.refresh(did)
        entry_id = None
        if did.setup_cost:
            moved = await payments.did_setup_fee(
                session, actor, reseller, did.id, did.number, did.setup_cost, key
            )
            entry_id = moved.entry.id
            did.order_entry_id = entry_id
        await session.flush()
        await audit.record(
            session,
            actor,
            subject_type="did",
            subject_id=did.id,
            action="did.ordered",
            reseller_id=reseller.id,
            before={"status": "available"},
            after={
                **audit.snapshot(did, AUDIT_FIELDS),
                "setup_cost": money.format_amount(did.setup_cost),
                "monthly_cost": money.format_amount(did.monthly_cost),
                "currency": did.currency,
            },
        )
    return Order(did, entry_id=entry_id)


async def _lost_race(
    session: AsyncSession, did: Did, reseller: Reseller, idem: ledger.Idempotency
) -> Order:
    """Someone ordered the number between our read and our update (PostgreSQL: our update
    waited for its commit). The same request under the same key answers as a replay;
    anyone else's order is a conflict."""
    await session.refresh(did)
    entry = await ledger.find_replay(session, idem)
    if entry is not None and did.reseller_id == reseller.id:
        return Order(did, replayed=True, entry_id=entry.id)
    raise DomainError(ErrorCode.CONFLICT, "the number was just ordered by someone else", "id")


# --- assigning ---------------------------------------------------------------------------------


async def assign(
    session: AsyncSession,
    actor: Actor,
    did_id: int | None,
    client_id: int | None,
    *,
    sub_account_id: int | None = None,
    forward_to: str | None = None,
    monthly_price: Any = 0,
    setup_price: Any = 0,
) -> Did:
    """Give a number the reseller holds to one of its clients (see the module docstring)."""
    actor.require("clients:write")
    did = await session.get(Did, did_id, with_for_update=True) if did_id else None
    if did is None or not can_see(actor, did):
        raise not_found("number", "id")
    if did.status == "available":
        raise DomainError(ErrorCode.CONFLICT, "order the number before assigning it", "id")
    reseller = await _reseller_of(session, actor, did)
    if did.status == "assigned":
        raise DomainError(
            ErrorCode.CONFLICT, "the number is assigned to a client: unassign it first", "id"
        )
    client = await session.get(Client, client_id) if client_id else None
    if client is None or client.deleted_at is not None or client.reseller_id != reseller.id:
        raise not_found("client", "clientId")
    sub = None
    if sub_account_id is not None:
        sub = await session.get(SubAccount, sub_account_id)
        if sub is None or sub.client_id != client.id:
            raise not_found("sub-account", "subAccountId")
    forward = callers.phone_number("forwardTo", forward_to)
    monthly = v.amount("monthlyPrice", monthly_price, non_negative=True)
    setup = v.amount("setupPrice", setup_price, non_negative=True)
    before = audit.snapshot(did, AUDIT_FIELDS)
    now = utcnow()
    did.status, did.client_id = "assigned", client.id
    did.sub_account_id = sub.id if sub else None
    did.forward_to = forward
    did.routing = "forward" if forward else ("sub_account" if sub else "none")
    did.monthly_price, did.setup_price = monthly, setup
    did.client_next_billing_date = now.date()
    did.client_setup_fee_charged = False
    did.assigned_at = now
    await session.flush()
    await audit.record(
        session,
        actor,
        subject_type="did",
        subject_id=did.id,
        action="did.assigned",
        reseller_id=reseller.id,
        client_id=client.id,
        before=before,
        after={**audit.snapshot(did, AUDIT_FIELDS), "currency": did.currency},
    )
    return did


async def set_forwarding(
    session: AsyncSession,
    actor: Actor,
    did_id: int | None,
    *,
    sub_account_id: int | None = None,
    forward_to: str | None = None,
) -> Did:
    """Where an assigned number's calls go: one of its client's sub-accounts, an outside number
    (``forward_to``), or, with neither, nowhere (``none``). Both at once is refused."""
    actor.require("self:write" if actor.client_id is not None else "clients:write")
    did = await session.get(Did, did_id, with_for_update=True) if did_id else None
    if did is None or not can_see(actor, did) or did.status != "assigned":
        raise not_found("number", "id")
    if actor.client_id is None and (
        did.reseller_id is None or not actor.sees_reseller(did.reseller_id)
    ):
        raise not_found("number", "id")
    forward = callers.phone_number("forwardTo", forward_to)
    if forward and sub_account_id is not None:
        raise invalid("forwardTo", "forward to a sub-account or to a number, not both at once")
    sub = None
    if sub_account_id is not None:
        sub = await session.get(SubAccount, sub_account_id)
        if sub is None or sub.client_id != did.client_id:
            raise not_found("sub-account", "subAccountId")
        if sub.status != "active":
            raise invalid("subAccountId", f"the sub-account {sub.username} is disabled")
    if forward and forward == did.number:
        raise invalid("forwardTo", "a number cannot forward to itself")
    before = audit.snapshot(did, AUDIT_FIELDS)
    did.sub_account_id = sub.id if sub else None
    did.forward_to = forward
    did.routing = "forward" if forward else ("sub_account" if sub else "none")
    await session.flush()
    after = audit.snapshot(did, AUDIT_FIELDS)
    if after != before:
        await audit.record(
            session,
            actor,
            subject_type="did",
            subject_id=did.id,
            action="did.forwarding_set",
            reseller_id=did.reseller_id,
            client_id=did.client_id,
            before=before,
            after=after,
        )
    return did


def _clear_client_side(did: Did) -> None:
    did.client_id = did.sub_account_id = None
    did.routing, did.forward_to = "none", ""
    did.monthly_price = did.setup_price = 0
    did.client_next_billing_date, did.client_setup_fee_charged = None, False
    did.assigned_at = None


async def unassign(session: AsyncSession, actor: Actor, did_id: int | None) -> Did:
    """Take a number back from its client: the reseller still holds it."""
    actor.require("clients:write")
    did = await session.get(Did, did_id, with_for_update=True) if did_id else None
    if did is None or not can_see(actor, did) or did.reseller_id is None:
        raise not_found("number", "id")
    reseller = await _reseller_of(session, actor, did)
    if did.status != "assigned":
        raise DomainError(ErrorCode.CONFLICT, "the number is not assigned to a client", "id")
    before = audit.snapshot(did, AUDIT_FIELDS)
    client_id = did.client_id
    _clear_client_side(did)
    did.status = "owned"
    await session.flush()
    await audit.record(
        session,
        actor,
        subject_type="did",
        subject_id=did.id,
        action="did.unassigned",
        reseller_id=reseller.id,
        client_id=client_id,
        before=before,
        after=audit.snapshot(did, AUDIT_FIELDS),
    )
    return did


async def release(session: AsyncSession, actor: Actor, did_id: int | None) -> Did:
    """Give a number the reseller holds back to the inventory (refused while assigned)."""
    actor.require("clients:write")
    did = await session.get(Did, did_id, with_for_update=True) if did_id else None
    if did is None or not can_see(actor, did) or did.reseller_id is None:
        raise not_found("number", "id")
    reseller = await _reseller_of(session, actor, did)
    if did.status == "assigned":
        raise DomainError(
            ErrorCode.CONFLICT, "the number is assigned to a client: unassign it first", "id"
        )
    before = audit.snapshot(did, AUDIT_FIELDS)
    _clear_client_side(did)
    did.status, did.reseller_id = "available", None
    did.reseller_next_billing_date, did.reseller_setup_fee_charged = None, False
    did.order_entry_id, did.ordered_at = None, None
    await session.flush()
    await audit.record(
        session,
        actor,
        subject_type="did",
        subject_id=did.id,
        action="did.released",
        reseller_id=reseller.id,
        before=before,
        after=audit.snapshot(did, AUDIT_FIELDS),
    )
    return did


# --- what DIDs block ---------------------------------------------------------------------------


def _numbers_sentence(numbers: list[str], total: int) -> str:
    shown = ", ".join(numbers[:MAX_SHOWN_IN_MESSAGE])
    more = total - min(total, MAX_SHOWN_IN_MESSAGE)
    return shown + (f" and {more} more" if more else "")


async def _client_dids_blocker(session: AsyncSession, client: Client) -> str | None:
    numbers = list(
        await session.scalars(
            select(Did.number).where(Did.client_id == client.id).order_by(Did.number)
        )
    )
    if not numbers:
        return None
    label = "DID" if len(numbers) == 1 else "DIDs"
    return f"it holds {len(numbers)} {label} ({_numbers_sentence(numbers, len(numbers))})"


accounts.DELETE_BLOCKERS.append(_client_dids_blocker)


async def sub_account_blocker(session: AsyncSession, sub_account_id: int) -> str | None:
    """Why a sub-account cannot be deleted: numbers assigned to it (or None)."""
    numbers = list(
        await session.scalars(
            select(Did.number).where(Did.sub_account_id == sub_account_id).order_by(Did.number)
        )
    )
    if not numbers:
        return None
    shown = _numbers_sentence(numbers, len(numbers))
    return f"numbers are assigned to it ({shown}); unassign them first"


# --- inbound calls -----------------------------------------------------------------------------


class InboundRate(NamedTuple):
    """Who holds a dialled number and what an inbound minute on it costs (micros, 0 = flat)."""

    did_id: int
    client_id: int | None  # None while the reseller holds it unassigned
    reseller_id: int
    sub_account_id: int | None
    inbound_rate_micros: int
    currency: str


async def inbound_rate(
    session_or_conn: AsyncSession | AsyncConnection, numbers: Iterable[str]
) -> dict[str, InboundRate]:
    """The numbers of ``numbers`` that a reseller holds (owned or assigned), keyed by the
    number as given; numbers that are not held, or not numbers, are left out. One statement per
    500 distinct numbers; each is read by ``dialing.normalize`` (``+``, ``00`` and separators
    dropped) before looking up."""
    wanted: dict[str, list[str]] = {}
    for raw in numbers:
        digits = dialing.normalize(raw) if isinstance(raw, str) else ""
        if NUMBER_RE.match(digits):
            wanted.setdefault(digits, []).append(raw)
    table = Did.__table__
    out: dict[str, InboundRate] = {}
    keys = list(wanted)
    for start in range(0, len(keys), LOOKUP_CHUNK):
        part = keys[start : start + LOOKUP_CHUNK]
        rows = await session_or_conn.execute(
            select(
                table.c.number,
                table.c.id,
                table.c.client_id,
                table.c.reseller_id,
                table.c.sub_account_id,
                table.c.inbound_rate,
                table.c.currency,
            ).where(table.c.number.in_(part), table.c.status != "available")
        )
        for number, *rest in rows:
            found = InboundRate(*rest)
            for raw in wanted[number]:
                out[raw] = found
    return out


# --- reports -----------------------------------------------------------------------------------


def _can_report(actor: Actor) -> bool:
    return actor.is_authenticated and actor.client_id is None and actor.can("reports:read")


def did_report_query(
    actor: Actor,
    *,
    status: str | None = None,
    reseller_id: int | None = None,
    client_id: int | None = None,
) -> Select:
    """The DID report: the numbers resellers hold (owned or assigned), of the actor's tenant
    (all for the operator), with optional filters."""
    stmt = select(Did).where(Did.status != "available")
    if not _can_report(actor):
        return stmt.where(False)
    if not actor.is_operator:
        stmt = stmt.where(Did.reseller_id == actor.reseller_id)
    if status is not None:
        stmt = stmt.where(Did.status == v.choice("status", status, STATUSES))
    if reseller_id is not None:
        stmt = stmt.where(Did.reseller_id == reseller_id)
    if client_id is not None:
        stmt = stmt.where(Did.client_id == client_id)
    return stmt


def sub_account_report_query(
    actor: Actor, *, reseller_id: int | None = None, client_id: int | None = None
) -> Select:
    """The sub-account report: every sub-account of the actor's tenant (all for the operator)
    of a client that is not deleted."""
    stmt = select(SubAccount).join(Client, Client.id == SubAccount.client_id)
    stmt = stmt.where(Client.deleted_at.is_(None))
    if not _can_report(actor):
        return stmt.where(False)
    if not actor.is_operator:
        stmt = stmt.where(SubAccount.reseller_id == actor.reseller_id)
    if reseller_id is not None:
        stmt = stmt.where(SubAccount.reseller_id == reseller_id)
    if client_id is not None:
        stmt = stmt.where(SubAccount.client_id == client_id)
    return stmt


@dataclass
class DidReportTotals:
    currency: str
    numbers: int = 0
    assigned: int = 0
    monthly_price: int = 0
    monthly_cost: int = 0

    @property
    def monthly_margin(self) -> int:
        return self.monthly_price - self.monthly_cost


async def did_report_totals(session: AsyncSession, stmt: Select) -> list[DidReportTotals]:
    """Totals of a DID report query, one per currency."""
    sub = stmt.subquery()
    rows = await session.execute(
        select(
            sub.c.currency,
            func.count(),
            func.coalesce(func.sum(case((sub.c.status == "assigned", 1), else_=0)), 0),
            func.coalesce(func.sum(sub.c.monthly_price), 0),
            func.coalesce(func.sum(sub.c.monthly_cost), 0),
        )
        .group_by(sub.c.currency)
        .order_by(sub.c.currency)
    )
    return [DidReportTotals(cur, int(n), int(a), int(p), int(c)) for cur, n, a, p, c in rows]


async def _chunks(
    session: AsyncSession, stmt: Select, key: Any, chunk: int
) -> AsyncIterator[list[Any]]:
    """The rows of a query in id order, in keyset chunks (never the whole result in memory)."""
    after: int | None = None
    while True:
        page = stmt if after is None else stmt.where(key > after)
        rows = list((await session.scalars(page.order_by(key).limit(chunk))).all())
        if rows:
            yield rows
        if len(rows) < chunk:
            return
        after = rows[-1].id
        session.expunge_all()


async def _names(session: AsyncSession, column: Any, ids: set[int]) -> dict[int, Any]:
    ids.discard(None)  # type: ignore[arg-type]
    if not ids:
        return {}
    table = column.class_
    return dict((await session.execute(select(table.id, column).where(table.id.in_(ids)))).all())


@dataclass
class DidReportLine:
    did: Did
    reseller: str
    client: str
    sub_account: str


async def stream_did_report(
    session: AsyncSession, stmt: Select, chunk: int = 1000
) -> AsyncIterator[DidReportLine]:
    """Every number of a DID report query with the names of its reseller, client and
    sub-account (three lookups per chunk), in id order."""
    async for rows in _chunks(session, stmt, Did.id, chunk):
        resellers = await _names(session, Reseller.name, {d.reseller_id for d in rows})
        clients = await _names(session, Client.name, {d.client_id for d in rows})
        subs = await _names(session, SubAccount.username, {d.sub_account_id for d in rows})
        for did in rows:
            yield DidReportLine(
                did,
                resellers.get(did.reseller_id, ""),
                clients.get(did.client_id, ""),
                subs.get(did.sub_account_id, ""),
            )


@dataclass
class SubAccountLine:
    sub_account: SubAccount
    client: str
    package: Package | None
    currency: str
    dids: list[Did] = field(default_factory=list)

    @property
    def dids_monthly_price(self) -> int:
        return sum(d.monthly_price for d in self.dids)


async def stream_sub_account_report(
    session: AsyncSession, stmt: Select, chunk: int = 1000
) -> AsyncIterator[SubAccountLine]:
    """Every sub-account of a sub-account report query with its client's name, its package,
    its reseller's currency and its numbers (four lookups per chunk), in id order."""
    async for rows in _chunks(session, stmt, SubAccount.id, chunk):
        clients = await _names(session, Client.name, {s.client_id for s in rows})
        currencies = await _names(session, Reseller.currency, {s.reseller_id for s in rows})
        package_ids = {s.package_id for s in rows if s.package_id is not None}
        packages = (
            {
                p.id: p
                for p in await session.scalars(select(Package).where(Package.id.in_(package_ids)))
            }
            if package_ids
            else {}
        )
        dids = await dids_of_sub_accounts(session, [s.id for s in rows])
        for sub in rows:
            yield SubAccountLine(
                sub,
                clients.get(sub.client_id, ""),
                packages.get(sub.package_id) if sub.package_id else None,
                currencies.get(sub.reseller_id, ""),
                dids[sub.id],
            )


async def dids_of_sub_accounts(
    session: AsyncSession, sub_account_ids: list[int]
) -> dict[int, list[Did]]:
    out: dict[int, list[Did]] = {i: [] for i in sub_account_ids}
    if sub_account_ids:
        rows = await session.scalars(
            select(Did).where(Did.sub_account_id.in_(sub_account_ids)).order_by(Did.number)
        )
        for did in rows:
            out[did.sub_account_id].append(did)
    return out
