"""Login, logout, viewer, logins and API tokens."""

from __future__ import annotations

from typing import Annotated

from api.domain import auth
from api.domain.actors import Actor
from api.domain.errors import DomainError
from api.models import Client as ClientRow
from api.models import Reseller as ResellerRow
from api.models import User as UserRow
from api.resolvers.context import Info
from api.resolvers.mutations import node_pk, run, user_errors
from api.resolvers.pagination import paginate
from api.schema.common import INPUT, After, Connection, First, described
from api.schema.inputs import ApiTokenCreateInput, IdInput, UserCreateInput
from api.schema.payloads import (
    ApiTokenCreatePayload,
    ApiTokenPayload,
    LoginPayload,
    LogoutPayload,
    UserPayload,
)
from api.schema.types import ApiToken, Client, Reseller, User, Viewer

SESSION_COOKIE = "dialtone_session"
CSRF_COOKIE = "dialtone_csrf"


async def login(
    info: Info,
    email: Annotated[str, described("Login email.")],
    password: Annotated[str, described("Password.")],
) -> LoginPayload:
    settings = info.context.settings
    try:
        async with info.context.write() as session:
            result = await auth.login(
                session,
                email,
                password,
                ttl_seconds=settings.session_ttl_seconds,
                secret_key=settings.secret_key,
            )
    except DomainError as exc:
        return LoginPayload(errors=user_errors(exc))
    response = info.context.response
    common = {"max_age": settings.session_ttl_seconds, "secure": settings.cookie_secure}
    response.set_cookie(SESSION_COOKIE, result.token, httponly=True, samesite="lax", **common)
    response.set_cookie(CSRF_COOKIE, result.csrf_token, httponly=False, samesite="lax", **common)
    return LoginPayload(
        errors=[],
        token=result.token,
        csrf_token=result.csrf_token,
        expires_at=result.expires_at,
        user=User.from_model(result.user),
    )


async def logout(info: Info) -> LogoutPayload:
    async def action(session, actor: Actor):
        return {"ok": await auth.logout(session, actor)}

    payload = await run(info, LogoutPayload, action)
    info.context.response.delete_cookie(SESSION_COOKIE)
    info.context.response.delete_cookie(CSRF_COOKIE)
    return payload


async def viewer(info: Info) -> Viewer:
    actor = info.context.actor
    user = reseller = client = None
    async with info.context.read() as session:
        if actor.user_id is not None:
            row = await session.get(UserRow, actor.user_id)
            user = User.from_model(row) if row else None
        if actor.reseller_id is not None:
            row = await session.get(ResellerRow, actor.reseller_id)
            reseller = Reseller.from_model(row) if row else None
        if actor.client_id is not None:
            row = await session.get(ClientRow, actor.client_id)
            client = Client.from_model(row) if row else None
    return Viewer(
        authenticated=actor.is_authenticated,
        kind=actor.kind,
        permissions=sorted(actor.permissions),
        user=user,
        reseller=reseller,
        client=client,
    )


async def user_create(info: Info, input: Annotated[UserCreateInput, INPUT]) -> UserPayload:
    async def action(session, actor: Actor):
        user = await auth.create_user(
            session,
            actor,
            email=input.email,
            password=input.password,
            role=input.role.value,
            name=input.name or "",
            reseller_id=node_pk(input.reseller_id, "Reseller", "resellerId"),
            client_id=node_pk(input.client_id, "Client", "clientId"),
        )
        return {"user": User.from_model(user)}

    return await run(info, UserPayload, action)


async def api_token_create(
    info: Info, input: Annotated[ApiTokenCreateInput, INPUT]
) -> ApiTokenCreatePayload:
    async def action(session, actor: Actor):
        new = await auth.create_api_token(
            session, actor, name=input.name, scopes=input.scopes, expires_at=input.expires_at
        )
        return {"token": new.token, "api_token": ApiToken.from_model(new.api_token)}

    return await run(info, ApiTokenCreatePayload, action)


async def api_token_revoke(info: Info, input: Annotated[IdInput, INPUT]) -> ApiTokenPayload:
    async def action(session, actor: Actor):
        token = await auth.revoke_api_token(session, actor, node_pk(input.id, "ApiToken"))
        return {"api_token": ApiToken.from_model(token)}

    return await run(info, ApiTokenPayload, action)


async def api_tokens(info: Info, first: First = None, after: After = None) -> Connection[ApiToken]:
    from api.models import ApiToken as ApiTokenRow

    return await paginate(
        info,
        auth.api_tokens_query(info.context.actor),
        ApiTokenRow.id,
        first=first,
        after=after,
        to_node=ApiToken.from_model,
    )
