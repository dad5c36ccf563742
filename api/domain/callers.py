"""Who calls: clients' sub-accounts (SIP accounts), their A-numbers and PIN, and the blacklist.

Permissions: reading needs ``clients:read`` (a client user reads its own sub-accounts, never a
secret); changing needs ``clients:write``. A client user (``self:write``) may change two things
of its own sub-accounts only: the caller ID, to one of the numbers it holds
(:func:`set_caller_id`), and the secret (:func:`reset_secret`). Every lookup is scoped by
tenant: another reseller's sub-account, client or blacklist entry is "not found".

Sub-account secrets are generated, returned once, and stored as described in
:mod:`api.domain.secrets` (encrypted at rest, plus the SIP digest HA1). The plain secret can be
read again only through :func:`read_secret` — by the operator, a reseller owner, or an API token
with ``calls:write`` (switch provisioning) — and every such read is audited.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.domain import accounts, audit, dialing, secrets
from api.domain import validation as v
from api.domain.actors import Actor
from api.domain.errors import DomainError, ErrorCode, invalid, not_found
from api.models import BlacklistEntry, Call, Client, ClientNumber, Did, Package, SubAccount
from api.models.base import utcnow
from api.settings import Settings

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$")
SUB_ACCOUNT_STATUSES = ("active", "disabled")
SUB_ACCOUNT_AUDIT_FIELDS = (
    "username",
    "caller_id",
    "package_id",
    "forward_to",
    "status",
    "next_billing_date",
    "activation_fee_charged",
)
MAX_NUMBERS = 100
PIN_RE = re.compile(r"^[0-9]{4,12}$")


# --- field checks ------------------------------------------------------------------------------


def _username(value: str) -> str:
    value = (value or "").strip()
    if not USERNAME_RE.match(value):
        raise invalid(
            "username",
            "3 to 64 characters: letters, digits, dot, dash or underscore, "
            "starting with a letter or digit",
        )
    return value


def phone_number(field: str, value: str | None, *, required: bool = False) -> str:
    """A phone number as international digits (``dialing.normalize``, no home country)."""
    raw = (value or "").strip()
    if not raw:
        if required:
            raise invalid(field, f"{field} is required")
        return ""
    if not re.fullmatch(r"\+?[0-9 ()./-]+", raw):
        raise invalid(field, f"{raw!r} is not a phone number (digits, optional leading +)")
    digits = dialing.normalize(raw)
    if not 3 <= len(digits) <= 20:
        raise invalid(field, f"{raw!r} is not a phone number (3 to 20 digits)")
    return digits


def _clean_sub_account(data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    checks: dict[str, Callable[[Any], Any]] = {
        "username": _username,
        "caller_id": lambda x: phone_number("callerId", x),
        "package_id": lambda x: x,
        "forward_to": lambda x: phone_number("forwardTo", x),
        "status": lambda x: v.choice("status", x, SUB_ACCOUNT_STATUSES),
    }
    if not creating and "username" in data and data["username"] is not None:
        raise invalid("username", "a username cannot change; create a new sub-account")
    return v.clean(data, checks, (("username", "username"),) if creating else ())


async def _check_package(session: AsyncSession, package_id: int | None, reseller_id: int) -> None:
    if package_id is None:
        return
    owner = await session.scalar(select(Package.reseller_id).where(Package.id == package_id))
    if owner != reseller_id:
        raise not_found("package", "packageId")


async def _check_username_free(session: AsyncSession, username: str) -> None:
    taken = await session.scalar(
        select(SubAccount.id).where(func.lower(SubAccount.username) == username.lower())
    )
    if taken is not None:
        raise DomainError(
            ErrorCode.CONFLICT, f"the username {username!r} is taken; choose another", "username"
        )


# --- sub-accounts ------------------------------------------------------------------------------


def _start_billing(sub: SubAccount | None, fields: dict[str, Any]) -> None:
    """A sub-account's monthly fee is first due the day it gets a package (``api.domain.fees``
    then keeps the date going, whatever the package, so a fee set later starts from the
    current period); that day of the month stays its billing day."""
    if fields.get("package_id") is not None and (sub is None or sub.next_billing_date is None):
        today = utcnow().date()
        fields["next_billing_date"], fields["billing_day"] = today, today.day


def _sees_sub_account(actor: Actor, sub: SubAccount) -> bool:
    if actor.client_id is not None:
        return actor.client_id == sub.client_id
    return actor.can("clients:read") and actor.sees_reseller(sub.reseller_id)


async def get_sub_account(
    session: AsyncSession, actor: Actor, sub_account_id: int, *, field: str = "id"
) -> SubAccount:
    sub = await session.get(SubAccount, sub_account_id)
    if sub is None or not _sees_sub_account(actor, sub):
        raise not_found("sub-account", field)
    return sub


def sub_accounts_query(actor: Actor, *, client_id: int | None = None) -> Select:
    """The sub-accounts an actor may list, optionally of one client."""
    stmt = select(SubAccount)
    if actor.client_id is not None:
        stmt = stmt.where(SubAccount.client_id == actor.client_id)
    elif not actor.is_authenticated or not actor.can("clients:read"):
        return stmt.where(False)
    elif not actor.is_operator:
        stmt = stmt.where(SubAccount.reseller_id == actor.reseller_id)
    if client_id is not None:
        stmt = stmt.where(SubAccount.client_id == client_id)
    return stmt


async def create_sub_account(
    session: AsyncSession,
    actor: Actor,
    client_id: int,
    data: dict[str, Any],
    *,
    settings: Settings,
) -> tuple[SubAccount, str]:
    """A new SIP account of a client; returns it with its secret (shown this once)."""
    actor.require("clients:write")
    client = await accounts.get_client(session, actor, client_id, field="clientId")
    fields = _clean_sub_account(data, creating=True)
    await _check_package(session, fields.get("package_id"), client.reseller_id)
    await _check_username_free(session, fields["username"])
    secret = secrets.generate_secret()
    _start_billing(None, fields)
    sub = SubAccount(
        reseller_id=client.reseller_id,
        client_id=client.id,
        secret_encrypted=secrets.encrypt(settings.secret_key, secret),
        ha1=secrets.ha1(fields["username"], settings.sip_realm, secret),
        **fields,
    )
    session.add(sub)
    await session.flush()
    await audit.record(
        session,
        actor,
        subject_type="sub_account",
        subject_id=sub.id,
        action="sub_account.created",
        reseller_id=sub.reseller_id,
        client_id=sub.client_id,
        after=audit.snapshot(sub, SUB_ACCOUNT_AUDIT_FIELDS),
    )
    return sub, secret


async def update_sub_account(
    session: AsyncSession, actor: Actor, sub_account_id: int, data: dict[str, Any]
) -> SubAccount:
    actor.require("clients:write")
    sub = await get_sub_account(session, actor, sub_account_id)
    fields = _clean_sub_account(data, creating=False)
    await _check_package(session, fields.get("package_id"), sub.reseller_id)
    _start_billing(sub, fields)
    await audit.apply_changes(
        session,
        actor,
        sub,
        fields,
        audited=SUB_ACCOUNT_AUDIT_FIELDS,
        subject_type="sub_account",
        reseller_id=sub.reseller_id,
        client_id=sub.client_id,
    )
    return sub


async def reset_secret(
    session: AsyncSession, actor: Actor, sub_account_id: int, *, settings: Settings
) -> tuple[SubAccount, str]:
    """A new secret (shown this once); the old one stops working at the switch's next sync.
    A reseller's (``clients:write``), or a client user's for its own sub-accounts."""
    _require_own_or_reseller_write(actor)
    sub = await get_sub_account(session, actor, sub_account_id)
    secret = secrets.generate_secret()
    sub.secret_encrypted = secrets.encrypt(settings.secret_key, secret)
    sub.ha1 = secrets.ha1(sub.username, settings.sip_realm, secret)
    await session.flush()
    await audit.record(
        session,
        actor,
        subject_type="sub_account",
        subject_id=sub.id,
        action="sub_account.secret_reset",
        reseller_id=sub.reseller_id,
        client_id=sub.client_id,
    )
    return sub, secret


def _require_own_or_reseller_write(actor: Actor) -> None:
    """``clients:write``, or a client user's ``self:write`` (then on its own objects only: the
    lookups are scoped to its client)."""
    actor.require("self:write" if actor.client_id is not None else "clients:write")


async def numbers_held_many(session: AsyncSession, client_ids: list[int]) -> dict[int, list[str]]:
    """The numbers each client holds, which its sub-accounts may show as caller ID: the DIDs
    assigned to it and the numbers its reseller registered for it (``clientNumbersSet``);
    sorted, in one statement."""
    dids = select(Did.client_id, Did.number).where(
        Did.client_id.in_(client_ids), Did.status == "assigned"
    )
    own = select(ClientNumber.client_id, ClientNumber.number).where(
        ClientNumber.client_id.in_(client_ids)
    )
    held: dict[int, set[str]] = {i: set() for i in client_ids}
    for client_id, number in (await session.execute(dids.union(own))).all():
        held[client_id].add(number)
    return {i: sorted(numbers) for i, numbers in held.items()}


async def numbers_held(session: AsyncSession, client_id: int) -> list[str]:
    """The numbers one client holds (:func:`numbers_held_many`)."""
    return (await numbers_held_many(session, [client_id]))[client_id]


async def set_caller_id(
    session: AsyncSession, actor: Actor, sub_account_id: int, caller_id: str | None
) -> SubAccount:
    """Set a sub-account's caller ID to one of the numbers its client holds
    (:func:`numbers_held`), or clear it (empty: the switch's default). A reseller's
    (``clients:write``), or a client user's for its own sub-accounts; any other number is
    refused with the list of those allowed."""
    _require_own_or_reseller_write(actor)
    sub = await get_sub_account(session, actor, sub_account_id)
    number = phone_number("callerId", caller_id)
    if number:
        held = await numbers_held(session, sub.client_id)
        if number not in held:
            allowed = ", ".join(f"+{n}" for n in held) if held else "none yet"
            raise invalid(
                "callerId",
                f"+{number} is not one of your numbers; the caller ID must be one of: {allowed}",
            )
    await audit.apply_changes(
        session,
        actor,
        sub,
        {"caller_id": number},
        audited=SUB_ACCOUNT_AUDIT_FIELDS,
        subject_type="sub_account",
        reseller_id=sub.reseller_id,
        client_id=sub.client_id,
    )
    return sub


def may_read_secrets(actor: Actor) -> bool:
    return (
        actor.is_operator
        or actor.role == "reseller_owner"
        or (actor.kind == "api_token" and actor.can("calls:write"))
    )


async def read_secret(
    session: AsyncSession, actor: Actor, sub_account_id: int, *, settings: Settings
) -> tuple[SubAccount, str]:
    """The plain secret, to provision a switch: operator, reseller owner, or a ``calls:write``
    token only; every read is audited."""
    actor.require("clients:read")
    sub = await get_sub_account(session, actor, sub_account_id)
    if actor.client_id is not None or not may_read_secrets(actor):
        raise DomainError(
            ErrorCode.PERMISSION_DENIED,
            "only the operator, the reseller's owner or a calls:write token reads secrets",
        )
    try:
        secret = secrets.decrypt(settings.secret_key, sub.secret_encrypted)
    except secrets.SecretUnreadable:
        raise DomainError(
            ErrorCode.CONFLICT,
            "the secret was stored under another secret key; reset it",
            "id",
        ) from None
    await audit.record(
        session,
        actor,
        subject_type="sub_account",
        subject_id=sub.id,
        action="sub_account.secret_read",
        reseller_id=sub.reseller_id,
        client_id=sub.client_id,
    )
    return sub, secret


async def delete_sub_account(session: AsyncSession, actor: Actor, sub_account_id: int) -> int:
    """Delete a sub-account that has no calls yet (one with calls is disabled instead)."""
    actor.require("clients:write")
    sub = await get_sub_account(session, actor, sub_account_id)
    from api.domain.numbers import sub_account_blocker  # numbers builds on this module

    if (numbers := await sub_account_blocker(session, sub.id)) is not None:
        raise DomainError(ErrorCode.CONFLICT, f"the sub-account cannot be deleted: {numbers}", "id")
    has_calls = await session.scalar(
        select(exists().where(Call.client_id == sub.client_id, Call.sub_account_id == sub.id))
    )
    if has_calls:
        raise DomainError(
            ErrorCode.CONFLICT, "the sub-account has calls on record; disable it instead", "id"
        )
    before = audit.snapshot(sub, SUB_ACCOUNT_AUDIT_FIELDS)
    sub_id, reseller_id, client_id = sub.id, sub.reseller_id, sub.client_id
    await session.delete(sub)
    await session.flush()
    await audit.record(
        session,
        actor,
        subject_type="sub_account",
        subject_id=sub_id,
        action="sub_account.deleted",
        reseller_id=reseller_id,
        client_id=client_id,
        before=before,
    )
    return sub_id


async def _sub_accounts_blocker(session: AsyncSession, client: Client) -> str | None:
    count = await session.scalar(
        select(func.count()).select_from(SubAccount).where(SubAccount.client_id == client.id)
    )
    if count:
        return f"its {count} sub-account{'s' if count != 1 else ''}"
    return None


accounts.DELETE_BLOCKERS.append(_sub_accounts_blocker)


# --- A-numbers and PIN -------------------------------------------------------------------------


async def client_numbers(session: AsyncSession, client_id: int) -> list[str]:
    rows = await session.scalars(
        select(ClientNumber.number)
        .where(ClientNumber.client_id == client_id)
        .order_by(ClientNumber.number)
    )
    return list(rows)


async def set_client_numbers(
    session: AsyncSession, actor: Actor, client_id: int, numbers: list[str]
) -> tuple[Client, list[str]]:
    """Replace a client's A-numbers (the numbers it calls from). A number is unique on the
    platform: one held by another client is a conflict naming it."""
    actor.require("clients:write")
    client = await accounts.get_client(session, actor, client_id, field="clientId")
    if len(numbers) > MAX_NUMBERS:
        raise invalid("numbers", f"at most {MAX_NUMBERS} numbers per client")
    wanted = sorted({phone_number("numbers", n, required=True) for n in numbers})
    held = (
        await session.execute(
            select(ClientNumber, Client.deleted_at)
            .join(Client, Client.id == ClientNumber.client_id)
            .where(ClientNumber.number.in_(wanted), ClientNumber.client_id != client.id)
        )
    ).all()
    taken = sorted(row.number for row, deleted_at in held if deleted_at is None)
    if taken:
        raise DomainError(
            ErrorCode.CONFLICT,
            f"{', '.join(taken)} {'is' if len(taken) == 1 else 'are'} used by another client",
            "numbers",
        )
    freed = [row.id for row, _deleted in held]  # numbers of deleted clients are free again
    if freed:
        await session.execute(delete(ClientNumber).where(ClientNumber.id.in_(freed)))
    before = await client_numbers(session, client.id)
    await session.execute(
        delete(ClientNumber).where(
            ClientNumber.client_id == client.id, ClientNumber.number.not_in(wanted)
        )
    )
    session.add_all(
        ClientNumber(reseller_id=client.reseller_id, client_id=client.id, number=n)
        for n in wanted
        if n not in before
    )
    await session.flush()
    if before != wanted:
        await audit.record(
            session,
            actor,
            subject_type="client",
            subject_id=client.id,
            action="client.numbers_set",
            reseller_id=client.reseller_id,
            client_id=client.id,
            before={"numbers": before},
            after={"numbers": wanted},
        )
    return client, wanted


async def set_pin(
    session: AsyncSession, actor: Actor, client_id: int, pin: str, *, settings: Settings
) -> Client:
    """Set the PIN a client gives when calling from an unlisted number. Only its keyed digest
    is stored; a PIN identifies one client on the platform, so one in use is refused."""
    actor.require("clients:write")
    client = await accounts.get_client(session, actor, client_id, field="clientId")
    pin = (pin or "").strip()
    if not PIN_RE.match(pin):
        raise invalid("pin", "a PIN is 4 to 12 digits")
    digest = secrets.pin_digest(settings.secret_key, pin)
    holder = await session.scalar(select(Client).where(Client.pin_digest == digest))
    if holder is not None and holder.id != client.id:
        if holder.deleted_at is None:
            raise DomainError(
                ErrorCode.CONFLICT, "this PIN is not available; choose another", "pin"
            )
        holder.pin_digest = None
        await session.flush()
    await _store_pin(session, actor, client, digest, "client.pin_set")
    return client


async def clear_pin(session: AsyncSession, actor: Actor, client_id: int) -> Client:
    actor.require("clients:write")
    client = await accounts.get_client(session, actor, client_id)
    if client.pin_digest is not None:
        await _store_pin(session, actor, client, None, "client.pin_cleared")
    return client


async def _store_pin(
    session: AsyncSession, actor: Actor, client: Client, digest: str | None, action: str
) -> None:
    """Set (or clear) a client's PIN digest and record whether it had one before and after."""
    had_pin = client.pin_digest is not None
    client.pin_digest = digest
    await session.flush()
    await audit.record(
        session,
        actor,
        subject_type="client",
        subject_id=client.id,
        action=action,
        reseller_id=client.reseller_id,
        client_id=client.id,
        before={"has_pin": had_pin},
        after={"has_pin": digest is not None},
    )


# --- blacklist ---------------------------------------------------------------------------------


def blacklist_query(actor: Actor, *, reseller_id: int | None = None) -> Select:
    stmt = select(BlacklistEntry)
    if not actor.is_authenticated or actor.client_id is not None or not actor.can("clients:read"):
        return stmt.where(False)
    if not actor.is_operator:
        stmt = stmt.where(BlacklistEntry.reseller_id == actor.reseller_id)
    if reseller_id is not None:
        stmt = stmt.where(BlacklistEntry.reseller_id == reseller_id)
    return stmt


async def get_blacklist_entry(session: AsyncSession, actor: Actor, entry_id: int) -> BlacklistEntry:
    entry = await session.get(BlacklistEntry, entry_id)
    if (
        entry is None
        or actor.client_id is not None
        or not actor.can("clients:read")
        or not actor.sees_reseller(entry.reseller_id)
    ):
        raise not_found("blacklist entry")
    return entry


async def add_to_blacklist(
    session: AsyncSession,
    actor: Actor,
    *,
    reseller_id: int | None = None,
    number: str | None = None,
    client_id: int | None = None,
    reason: str = "",
) -> BlacklistEntry:
    """Refuse calls to or from a number, or every call of a client, with a reason text the
    switch can play."""
    actor.require("clients:write")
    reason = v.text("reason", reason, max_len=500)
    if (number is None) == (client_id is None):
        raise invalid("number", "give either a number or a client")
    if client_id is not None:
        client = await accounts.get_client(session, actor, client_id, field="clientId")
        if reseller_id is not None and reseller_id != client.reseller_id:
            raise not_found("client", "clientId")
        tenant = client.reseller_id
        clash = select(BlacklistEntry.id).where(
            BlacklistEntry.reseller_id == tenant, BlacklistEntry.client_id == client.id
        )
        what = "this client is"
    else:
        number = phone_number("number", number, required=True)
        if actor.is_operator:
            if reseller_id is None:
                raise invalid("resellerId", "the operator must name the reseller")
            tenant = (await accounts.get_reseller(session, actor, reseller_id)).id
        else:
            if reseller_id is not None and reseller_id != actor.reseller_id:
                raise not_found("reseller", "resellerId")
            assert actor.reseller_id is not None
            tenant = actor.reseller_id
        clash = select(BlacklistEntry.id).where(
            BlacklistEntry.reseller_id == tenant, BlacklistEntry.number == number
        )
        what = f"{number} is"
    if await session.scalar(clash) is not None:
        raise DomainError(ErrorCode.CONFLICT, f"{what} already on the blacklist", "number")
    entry = BlacklistEntry(reseller_id=tenant, number=number, client_id=client_id, reason=reason)
    session.add(entry)
    await session.flush()
    await audit.record(
        session,
        actor,
        subject_type="blacklist",
        subject_id=entry.id,
        action="blacklist.added",
        reseller_id=tenant,
        client_id=client_id,
        after={"number": number, "client_id": client_id, "reason": reason},
    )
    return entry


async def remove_from_blacklist(session: AsyncSession, actor: Actor, entry_id: int) -> int:
    actor.require("clients:write")
    entry = await get_blacklist_entry(session, actor, entry_id)
    before = {"number": entry.number, "client_id": entry.client_id, "reason": entry.reason}
    reseller_id, client_id = entry.reseller_id, entry.client_id
    await session.delete(entry)
    await session.flush()
    await audit.record(
        session,
        actor,
        subject_type="blacklist",
        subject_id=entry_id,
        action="blacklist.removed",
        reseller_id=reseller_id,
        client_id=client_id,
        before=before,
    )
    return entry_id
