"""Who calls and call authorization: thin resolvers over api.domain.callers / authorize."""

from __future__ import annotations

from typing import Annotated

from strawberry import relay

from api.domain import callers
from api.domain.actors import Actor
from api.domain.authorize import authorize
from api.domain.errors import DomainError
from api.models import BlacklistEntry as BlacklistRow
from api.models import SubAccount as SubAccountRow
from api.resolvers.context import Info
from api.resolvers.mutations import node_pk, run
from api.resolvers.pagination import paginate
from api.schema.callers import (
    BlacklistAddInput,
    BlacklistEntry,
    BlacklistEntryPayload,
    BlacklistRemoveInput,
    BlacklistRemovePayload,
    CallAuthorization,
    ClientNumbersPayload,
    ClientNumbersSetInput,
    ClientPinClearInput,
    ClientPinPayload,
    ClientPinSetInput,
    SubAccount,
    SubAccountCallerIdSetInput,
    SubAccountCreateInput,
    SubAccountCredentials,
    SubAccountDeletePayload,
    SubAccountIdInput,
    SubAccountPayload,
    SubAccountUpdateInput,
)
from api.schema.common import INPUT, After, Connection, First, described
from api.schema.inputs import domain_fields
from api.schema.types import Client


async def sub_accounts_connection(
    info: Info, *, first: int | None, after: str | None, client_id: int | None
) -> Connection[SubAccount]:
    stmt = callers.sub_accounts_query(info.context.actor, client_id=client_id)
    return await paginate(
        info, stmt, SubAccountRow.id, first=first, after=after, to_node=SubAccount.from_model
    )


async def sub_accounts(
    info: Info,
    first: First = None,
    after: After = None,
    client_id: Annotated[relay.GlobalID | None, described("Only this client's.")] = None,
) -> Connection[SubAccount]:
    return await sub_accounts_connection(
        info, first=first, after=after, client_id=node_pk(client_id, "Client", "clientId")
    )


async def sub_account_secret(
    info: Info, id: Annotated[relay.GlobalID, described("The sub-account.")]
) -> SubAccountCredentials | None:
    try:
        pk = node_pk(id, "SubAccount")
        assert pk is not None
        async with info.context.write() as session:
            sub, secret = await callers.read_secret(
                session, info.context.actor, pk, settings=info.context.settings
            )
    except DomainError as exc:
        if exc.code.value == "NOT_FOUND":
            return None
        raise
    return SubAccountCredentials(
        username=sub.username, secret=secret, realm=info.context.settings.sip_realm, ha1=sub.ha1
    )


async def blacklist(
    info: Info,
    first: First = None,
    after: After = None,
    reseller_id: Annotated[relay.GlobalID | None, described("Only this reseller's.")] = None,
) -> Connection[BlacklistEntry]:
    stmt = callers.blacklist_query(
        info.context.actor, reseller_id=node_pk(reseller_id, "Reseller", "resellerId")
    )
    return await paginate(
        info, stmt, BlacklistRow.id, first=first, after=after, to_node=BlacklistEntry.from_model
    )


async def call_authorize(
    info: Info,
    destination: Annotated[str, described("The dialled number.")],
    sub_account: Annotated[str | None, described("The calling SIP username.")] = None,
    a_number: Annotated[str | None, described("The calling number (A-number).")] = None,
    pin: Annotated[str | None, described("The PIN given, for an unlisted number.")] = None,
) -> CallAuthorization:
    actor = info.context.actor
    if not actor.is_operator:
        actor.require("calls:write")
    settings = info.context.settings
    async with info.context.read() as session:
        decision = await authorize(
            session,
            actor,
            sub_account_username=sub_account,
            a_number=a_number,
            pin=pin,
            destination=destination,
            secret_key=settings.secret_key,
            max_call_seconds=settings.max_call_seconds,
        )
    return CallAuthorization.from_decision(decision)


# --- mutations ---------------------------------------------------------------------------------


def _package(gid: relay.GlobalID | None) -> int | None:
    return node_pk(gid, "Package", "packageId")


async def sub_account_create(
    info: Info, input: Annotated[SubAccountCreateInput, INPUT]
) -> SubAccountPayload:
    async def action(session, actor: Actor):
        fields = domain_fields(input, exclude=("client_id", "package_id"))
        fields["package_id"] = _package(input.package_id)
        sub, secret = await callers.create_sub_account(
            session,
            actor,
            node_pk(input.client_id, "Client", "clientId"),
            fields,
            settings=info.context.settings,
        )
        return {"sub_account": SubAccount.from_model(sub), "secret": secret}

    return await run(info, SubAccountPayload, action)


async def sub_account_update(
    info: Info, input: Annotated[SubAccountUpdateInput, INPUT]
) -> SubAccountPayload:
    async def action(session, actor: Actor):
        fields = domain_fields(input, exclude=("id", "package_id"))
        if input.package_id is not None:
            fields["package_id"] = _package(input.package_id)
        sub = await callers.update_sub_account(
            session, actor, node_pk(input.id, "SubAccount"), fields
        )
        return {"sub_account": SubAccount.from_model(sub)}

    return await run(info, SubAccountPayload, action)


async def sub_account_caller_id_set(
    info: Info, input: Annotated[SubAccountCallerIdSetInput, INPUT]
) -> SubAccountPayload:
    async def action(session, actor: Actor):
        sub = await callers.set_caller_id(
            session, actor, node_pk(input.id, "SubAccount"), input.caller_id
        )
        return {"sub_account": SubAccount.from_model(sub)}

    return await run(info, SubAccountPayload, action)


async def sub_account_secret_reset(
    info: Info, input: Annotated[SubAccountIdInput, INPUT]
) -> SubAccountPayload:
    async def action(session, actor: Actor):
        sub, secret = await callers.reset_secret(
            session, actor, node_pk(input.id, "SubAccount"), settings=info.context.settings
        )
        return {"sub_account": SubAccount.from_model(sub), "secret": secret}

    return await run(info, SubAccountPayload, action)


async def sub_account_delete(
    info: Info, input: Annotated[SubAccountIdInput, INPUT]
) -> SubAccountDeletePayload:
    async def action(session, actor: Actor):
        pk = await callers.delete_sub_account(session, actor, node_pk(input.id, "SubAccount"))
        return {"deleted_sub_account_id": relay.GlobalID("SubAccount", str(pk))}

    return await run(info, SubAccountDeletePayload, action)


async def client_numbers_set(
    info: Info, input: Annotated[ClientNumbersSetInput, INPUT]
) -> ClientNumbersPayload:
    async def action(session, actor: Actor):
        client, numbers = await callers.set_client_numbers(
            session, actor, node_pk(input.client_id, "Client", "clientId"), input.numbers
        )
        return {"client": Client.from_model(client), "numbers": numbers}

    return await run(info, ClientNumbersPayload, action)


async def client_pin_set(
    info: Info, input: Annotated[ClientPinSetInput, INPUT]
) -> ClientPinPayload:
    async def action(session, actor: Actor):
        client = await callers.set_pin(
            session,
            actor,
            node_pk(input.client_id, "Client", "clientId"),
            input.pin,
            settings=info.context.settings,
        )
        return {"client": Client.from_model(client)}

    return await run(info, ClientPinPayload, action)


async def client_pin_clear(
    info: Info, input: Annotated[ClientPinClearInput, INPUT]
) -> ClientPinPayload:
    async def action(session, actor: Actor):
        client = await callers.clear_pin(
            session, actor, node_pk(input.client_id, "Client", "clientId")
        )
        return {"client": Client.from_model(client)}

    return await run(info, ClientPinPayload, action)


async def blacklist_add(
    info: Info, input: Annotated[BlacklistAddInput, INPUT]
) -> BlacklistEntryPayload:
    async def action(session, actor: Actor):
        entry = await callers.add_to_blacklist(
            session,
            actor,
            reseller_id=node_pk(input.reseller_id, "Reseller", "resellerId"),
            number=input.number,
            client_id=node_pk(input.client_id, "Client", "clientId"),
            reason=input.reason or "",
        )
        return {"entry": BlacklistEntry.from_model(entry)}

    return await run(info, BlacklistEntryPayload, action)


async def blacklist_remove(
    info: Info, input: Annotated[BlacklistRemoveInput, INPUT]
) -> BlacklistRemovePayload:
    async def action(session, actor: Actor):
        pk = await callers.remove_from_blacklist(
            session, actor, node_pk(input.id, "BlacklistEntry")
        )
        return {"deleted_blacklist_entry_id": relay.GlobalID("BlacklistEntry", str(pk))}

    return await run(info, BlacklistRemovePayload, action)


# --- fields on Client --------------------------------------------------------------------------


async def client_numbers(info: Info, client_id: int) -> list[str]:
    loader = _loader(info, "caller_numbers", _load_numbers)
    return await loader.load(client_id)


async def client_caller_id_numbers(info: Info, client_id: int) -> list[str]:
    loader = _loader(info, "caller_id_numbers", _load_caller_id_numbers)
    return await loader.load(client_id)


async def _load_caller_id_numbers(info: Info, ids) -> list[list[str]]:
    async with info.context.read() as session:
        held = await callers.numbers_held_many(session, list(ids))
    return [held[i] for i in ids]


async def client_has_pin(info: Info, client_id: int) -> bool:
    loader = _loader(info, "caller_has_pin", _load_has_pin)
    return await loader.load(client_id)


def _loader(info: Info, name: str, fn):
    from strawberry.dataloader import DataLoader

    cache = info.context.__dict__.setdefault("_callers_loaders", {})
    if name not in cache:

        async def load(ids):
            return await fn(info, ids)

        cache[name] = DataLoader(load)
    return cache[name]


async def _load_numbers(info: Info, ids) -> list[list[str]]:
    from sqlalchemy import select

    from api.models import ClientNumber

    async with info.context.read() as session:
        rows = await session.execute(
            select(ClientNumber.client_id, ClientNumber.number)
            .where(ClientNumber.client_id.in_(ids))
            .order_by(ClientNumber.number)
        )
        grouped: dict[int, list[str]] = {}
        for client_id, number in rows:
            grouped.setdefault(client_id, []).append(number)
    return [grouped.get(i, []) for i in ids]


async def _load_has_pin(info: Info, ids) -> list[bool]:
    from sqlalchemy import select

    from api.models import Client as ClientRow

    async with info.context.read() as session:
        rows = await session.scalars(
            select(ClientRow.id).where(ClientRow.id.in_(ids), ClientRow.pin_digest.is_not(None))
        )
        with_pin = set(rows)
    return [i in with_pin for i in ids]
