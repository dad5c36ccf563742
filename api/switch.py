"""Lean HTTP endpoints for switches (Asterisk, FreeSWITCH, Kamailio…): no GraphQL parsing, one
database session per request, a handful of indexed queries.

``POST /switch/authorize`` with JSON ``{"sub_account": "...", "a_number": "...", "pin": "...",
"destination": "..."}`` answers compact JSON::

    {"allowed": true, "reason": "ACTIVE", "message": "", "max_seconds": 4998,
     "destination": "447700900", "prefix": "44", "destination_name": "United Kingdom",
     "currency": "USD", "sell_rate": "0.012", "sell_connection_fee": "0",
     "sell_increments": [6, 6], "cost_rate": "0.01", "cost_connection_fee": "0",
     "cost_increments": [60, 60], "rule": "markup", "client_id": 12, "sub_account_id": 7}

Rates are per minute in units (decimal strings). Authentication: ``Authorization: Bearer``
with an API token (``dtk_…``) holding the ``calls:write`` scope (answers about its own
reseller's callers only), or the platform-wide switch key ``DIALTONE_SWITCH_KEY`` (an operator
credential: every tenant; unset means disabled). 401 without valid credentials, 403 for a
token without ``calls:write``, 400 with a message for a malformed body.
"""

from __future__ import annotations

import hmac
import json
from decimal import Decimal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.db import read_only_session_factory
from api.domain import auth
from api.domain.actors import Actor
from api.domain.authorize import authorize
from api.settings import Settings

SWITCH_ACTOR = Actor(kind="system", label="switch key")
FIELDS = ("sub_account", "a_number", "pin", "destination")


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


def _units(value: Decimal | int | None) -> str | None:
    if value is None:
        return None
    text = format((Decimal(value) / 1_000_000).normalize(), "f")
    return text


async def _actor(request: Request, settings: Settings, sessions) -> Actor | Response:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return _error(401, "send Authorization: Bearer <API token or switch key>")
    if settings.switch_key and hmac.compare_digest(token.encode(), settings.switch_key.encode()):
        return SWITCH_ACTOR
    if not token.startswith(auth.TOKEN_PREFIX):
        return _error(401, "unknown or revoked credentials")
    async with sessions() as session, session.begin():
        actor = await auth.actor_from_token(session, token)
    if not actor.is_authenticated:
        return _error(401, "unknown or revoked credentials")
    if not actor.can("calls:write"):
        return _error(403, "this token lacks the calls:write scope")
    return actor


def _body(raw: bytes) -> dict[str, str | None] | str:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return "the body is not valid JSON"
    if not isinstance(data, dict):
        return "the body must be a JSON object"
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        return f"unknown fields: {', '.join(unknown)} (expected {', '.join(FIELDS)})"
    for name in FIELDS:
        value = data.get(name)
        if value is not None and not isinstance(value, str | int):
            return f"{name} must be a string"
        if isinstance(value, int) and not isinstance(value, bool):
            data[name] = str(value)
        elif isinstance(value, bool):
            return f"{name} must be a string"
    if not data.get("destination"):
        return "destination is required"
    if not data.get("sub_account") and not data.get("a_number") and not data.get("pin"):
        return "give sub_account, or a_number (and/or pin)"
    return data


def _read_sessions(state):
    """The app's read-only sessions (made on first use): an authorization never writes, so on
    SQLite it need not queue for the write lock."""
    sessions = getattr(state, "read_sessions", None)
    if sessions is None:
        sessions = state.read_sessions = read_only_session_factory(state.engine)
    return sessions


async def authorize_endpoint(request: Request) -> Response:
    state = request.app.state
    settings: Settings = state.settings
    actor = await _actor(request, settings, state.sessions)
    if isinstance(actor, Response):
        return actor
    data = _body(await request.body())
    if isinstance(data, str):
        return _error(400, data)
    async with _read_sessions(state)() as session:
        d = await authorize(
            session,
            actor,
            sub_account_username=data.get("sub_account"),
            a_number=data.get("a_number"),
            pin=data.get("pin"),
            destination=data["destination"] or "",
            secret_key=settings.secret_key,
            max_call_seconds=settings.max_call_seconds,
        )
    body = {
        "allowed": d.allowed,
        "reason": d.reason.value,
        "message": d.message,
        "max_seconds": d.max_seconds,
        "destination": d.destination,
    }
    if d.client_id is not None:
        body["client_id"] = d.client_id
        body["sub_account_id"] = d.sub_account_id
        body["currency"] = d.currency
    if d.prefix:
        body.update(
            prefix=d.prefix,
            destination_name=d.destination_name,
            sell_rate=_units(d.sell_rate),
            sell_connection_fee=_units(d.sell_connection_fee),
            sell_increments=[d.sell_first_increment, d.sell_increment],
            cost_rate=_units(d.cost_rate),
            cost_connection_fee=_units(d.cost_connection_fee),
            cost_increments=[d.cost_first_increment, d.cost_increment],
            rule=d.rule,
        )
    return JSONResponse(body)
