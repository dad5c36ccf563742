"""Rate decks (operator), packages and their overrides (resellers), and rate quotes.

Decks. A deck is imported from CSV with the header
``prefix,destination,country,rate,connection_fee,first_increment,increment,effective_from``
(columns in any order; rate and fee in units, e.g. 0.0100 per minute / per call; increments in
seconds, blank = 60; effective_from an ISO date or date-time, UTC when no zone is given, blank =
the time of the import). The file is streamed and written in chunks through one upsert
statement (``INSERT … ON CONFLICT (deck_id, prefix, effective_from) DO UPDATE``, which SQLite
and PostgreSQL both speak): a row for a prefix and date that exists replaces it, a later date
is kept beside the earlier one as history and takes over from its date. Bad rows are reported
with their line number and reason; the good ones land. Every change bumps ``RateDeck.version``,
which is how every process notices that its cached index (``rating.deck_index``) is stale.

Packages. Owned by a reseller; every change to a package or its overrides bumps
``Package.version`` (``rating.package_pricing`` caches by it). Overrides are set in bulk; a
null rate removes one. ``margin_warnings`` lists the overrides that sell below the cost of a
prefix they price in the reseller's base deck.

Who may do what: decks are the operator's (``resellers:write`` to change, ``resellers:read`` to
read); a reseller reads only its own base deck; clients never see a deck or a cost. Packages
are read with ``clients:read`` and changed with ``clients:write`` by their reseller (or the
operator naming the reseller); another reseller's package is not found.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from api import money
from api.domain import accounts, audit, dialing, rating
from api.domain import validation as v
from api.domain.actors import Actor
from api.domain.errors import DomainError, DomainErrors, ErrorCode, invalid, not_found
from api.models import (
    Client,
    Package,
    PackageOverride,
    Rate,
    RateDeck,
    Reseller,
    SubAccount,
)
from api.models.base import utcnow

DECK_COLUMNS = (
    "prefix",
    "destination",
    "country",
    "rate",
    "connection_fee",
    "first_increment",
    "increment",
    "effective_from",
)
OVERRIDE_COLUMNS = ("kind", "key", "rate", "connection_fee")
OVERRIDE_KINDS = ("prefix", "country", "nanpa")
CHUNK = 2000
MAX_PREFIX = 24
MAX_INCREMENT = 3600
MAX_OVERRIDES = 10_000
DEFAULT_INCREMENT = 60
PREFIX_RE = re.compile(r"^[0-9]{1,24}$")


# --- permissions and lookups -----------------------------------------------------------------


def _require_operator(actor: Actor, permission: str) -> None:
    actor.require(permission)
    if not actor.is_operator:
        raise DomainError(ErrorCode.PERMISSION_DENIED, "rate decks are the operator's")


async def get_deck(
    session: AsyncSession, actor: Actor, deck_id: int | None, field: str = "deckId"
) -> RateDeck:
    """A deck the actor may read: any for the operator, its base deck for a reseller."""
    deck = await session.get(RateDeck, deck_id) if deck_id else None
    if deck is None or not await can_see_deck(session, actor, deck.id):
        raise not_found("rate deck", field)
    return deck


async def can_see_deck(session: AsyncSession, actor: Actor, deck_id: int) -> bool:
    if not actor.is_authenticated or actor.client_id is not None:
        return False
    if actor.is_operator:
        return actor.can("resellers:read")
    if actor.reseller_id is None:
        return False
    base = await session.scalar(
        select(Reseller.base_deck_id).where(Reseller.id == actor.reseller_id)
    )
    return base == deck_id


def decks_query(actor: Actor) -> Select:
    stmt = select(RateDeck)
    if not actor.is_authenticated or actor.client_id is not None:
        return stmt.where(False)
    if actor.is_operator:
        actor.require("resellers:read")
        return stmt
    if actor.reseller_id is None:
        return stmt.where(False)
    base = select(Reseller.base_deck_id).where(Reseller.id == actor.reseller_id)
    return stmt.where(RateDeck.id == base.scalar_subquery())


def rates_query(deck_id: int, prefix: str | None = None) -> Select:
    stmt = select(Rate).where(Rate.deck_id == deck_id)
    if prefix:
        if not PREFIX_RE.match(prefix):
            raise invalid("prefix", "a prefix is digits only")
        stmt = stmt.where(Rate.prefix.startswith(prefix))
    return stmt


async def rate_counts(session: AsyncSession, deck_ids: list[int]) -> dict[int, int]:
    if not deck_ids:
        return {}
    rows = await session.execute(
        select(Rate.deck_id, func.count()).where(Rate.deck_id.in_(deck_ids)).group_by(Rate.deck_id)
    )
    return {deck_id: count for deck_id, count in rows}


# --- decks -----------------------------------------------------------------------------------


async def create_deck(session: AsyncSession, actor: Actor, name: str, currency: str) -> RateDeck:
    _require_operator(actor, "resellers:write")
    fields = v.clean(
        {"name": name, "currency": currency},
        {
            "name": lambda x: v.text("name", x, max_len=100, required=True),
            "currency": lambda x: v.currency("currency", x),
        },
        (("name", "name"), ("currency", "currency")),
    )
    if await session.scalar(select(RateDeck.id).where(RateDeck.name == fields["name"])):
        raise DomainError(ErrorCode.CONFLICT, "a rate deck with this name exists", "name")
    deck = RateDeck(name=fields["name"], currency=fields["currency"], version=1)
    session.add(deck)
    await session.flush()
    await audit.record(
        session,
        actor,
        subject_type="rate_deck",
        subject_id=deck.id,
        action="rate_deck.created",
        reseller_id=None,
        after={"name": deck.name, "currency": deck.currency},
    )
    return deck


async def bump_deck(session: AsyncSession, deck_id: int) -> None:
    await session.execute(
        update(RateDeck).where(RateDeck.id == deck_id).values(version=RateDeck.version + 1)
    )


@dataclass
class RowError:
    line: int
    message: str


@dataclass
class ImportResult:
    imported: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len(self.errors)


def csv_micros(name: str, raw: str, *, blank_zero: bool = False) -> int:
    """A non-negative amount of a CSV import's cell, in micros (blank: 0 when ``blank_zero``)."""
    raw = raw.strip()
    if not raw:
        if blank_zero:
            return 0
        raise ValueError(f"{name} is required")
    try:
        micros = money.parse(raw)
    except money.MoneyError as exc:
        raise ValueError(f"{name}: {exc}") from None
    if micros < 0:
        raise ValueError(f"{name} must not be negative")
    return micros


def _increment(name: str, raw: str) -> int:
    raw = raw.strip()
    if not raw:
        return DEFAULT_INCREMENT
    if not raw.isdigit():
        raise ValueError(f"{name} must be a whole number of seconds")
    value = int(raw)
    if not 1 <= value <= MAX_INCREMENT:
        raise ValueError(f"{name} must be between 1 and {MAX_INCREMENT} seconds")
    return value


def parse_moment(raw: str, now: datetime) -> datetime:
    """An ISO date (midnight UTC) or date-time (UTC unless it names its zone); blank = now."""
    raw = raw.strip()
    if not raw:
        return now
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"effective_from: not an ISO date or date-time: {raw!r}") from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _deck_row(cells: dict[str, str], now: datetime) -> dict[str, Any]:
    prefix = cells["prefix"].strip()
    if not PREFIX_RE.match(prefix):
        raise ValueError(f"prefix must be 1 to {MAX_PREFIX} digits: {prefix!r}")
    destination = cells.get("destination", "").strip()
    if len(destination) > 200:
        raise ValueError("destination takes at most 200 characters")
    country = cells.get("country", "").strip().upper()
    if country and not re.fullmatch(r"[A-Z]{2}", country):
        raise ValueError(f"country must be a two-letter ISO code: {country!r}")
    return {
        "prefix": prefix,
        "destination": destination,
        "country": country,
        "rate": csv_micros("rate", cells["rate"]),
        "connection_fee": csv_micros(
            "connection_fee", cells.get("connection_fee", ""), blank_zero=True
        ),
        "first_increment": _increment("first_increment", cells.get("first_increment", "")),
        "increment": _increment("increment", cells.get("increment", "")),
        "effective_from": parse_moment(cells.get("effective_from", ""), now),
    }


def read_csv(
    lines: Iterable[str],
    required: tuple[str, ...],
    known: tuple[str, ...],
    parse_row: Callable[[dict[str, str]], Any],
) -> Iterator[tuple[int, Any, str | None]]:
    """Stream ``(line, parsed row, None)`` or ``(line, None, reason)`` from CSV text with a
    header row. A header that lacks a required column raises a VALIDATION error."""
    reader = csv.reader(lines)
    header: list[str] | None = None
    for cells in reader:
        if header is None:
            header = [c.strip().lower().lstrip("\ufeff") for c in cells]
            missing = [c for c in required if c not in header]
            unknown = [c for c in header if c not in known]
            if missing or unknown:
                parts = []
                if missing:
                    parts.append(f"missing column(s) {', '.join(missing)}")
                if unknown:
                    parts.append(f"unknown column(s) {', '.join(unknown)}")
                raise invalid(
                    "csv",
                    f"line {reader.line_num}: header: {'; '.join(parts)}"
                    f" (expected {','.join(known)})",
                )
            continue
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue  # blank line
        line = reader.line_num
        if len(cells) != len(header):
            yield line, None, f"expected {len(header)} columns, found {len(cells)}"
            continue
        try:
            yield line, parse_row(dict(zip(header, cells, strict=True))), None
        except ValueError as exc:
            yield line, None, str(exc)
    if header is None:
        raise invalid("csv", "the file is empty: a header row is required")


def _upsert(session: AsyncSession):
    if session.bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(Rate.__table__)
    return stmt.on_conflict_do_update(
        index_elements=["deck_id", "prefix", "effective_from"],
        set_={
            name: stmt.excluded[name]
            for name in (
                "destination",
                "country",
                "rate",
                "connection_fee",
                "first_increment",
                "increment",
            )
        },
    )


async def import_rates(
    session: AsyncSession,
    actor: Actor,
    deck_id: int,
    lines: Iterable[str],
    *,
    progress: Callable[[int], None] | None = None,
    now: datetime | None = None,
    chunk: int = CHUNK,
) -> ImportResult:
    """Import CSV rows into a deck (see the module docstring); ``progress`` is called with the
    number of rows read after each chunk."""
    _require_operator(actor, "resellers:write")
    deck = await get_deck(session, actor, deck_id)
    moment = now or utcnow()
    result = ImportResult()
    stmt = _upsert(session)
    conn = await session.connection()
    batch: list[dict[str, Any]] = []
    seen = 0

    async def flush() -> None:
        if batch:
            await conn.execute(stmt, batch)  # executemany of one cached statement
            result.imported += len(batch)
            batch.clear()
        if progress is not None:
            progress(seen)

    for line, row, reason in read_csv(
        lines, ("prefix", "rate"), DECK_COLUMNS, lambda cells: _deck_row(cells, moment)
    ):
        seen += 1
        if reason is not None:
            result.errors.append(RowError(line, reason))
            continue
        row["deck_id"] = deck.id
        batch.append(row)
        if len(batch) >= chunk:
            await flush()
    await flush()
    if result.imported:
        await bump_deck(session, deck.id)
        await audit.record(
            session,
            actor,
            subject_type="rate_deck",
            subject_id=deck.id,
            action="rate_deck.imported",
            reseller_id=None,
            after={"imported": result.imported, "rejected": result.rejected},
        )
    return result


async def set_base_deck(
    session: AsyncSession, actor: Actor, reseller_id: int, deck_id: int | None
) -> Reseller:
    """Assign (or with None, remove) a reseller's base deck; its currency must match."""
    _require_operator(actor, "resellers:write")
    reseller = await accounts.get_reseller(session, actor, reseller_id)
    if deck_id is not None:
        deck = await get_deck(session, actor, deck_id)
        if deck.currency != reseller.currency:
            raise invalid(
                "deckId",
                f"the deck is in {deck.currency}, the reseller's balance in {reseller.currency}",
            )
    await audit.apply_changes(
        session,
        actor,
        reseller,
        {"base_deck_id": deck_id},
        audited=("base_deck_id",),
        subject_type="reseller",
        reseller_id=reseller.id,
    )
    return reseller


# --- packages --------------------------------------------------------------------------------

PACKAGE_FIELDS = (
    "name",
    "markup_fixed",
    "markup_pct",
    "first_increment",
    "increment",
    "monthly_fee",
    "setup_fee",
    "free_minutes",
    "refuse_below_cost",
)


def _whole(name: str, low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise invalid(name, f"{name} must be a whole number from {low} to {high}")
        return value

    return check


def _markup_pct(value: Any) -> Decimal:
    try:
        dec = Decimal(str(value).strip())
    except ArithmeticError:
        raise invalid("markupPct", "not a percentage") from None
    if not dec.is_finite() or dec < 0 or dec > 10_000:
        raise invalid("markupPct", "markupPct must be between 0 and 10000")
    if dec != dec.quantize(Decimal("0.0001")):
        raise invalid("markupPct", "markupPct takes at most four decimal places")
    return dec


def _clean_package(data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    checks: dict[str, Callable[[Any], Any]] = {
        "name": lambda x: v.text("name", x, max_len=100, required=True),
        "markup_fixed": lambda x: v.amount("markupFixed", x, non_negative=True),
        "markup_pct": _markup_pct,
        "first_increment": _whole("firstIncrement", 1, MAX_INCREMENT),
        "increment": _whole("increment", 1, MAX_INCREMENT),
        "monthly_fee": lambda x: v.amount("monthlyFee", x, non_negative=True),
        "setup_fee": lambda x: v.amount("setupFee", x, non_negative=True),
        "free_minutes": _whole("freeMinutes", 0, 10_000_000),
        "refuse_below_cost": bool,
    }
    return v.clean(data, checks, (("name", "name"),) if creating else ())


def _package_tenant(actor: Actor, reseller_id: int | None) -> int:
    actor.require("clients:write")
    if actor.is_operator:
        if reseller_id is None:
            raise invalid("resellerId", "the operator must name the reseller")
        return reseller_id
    if actor.reseller_id is None or actor.client_id is not None:
        raise DomainError(ErrorCode.PERMISSION_DENIED, "packages belong to resellers")
    if reseller_id is not None and reseller_id != actor.reseller_id:
        raise not_found("reseller", "resellerId")
    return actor.reseller_id


def can_see_package(actor: Actor, package: Package) -> bool:
    if actor.client_id is not None or not actor.can("clients:read"):
        return False
    return actor.sees_reseller(package.reseller_id)


async def get_package(
    session: AsyncSession,
    actor: Actor,
    package_id: int | None,
    field: str = "id",
    *,
    write: bool = False,
) -> Package:
    if write:
        actor.require("clients:write")
    package = await session.get(Package, package_id) if package_id else None
    if package is None or not can_see_package(actor, package):
        raise not_found("package", field)
    return package


def packages_query(actor: Actor, reseller_id: int | None = None) -> Select:
    stmt = select(Package)
    if not actor.is_authenticated or actor.client_id is not None or not actor.can("clients:read"):
        return stmt.where(False)
    if not actor.is_operator:
        stmt = stmt.where(Package.reseller_id == actor.reseller_id)
    if reseller_id is not None:
        stmt = stmt.where(Package.reseller_id == reseller_id)
    return stmt


async def _name_taken(session, reseller_id: int, name: str, except_id: int | None = None) -> bool:
    stmt = select(Package.id).where(Package.reseller_id == reseller_id, Package.name == name)
    if except_id is not None:
        stmt = stmt.where(Package.id != except_id)
    return (await session.scalar(stmt)) is not None


async def create_package(
    session: AsyncSession, actor: Actor, reseller_id: int | None, data: dict[str, Any]
) -> Package:
    tenant = _package_tenant(actor, reseller_id)
    reseller = await accounts.get_reseller(session, actor, tenant)
    fields = _clean_package(data, creating=True)
    if await _name_taken(session, reseller.id, fields["name"]):
        raise DomainError(ErrorCode.CONFLICT, "a package with this name exists", "name")
    package = Package(
        reseller_id=reseller.id,
        **{
            "markup_fixed": 0,
            "markup_pct": Decimal(0),
            "first_increment": 60,
            "increment": 60,
            "monthly_fee": 0,
            "setup_fee": 0,
            "free_minutes": 0,
            "refuse_below_cost": False,
            **fields,
        },
        version=1,
    )
    session.add(package)
    await session.flush()
    await audit.record(
        session,
        actor,
        subject_type="package",
        subject_id=package.id,
        action="package.created",
        reseller_id=reseller.id,
        after=audit.snapshot(package, PACKAGE_FIELDS),
    )
    return package


async def bump_package(session: AsyncSession, package: Package) -> None:
    await session.execute(
        update(Package).where(Package.id == package.id).values(version=Package.version + 1)
    )
    await session.refresh(package, ["version"])


async def update_package(
    session: AsyncSession, actor: Actor, package_id: int, data: dict[str, Any]
) -> Package:
    package = await get_package(session, actor, package_id, write=True)
    fields = _clean_package(data, creating=False)
    if "name" in fields and await _name_taken(
        session, package.reseller_id, fields["name"], package.id
    ):
        raise DomainError(ErrorCode.CONFLICT, "a package with this name exists", "name")
    changed = await audit.apply_changes(
        session,
        actor,
        package,
        fields,
        audited=PACKAGE_FIELDS,
        subject_type="package",
        reseller_id=package.reseller_id,
    )
    if changed:
        await bump_package(session, package)
    return package


def _override_row(row: dict[str, Any], where: str) -> tuple[str, str, int | None, int]:
    """Clean one override: (kind, key, rate or None to remove, connection fee)."""
    kind = str(row.get("kind") or "").strip().lower()
    if kind not in OVERRIDE_KINDS:
        raise ValueError(f"{where}kind must be one of PREFIX, COUNTRY, NANPA")
    key = str(row.get("key") or "").strip().upper()
    if kind == "prefix" and not PREFIX_RE.match(key):
        raise ValueError(f"{where}a prefix key is 1 to {MAX_PREFIX} digits")
    if kind == "country" and not re.fullmatch(r"[A-Z]{2}", key):
        raise ValueError(f"{where}a country key is a two-letter ISO code")
    if kind == "nanpa":
        if key not in ("", rating.NANPA_KEY):
            raise ValueError(f"{where}the NANPA key is NANPA (or blank)")
        key = rating.NANPA_KEY
    raw_rate = row.get("rate")
    if raw_rate is None or (isinstance(raw_rate, str) and not raw_rate.strip()):
        return kind, key, None, 0
    rate = _micros_of(raw_rate, f"{where}rate")
    fee_raw = row.get("connection_fee")
    fee = 0 if fee_raw in (None, "") else _micros_of(fee_raw, f"{where}connection_fee")
    return kind, key, rate, fee


def _micros_of(value: Any, name: str) -> int:
    try:
        micros = value if isinstance(value, int) else money.parse(value)
    except money.MoneyError as exc:
        raise ValueError(f"{name}: {exc}") from None
    if micros < 0:
        raise ValueError(f"{name} must not be negative")
    return micros


@dataclass
class OverridesResult:
    set: int = 0
    removed: int = 0
    errors: list[RowError] = field(default_factory=list)


async def _apply_overrides(
    session: AsyncSession,
    actor: Actor,
    package: Package,
    rows: list[tuple[str, str, int | None, int]],
) -> OverridesResult:
    existing = {
        (o.kind, o.key): o
        for o in await session.scalars(
            select(PackageOverride).where(PackageOverride.package_id == package.id)
        )
    }
    result = OverridesResult()
    for kind, key, rate, fee in rows:
        current = existing.get((kind, key))
        if rate is None:
            if current is not None:
                await session.delete(current)
                del existing[(kind, key)]
                result.removed += 1
            continue
        if current is None:
            current = PackageOverride(package_id=package.id, kind=kind, key=key)
            session.add(current)
            existing[(kind, key)] = current
        current.rate = rate
        current.connection_fee = fee
        result.set += 1
    await session.flush()
    if result.set or result.removed:
        await bump_package(session, package)
        await audit.record(
            session,
            actor,
            subject_type="package",
            subject_id=package.id,
            action="package.overrides_set",
            reseller_id=package.reseller_id,
            after={"set": result.set, "removed": result.removed},
        )
    return result


async def set_overrides(
    session: AsyncSession, actor: Actor, package_id: int, rows: list[dict[str, Any]]
) -> tuple[Package, OverridesResult]:
    """Upsert many overrides at once (a null rate removes one): all land, or none."""
    package = await get_package(session, actor, package_id, "packageId", write=True)
    if len(rows) > MAX_OVERRIDES:
        raise invalid("overrides", f"at most {MAX_OVERRIDES} overrides at once")
    cleaned, errors = [], []
    for index, row in enumerate(rows):
        try:
            cleaned.append(_override_row(row, f"override {index + 1}: "))
        except ValueError as exc:
            errors.append(invalid("overrides", str(exc)))
    if errors:
        raise DomainErrors(errors)
    return package, await _apply_overrides(session, actor, package, cleaned)


async def import_overrides(
    session: AsyncSession, actor: Actor, package_id: int, lines: Iterable[str]
) -> tuple[Package, OverridesResult]:
    """CSV ``kind,key,rate,connection_fee``: bad rows reported by line, good rows land."""
    package = await get_package(session, actor, package_id, "packageId", write=True)
    good, errors = [], []
    for line, row, reason in read_csv(
        lines, ("kind", "key", "rate"), OVERRIDE_COLUMNS, lambda cells: _override_row(cells, "")
    ):
        if reason is not None:
            errors.append(RowError(line, reason))
        else:
            good.append(row)
    if len(good) > MAX_OVERRIDES:
        raise invalid("csv", f"at most {MAX_OVERRIDES} overrides at once")
    result = await _apply_overrides(session, actor, package, good)
    result.errors = errors
    return package, result


async def list_overrides(session: AsyncSession, package_id: int) -> list[PackageOverride]:
    return list(
        await session.scalars(
            select(PackageOverride)
            .where(PackageOverride.package_id == package_id)
            .order_by(PackageOverride.kind, PackageOverride.key)
        )
    )


@dataclass(frozen=True)
class MarginWarning:
    """An override that sells below the cost of a prefix it prices: the worst such prefix."""

    kind: str
    key: str
    sell_rate: int
    sell_connection_fee: int
    cost_prefix: str
    destination: str
    cost_rate: int
    cost_connection_fee: int
    prefixes_below_cost: int


def _below(sell_rate, sell_fee, cost: rating.DeckRate) -> bool:
    return sell_rate < cost.rate or sell_fee < cost.connection_fee


async def margin_warnings(
    session: AsyncSession, package: Package, at: datetime | None = None
) -> list[MarginWarning]:
    """Overrides selling below the cost (rate per minute or connection fee) of a prefix they
    price in the reseller's base deck, at ``at`` (default now). Each deck prefix is priced by
    the override that would really apply to it (precedence as in ``rating.PackagePricing``);
    a prefix override also prices numbers under it that fall to a shorter deck prefix."""
    base = await session.scalar(
        select(Reseller.base_deck_id).where(Reseller.id == package.reseller_id)
    )
    pricing = await rating.package_pricing(session, package.id)
    if base is None or pricing is None:
        return []
    index = await rating.deck_index(session, base)
    worst: dict[tuple[str, str], tuple[rating.DeckRate, int]] = {}

    def note(override: PackageOverride, cost: rating.DeckRate) -> None:
        if not _below(override.rate, override.connection_fee, cost):
            return
        key = (override.kind, override.key)
        seen = worst.get(key)
        if seen is None:
            worst[key] = (cost, 1)
            return
        top = seen[0]
        if (cost.rate, cost.connection_fee) > (top.rate, top.connection_fee):
            top = cost
        worst[key] = (top, seen[1] + 1)

    for cost in index.current(at):
        override, _rule = pricing.override_for(cost.prefix, cost)
        if override is not None:
            note(override, cost)
    for key, override in pricing.prefix_overrides.items():
        cost = index.lookup(key, at)
        if cost is not None and len(cost.prefix) < len(key):  # numbers under the override
            note(override, cost)
    out = []
    for (kind, key), (cost, count) in sorted(worst.items()):
        override = (
            pricing.prefix_overrides.get(key)
            if kind == "prefix"
            else pricing.country_overrides.get(key)
            if kind == "country"
            else pricing.nanpa
        )
        out.append(
            MarginWarning(
                kind=kind,
                key=key,
                sell_rate=override.rate,
                sell_connection_fee=override.connection_fee,
                cost_prefix=cost.prefix,
                destination=cost.destination,
                cost_rate=cost.rate,
                cost_connection_fee=cost.connection_fee,
                prefixes_below_cost=count,
            )
        )
    return out


# --- clients: package and personal percent ---------------------------------------------------


async def set_client_package(
    session: AsyncSession, actor: Actor, client_id: int, package_id: int | None
) -> tuple[Client, Package | None]:
    actor.require("clients:write")
    client = await accounts.get_client(session, actor, client_id, field="clientId")
    package = None
    if package_id is not None:
        package = await get_package(session, actor, package_id, "packageId", write=True)
        if package.reseller_id != client.reseller_id:
            raise not_found("package", "packageId")
    await audit.apply_changes(
        session,
        actor,
        client,
        {"package_id": package_id},
        audited=("package_id",),
        subject_type="client",
        reseller_id=client.reseller_id,
        client_id=client.id,
    )
    return client, package


async def set_client_rate_percent(
    session: AsyncSession, actor: Actor, client_id: int, percent: Any
) -> Client:
    """A commission-model client's personal percent over the base rate."""
    actor.require("clients:write")
    client = await accounts.get_client(session, actor, client_id, field="clientId")
    reseller = await session.get(Reseller, client.reseller_id)
    assert reseller is not None
    if reseller.billing_model != "commission":
        raise invalid("percent", "a personal percent is for clients of commission-model resellers")
    pct = v.percent("percent", percent)
    await audit.apply_changes(
        session,
        actor,
        client,
        {"personal_rate_pct": pct},
        audited=("personal_rate_pct",),
        subject_type="client",
        reseller_id=client.reseller_id,
        client_id=client.id,
    )
    return client


# --- quotes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quote:
    destination: str  # the normalized number
    cost: rating.DeckRate
    cost_currency: str
    sell: rating.SellPrice
    sell_currency: str
    below_cost: bool
    refuse_below_cost: bool
    show_cost: bool


async def _deck_of(session: AsyncSession, reseller: Reseller) -> rating.DeckIndex:
    if reseller.base_deck_id is None:
        raise DomainError(
            ErrorCode.NOT_FOUND, "the reseller has no base rate deck assigned", "destination"
        )
    return await rating.deck_index(session, reseller.base_deck_id)


async def sell_pricing(
    session: AsyncSession,
    reseller: Reseller,
    client: Client | None,
    package_id: int | None,
) -> tuple[rating.PackagePricing | None, Decimal]:
    """How a call is sold: a markup reseller's client by its package (the sub-account's, else
    the client's), a commission client by the base rate plus its personal percent."""
    if reseller.billing_model == "commission" and client is not None:
        return None, Decimal(client.personal_rate_pct or 0)
    if package_id is None and client is not None:
        package_id = client.package_id
    if package_id is None:
        return None, Decimal(0)
    return await rating.package_pricing(session, package_id), Decimal(0)


async def quote(
    session: AsyncSession,
    actor: Actor,
    destination: str,
    *,
    package_id: int | None = None,
    client_id: int | None = None,
    sub_account_id: int | None = None,
    deck_id: int | None = None,
    at: datetime | None = None,
) -> Quote | None:
    """The rates a call to ``destination`` would get; None when no prefix matches.

    Exactly one of package, client, sub-account or deck may be named; a client with none
    quotes its own rates, a reseller with none its base deck (sold at cost: rule base)."""
    if not actor.is_authenticated:
        raise DomainError(ErrorCode.UNAUTHENTICATED, "log in first")
    named = [x for x in (package_id, client_id, sub_account_id, deck_id) if x is not None]
    if len(named) > 1:
        raise invalid("destination", "name at most one of package, client, sub-account, deck")
    number = dialing.normalize(destination)
    if not number:
        raise invalid("destination", "a destination number has digits")
    is_client = actor.client_id is not None
    if is_client and (package_id is not None or deck_id is not None):
        raise not_found("package" if package_id is not None else "rate deck")
    client: Client | None = None
    pkg_id: int | None = None
    if deck_id is not None:
        deck = await get_deck(session, actor, deck_id)
        index = await rating.deck_index(session, deck.id)
        cost = index.lookup(number, at)
        if cost is None:
            return None
        sell = rating.commission_price(cost, Decimal(0))
        return Quote(number, cost, deck.currency, sell, deck.currency, False, False, True)
    if sub_account_id is not None:
        sub = await session.get(SubAccount, sub_account_id)
        if sub is None:
            raise not_found("sub-account", "subAccountId")
        try:
            client = await accounts.get_client(session, actor, sub.client_id)
        except DomainError:
            raise not_found("sub-account", "subAccountId") from None
        pkg_id = sub.package_id
    elif client_id is not None:
        client = await accounts.get_client(session, actor, client_id, field="clientId")
    elif package_id is not None:
        package = await get_package(session, actor, package_id, "packageId")
        pkg_id = package.id
    elif is_client:
        client = await accounts.get_client(session, actor, actor.client_id, field="clientId")
    elif actor.is_operator:
        raise invalid("destination", "name a package, client, sub-account or deck to quote")
    reseller_id = (
        client.reseller_id
        if client is not None
        else (await session.get(Package, pkg_id)).reseller_id
        if pkg_id is not None
        else actor.reseller_id
    )
    reseller = await session.get(Reseller, reseller_id)
    assert reseller is not None
    number = dialing.normalize(destination, reseller.home_country)
    index = await _deck_of(session, reseller)
    cost = index.lookup(number, at)
    if cost is None:
        return None
    pricing, pct = await sell_pricing(session, reseller, client, pkg_id)
    if pricing is not None:
        sell = pricing.price(number, cost)
        refuse = bool(pricing.package.refuse_below_cost)
    else:
        sell = rating.commission_price(cost, pct)
        refuse = False
    below = _below(sell.rate, sell.connection_fee, cost)
    deck_currency = await session.scalar(
        select(RateDeck.currency).where(RateDeck.id == reseller.base_deck_id)
    )
    return Quote(
        destination=number,
        cost=cost,
        cost_currency=deck_currency or reseller.currency,
        sell=sell,
        sell_currency=reseller.currency,
        below_cost=below,
        refuse_below_cost=refuse and below,
        show_cost=not is_client,
    )
