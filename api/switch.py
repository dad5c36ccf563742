"""Lean HTTP endpoints for switches (Asterisk, FreeSWITCH, Kamailio…): no GraphQL parsing, no
ORM session; an authorization is one statement on the database driver (``DriverQuery``) and
the rates this process holds in memory.

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
import logging
from decimal import Decimal

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.domain import auth
from api.domain import authorize as authorization
from api.domain.actors import Actor
from api.settings import Settings

log = logging.getLogger(__name__)
SWITCH_ACTOR = Actor(kind="system", label="switch key")
FIELDS = ("sub_account", "a_number", "pin", "destination")
_FIELD_SET = frozenset(FIELDS)
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


def _units(value: Decimal | int | None) -> str | None:
    """Micros as units, a plain decimal string (``12000`` -> ``"0.012"``)."""
    if value is None:
        return None
    return format(Decimal(value).scaleb(-6).normalize(), "f")


async def switch_actor(request: Request) -> Actor | Response:
    """Who the switch is: the switch key, or an API token with ``calls:write``; else the 401 or
    403 answer."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return _error(401, "send Authorization: Bearer <API token or switch key>")
    settings: Settings = request.app.state.settings
    if settings.switch_key and hmac.compare_digest(token.encode(), settings.switch_key.encode()):
        return SWITCH_ACTOR
    if not token.startswith(auth.TOKEN_PREFIX):
        return _error(401, "unknown or revoked credentials")
    actor = await auth.actor_for_request(request.app.state.engine, token)
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
    if not data.keys() <= _FIELD_SET:
        unknown = ", ".join(sorted(data.keys() - _FIELD_SET))
        return f"unknown fields: {unknown} (expected {', '.join(FIELDS)})"
    for name, value in data.items():
        if value is None or value.__class__ is str:
            continue
        if value.__class__ is not int:  # bool is not a number here, nor a string
            return f"{name} must be a string"
        data[name] = str(value)
    if not data.get("destination"):
        return "destination is required"
    if not data.get("sub_account") and not data.get("a_number") and not data.get("pin"):
        return "give sub_account, or a_number (and/or pin)"
    return data


async def warm_up(engine: AsyncEngine) -> None:
    """Before a process takes traffic: build the rate indexes authorizations need (a failure is
    logged, and they are built on first use instead)."""
    try:
        decks = await authorization.warm_up(engine)
    except (SQLAlchemyError, OSError) as exc:
        log.warning("rate indexes not built at start (built on first use): %s", exc)
    else:
        log.info("rate indexes built at start: %d decks", decks)


async def authorize_endpoint(request: Request) -> Response:
    actor = await switch_actor(request)
    if not isinstance(actor, Actor):
        return actor
    data = _body(await request.body())
    if data.__class__ is str:
        return _error(400, data)
    state = request.app.state
    settings: Settings = state.settings
    # the engine itself: the caller's row is read on a pooled connection of the driver, held
    # for that one statement; a cache miss reads rates through a session of its own
    d = await authorization.authorize(
        state.read_engine,
        actor,
        sub_account_username=data.get("sub_account"),
        a_number=data.get("a_number"),
        pin=data.get("pin"),
        destination=data["destination"],
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
    return Response(_json(body).encode(), media_type="application/json")
