"""HTTP routes of the calls area: the streamed CSV export, and CDR delivery by switches.

``GET /exports/calls.csv?from=&to=&clientId=&subAccountId=&direction=&disposition=&
destinationPrefix=&number=`` streams every call of the filter, newest first, read in keyset
chunks (never the whole result in memory). Authentication: ``Authorization: Bearer`` (a session
or API token) or the session cookie (a GET: no CSRF token needed). Scoped as the ``calls``
query: a client user gets its own calls without the cost columns. ``from``/``to`` are ISO 8601
(a date means its midnight UTC); ``clientId`` a global id or a number. 401 when not logged in,
403 without ``reports:read``, 400/404 with a message for a bad filter.

``GET /exports/dids.csv?status=&resellerId=&clientId=`` streams the DID report (the numbers
resellers hold, with client, sub-account, prices and costs) and ``GET /exports/sub-accounts.csv?
resellerId=&clientId=`` the sub-account report (each sub-account with its client, package and
numbers), both in id order, read in keyset chunks; the same authentication, ``reports:read``,
scoped as the ``didReport`` / ``subAccountReport`` queries. They are a reseller's reports: a
client user gets 403. Money columns are decimals in units, in the row's ``currency``.

``POST /switch/cdrs`` takes finished calls as a JSON array of objects, or NDJSON (one object a
line, ``Content-Type: application/x-ndjson``), with the fields of the generic CSV
(``call_id, sub_account, a_number, destination, started_at, duration, billsec, disposition,
direction``), at most 10,000 a request, and answers the ingestion report as JSON::

    {"received": 3, "ingested": 2, "duplicates": 1, "rejected": 0,
     "errors": [{"row": 3, "message": "duplicate call id …", "duplicate": true}],
     "totals": [{"currency": "USD", "calls": 2, "seconds": 87, "cost": "0.02",
                 "sell": "0.018"}]}

Rows are numbered from 1 (array position or NDJSON line). Authentication as ``/switch/authorize``
(``api.switch``): an API token with ``calls:write``, or the platform switch key.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from strawberry import relay

from api import money
from api.domain import auth, calls, cdr_formats, numbers, reports
from api.domain.actors import Actor
from api.domain.errors import DomainError, ErrorCode
from api.resolvers.auth import SESSION_COOKIE

MAX_SWITCH_BATCH = 10_000
INGEST_CHUNK = 5_000
CLIENT_COLUMNS = (
    "call_id",
    "started_at",
    "direction",
    "a_number",
    "destination",
    "destination_name",
    "matched_prefix",
    "disposition",
    "duration",
    "billsec",
    "currency",
    "sell_rate",
    "sell_billed_seconds",
    "free_seconds",
    "sell",
)
COST_COLUMNS = ("cost_rate", "cost_billed_seconds", "cost", "profit", "rule")


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _moment(name: str, value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise DomainError(ErrorCode.VALIDATION, f"{name} is not an ISO 8601 date", name) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _pk(name: str, value: str | None, type_name: str) -> int | None:
    if not value:
        return None
    if value.isdigit():
        pk = int(value)
    else:
        try:
            gid = relay.GlobalID.from_id(value)
            if gid.type_name != type_name:
                raise ValueError(gid.type_name)
            pk = int(gid.node_id)
        except Exception:
            raise DomainError(ErrorCode.NOT_FOUND, f"{name} not found", name) from None
    if not 0 < pk < 2**63:
        raise DomainError(ErrorCode.NOT_FOUND, f"{name} not found", name)
    return pk


def _filter(request: Request) -> reports.CallFilter:
    q = request.query_params
    return reports.CallFilter(
        client_id=_pk("clientId", q.get("clientId"), "Client"),
        sub_account_id=_pk("subAccountId", q.get("subAccountId"), "SubAccount"),
        reseller_id=_pk("resellerId", q.get("resellerId"), "Reseller"),
        started_from=_moment("from", q.get("from")),
        started_to=_moment("to", q.get("to")),
        direction=(q.get("direction") or "").lower() or None,
        disposition=(q.get("disposition") or "").lower() or None,
        prefix=q.get("destinationPrefix") or None,
        number=q.get("number") or None,
    )


def _row(call, show_cost: bool) -> list[str]:
    out = [
        call.call_id,
        call.started_at.isoformat(),
        call.direction,
        call.a_number,
        call.destination,
        call.destination_name,
        call.matched_prefix,
        call.disposition,
        str(call.duration),
        str(call.billsec),
        call.currency,
        _per_minute(call.sell_rate),
        str(call.sell_billed),
        str(call.free_seconds),
        money.format_amount(call.sell, 6),
    ]
    if show_cost:
        out += [
            _per_minute(call.cost_rate),
            str(call.cost_billed),
            money.format_amount(call.cost, 6),
            money.format_amount(call.sell - call.cost, 6),
            call.rule,
        ]
    return out


def _per_minute(micros) -> str:
    from decimal import Decimal

    return format((Decimal(micros) / 1_000_000).normalize(), "f")


async def calls_csv(request: Request) -> Response:
    sessions = request.app.state.sessions
    token = _bearer(request) or request.cookies.get(SESSION_COOKIE)
    actor = await auth.actor_for_request(request.app.state.engine, token)
    if not actor.is_authenticated:
        return _error(401, "log in first")
    if actor.client_id is None and not actor.can("reports:read"):
        return _error(403, "this needs the reports:read permission")
    try:
        wanted = _filter(request)
        async with sessions() as session:
            scoped = await reports.scoped_filter(session, actor, wanted)
    except DomainError as exc:
        return _error(404 if exc.code == ErrorCode.NOT_FOUND else 400, exc.message)
    show_cost = reports.shows_cost(actor)
    columns = CLIENT_COLUMNS + (COST_COLUMNS if show_cost else ())

    async def rows() -> AsyncIterator[list]:
        async with sessions() as session:
            async for call in reports.stream_calls(session, actor, scoped):
                yield _row(call, show_cost)

    return _csv_response(rows(), columns, "calls.csv")


DID_COLUMNS = (
    "number",
    "country",
    "city",
    "status",
    "reseller",
    "client",
    "sub_account",
    "routing",
    "forward_to",
    "currency",
    "monthly_price",
    "setup_price",
    "monthly_cost",
    "setup_cost",
    "inbound_rate",
    "reseller_next_billing_date",
    "client_next_billing_date",
)
SUB_ACCOUNT_COLUMNS = (
    "client",
    "sub_account",
    "status",
    "package",
    "currency",
    "package_monthly_fee",
    "next_billing_date",
    "dids",
    "dids_monthly_price",
)


async def _report_actor(request: Request) -> Actor | Response:
    token = _bearer(request) or request.cookies.get(SESSION_COOKIE)
    actor = await auth.actor_for_request(request.app.state.engine, token)
    if not actor.is_authenticated:
        return _error(401, "log in first")
    if actor.client_id is not None or not actor.can("reports:read"):
        return _error(403, "this needs the reports:read permission of a reseller")
    return actor


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A cell a spreadsheet will show, never run (OWASP CSV injection): text that begins as a
    formula would (``=``, ``+``, ``-``, ``@``, tab, CR) gets a leading apostrophe. Numbers, signed
    ones included (``-1.50``, a ``+`` phone number), stay numbers."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    if money.DECIMAL_TEXT.fullmatch(value.removeprefix("+")):
        return value
    return "'" + value


def _csv_response(rows: AsyncIterator[list[str]], columns: tuple[str, ...], name: str):
    async def body() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        count = 0
        async for row in rows:
            writer.writerow([csv_cell(cell) for cell in row])
            count += 1
            if count % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _units(micros: int) -> str:
    return money.format_amount(micros, 2)


async def dids_csv(request: Request) -> Response:
    actor = await _report_actor(request)
    if not isinstance(actor, Actor):
        return actor
    q = request.query_params
    try:
        stmt = numbers.did_report_query(
            actor,
            status=(q.get("status") or "").lower() or None,
            reseller_id=_pk("resellerId", q.get("resellerId"), "Reseller"),
            client_id=_pk("clientId", q.get("clientId"), "Client"),
        )
    except DomainError as exc:
        return _error(404 if exc.code == ErrorCode.NOT_FOUND else 400, exc.message)
    sessions = request.app.state.sessions

    async def rows() -> AsyncIterator[list[str]]:
        async with sessions() as session:
            async for line in numbers.stream_did_report(session, stmt):
                d = line.did
                yield [
                    d.number,
                    d.country,
                    d.city,
                    d.status,
                    line.reseller,
                    line.client,
                    line.sub_account,
                    d.routing,
                    d.forward_to,
                    d.currency,
                    _units(d.monthly_price),
                    _units(d.setup_price),
                    _units(d.monthly_cost),
                    _units(d.setup_cost),
                    _per_minute(d.inbound_rate),
                    d.reseller_next_billing_date.isoformat()
                    if d.reseller_next_billing_date
                    else "",
                    d.client_next_billing_date.isoformat() if d.client_next_billing_date else "",
                ]

    return _csv_response(rows(), DID_COLUMNS, "dids.csv")


async def sub_accounts_csv(request: Request) -> Response:
    actor = await _report_actor(request)
    if not isinstance(actor, Actor):
        return actor
    q = request.query_params
    try:
        stmt = numbers.sub_account_report_query(
            actor,
            reseller_id=_pk("resellerId", q.get("resellerId"), "Reseller"),
            client_id=_pk("clientId", q.get("clientId"), "Client"),
        )
    except DomainError as exc:
        return _error(404 if exc.code == ErrorCode.NOT_FOUND else 400, exc.message)
    sessions = request.app.state.sessions

    async def rows() -> AsyncIterator[list[str]]:
        async with sessions() as session:
            async for line in numbers.stream_sub_account_report(session, stmt):
                sub, package = line.sub_account, line.package
                yield [
                    line.client,
                    sub.username,
                    sub.status,
                    package.name if package else "",
                    line.currency,
                    _units(package.monthly_fee if package else 0),
                    sub.next_billing_date.isoformat() if sub.next_billing_date else "",
                    " ".join(d.number for d in line.dids),
                    _units(line.dids_monthly_price),
                ]

    return _csv_response(rows(), SUB_ACCOUNT_COLUMNS, "sub-accounts.csv")


# --- CDR delivery -----------------------------------------------------------------------------


def _parse_body(raw: bytes, content_type: str) -> list[tuple[int, object]] | str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    if "ndjson" in content_type or "jsonlines" in content_type:
        items: list[tuple[int, object]] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append((number, json.loads(line)))
            except ValueError:
                items.append((number, "not valid JSON"))
        return items
    try:
        data = json.loads(text)
    except ValueError:
        return "the body is not valid JSON (send an array, or NDJSON as application/x-ndjson)"
    if not isinstance(data, list):
        return "the body must be a JSON array of calls"
    return list(enumerate(data, start=1))


def _records(items: list[tuple[int, object]]):
    for row, item in items:
        if isinstance(item, str):
            yield row, item
        elif not isinstance(item, dict):
            yield row, "each call must be a JSON object"
        else:
            try:
                yield row, cdr_formats.record_from_mapping(item)
            except cdr_formats.RecordError as exc:
                yield row, str(exc)


def report_json(report: calls.IngestReport) -> dict:
    return {
        "received": report.received,
        "ingested": report.ingested,
        "duplicates": report.duplicates,
        "rejected": report.rejected,
        "errors": [
            {"row": i.row, "message": i.message, "duplicate": i.duplicate} for i in report.issues
        ],
        "totals": [
            {
                "currency": t.currency,
                "calls": t.calls,
                "seconds": t.seconds,
                "cost": money.format_amount(t.cost, 2),
                "sell": money.format_amount(t.sell, 2),
            }
            for t in sorted(report.totals.values(), key=lambda t: t.currency)
        ],
    }


_STATUS_OF = {ErrorCode.CONFLICT: 409, ErrorCode.VALIDATION: 400}


async def switch_cdrs(request: Request) -> Response:
    from api.switch import switch_actor  # the switches' one way to authenticate

    sessions = request.app.state.sessions
    actor = await switch_actor(request)
    if not isinstance(actor, Actor):
        return actor
    items = _parse_body(await request.body(), request.headers.get("content-type", ""))
    if isinstance(items, str):
        return _error(400, items)
    if len(items) > MAX_SWITCH_BATCH:
        return _error(413, f"send at most {MAX_SWITCH_BATCH} calls a request")
    records = list(_records(items))
    home_country = request.query_params.get("home_country")
    report = calls.IngestReport()
    try:
        for start in range(0, len(records), INGEST_CHUNK):
            async with sessions() as session, session.begin():
                part = records[start : start + INGEST_CHUNK]
                report.merge(await calls.ingest(session, actor, part, home_country))
    except DomainError as exc:
        status = _STATUS_OF.get(exc.code, 403)
        return _error(status, exc.message)
    return JSONResponse(report_json(report))
