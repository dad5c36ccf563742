"""The calls API: callsIngest, /switch/cdrs, the calls connection with totals, the CSV export."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from graphql import parse
from graphql.execution.values import get_variable_values
from sqlalchemy import select
from strawberry.types.arguments import InputContext

from api.db import transaction
from api.domain import callers, calls
from api.domain.actors import SYSTEM
from api.domain.cdr_formats import CallRecord
from api.models import Call, Client, ClientNumber, Package, Rate, RateDeck, Reseller, SubAccount
from api.schema import schema
from api.schema.calls import CallDirection, CallInput, CallsIngestInput
from tests.api.conftest import gid
from tests.factories import assert_ledger_consistent, client_balance

T0 = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
ALICE_SIP = "alice-sip"
GINA_SIP = "gina-sip"

INGEST = """mutation($calls: [CallInput!]!) { callsIngest(input: {calls: $calls}) {
  ingested duplicates rejected rowErrors { row message duplicate }
  totals { currency calls answeredSeconds cost { amount } sell { amount } }
  errors { code field message } } }"""

CALLS = """query($c: ID, $after: String, $first: Int, $from: DateTime, $to: DateTime,
  $dir: CallDirection, $disp: CallDisposition, $prefix: String, $number: String) {
  calls(clientId: $c, after: $after, first: $first, from: $from, to: $to, direction: $dir,
        disposition: $disp, destinationPrefix: $prefix, number: $number) {
    edges { cursor node { callId destination startedAt disposition rule
      sell { amount currency } cost { amount } profit { amount } costRate { amount }
      sellRate { amount } clientId } }
    pageInfo { hasNextPage endCursor }
    totals { currency count answeredSeconds answeredMinutes seconds minutes sell { amount }
             cost { amount } profit { amount } fromRollups } } }"""


async def rate_world(sessions, world):
    """One deck (44 at 0.01/min 60/60, 1 at 0.005/min 6/6) as both resellers' base deck;
    Acme's Alice on a 20 % package (6/6) as sub-account alice-sip; Globex's Gina as gina-sip."""
    async with transaction(sessions) as s:
        deck = RateDeck(name="World", currency="USD")
        s.add(deck)
        await s.flush()
        for prefix, rate, inc in (("44", 10_000, 60), ("1", 5_000, 6)):
            s.add(
                Rate(
                    deck_id=deck.id,
                    prefix=prefix,
                    destination=f"Dest {prefix}",
                    rate=rate,
                    first_increment=inc,
                    increment=inc,
                    effective_from=datetime(2020, 1, 1, tzinfo=UTC),
                )
            )
        for rid in (world.acme_id, world.globex_id):
            (await s.get(Reseller, rid)).base_deck_id = deck.id
        package = Package(
            reseller_id=world.acme_id,
            name="Retail",
            markup_pct=Decimal(20),
            first_increment=6,
            increment=6,
        )
        s.add(package)
        await s.flush()
        for client_id, rid, name, pkg in (
            (world.acme_client_id, world.acme_id, ALICE_SIP, package.id),
            (world.globex_client_id, world.globex_id, GINA_SIP, None),
        ):
            s.add(
                SubAccount(
                    reseller_id=rid,
                    client_id=client_id,
                    username=name,
                    secret_encrypted="x",
                    package_id=pkg,
                )
            )


def call_input(call_id, sub=ALICE_SIP, billsec=27, dest="442071234567", at=T0, **kw):
    return {
        "callId": call_id,
        "subAccount": sub,
        "destination": dest,
        "startedAt": at.isoformat(),
        "duration": billsec + 2,
        "billsec": billsec,
        "disposition": "ANSWERED" if billsec else "NO_ANSWER",
        **kw,
    }


async def test_calls_ingest_reports_counts_rows_and_totals(gql, world, sessions):
    await rate_world(sessions, world)
    batch = [
        call_input("g-1"),
        call_input("g-1"),
        call_input("g-2", sub="nobody"),
        call_input("g-3", billsec=0),
        {**call_input("g-4"), "billsec": 99},
    ]
    # when Acme's API token delivers them
    body = await gql(INGEST, {"calls": batch}, token=world.api_token)
    result = body["data"]["callsIngest"]
    # then two land, one is a duplicate, two are refused with their rows and reasons
    assert result["errors"] == []
    assert (result["ingested"], result["duplicates"], result["rejected"]) == (2, 1, 2)
    assert result["rowErrors"] == [
        {"row": 2, "message": "duplicate call id g-1 (earlier in this batch)", "duplicate": True},
        {"row": 3, "message": "unknown caller nobody", "duplicate": False},
        {"row": 5, "message": "billsec is longer than duration", "duplicate": False},
    ]
    assert result["totals"] == [
        {
            "currency": "USD",
            "calls": 2,
            "answeredSeconds": 27,
            "cost": {"amount": "0.010000"},
            "sell": {"amount": "0.006000"},
        }
    ]
    async with sessions() as s:
        assert await client_balance(s, world.acme_client_id) == 50_000_000 - 6_000
        await assert_ledger_consistent(s)
    # and sending the batch again lands nothing
    body = await gql(INGEST, {"calls": batch[:1]}, token=world.api_token)
    assert body["data"]["callsIngest"]["duplicates"] == 1
    assert body["data"]["callsIngest"]["ingested"] == 0


async def test_calls_ingest_reads_every_field_and_default(gql, world, sessions):
    await rate_world(sessions, world)
    async with transaction(sessions) as s:
        s.add(
            ClientNumber(
                reseller_id=world.acme_id, client_id=world.acme_client_id, number="442000000001"
            )
        )
    required = {"destination": "12125550100", "duration": 9, "disposition": "NO_ANSWER"}
    batch = [
        # only the required fields: billsec 0, outbound, by sub-account
        {"callId": "f-1", "subAccount": ALICE_SIP, "startedAt": "2024-03-01T10:00:00Z", **required},
        # by A-number, inbound, a stamp with an offset
        {
            **required,
            "callId": "f-2",
            "aNumber": "442000000001",
            "direction": "INBOUND",
            "startedAt": "2024-03-01T12:00:00+02:00",
        },
        # answered, a stamp without an offset (UTC), and 24:00 (the next midnight)
        {
            **call_input("f-3", billsec=30),
            "subAccount": None,
            "aNumber": "442000000001",
            "startedAt": "2024-03-01T10:00:00",
        },
        {**call_input("f-4"), "startedAt": "2024-03-01T24:00:00+00:00"},
    ]
    body = await gql(INGEST, {"calls": batch}, token=world.api_token)
    assert body["data"]["callsIngest"]["ingested"] == 4, body
    # the same batch written inline in the document reads the same
    inline = (
        'mutation { callsIngest(input: {calls: [{callId: "f-5", subAccount: "alice-sip", '
        'startedAt: "2024-03-01T10:00:00Z", destination: "12125550100", duration: 9, '
        "disposition: NO_ANSWER}]}) { ingested rowErrors { message } } }"
    )
    body = await gql(inline, token=world.api_token)
    assert body["data"]["callsIngest"] == {"ingested": 1, "rowErrors": []}, body

    async with sessions() as s:
        rows = {c.call_id: c for c in (await s.scalars(select(Call))).all()}
    sub_account_id = rows["f-1"].sub_account_id
    assert sub_account_id is not None
    ten = datetime(2024, 3, 1, 10, tzinfo=UTC)
    expected = {
        "f-1": (ten, "outbound", 9, 0, "no_answer", sub_account_id, ""),
        "f-2": (ten, "inbound", 9, 0, "no_answer", None, "442000000001"),
        "f-3": (ten, "outbound", 32, 30, "answered", None, "442000000001"),
        "f-4": (
            datetime(2024, 3, 2, tzinfo=UTC),
            "outbound",
            29,
            27,
            "answered",
            sub_account_id,
            "",
        ),
        "f-5": (ten, "outbound", 9, 0, "no_answer", sub_account_id, ""),
    }
    stored = {
        k: (
            c.started_at,
            c.direction,
            c.duration,
            c.billsec,
            c.disposition,
            c.sub_account_id,
            c.a_number,
        )
        for k, c in rows.items()
    }
    assert stored == expected
    assert {c.client_id for c in rows.values()} == {world.acme_client_id}


def test_a_batch_is_built_as_strawberry_would_build_each_call():
    # given the values graphql-core coerced for a full call and one with only its required fields
    full = {**call_input("c-1"), "aNumber": "15550100", "direction": "INBOUND"}
    minimal = {k: v for k, v in call_input("c-2").items() if k not in ("billsec", "subAccount")}
    document = parse(INGEST)
    coerced = get_variable_values(
        schema._schema, document.definitions[0].variable_definitions, {"calls": [full, minimal]}
    ).coerced["calls"]
    context = InputContext(
        info=None,
        config=schema.config,
        scalar_registry=schema.schema_converter.scalar_registry,
        path=("input",),
    )
    # when the batch is built from them at once
    batch = CallsIngestInput.__strawberry_definition__.from_input(
        CallsIngestInput, {"calls": coerced}, context
    )
    # then each call equals strawberry's own field by field conversion
    each = [context.convert(call, CallInput, "calls", i) for i, call in enumerate(coerced)]
    assert batch.calls == each
    assert batch.calls[1].billsec == 0 and batch.calls[1].sub_account is None
    assert batch.calls[0].direction is CallDirection.INBOUND


async def test_a_call_with_a_bad_stamp_or_enum_is_refused_by_graphql(gql, world, sessions):
    await rate_world(sessions, world)
    for bad in ({"startedAt": "yesterday"}, {"startedAt": 1709287200}, {"direction": "SIDEWAYS"}):
        body = await gql(INGEST, {"calls": [{**call_input("b-1"), **bad}]}, token=world.api_token)
        assert body["data"] is None
        [error] = body["errors"]
        assert "$calls" in error["message"], error
    # a DateTime argument elsewhere reads the same way
    body = await gql(CALLS, {"from": "not a date"}, token=world.api_token)
    assert "DateTime" in body["errors"][0]["message"]


async def test_negative_or_inconsistent_durations_are_refused_by_their_row(gql, world, sessions):
    # given a batch with a negative duration, a negative billsec and a billsec longer than
    # the call between two good calls
    await rate_world(sessions, world)
    batch = [
        call_input("n-1"),
        {**call_input("n-2"), "duration": -29},
        {**call_input("n-3"), "billsec": -27},
        {**call_input("n-4"), "billsec": 30},
        call_input("n-5"),
    ]
    expected = [
        (2, "duration is negative: -29"),
        (3, "billsec is negative: -27"),
        (4, "billsec is longer than duration"),
    ]
    # when it comes through callsIngest, then the three are refused and the others land
    body = await gql(INGEST, {"calls": batch}, token=world.api_token)
    result = body["data"]["callsIngest"]
    assert [(e["row"], e["message"]) for e in result["rowErrors"]] == expected
    assert (result["ingested"], result["rejected"]) == (2, 3)
    # and the same through /switch/cdrs, numbers given as JSON numbers or as text
    rows = [
        {
            "call_id": f"h-{n}",
            "sub_account": ALICE_SIP,
            "destination": "442071234567",
            "started_at": "2024-03-01T10:00:00Z",
            "duration": duration,
            "billsec": billsec,
            "disposition": "answered",
        }
        for n, (duration, billsec) in enumerate(
            [(29, 27), (-29, 27), ("29", "-27"), (29, 30), ("29", "27")], start=1
        )
    ]
    async with gql.client() as http:
        response = await http.post(
            "/switch/cdrs", json=rows, headers={"Authorization": f"Bearer {world.api_token}"}
        )
    report = response.json()
    assert [(e["row"], e["message"]) for e in report["errors"]] == expected
    assert (report["ingested"], report["rejected"]) == (2, 3)
    async with sessions() as s:
        assert await client_balance(s, world.acme_client_id) == 50_000_000 - 4 * 6_000
        await assert_ledger_consistent(s)


async def test_a_refused_row_leaves_its_call_id_to_a_later_row(gql, world, sessions):
    # given batches whose first row of a call id is refused (unknown caller) and whose second
    # row of it is the corrected call
    await rate_world(sessions, world)
    batch = [call_input("u-1", sub="nobody"), call_input("u-1"), call_input("u-1")]
    expected = [
        {"row": 1, "message": "unknown caller nobody", "duplicate": False},
        {"row": 3, "message": "duplicate call id u-1 (earlier in this batch)", "duplicate": True},
    ]
    # when one comes through callsIngest, then the corrected call lands
    body = await gql(INGEST, {"calls": batch}, token=world.api_token)
    result = body["data"]["callsIngest"]
    assert result["rowErrors"] == expected
    assert (result["ingested"], result["duplicates"], result["rejected"]) == (1, 1, 1)
    # and the same through /switch/cdrs
    rows = [
        {
            "call_id": "u-2",
            "sub_account": sub,
            "destination": "442071234567",
            "started_at": "2024-03-01T10:00:00Z",
            "duration": 29,
            "billsec": 27,
            "disposition": "answered",
        }
        for sub in ("nobody", ALICE_SIP, ALICE_SIP)
    ]
    async with gql.client() as http:
        response = await http.post(
            "/switch/cdrs", json=rows, headers={"Authorization": f"Bearer {world.api_token}"}
        )
    report = response.json()
    assert report["errors"] == [
        {**e, "message": e["message"].replace("u-1", "u-2")} for e in expected
    ]
    assert (report["ingested"], report["duplicates"], report["rejected"]) == (1, 1, 1)
    async with sessions() as s:
        assert await client_balance(s, world.acme_client_id) == 50_000_000 - 2 * 6_000
        await assert_ledger_consistent(s)


async def test_calls_ingest_limits_and_permissions(gql, world, sessions):
    await rate_world(sessions, world)
    too_many = [call_input(f"l-{n}") for n in range(1001)]
    body = await gql(INGEST, {"calls": too_many}, token=world.api_token)
    assert body["data"]["callsIngest"]["errors"][0]["code"] == "LIMIT_EXCEEDED"
    for viewer, code in (("acme_staff", "PERMISSION_DENIED"), ("acme_client", "PERMISSION_DENIED")):
        body = await gql(INGEST, {"calls": [call_input("p-1")]}, token=world.tokens[viewer])
        assert body["data"]["callsIngest"]["errors"][0]["code"] == code
    body = await gql(INGEST, {"calls": [call_input("p-1")]})
    assert body["data"]["callsIngest"]["errors"][0]["code"] == "UNAUTHENTICATED"
    # Globex's owner cannot bill Acme's sub-account: an unknown caller to Globex
    body = await gql(INGEST, {"calls": [call_input("p-2")]}, token=world.tokens["globex"])
    assert body["data"]["callsIngest"]["rowErrors"][0]["message"] == f"unknown caller {ALICE_SIP}"
    # the operator may ingest for anyone
    body = await gql(INGEST, {"calls": [call_input("p-3")]}, token=world.tokens["operator"])
    assert body["data"]["callsIngest"]["ingested"] == 1


async def test_switch_cdrs_json_and_ndjson(gql, world, sessions):
    await rate_world(sessions, world)
    rows = [
        {
            "call_id": f"s-{n}",
            "sub_account": ALICE_SIP,
            "destination": "442071234567",
            "started_at": "2024-03-01T10:00:00Z",
            "duration": 30,
            "billsec": 27,
            "disposition": "answered",
        }
        for n in range(3)
    ]
    headers = {"Authorization": f"Bearer {world.api_token}"}
    async with gql.client() as http:
        response = await http.post("/switch/cdrs", json=rows[:2], headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["ingested"] == 2
        ndjson = "\n".join(json.dumps(r) for r in rows[1:]) + "\n{broken\n"
        response = await http.post(
            "/switch/cdrs",
            content=ndjson,
            headers={**headers, "Content-Type": "application/x-ndjson"},
        )
        report = response.json()
        assert (report["ingested"], report["duplicates"], report["rejected"]) == (1, 1, 1)
        assert [(e["row"], e["duplicate"]) for e in report["errors"]] == [(1, True), (3, False)]
        assert report["totals"] == [
            {"currency": "USD", "calls": 1, "seconds": 27, "cost": "0.01", "sell": "0.006"}
        ]
        assert (await http.post("/switch/cdrs", json=rows)).status_code == 401
        response = await http.post("/switch/cdrs", content="{}", headers=headers)
        assert response.status_code == 400


async def seed_calls(sessions, world):
    """Five Acme calls over three days (one inbound, one busy, one to the US) and a Gina call."""
    await rate_world(sessions, world)
    alice = [
        CallRecord("a-1", "442071234567", T0, 30, 27, "answered", sub_account=ALICE_SIP),
        CallRecord(
            "a-2",
            "12125550100",
            T0 + timedelta(hours=1),
            70,
            61,
            "answered",
            sub_account=ALICE_SIP,
            a_number="15550001",
        ),
        CallRecord(
            "a-3", "442071234568", T0 + timedelta(days=1), 5, 0, "busy", sub_account=ALICE_SIP
        ),
        CallRecord(
            "a-4",
            "15550001",
            T0 + timedelta(days=1, hours=2),
            40,
            40,
            "answered",
            direction="inbound",
            sub_account=ALICE_SIP,
        ),
        CallRecord(
            "a-5",
            "442071234569",
            T0 + timedelta(days=2),
            100,
            95,
            "answered",
            sub_account=ALICE_SIP,
        ),
    ]
    gina = [CallRecord("g-1", "442071234567", T0, 60, 60, "answered", sub_account=GINA_SIP)]
    async with transaction(sessions) as s:
        await calls.ingest(s, SYSTEM, list(enumerate(alice + gina, start=1)))


async def test_calls_connection_pages_newest_first(gql, world, sessions):
    await seed_calls(sessions, world)
    token = world.tokens["acme"]
    seen, after = [], None
    while True:
        body = await gql(CALLS, {"first": 2, "after": after}, token=token)
        page = body["data"]["calls"]
        seen += [e["node"]["callId"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    # then Acme sees its five calls newest first, never Globex's
    assert seen == ["a-5", "a-4", "a-3", "a-2", "a-1"]
    body = await gql(CALLS, {"after": "bm9wZQ=="}, token=token)
    assert body["errors"][0]["message"] == "not a valid cursor"


async def test_calls_filters_and_totals(gql, world, sessions):
    await seed_calls(sessions, world)
    token = world.tokens["acme"]

    async def ids(**variables):
        body = await gql(CALLS, variables, token=token)
        assert "errors" not in body, body
        data = body["data"]["calls"]
        return [e["node"]["callId"] for e in data["edges"]], data["totals"]

    assert (await ids(dir="INBOUND"))[0] == ["a-4"]
    assert (await ids(disp="BUSY"))[0] == ["a-3"]
    assert (await ids(prefix="1"))[0] == ["a-4", "a-2"]
    assert (await ids(number="5550001"))[0] == ["a-4", "a-2"]
    day2 = (T0 + timedelta(days=1)).replace(hour=0)
    got, totals = await ids(
        **{"from": day2.isoformat(), "to": (day2 + timedelta(days=1)).isoformat()}
    )
    assert got == ["a-4", "a-3"]
    assert totals[0]["fromRollups"] is True and totals[0]["count"] == 2
    # whole-filter totals (from rollups) equal the sum of the calls (aggregate) of the filter
    _, by_rollup = await ids(c=gid("Client", world.acme_client_id), dir="OUTBOUND")
    _, by_calls = await ids(c=gid("Client", world.acme_client_id), dir="OUTBOUND", number="5")
    assert by_rollup[0]["fromRollups"] is True and by_calls[0]["fromRollups"] is False
    # a-1: cost 0.01 sell 0.006; a-2 (US, 6/6 -> 66 s): cost 0.0055, sell 0.0066; a-5: 0.02/0.0192
    expected = {
        "currency": "USD",
        "count": 4,
        "answeredSeconds": 183,
        "answeredMinutes": "3.05",
        "sell": {"amount": "0.031800"},
        "cost": {"amount": "0.035500"},
        "profit": {"amount": "-0.003700"},
    }
    assert {k: by_rollup[0][k] for k in expected} == expected
    assert by_calls[0]["count"] == 4  # every outbound call has a 5 in a number
    assert {k: by_calls[0][k] for k in expected} == expected
    # the deprecated names answer the same answered time
    assert (by_rollup[0]["seconds"], by_rollup[0]["minutes"]) == (183, "3.05")


async def test_calls_of_one_sub_account(gql, world, sessions, settings):
    await seed_calls(sessions, world)
    async with transaction(sessions) as s:
        alice = await s.scalar(select(SubAccount).where(SubAccount.username == ALICE_SIP))
        other, _ = await callers.create_sub_account(
            s, SYSTEM, world.acme_client_id, {"username": "alice-fax"}, settings=settings
        )
        await calls.ingest(
            s,
            SYSTEM,
            [
                (
                    1,
                    CallRecord(
                        "f-1", "442071234567", T0, 70, 61, "answered", sub_account="alice-fax"
                    ),
                )
            ],
        )
    query = """query($s: ID) { calls(subAccountId: $s) { edges { node { callId } }
      totals { count answeredSeconds fromRollups } } }"""
    token = world.tokens["acme"]
    body = await gql(query, {"s": gid("SubAccount", alice.id)}, token=token)
    page = body["data"]["calls"]
    assert [e["node"]["callId"] for e in page["edges"]] == ["a-5", "a-4", "a-3", "a-2", "a-1"]
    assert page["totals"][0]["count"] == 5 and page["totals"][0]["fromRollups"] is False
    body = await gql(query, {"s": gid("SubAccount", other.id)}, token=token)
    assert [e["node"]["callId"] for e in body["data"]["calls"]["edges"]] == ["f-1"]
    assert body["data"]["calls"]["totals"][0]["answeredSeconds"] == 61
    # another reseller's sub-account is not found
    gina = gid("SubAccount", (await _sub_id(sessions, GINA_SIP)))
    body = await gql(query, {"s": gina}, token=token)
    assert body["data"] is None and "sub-account" in body["errors"][0]["message"]


async def _sub_id(sessions, username: str) -> int:
    async with sessions() as s:
        return await s.scalar(select(SubAccount.id).where(SubAccount.username == username))


async def test_clients_see_their_own_calls_without_cost(gql, world, sessions):
    await seed_calls(sessions, world)
    token = world.tokens["acme_client"]
    body = await gql(CALLS, {}, token=token)
    data = body["data"]["calls"]
    assert len(data["edges"]) == 5
    node = data["edges"][-1]["node"]
    assert node["sell"] == {"amount": "0.006000", "currency": "USD"}
    assert node["cost"] is None and node["profit"] is None and node["costRate"] is None
    assert all(t["cost"] is None and t["profit"] is None for t in data["totals"])
    # and another client's calls are not found
    body = await gql(CALLS, {"c": gid("Client", world.acme_client2_id)}, token=token)
    assert body["errors"][0]["message"] == "client not found"
    body = await gql(
        CALLS, {"c": gid("Client", world.acme_client_id)}, token=world.tokens["globex"]
    )
    assert body["errors"][0]["message"] == "client not found"


DAILY = """query($c: ID, $from: DateTime, $to: DateTime, $number: String) {
  calls(clientId: $c, from: $from, to: $to, number: $number, first: 1) {
    totals { count answeredSeconds sell { amount } cost { amount } }
    daily { day currency count answeredSeconds answeredMinutes sell { amount } cost { amount }
            fromRollups } } }"""


async def test_daily_totals_sum_to_the_period_totals(gql, world, sessions):
    # given Acme's five calls over three days and Globex's one
    await seed_calls(sessions, world)
    start = T0.replace(hour=0)
    period = {"from": start.isoformat(), "to": (start + timedelta(days=30)).isoformat()}
    # when the client asks for its totals per day of a month
    body = await gql(DAILY, period, token=world.tokens["acme_client"])
    data = body["data"]["calls"]
    daily = data["daily"]
    # then one row per day with calls, oldest first, sell side only, summing to the totals
    assert [d["day"] for d in daily] == ["2024-03-01", "2024-03-02", "2024-03-03"]
    assert all(d["cost"] is None and d["fromRollups"] and d["currency"] == "USD" for d in daily)
    assert sum(d["count"] for d in daily) == data["totals"][0]["count"] == 5
    assert sum(d["answeredSeconds"] for d in daily) == data["totals"][0]["answeredSeconds"]
    assert sum(Decimal(d["sell"]["amount"]) for d in daily) == Decimal(
        data["totals"][0]["sell"]["amount"]
    )
    # a reseller sees the cost side too; another tenant's client is not found
    body = await gql(
        DAILY, {**period, "c": gid("Client", world.acme_client_id)}, token=world.tokens["acme"]
    )
    assert body["data"]["calls"]["daily"][0]["cost"] is not None
    body = await gql(
        DAILY, {**period, "c": gid("Client", world.acme_client_id)}, token=world.tokens["globex"]
    )
    assert body["errors"][0]["message"] == "client not found"
    # filters the rollups cannot answer, open or too long periods are refused with a reason
    for variables in (
        {**period, "number": "5"},
        {"from": period["from"]},
        {**period, "to": (start + timedelta(days=400)).isoformat()},
    ):
        body = await gql(DAILY, variables, token=world.tokens["acme_client"])
        assert body["data"] is None, body
        assert "per day" in body["errors"][0]["message"]


async def test_csv_export_streams_scoped_calls(gql, world, sessions):
    await seed_calls(sessions, world)
    async with gql.client() as http:
        response = await http.get(
            "/exports/calls.csv",
            params={"from": "2024-03-01", "to": "2024-03-02"},
            headers={"Authorization": f"Bearer {world.tokens['acme']}"},
        )
        assert response.status_code == 200
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [r["call_id"] for r in rows] == ["a-2", "a-1"]
        assert rows[1]["cost"] == "0.010000" and rows[1]["sell"] == "0.006000"
        # a client (by its session cookie) gets its own calls without the cost columns
        http.cookies.set("dialtone_session", world.tokens["acme_client"])
        response = await http.get("/exports/calls.csv")
        assert response.status_code == 200
        reader = csv.DictReader(io.StringIO(response.text))
        rows = list(reader)
        assert (
            len(rows) == 5 and "cost" not in reader.fieldnames and "profit" not in reader.fieldnames
        )
        http.cookies.clear()
        assert (await http.get("/exports/calls.csv")).status_code == 401
        response = await http.get(
            "/exports/calls.csv",
            params={"clientId": gid("Client", world.acme_client_id)},
            headers={"Authorization": f"Bearer {world.tokens['globex']}"},
        )
        assert response.status_code == 404


async def test_a_client_is_suspended_when_calls_exhaust_it(gql, world, sessions):
    await rate_world(sessions, world)
    # Alice (strict prepaid) has 50: a 10-hour call to the UK at 0.012/min costs 7.20
    big = [call_input(f"big-{n}", billsec=36_000) for n in range(7)]
    body = await gql(INGEST, {"calls": big}, token=world.api_token)
    assert body["data"]["callsIngest"]["ingested"] == 7
    async with sessions() as s:
        alice = await s.get(Client, world.acme_client_id)
        assert alice.status == "suspended"
        assert await client_balance(s, alice.id) == 50_000_000 - 7 * 7_200_000
        await assert_ledger_consistent(s)
        assert await s.scalar(select(SubAccount.id).where(SubAccount.username == ALICE_SIP))
