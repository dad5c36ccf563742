"""What every portal page stands on: the host's brand, the session, CSRF, the language and
the templates.

A page is served only on a host that resolves to a brand (``branding``: an active hostname,
or the platform host); any other host gets the plain 404 page, which shows no brand.

Sessions are the API's own: the ``dialtone_session`` cookie that the ``login`` mutation sets
(``api.resolvers.auth``). A form that changes something carries a CSRF token: with a
session, the one derived from it (``api.domain.auth.csrf_token``, the same that ``/graphql``
wants in ``X-CSRF-Token``, which htmx sends); before login, a random token kept in the
``dialtone_form`` cookie (double submit), so that no other site can log a browser in.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from api.domain import auth
from api.resolvers.auth import SESSION_COOKIE
from branding import Theme
from frontends import i18n
from frontends.operations import TEMPLATES, Outcome, execute

FORM_COOKIE = "dialtone_form"
# a "log in as client" session, kept beside the owner's own (frontends.manage.impersonation)
IMPERSONATION_COOKIE = "dialtone_as_client"
CSRF_FIELD = "csrf_token"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@cache
def environment(lang: str) -> Environment:
    """The templates speaking ``lang`` (one environment per language: its gettext is its own)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(
        fmt=i18n.Formatter(lang),
        lang=lang,
        dir=i18n.direction(lang),
        languages=[(code, i18n.language_name(code)) for code in i18n.LANGUAGES],
        csrf_field=CSRF_FIELD,
    )
    return env


def not_found(request: Request) -> Response:
    """The 404 page of a host that serves no portal: nothing of any brand on it."""
    lang = i18n.choose(
        picked=None, client=None, brand=None, accept_language=request.headers.get("accept-language")
    )
    html = environment(lang).get_template("not_found.html").render()
    return HTMLResponse(html, status_code=404, headers=SECURITY_HEADERS)


def local_path(value: str | None, default: str = "/") -> str:
    """A path on this site to go back to (never another site's URL)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


@dataclass
class Page:
    """One request to a portal page: its brand, its session and its language."""

    request: Request
    theme: Theme
    token: str | None
    lang: str
    form_token: str  # the pre-login CSRF token (new when the browser had none)
    _new_form_token: bool = False
    # the signed-in client's billing mode (GraphQL's BillingMode), when the page's operation
    # read it: the menu shows Invoices to postpaid clients only
    billing_mode: str | None = None
    cookies: list[str] = field(default_factory=list)  # Set-Cookie values to pass on
    # on the staff portals (frontends.consoles): which one, and what the signed-in user may do
    # (the API's permissions: the menu shows what they allow) and their name
    console: Any = None
    # the client portal runs as a client's session opened from the reseller portal
    impersonating: bool = False
    permissions: frozenset[str] = frozenset()
    viewer_name: str = ""

    @classmethod
    async def of(cls, request: Request) -> Page | None:
        """The page of a request, or None when its host serves no brand."""
        theme = await request.app.state.branding.theme_for(request)
        if theme is None:
            return None
        form_token = request.cookies.get(FORM_COOKIE, "")
        new = len(form_token) < 32
        page = cls(
            request=request,
            theme=theme,
            token=request.cookies.get(SESSION_COOKIE) or None,
            lang=i18n.DEFAULT,
            form_token=secrets.token_urlsafe(32) if new else form_token,
            _new_form_token=new,
        )
        page.speak(None)
        return page

    # --- language ---------------------------------------------------------------------------

    def speak(self, client_language: str | None) -> None:
        """Choose the page's language, knowing the client's own (None before login)."""
        self.lang = i18n.choose(
            picked=self.request.cookies.get(i18n.COOKIE),
            client=client_language,
            brand=self.theme.own_language,
            accept_language=self.request.headers.get("accept-language"),
        )

    def gettext(self, message: str) -> str:
        return i18n.translations(self.lang).gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return i18n.translations(self.lang).ngettext(singular, plural, n)

    # --- GraphQL ----------------------------------------------------------------------------

    async def run(
        self,
        name: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        anonymous: bool = False,
    ) -> Outcome:
        """Run a page operation as this page's session (or as ``token``, or as nobody)."""
        as_token = None if anonymous else (token or self.token)
        return await execute(self.request, name, variables, token=as_token)

    # --- CSRF -------------------------------------------------------------------------------

    @property
    def csrf_token(self) -> str:
        """The token this page's forms carry."""
        if self.token:
            return auth.csrf_token(self.request.app.state.settings.secret_key, self.token)
        return self.form_token

    async def form(self) -> dict[str, str] | None:
        """The POSTed form when its CSRF token is right (else None): the session's token, or
        before login the ``dialtone_form`` cookie's."""
        form = await self.request.form()
        given = str(form.get(CSRF_FIELD, ""))
        expected = [self.form_token] if not self._new_form_token else []
        if self.token:
            expected.append(self.csrf_token)
        if not given or not any(hmac.compare_digest(given, e) for e in expected):
            return None
        return {key: str(value) for key, value in form.items() if isinstance(value, str)}

    # --- responses --------------------------------------------------------------------------

    def _finish(self, response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers["Vary"] = "Host, Cookie, Accept-Language"
        for value in self.cookies:
            response.headers.append("set-cookie", value)
        if self._new_form_token:
            response.set_cookie(
                FORM_COOKIE,
                self.form_token,
                httponly=True,
                samesite="lax",
                secure=self.request.app.state.settings.cookie_secure,
            )
        return response

    def act_as_client(self) -> None:
        """Run as the "log in as client" session when this browser has one (the client
        portal's pages only: the consoles keep their user's own session)."""
        token = self.request.cookies.get(IMPERSONATION_COOKIE)
        if token:
            self.token, self.impersonating = token, True

    def pass_cookies(self, outcome: Outcome) -> None:
        """Pass on the cookies an operation set (login's session, logout's removal)."""
        self.cookies.extend(outcome.response.headers.getlist("set-cookie"))

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        """``path`` (default: the request's) is the page the menu marks and the language menu
        comes back to: an answer to a POST names its page's own. A GET comes back with its
        query (a search keeps its filters)."""
        values.setdefault("path", self.request.url.path)
        query = self.request.url.query if self.request.method == "GET" else ""
        values.setdefault("back_to", values["path"] + (f"?{query}" if query else ""))
        html = (
            environment(self.lang)
            .get_template(template)
            .render(
                theme=self.theme,
                csrf_token=self.csrf_token,
                signed_in=bool(self.token),
                billing_mode=self.billing_mode,
                console=self.console,
                permissions=self.permissions,
                viewer_name=self.viewer_name,
                impersonating=self.impersonating,
                **values,
            )
        )
        return self._finish(HTMLResponse(html, status_code=status))

    def redirect(self, to: str) -> Response:
        return self._finish(RedirectResponse(to, status_code=303))
