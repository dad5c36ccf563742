"""The ASGI application: /graphql, health, the switch and export endpoints, brands, webhooks,
and the portals with their static files (``frontends``)."""

from __future__ import annotations

import hmac
from contextlib import asynccontextmanager
from typing import Any

from cross_web import HTTPException
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request, cookie_parser
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData

import branding
import frontends
from api import collector, exports, invoice_files, switch
from api.body_limit import RequestSizeLimit
from api.db import create_engine, read_only, session_factory
from api.domain import auth, throttle
from api.domain.dns import Resolver
from api.resolvers.auth import CSRF_COOKIE, SESSION_COOKIE
from api.resolvers.context import Context, context_for
from api.schema import build_schema
from api.settings import Settings
from frontends.operations import DOCUMENTS
from webhooks import paypal_events, paypal_ipn


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def persisted(item: GraphQLRequestData, *, required: bool) -> None:
    """Resolve a persisted query (``extensions.persistedQuery.sha256Hash``: one of the portals'
    documents, ``frontends.operations.DOCUMENTS``) into its text. When ``required``, a request
    whose text is not one of those documents is refused."""
    wanted = (item.extensions or {}).get("persistedQuery")
    if isinstance(wanted, dict):
        source = DOCUMENTS.get(str(wanted.get("sha256Hash", "")))
        if source is None:
            raise HTTPException(400, "PersistedQueryNotFound: no document has this sha256Hash")
        if item.query is not None and item.query != source:
            raise HTTPException(400, "the query is not the document of its sha256Hash")
        item.query = source
    elif required and item.query not in DOCUMENTS.values():
        raise HTTPException(
            403,
            "a browser session runs only the portals' persisted queries: send "
            "extensions.persistedQuery.sha256Hash, or use an API token",
        )


class DialtoneGraphQL(GraphQL):
    """Strawberry's ASGI app with our context: the actor comes from a Bearer token, or from
    the session cookie (then POSTs must carry the matching X-CSRF-Token header, and with
    ``cookie_queries = "persisted"`` only the portals' persisted queries run)."""

    def __init__(self, schema: Any, settings: Settings, sessions: Any, engine: AsyncEngine) -> None:
        # Multipart requests (file uploads) are safe to accept: a cookie-authenticated POST of
        # any content type needs the X-CSRF-Token header (CSRFGuard).
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.debug else None,
            multipart_uploads_enabled=True,
        )
        self.settings = settings
        self.sessions = sessions
        self.engine = engine

    async def parse_http_body(self, request: Any) -> Any:
        parsed = await super().parse_http_body(request)
        headers = request.headers
        by_cookie = SESSION_COOKIE in cookie_parser(headers.get("cookie", "")) and not (
            headers.get("authorization", "").lower().startswith("bearer ")
        )
        required = by_cookie and self.settings.cookie_queries == "persisted"
        for item in parsed if isinstance(parsed, list) else [parsed]:
            persisted(item, required=required)
        return parsed

    async def get_context(self, request: Request, response: Response) -> Context:  # type: ignore[override]
        return await context_for(
            request,
            response,
            settings=self.settings,
            sessions=self.sessions,
            engine=self.engine,
            token=bearer_token(request) or request.cookies.get(SESSION_COOKIE),
        )


class CSRFGuard:
    """Cookie-authenticated POSTs need ``X-CSRF-Token`` equal to the login's csrfToken."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            request = Request(scope)
            cookie = request.cookies.get(SESSION_COOKIE)
            if cookie and not bearer_token(request):
                expected = auth.csrf_token(self.settings.secret_key, cookie)
                given = request.headers.get("x-csrf-token", "")
                if not hmac.compare_digest(expected, given):
                    response = JSONResponse(
                        {
                            "errors": [
                                {
                                    "message": "missing or wrong X-CSRF-Token header",
                                    "extensions": {"code": "CSRF"},
                                }
                            ]
                        },
                        status_code=403,
                    )
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


async def health(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def create_app(
    settings: Settings | None = None, *, dns_resolver: Resolver | None = None
) -> Starlette:
    """The app; ``dns_resolver`` checks custom hostnames' DNS (default: the system's)."""
    settings = settings or Settings.from_env()
    engine = create_engine(settings.database_url, echo=settings.echo_sql)
    sessions = session_factory(engine)
    read_engine = read_only(engine)
    graphql = DialtoneGraphQL(build_schema(settings), settings, sessions, engine)

    @asynccontextmanager
    async def lifespan(_app: Starlette):
        await switch.warm_up(read_engine)
        yield
        await engine.dispose()

    app = Starlette(
        routes=[
            Route("/graphql", CSRFGuard(graphql, settings), methods=["GET", "POST"]),
            Route("/healthz", health),
            Route("/switch/authorize", switch.authorize_endpoint, methods=["POST"]),
            Route("/switch/cdrs", exports.switch_cdrs, methods=["POST"]),
            Route("/exports/calls.csv", exports.calls_csv, methods=["GET"]),
            Route("/exports/dids.csv", exports.dids_csv, methods=["GET"]),
            Route("/exports/sub-accounts.csv", exports.sub_accounts_csv, methods=["GET"]),
            Route("/exports/invoices.csv", invoice_files.invoices_csv, methods=["GET"]),
            Route("/invoices/{invoice_id:path}.pdf", invoice_files.invoice_pdf, methods=["GET"]),
            *branding.routes(),
            Route("/webhooks/paypal/ipn", paypal_ipn.ipn_endpoint, methods=["POST"]),
            Route("/webhooks/paypal/events", paypal_events.events_endpoint, methods=["POST"]),
            Route("/webhooks/paypal/return", paypal_events.return_endpoint, methods=["GET"]),
            Route("/webhooks/paypal/cancel", paypal_events.cancel_endpoint, methods=["GET"]),
            *frontends.routes(),
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(
                RequestSizeLimit,
                max_body_bytes=settings.max_body_bytes,
                max_query_string_bytes=settings.max_query_string_bytes,
            )
        ],
    )
    app.state.settings = settings
    app.state.login_throttle = throttle.LoginThrottle(
        settings.login_throttle_storage,
        settings.login_limits_account,
        settings.login_limits_address,
    )
    app.state.engine = engine
    app.state.read_engine = read_engine
    app.state.sessions = sessions
    app.state.schema = graphql.schema  # the portals run their operations on it, in-process
    app.state.branding = branding.Branding(settings, engine, dns_resolver)
    return app


def create_served_app() -> Starlette:
    """The app as ``dialtone serve`` runs it, in each of its processes: with the garbage
    collector of a serving process (``collector.for_serving``)."""
    app = create_app()
    collector.for_serving()
    return app


__all__ = ["CSRF_COOKIE", "create_app", "create_served_app"]
