"""Resellers and clients: creation, changes, status, deletion, and scoped lookups."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.domain import alerts, audit, ledger, notifications, stamps
from api.domain import validation as v
from api.domain.actors import Actor
from api.domain.errors import DomainError, DomainErrors, ErrorCode, invalid, not_found
from api.models import Account, Client, ClientNumber, Reseller, User
from api.models.base import utcnow

BILLING_MODELS = ("markup", "commission")
RESELLER_STATUSES = ("active", "suspended")
BILLING_MODES = ("prepaid_strict", "prepaid_permissive", "postpaid")
CHARACTERISTICS = ("normal", "good", "conflict")
CLIENT_STATUSES = ("active", "suspended", "blocked", "blacklisted")
AUTO_SUSPEND_REASON = "balance exhausted"
AUTO_BLOCK_REASON = "credit limit reached"

RESELLER_AUDIT_FIELDS = (
    "name",
    "currency",
    "timezone",
    "home_country",
    "billing_model",
    "commission_pct",
    "status",
    "status_reason",
    "low_balance_threshold",
)
CLIENT_AUDIT_FIELDS = (
    "name",
    "company",
    "contact_name",
    "email",
    "phone",
    "language",
    "country",
    "notes",
    "characteristic",
    "label",
    "billing_mode",
    "credit_limit",
    "low_balance_threshold",
    "status",
    "status_reason",
)
BULK_MAX = 1000
OPERATOR_BULK_MIN = 10


# --- account keys: one place that names the ledger accounts of a tenant --------------------


def reseller_account_key(reseller_id: int) -> str:
    return f"reseller:{reseller_id}"


def client_account_key(client_id: int) -> str:
    return f"client:{client_id}"


async def reseller_account(session: AsyncSession, reseller: Reseller) -> Account:
    return await ledger.account(
        session,
        reseller_account_key(reseller.id),
        kind="reseller",
        currency=reseller.currency,
        reseller_id=reseller.id,
    )


async def client_account(session: AsyncSession, client: Client, currency: str) -> Account:
    return await ledger.account(
        session,
        client_account_key(client.id),
        kind="client",
        currency=currency,
        reseller_id=client.reseller_id,
        client_id=client.id,
    )


async def client_balance(session: AsyncSession, client: Client) -> int:
    balance = await session.scalar(
        select(Account.balance).where(Account.key == client_account_key(client.id))
    )
    return balance or 0


# --- resellers -------------------------------------------------------------------------------


def _clean_reseller(data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    checks: dict[str, Callable[[Any], Any]] = {
        "name": lambda x: v.text("name", x, max_len=200, required=True),
        "currency": lambda x: v.currency("currency", x),
        "timezone": lambda x: v.timezone("timezone", x),
        "home_country": lambda x: v.home_country("homeCountry", x),
        "billing_model": lambda x: v.choice("billingModel", x, BILLING_MODELS),
        "commission_pct": lambda x: v.percent("commissionPct", x),
        "status": lambda x: v.choice("status", x, RESELLER_STATUSES),
        "status_reason": lambda x: v.text("statusReason", x, max_len=500),
        "low_balance_threshold": lambda x: v.amount("lowBalanceThreshold", x, non_negative=True),
    }
    required = (("name", "name"), ("currency", "currency"), ("billing_model", "billingModel"))
    return v.clean(data, checks, required if creating else ())


async def create_reseller(session: AsyncSession, actor: Actor, data: dict[str, Any]) -> Reseller:
    actor.require("resellers:write")
    fields = _clean_reseller(data, creating=True)
    fields.setdefault("timezone", "UTC")
    fields.setdefault("commission_pct", Decimal(0))
    reseller = Reseller(**fields)
    alerts.reset_flag(reseller, 0)
    session.add(reseller)
    await session.flush()
    await reseller_account(session, reseller)
    await audit.record(
        session,
        actor,
        subject_type="reseller",
        subject_id=reseller.id,
        action="reseller.created",
        reseller_id=reseller.id,
        after=audit.snapshot(reseller, RESELLER_AUDIT_FIELDS),
    )
    return reseller


async def update_reseller(
    session: AsyncSession, actor: Actor, reseller_id: int, data: dict[str, Any]
) -> Reseller:
    actor.require("resellers:write")
    reseller = await get_reseller(session, actor, reseller_id)
    fields = _clean_reseller(data, creating=False)
    if "currency" in fields and fields["currency"] != reseller.currency:
        raise invalid("currency", "a reseller's currency cannot change once created")
    if "name" in fields and fields["name"] != reseller.name:
        # a brand without a display name shows its reseller's name: cached themes must go
        await stamps.bump(session, stamps.BRANDING)
    new = await audit.apply_changes(
        session,
        actor,
        reseller,
        fields,
        audited=RESELLER_AUDIT_FIELDS,
        subject_type="reseller",
        reseller_id=reseller.id,
    )
    if "low_balance_threshold" in new:
        account = await reseller_account(session, reseller)
        alerts.reset_flag(reseller, account.balance)
        await session.flush()
    return reseller


async def get_reseller(session: AsyncSession, actor: Actor, reseller_id: int) -> Reseller:
    reseller = await session.get(Reseller, reseller_id)
    if reseller is None or not actor.sees_reseller(reseller_id):
        raise not_found("reseller")
    return reseller


async def acting_reseller(
    session: AsyncSession, actor: Actor, reseller_id: int | None, permission: str
) -> Reseller | None:
    """The reseller whose settings the actor acts on: a reseller user's own, or the one the
    operator names (None: the operator's own settings). Another reseller is not found."""
    actor.require(permission)
    if actor.is_operator:
        return None if reseller_id is None else await get_reseller(session, actor, reseller_id)
    own = actor.reseller_id if actor.client_id is None else None
    if own is None or reseller_id not in (None, own):
        raise not_found("reseller", "resellerId")
    return await get_reseller(session, actor, own)


def resellers_query(actor: Actor) -> Select:
    """Resellers the actor may list: all for the operator, its own for a reseller."""
    stmt = select(Reseller)
    if actor.is_operator:
        actor.require("resellers:read")
        return stmt
    if actor.reseller_id is not None and actor.client_id is None and actor.is_authenticated:
        return stmt.where(Reseller.id == actor.reseller_id)
    return stmt.where(False)


# --- clients ---------------------------------------------------------------------------------


def _clean_client(data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    checks: dict[str, Callable[[Any], Any]] = {
        "name": lambda x: v.text("name", x, max_len=200, required=True),
        "company": lambda x: v.text("company", x, max_len=200),
        "contact_name": lambda x: v.text("contactName", x, max_len=200),
        "email": lambda x: v.email("email", x),
        "phone": lambda x: v.text("phone", x, max_len=40),
        "language": lambda x: v.language("language", x),
        "country": lambda x: v.country("country", x),
        "notes": lambda x: v.text("notes", x, max_len=10_000),
        "characteristic": lambda x: v.choice("characteristic", x, CHARACTERISTICS),
        "label": lambda x: v.text("label", x, max_len=100),
        "billing_mode": lambda x: v.choice("billingMode", x, BILLING_MODES),
        "credit_limit": lambda x: v.amount("creditLimit", x, non_negative=True),
        "low_balance_threshold": lambda x: v.amount("lowBalanceThreshold", x, non_negative=True),
    }
    return v.clean(data, checks, (("name", "name"),) if creating else ())


def _tenant_for_write(actor: Actor, reseller_id: int | None) -> int:
    """The reseller a write goes to: the actor's own, or the one the operator names."""
    actor.require("clients:write")
    if actor.is_operator:
        if reseller_id is None:
            raise invalid("resellerId", "the operator must name the reseller")
        return reseller_id
    assert actor.reseller_id is not None
    if reseller_id is not None and reseller_id != actor.reseller_id:
        raise not_found("reseller", "resellerId")
    return actor.reseller_id


async def create_clients(
    session: AsyncSession,
    actor: Actor,
    reseller_id: int | None,
    rows: list[dict[str, Any]],
) -> list[Client]:
    """Create one or many clients in one transaction: all land, or none (errors name the row).

    A reseller may create from 1 to 1,000 at once. The operator creates clients for a reseller
    as one bulk order of at least 10."""
    tenant_id = _tenant_for_write(actor, reseller_id)
    reseller = await get_reseller(session, actor, tenant_id)
    if not rows or len(rows) > BULK_MAX:
        raise invalid("clients", f"give between 1 and {BULK_MAX} clients")
    if actor.kind == "operator" and len(rows) < OPERATOR_BULK_MIN:
        raise invalid(
            "clients", f"an operator's bulk order creates at least {OPERATOR_BULK_MIN} clients"
        )
    cleaned, errors = [], []
    for index, row in enumerate(rows):
        try:
            cleaned.append(_clean_client(row, creating=True))
        except DomainErrors as exc:
            for err in exc.errors:
                errors.append(
                    DomainError(err.code, f"client {index + 1}: {err.message}", err.field)
                )
    if errors:
        raise DomainErrors(errors)
    clients = [Client(reseller_id=reseller.id, **fields) for fields in cleaned]
    for client in clients:
        alerts.reset_flag(client, 0)
    session.add_all(clients)
    await session.flush()
    for client in clients:
        await client_account(session, client, reseller.currency)
        await audit.record(
            session,
            actor,
            subject_type="client",
            subject_id=client.id,
            action="client.created",
            reseller_id=reseller.id,
            client_id=client.id,
            after=audit.snapshot(client, CLIENT_AUDIT_FIELDS),
        )
    return clients


async def get_client(
    session: AsyncSession,
    actor: Actor,
    client_id: int,
    *,
    for_update: bool = False,
    field: str = "id",
) -> Client:
    """A client the actor may see: its own (client user), its tenant's, or any (operator).
    ``for_update`` locks the row (PostgreSQL) so that concurrent money movements on one client
    apply its status rule one after the other."""
    client = await session.get(Client, client_id, with_for_update=for_update or None)
    if client is None or client.deleted_at is not None or not can_see_client(actor, client):
        raise not_found("client", field)
    return client


def can_see_client(actor: Actor, client: Client) -> bool:
    if actor.client_id is not None:
        return actor.client_id == client.id
    if not (actor.can("clients:read") or actor.can("payments:write")):
        return False
    return actor.sees_reseller(client.reseller_id)


def clients_query(
    actor: Actor,
    *,
    reseller_id: int | None = None,
    status: str | None = None,
    billing_mode: str | None = None,
    label: str | None = None,
    characteristic: str | None = None,
    search: str | None = None,
) -> Select:
    """The clients an actor may list, with optional filters (reseller for the operator).

    ``label`` matches a whole label, case aside; ``search`` finds text in the name, company,
    email or label, or digits in one of the numbers the client calls from."""
    stmt = select(Client).where(Client.deleted_at.is_(None))
    if actor.client_id is not None:
        return stmt.where(Client.id == actor.client_id)
    if not actor.is_authenticated or not actor.can("clients:read"):
        return stmt.where(False)
    if not actor.is_operator:
        stmt = stmt.where(Client.reseller_id == actor.reseller_id)
    if reseller_id is not None:
        stmt = stmt.where(Client.reseller_id == reseller_id)
    if status is not None:
        stmt = stmt.where(Client.status == status)
    if billing_mode is not None:
        stmt = stmt.where(Client.billing_mode == billing_mode)
    if label is not None and label.strip():
        stmt = stmt.where(func.lower(Client.label) == label.strip().lower())
    if characteristic is not None:
        stmt = stmt.where(Client.characteristic == characteristic)
    if search and search.strip():
        pattern = f"%{search.strip().lower()}%"
        matches = (
            func.lower(Client.name).like(pattern)
            | func.lower(Client.company).like(pattern)
            | func.lower(Client.email).like(pattern)
            | func.lower(Client.label).like(pattern)
        )
        digits = re.sub(r"[\s().+-]", "", search)
        if digits.isdigit():
            matches = matches | Client.id.in_(
                select(ClientNumber.client_id).where(ClientNumber.number.like(f"%{digits}%"))
            )
        stmt = stmt.where(matches)
    return stmt


async def update_client(
    session: AsyncSession, actor: Actor, client_id: int, data: dict[str, Any]
) -> Client:
    actor.require("clients:write")
    client = await get_client(session, actor, client_id)
    data = dict(data)
    status, reason = data.pop("status", None), data.pop("status_reason", None)
    fields = _clean_client(data, creating=False)
    if status is not None:
        v.choice("status", status, CLIENT_STATUSES)
        reason = v.text("statusReason", reason, max_len=500)
        if status != "active" and not reason:
            raise invalid("statusReason", "say why the client is not active")
        fields["status"], fields["status_reason"] = status, reason if status != "active" else ""
    new = await _apply_client_changes(session, actor, client, fields)
    if new.get("status") == "suspended":
        await alerts.client_suspended(session, client)
    elif new.get("status") == "blocked":
        await alerts.client_blocked(session, client)
    if {"billing_mode", "credit_limit"} & new.keys():
        await apply_balance_status(session, actor, client, await client_balance(session, client))
    return client


CLIENT_PROFILE_FIELDS = ("contact_name", "email", "phone", "language", "low_balance_threshold")


async def update_client_profile(
    session: AsyncSession, actor: Actor, data: dict[str, Any]
) -> Client:
    """A client's portal user changes its own client's profile: the contact person, email and
    phone, its language and its low-balance threshold (``CLIENT_PROFILE_FIELDS``). Nothing
    else: name, company, billing and status stay its reseller's (``update_client``). Only a
    client user may; a reseller, the operator or an API token use ``update_client``."""
    if actor.kind != "client_user" or actor.client_id is None:
        if not actor.is_authenticated:
            raise DomainError(ErrorCode.UNAUTHENTICATED, "log in first")
        raise DomainError(
            ErrorCode.PERMISSION_DENIED,
            "only a client's own portal users change its profile; resellers use clientUpdate",
        )
    unknown = sorted(set(data) - set(CLIENT_PROFILE_FIELDS))
    if unknown:
        raise invalid(unknown[0], "a client may not change this field")
    client = await get_client(session, actor, actor.client_id)
    await _apply_client_changes(session, actor, client, _clean_client(dict(data), creating=False))
    return client


async def _apply_client_changes(
    session: AsyncSession, actor: Actor, client: Client, fields: dict[str, Any]
) -> dict[str, Any]:
    """Set a client's fields, audited; a new low-balance threshold re-arms its alert."""
    new = await audit.apply_changes(
        session,
        actor,
        client,
        fields,
        audited=CLIENT_AUDIT_FIELDS,
        subject_type="client",
        reseller_id=client.reseller_id,
        client_id=client.id,
    )
    if "low_balance_threshold" in new:
        alerts.reset_flag(client, await client_balance(session, client))
        await session.flush()
    return new


# Later areas (sub-accounts, DIDs) register what stops a client from being deleted: each check
# returns a sentence naming what is left, or None.
DeleteBlocker = Callable[[AsyncSession, Client], Awaitable[str | None]]
DELETE_BLOCKERS: list[DeleteBlocker] = []


async def _balance_blocker(session: AsyncSession, client: Client) -> str | None:
    balance = await client_balance(session, client)
    if balance:
        from api import money

        return f"its balance is {money.format_amount(balance)}, not zero"
    return None


DELETE_BLOCKERS.append(_balance_blocker)


async def delete_client(session: AsyncSession, actor: Actor, client_id: int) -> Client:
    """Delete a client with nothing left on it. Its ledger history stays (entries are never
    deleted), so the row is kept and marked deleted; its logins stop working."""
    actor.require("clients:write")
    client = await get_client(session, actor, client_id)
    reasons = [r for check in DELETE_BLOCKERS if (r := await check(session, client))]
    if reasons:
        raise DomainError(
            ErrorCode.CONFLICT, "the client cannot be deleted: " + "; ".join(reasons), "id"
        )
    client.deleted_at = utcnow()
    client.status, client.status_reason = "blocked", "deleted"
    for user in await session.scalars(select(User).where(User.client_id == client.id)):
        user.is_active = False
    await session.flush()
    await audit.record(
        session,
        actor,
        subject_type="client",
        subject_id=client.id,
        action="client.deleted",
        reseller_id=client.reseller_id,
        client_id=client.id,
        before=audit.snapshot(client, ("name",)),
    )
    return client


def _status_after(client: Client, balance: int) -> tuple[str, str]:
    """The status and reason the billing-mode rule gives a client at this balance."""
    if client.status == "active":
        if client.billing_mode == "prepaid_strict" and balance <= 0:
            return "suspended", AUTO_SUSPEND_REASON
        if client.billing_mode == "postpaid" and balance <= -client.credit_limit:
            return "blocked", AUTO_BLOCK_REASON
    elif (client.status, client.status_reason) == ("suspended", AUTO_SUSPEND_REASON):
        if balance > 0 or client.billing_mode != "prepaid_strict":
            return "active", ""
    elif (client.status, client.status_reason) == ("blocked", AUTO_BLOCK_REASON) and (
        client.billing_mode != "postpaid" or balance > -client.credit_limit
    ):
        return "active", ""
    return client.status, client.status_reason


async def apply_balance_status(
    session: AsyncSession, actor: Actor, client: Client, balance: int
) -> None:
    """The status rule of the billing modes, run after every change of a client's balance:
    a strict prepaid client at or below zero is suspended, a postpaid client at its credit limit
    is blocked, and its uninvoiced charges are drafted into an invoice
    (``invoices.limit_reached``); either is reactivated when money brings it back (only if we
    suspended it).
    Then the alerts that follow a balance: low balance (once per crossing of the client's
    threshold) and suspension (``api.domain.alerts``)."""
    before = audit.snapshot(client, ("status", "status_reason"))
    client.status, client.status_reason = _status_after(client, balance)
    after = audit.snapshot(client, ("status", "status_reason"))
    if after != before:
        await session.flush()
        await audit.record(
            session,
            actor,
            subject_type="client",
            subject_id=client.id,
            action="client.status_changed",
            reseller_id=client.reseller_id,
            client_id=client.id,
            before=before,
            after=after,
        )
        await _status_changed(session, actor, client)
    await alerts.client_balance_changed(session, client, balance)


async def _status_changed(session: AsyncSession, actor: Actor, client: Client) -> None:
    """What follows a change made by the status rule: a suspended client is told; a postpaid
    client blocked at its limit has its uninvoiced charges drafted into an invoice, and is
    told."""
    if client.status == "suspended":
        await alerts.client_suspended(session, client)
    elif (client.status, client.status_reason) == ("blocked", AUTO_BLOCK_REASON):
        from api.domain import invoices  # invoices build on accounts

        await invoices.limit_reached(session, actor, client)
        await alerts.client_blocked(session, client)


async def apply_balance_status_many(
    session: AsyncSession, actor: Actor, clients: list[tuple[Client, int]]
) -> None:
    """:func:`apply_balance_status` for many clients (client, balance) at once: the changed
    clients and their audit events are written in one flush, and their alerts in one
    ``notifications.batch``."""
    events = []
    changed = []
    for client, balance in clients:
        status = _status_after(client, balance)
        if status == (client.status, client.status_reason):
            continue
        before = audit.snapshot(client, ("status", "status_reason"))
        client.status, client.status_reason = status
        events.append(
            audit.event_of(
                actor,
                subject_type="client",
                subject_id=client.id,
                action="client.status_changed",
                reseller_id=client.reseller_id,
                client_id=client.id,
                before=before,
                after=audit.snapshot(client, ("status", "status_reason")),
            )
        )
        changed.append(client)
    if events:
        session.add_all(events)
        await session.flush()
    # the alerts of many clients: their reseller's and their own lookups once, the events
    # written in one flush
    async with notifications.batch(session):
        await notifications.prefetch_client_emails(
            session, [*changed, *(c for c, b in clients if alerts.crosses(c, b))]
        )
        for client in changed:
            await _status_changed(session, actor, client)
        for client, balance in clients:
            await alerts.client_balance_changed(session, client, balance)
