"""Brands and hostnames. Thin: parse, call the domain, map."""

from __future__ import annotations

from typing import Annotated

from strawberry import relay

from api.domain import brands as domain
from api.domain.actors import Actor
from api.domain.errors import DomainError, DomainErrors
from api.models import Hostname as HostnameRow
from api.resolvers.context import Info
from api.resolvers.mutations import node_pk, run, user_errors
from api.resolvers.pagination import paginate
from api.schema.common import INPUT, After, Connection, First, described
from api.schema.inputs import domain_fields
from branding import Branding


def _branding(info: Info) -> Branding:
    return info.context.request.app.state.branding


# --- queries ---------------------------------------------------------------------------------


async def brand(info: Info) -> Brand | None:
    theme = await _branding(info).theme_for(info.context.request)
    return Brand.from_theme(theme) if theme is not None else None


async def brand_settings(
    info: Info,
    reseller_id: Annotated[
        relay.GlobalID | None,
        described("The reseller (operator); omitted: your own, or the operator's brand."),
    ] = None,
) -> BrandSettings | None:
    try:
        async with info.context.read() as session:
            owner = await domain.read_brand(
                session, info.context.actor, node_pk(reseller_id, "Reseller", "resellerId")
            )
    except DomainError:
        return None
    return BrandSettings.from_owner(owner)


async def hostnames(
    info: Info,
    first: First = None,
    after: After = None,
    reseller_id: Annotated[relay.GlobalID | None, described("Only this reseller's.")] = None,
    status: Annotated[HostnameStatus | None, described("Only pending, or only active.")] = None,
) -> Connection[Hostname]:
    return await hostnames_connection(
        info,
        first=first,
        after=after,
        reseller_id=node_pk(reseller_id, "Reseller", "resellerId"),
        status=status.value if status else None,
    )


async def hostnames_connection(
    info: Info,
    *,
    first: int | None,
    after: str | None,
    reseller_id: int | None,
    status: str | None = None,
    own_only: bool = False,
) -> Connection[Hostname]:
    """Hostnames the viewer may see; ``own_only``: only ``reseller_id``'s (none if None)."""
    stmt = domain.hostnames_query(info.context.actor, reseller_id=reseller_id, status=status)
    if own_only and reseller_id is None:
        stmt = stmt.where(False)
    return await paginate(
        info, stmt, HostnameRow.id, first=first, after=after, to_node=Hostname.from_model
    )


# --- mutations -------------------------------------------------------------------------------


async def brand_update(
    info: Info, input: Annotated[BrandUpdateInput, INPUT]
) -> BrandSettingsPayload:
    async def action(session, actor: Actor):
        owner = await domain.update_brand(
            session,
            actor,
            node_pk(input.reseller_id, "Reseller", "resellerId"),
            domain_fields(input, exclude=("reseller_id",)),
        )
        return {"brand_settings": BrandSettings.from_owner(owner)}

    return await run(info, BrandSettingsPayload, action)


async def _read_upload(upload: object, limit: int) -> tuple[bytes, str | None]:
    """The bytes of an uploaded file (at most ``limit``: enough to tell it is too large) and
    the type its sender declared. Anything but a file reads as empty, which is refused."""
    read = getattr(upload, "read", None)
    if read is None:
        return b"", None
    return await read(limit), getattr(upload, "content_type", None)


async def brand_logo_upload(
    info: Info, input: Annotated[BrandLogoUploadInput, INPUT]
) -> BrandSettingsPayload:
    settings = info.context.settings
    content, declared = None, None
    if input.file is not None:
        content, declared = await _read_upload(input.file, settings.logo_max_bytes + 1)

    async def action(session, actor: Actor):
        owner = await domain.set_logo(
            session,
            actor,
            node_pk(input.reseller_id, "Reseller", "resellerId"),
            content,
            declared,
            settings=settings,
        )
        return {"brand_settings": BrandSettings.from_owner(owner)}

    return await run(info, BrandSettingsPayload, action)


async def hostname_order(
    info: Info, input: Annotated[HostnameOrderInput, INPUT]
) -> HostnamePayload:
    async def action(session, actor: Actor):
        row = await domain.order_hostname(
            session,
            actor,
            node_pk(input.reseller_id, "Reseller", "resellerId"),
            input.host,
            settings=info.context.settings,
        )
        return {"hostname": Hostname.from_model(row)}

    return await run(info, HostnamePayload, action)


async def hostname_approve(info: Info, input: Annotated[HostnameInput, INPUT]) -> HostnamePayload:
    async def action(session, actor: Actor):
        row = await domain.approve_hostname(session, actor, node_pk(input.id, "Hostname"))
        return {"hostname": Hostname.from_model(row)}

    return await run(info, HostnamePayload, action)


async def hostname_check_dns(info: Info, input: Annotated[HostnameInput, INPUT]) -> HostnamePayload:
    try:
        row = await domain.check_dns(
            info.context.sessions,
            info.context.actor,
            node_pk(input.id, "Hostname"),
            resolver=_branding(info).resolver,
            settings=info.context.settings,
        )
    except (DomainError, DomainErrors) as exc:
        return HostnamePayload(errors=user_errors(exc))
    return HostnamePayload(errors=[], hostname=Hostname.from_model(row))


# Imported last: api.schema.brands imports this module for its root fields.
from api.schema.brands import (  # noqa: E402
    Brand,
    BrandLogoUploadInput,
    BrandSettings,
    BrandSettingsPayload,
    BrandUpdateInput,
    Hostname,
    HostnameInput,
    HostnameOrderInput,
    HostnamePayload,
    HostnameStatus,
)
