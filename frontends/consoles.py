"""What the two staff portals share: the reseller portal (``/manage``, on a reseller's own
host, for its owner and staff) and the operator console (``/operator``, on the platform host,
for the operator's people).

Who is admitted (:meth:`Console.admits`): to ``/manage``, a user of the reseller whose host it
is; to ``/operator``, an operator user, on the platform host only. What each may do there is
the API's: a page runs its operations as the signed-in user, the menu shows what the
viewer's ``permissions`` allow, and an operation the role may not run answers the 403 page
(``forbidden``), never a second rule here.

Every console operation selects ``viewer { ...ConsoleViewer }`` (``_consoles.graphql``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from strawberry.relay import to_base64

from api.domain.errors import ErrorCode
from frontends import signin
from frontends.operations import OperationFailed
from frontends.web import Page, not_found


@dataclass(frozen=True)
class Console:
    name: str  # "manage" or "operator": its templates' folder
    prefix: str  # where it is served
    kind: str  # the viewer kind it admits

    def path(self, rest: str = "") -> str:
        """A path of this console: ``path("/clients")`` is ``/manage/clients``."""
        return self.prefix + rest

    def serves(self, page: Page) -> bool:
        """Whether this host has this console: a reseller's host the reseller portal, the
        platform host the operator console."""
        return (page.theme.reseller_id is None) == (self.kind == "operator")

    def admits(self, page: Page, viewer: dict[str, Any]) -> bool:
        if viewer["kind"] != self.kind or not self.serves(page):
            return False
        if self.kind == "operator":
            return True
        reseller = viewer.get("reseller") or {}
        return reseller.get("id") == to_base64("Reseller", page.theme.reseller_id)


MANAGE = Console("manage", "/manage", "reseller_user")
OPERATOR = Console("operator", "/operator", "operator")


def failed_with(error: OperationFailed, code: ErrorCode) -> bool:
    """Whether every error of a failed operation is of this code."""
    return all(
        getattr(getattr(e, "original_error", None), "code", None) == code for e in error.errors
    )


def _denied(error: OperationFailed) -> bool:
    return failed_with(error, ErrorCode.PERMISSION_DENIED)


class Shown(Exception):
    """A response a page's helper has already decided (the login page, the 403 page)."""

    def __init__(self, response: Response) -> None:
        self.response = response


async def signed_in(
    page: Page, console: Console, operation: str, variables: dict | None = None
) -> dict[str, Any]:
    """The operation's data, run as the signed-in user of this console; raises :class:`Shown`
    with the login page when nobody of this console is signed in, or the 403 page when the
    user's role may not run it."""
    if not page.token:
        raise Shown(to_login(page, console))
    try:
        data = (await page.run(operation, variables)).data
    except OperationFailed as error:
        # someone this console does not admit gets its login page, whatever the refusal
        viewer = (await page.run("PortalViewer")).data["viewer"]
        if not console.admits(page, viewer):
            raise Shown(to_login(page, console)) from None
        if not _denied(error):
            raise
        raise Shown(forbidden(page, console)) from None
    viewer = data["viewer"]
    if not console.admits(page, viewer):
        raise Shown(to_login(page, console))
    page.console = console
    page.permissions = frozenset(viewer["permissions"])
    page.viewer_name = (viewer.get("user") or {}).get("name") or ""
    return data


async def posted(page: Page, console: Console) -> dict[str, str] | None:
    """The form POSTed by a signed-in user of this console (anyone else is shown the login
    page first, before anything is changed); None when its CSRF token is not right."""
    if not page.token:
        raise Shown(to_login(page, console))
    await signed_in(page, console, "ConsoleSignedIn")
    return await page.form()


def to_login(page: Page, console: Console) -> Response:
    """The console's login page, coming back to this page after (htmx follows it too)."""
    login = console.path("/login")
    response = page.redirect(login)
    response.headers["HX-Redirect"] = login
    return response


def forbidden(page: Page, console: Console) -> Response:
    page.console = console
    return page.render(f"{console.name}/forbidden.html", status=403)


def missing(page: Page, console: Console) -> Response:
    """The console's 404 page: what the path names is not there, or not this user's to see."""
    page.console = console
    return page.render(f"{console.name}/missing.html", status=404)


Handler = Callable[[Page], Awaitable[Response]]


def endpoint(console: Console, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A route's endpoint: ``handler`` gets the request's page on a host that has this
    console (others get the plain 404); a :class:`Shown` it raises is answered as it is."""

    async def serve(request: Request) -> Response:
        page = await Page.of(request)
        if page is None or not console.serves(page):
            return not_found(request)
        page.console = console
        try:
            return await handler(page)
        except Shown as shown:
            return shown.response

    return serve


def route(console: Console, path: str, handler: Handler, methods: list[str]) -> Route:
    return Route(console.path(path), endpoint(console, handler), methods=methods)


def session_routes(console: Console) -> list[Route]:
    """The console's login and logout."""

    async def login(page: Page) -> Response:
        return await signin.login(
            page,
            template=f"{console.name}/login.html",
            admits=console.admits,
            home=console.path(),
        )

    async def logout(page: Page) -> Response:
        return await signin.logout(page, to=console.path("/login"))

    return [
        route(console, "/login", login, ["GET", "POST"]),
        route(console, "/logout", logout, ["POST"]),
    ]
