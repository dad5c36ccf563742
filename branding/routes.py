"""The branding endpoints: ``/brand.css`` (the theme of the request's host as CSS variables)
and ``/brand/logo`` (its logo). Unknown and pending hosts get 404."""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from branding.resolve import Branding
from branding.theme import CSS_PATH, LOGO_PATH, render_css

SAFE_HEADERS = {"X-Content-Type-Options": "nosniff"}


def _branding(request: Request) -> Branding:
    return request.app.state.branding


def _not_found() -> Response:
    return PlainTextResponse("no brand is served on this host", status_code=404)


def _cached(request: Request, body: bytes, media_type: str, etag: str, cache: str) -> Response:
    headers = {**SAFE_HEADERS, "ETag": etag, "Cache-Control": cache, "Vary": "Host"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


async def brand_css(request: Request) -> Response:
    theme = await _branding(request).theme_for(request)
    if theme is None:
        return _not_found()
    css = render_css(theme).encode()
    etag = '"' + hashlib.sha256(css).hexdigest()[:32] + '"'
    return _cached(request, css, "text/css", etag, "no-cache")


async def brand_logo(request: Request) -> Response:
    found = await _branding(request).logo_for(request)
    if found is None:
        return _not_found()
    content, media_type, digest = found
    # a URL naming this very logo (?v=) never changes; any other is revalidated
    versioned = request.query_params.get("v") == digest[:16]
    cache = "public, max-age=31536000, immutable" if versioned else "no-cache"
    response = _cached(request, content, media_type, f'"{digest}"', cache)
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response


def routes() -> list[Route]:
    return [
        Route(CSS_PATH, brand_css, methods=["GET", "HEAD"]),
        Route(LOGO_PATH, brand_logo, methods=["GET", "HEAD"]),
    ]
