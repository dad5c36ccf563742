"""Login, logout, viewer, logins and API tokens."""

from __future__ import annotations

from typing import Annotated

from strawberry import relay

from api.domain import auth, passwords, throttle
from api.domain.actors import Actor
from api.domain.errors import DomainError
from api.models import Client as ClientRow
from api.models import Reseller as ResellerRow
from api.models import User as UserRow
from api.resolvers.context import Info
from api.resolvers.mutations import node_pk, run, user_errors
from api.resolvers.pagination import paginate
from api.schema.common import INPUT, After, Connection, First, described
from api.schema.inputs import ApiTokenCreateInput, IdInput, Role, UserCreateInput
from api.schema.payloads import (
    ApiTokenCreatePayload,
    ApiTokenPayload,
    LoginPayload,
    LogoutPayload,
    PasswordPayload,
    UserPayload,
)
from api.schema.types import ApiToken, Client, Reseller, User, Viewer
from branding.hosts import address_of, host_of

SESSION_COOKIE = "dialtone_session"
CSRF_COOKIE = "dialtone_csrf"
_THROTTLES: dict[tuple[str, str, str], throttle.LoginThrottle] = {}


def login_throttle(info: Info) -> throttle.LoginThrottle:
    """The app's login throttle (one per process and settings when run outside the app)."""
    found = getattr(info.context.request.app.state, "login_throttle", None)
    if found is not None:
        return found
    s = info.context.settings
    key = (s.login_throttle_storage, s.login_limits_account, s.login_limits_address)
    if key not in _THROTTLES:
        _THROTTLES[key] = throttle.LoginThrottle(*key)
    return _THROTTLES[key]


async def login(
    info: Info,
    email: Annotated[str, described("Login email.")],
    password: Annotated[str, described("Password.")],
) -> LoginPayload:
    settings = info.context.settings
    request = info.context.request
    try:
        result = await throttle.login(
            info.context.sessions,
            login_throttle(info),
            email=email,
            password=password,
            address=address_of(request, settings.trusted_proxies),
            ttl_seconds=settings.session_ttl_seconds,
            secret_key=settings.secret_key,
        )
    except throttle.Throttled as exc:
        info.context.response.headers["Retry-After"] = str(exc.retry_after)
        return LoginPayload(errors=user_errors(exc), retry_after_seconds=exc.retry_after)
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


def _base_url(info: Info) -> str:
    """This request's site: the scheme (https behind DIALTONE_COOKIE_SECURE) and host."""
    settings = info.context.settings
    request = info.context.request
    host = host_of(request, settings.trusted_proxies) or settings.platform_host
    port = request.url.port
    scheme = "https" if settings.cookie_secure else request.url.scheme
    default = {"http": 80, "https": 443}.get(scheme)
    suffix = f":{port}" if port and port != default and not settings.cookie_secure else ""
    return f"{scheme}://{host}{suffix}"


async def password_reset_request(
    info: Info, email: Annotated[str, described("The login email that forgot its password.")]
) -> PasswordPayload:
    settings = info.context.settings
    theme = await info.context.request.app.state.branding.theme_for(info.context.request)
    allowed = await login_throttle(info).reset_email_allowed(email or "")
    request = passwords.ResetRequest(
        email=email, reseller_id=theme.reseller_id if theme else None, base_url=_base_url(info)
    )
    async with info.context.write() as session:
        await passwords.request_reset(
            session,
            request,
            secret_key=settings.secret_key,
            ttl_seconds=settings.password_reset_ttl_seconds,
            allowed=allowed,
        )
    return PasswordPayload(errors=[], ok=True)


async def password_reset(
    info: Info,
    token: Annotated[str, described("The token of the reset link.")],
    password: Annotated[str, described("The new password, 8+ characters.")],
) -> PasswordPayload:
    async def action(session, _actor: Actor):
        await passwords.reset(
            session, token=token, password=password, secret_key=info.context.settings.secret_key
        )
        return {"ok": True}

    return await run(info, PasswordPayload, action)


async def password_change(
    info: Info,
    current_password: Annotated[str, described("The password now.")],
    new_password: Annotated[str, described("The new password, 8+ characters.")],
) -> PasswordPayload:
    async def action(session, actor: Actor):
        await passwords.change(
            session, actor, current_password=current_password, new_password=new_password
        )
        return {"ok": True}

    return await run(info, PasswordPayload, action)


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
        impersonator=actor.impersonator_label or None,
    )


async def client_impersonate(
    info: Info, client_id: Annotated[relay.GlobalID, described("The client to act as.")]
) -> LoginPayload:
    settings = info.context.settings

    async def action(session, actor: Actor):
        result = await auth.impersonate(
            session,
            actor,
            node_pk(client_id, "Client", "clientId"),
            ttl_seconds=settings.session_ttl_seconds,
            secret_key=settings.secret_key,
        )
        return {
            "token": result.token,
            "csrf_token": result.csrf_token,
            "expires_at": result.expires_at,
            "user": User.from_model(result.user),
        }

    return await run(info, LoginPayload, action)


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


async def users(
    info: Info,
    first: First = None,
    after: After = None,
    reseller_id: Annotated[relay.GlobalID | None, described("Only this reseller's.")] = None,
    role: Annotated[Role | None, described("Only logins of this role.")] = None,
) -> Connection[User]:
    return await paginate(
        info,
        auth.users_query(
            info.context.actor,
            node_pk(reseller_id, "Reseller", "resellerId"),
            role.value if role is not None else None,
        ),
        UserRow.id,
        first=first,
        after=after,
        to_node=User.from_model,
    )


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
