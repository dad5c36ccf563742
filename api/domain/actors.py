"""Who is acting, and what they may do.

Every request has one :class:`Actor`. Permissions are named ``area:verb``; roles grant sets of
them and API tokens carry a subset (their scopes) of their reseller owner's permissions.
Tenancy: every lookup is scoped by :meth:`Actor.reseller_scope` / ``client_id``; an object of
another tenant is "not found", never "forbidden".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from api.domain.errors import DomainError, ErrorCode

# Every permission that exists. Scopes of API tokens are chosen from the reseller ones.
OPERATOR_PERMISSIONS = frozenset(
    {
        "resellers:read",
        "resellers:write",
        "reseller_balance:write",
        "clients:read",
        "clients:write",
        "clients:impersonate",
        "payments:write",
        "calls:write",
        "reports:read",
        "audit:read",
        "brand:read",
        "brand:write",
        "paypal:manage",
        "webhooks:read",
        "webhooks:write",
    }
)
RESELLER_OWNER_PERMISSIONS = frozenset(
    {
        "clients:read",
        "clients:write",
        "payments:write",
        "calls:write",
        "reports:read",
        "audit:read",
        "tokens:manage",
        "clients:impersonate",
        "brand:read",
        "brand:write",
        "paypal:manage",
        "webhooks:read",
        "webhooks:write",
    }
)
RESELLER_STAFF_PERMISSIONS = frozenset(
    {
        "clients:read",
        "clients:write",
        "payments:write",
        "reports:read",
        "brand:read",
        "webhooks:read",
    }
)
# self:write: what a client user may change of its own (its numbers' forwarding, its
# sub-accounts' caller ID within the numbers it holds, their SIP passwords); nothing else.
CLIENT_PERMISSIONS = frozenset({"self:read", "self:write"})
# Credentials (API tokens, the PayPal REST app) are managed by people, never by a token; and
# only a person logs in as a client (clients:impersonate).
TOKEN_SCOPES = frozenset(
    RESELLER_OWNER_PERMISSIONS - {"tokens:manage", "paypal:manage", "clients:impersonate"}
)

ROLE_PERMISSIONS = {
    "operator": OPERATOR_PERMISSIONS,
    "reseller_owner": RESELLER_OWNER_PERMISSIONS,
    "reseller_staff": RESELLER_STAFF_PERMISSIONS,
    "client": CLIENT_PERMISSIONS,
}


@dataclass(frozen=True)
class Actor:
    kind: str  # anonymous | operator | reseller_user | client_user | api_token | system
    user_id: int | None = None
    token_id: int | None = None
    session_id: int | None = None
    reseller_id: int | None = None
    client_id: int | None = None
    role: str | None = None
    label: str = ""
    permissions: frozenset[str] = field(default_factory=frozenset)
    # a client's session opened by a reseller owner or the operator (login as client): who
    impersonator_id: int | None = None
    impersonator_label: str = ""

    @property
    def is_authenticated(self) -> bool:
        return self.kind != "anonymous"

    @property
    def is_operator(self) -> bool:
        return self.kind in ("operator", "system")

    @property
    def audit_type(self) -> str:
        return "token" if self.kind == "api_token" else ("user" if self.user_id else self.kind)

    @property
    def audit_id(self) -> int | None:
        return self.token_id if self.kind == "api_token" else self.user_id

    def can(self, permission: str) -> bool:
        return self.kind == "system" or permission in self.permissions

    def require(self, permission: str) -> None:
        if not self.is_authenticated:
            raise DomainError(ErrorCode.UNAUTHENTICATED, "log in first")
        if not self.can(permission):
            raise DomainError(
                ErrorCode.PERMISSION_DENIED, f"this needs the {permission} permission"
            )

    def require_own_login(self) -> None:
        """Refuse what only the person whose login it is may do (its password, its users)
        when someone else is acting as them."""
        if self.impersonator_id is not None:
            raise DomainError(
                ErrorCode.PERMISSION_DENIED,
                "not while logged in as the client: only the client changes its password and users",
            )

    def sees_reseller(self, reseller_id: int) -> bool:
        """Whether this actor may see a reseller's data at all (tenancy, not permission)."""
        return self.is_operator or (self.reseller_id == reseller_id and self.client_id is None)


ANONYMOUS = Actor(kind="anonymous")
SYSTEM = Actor(kind="system", label="system", permissions=OPERATOR_PERMISSIONS)


def actor_for_user(user, session_id: int | None = None, impersonator=None) -> Actor:
    role = user.role
    kind = {
        "operator": "operator",
        "reseller_owner": "reseller_user",
        "reseller_staff": "reseller_user",
        "client": "client_user",
    }[role]
    return Actor(
        kind=kind,
        user_id=user.id,
        session_id=session_id,
        reseller_id=user.reseller_id,
        client_id=user.client_id,
        role=role,
        label=user.email,
        permissions=ROLE_PERMISSIONS[role],
        impersonator_id=impersonator.id if impersonator is not None else None,
        impersonator_label=impersonator.email if impersonator is not None else "",
    )


def actor_for_token(token) -> Actor:
    scopes = frozenset(token.scopes.split()) & TOKEN_SCOPES
    return Actor(
        kind="api_token",
        token_id=token.id,
        reseller_id=token.reseller_id,
        label=f"token {token.prefix}",
        permissions=scopes,
    )
