"""Fees over GraphQL: the setup fees charged on request (once, typed errors, replays,
tenancy) and the fee charges as each viewer sees them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from api.db import transaction
from api.domain import callers, fees, numbers, rates
from api.domain.actors import SYSTEM
from api.models import Did
from api.models.base import utcnow
from tests.api.conftest import gid
from tests.factories import assert_ledger_consistent, client_balance

CHARGE = (
    "id kind subjectType paidBy periodStart periodEnd description clientAmount { amount }"
    " resellerCost { amount } entryId invoiced client { name } subAccount { username }"
    " did { number }"
)
ACTIVATION = (
    "mutation($id: ID!, $k: String!) { subAccountActivationFeeCharge(input: {id: $id,"
    f" idempotencyKey: $k}}) {{ feeCharge {{ {CHARGE} }} replayed"
    " errors { code field message } } }"
)
DID_SETUP = (
    "mutation($id: ID!, $k: String!) { didSetupFeeCharge(input: {id: $id,"
    f" idempotencyKey: $k}}) {{ feeCharge {{ {CHARGE} }} replayed"
    " errors { code field message } } }"
)
LIST = f"{{ feeCharges {{ edges {{ node {{ {CHARGE} }} }} }} }}"


async def alice_subscribes(sessions, world, settings, *, setup: str = "4.44"):
    """Acme's Alice (balance 50) gets a sub-account on a package (monthly 3.00) and a number
    (cost 1.17, price 6.66 a month, setup price 5.55)."""
    async with transaction(sessions) as s:
        package = await rates.create_package(
            s, SYSTEM, world.acme_id, {"name": "Gold", "monthly_fee": "3", "setup_fee": setup}
        )
        sub, _ = await callers.create_sub_account(
            s,
            SYSTEM,
            world.acme_client_id,
            {"username": "alicefees", "package_id": package.id},
            settings=settings,
        )
        await numbers.import_numbers(
            s,
            SYSTEM,
            [
                "number,country,city,monthly_cost,setup_cost,per_minute,currency\n",
                "15557770301,US,Austin,1.17,0,0,USD\n",
            ],
        )
        did_id = await s.scalar(select(Did.id).where(Did.number == "15557770301"))
        await numbers.order(s, SYSTEM, did_id, "fees-api", reseller_id=world.acme_id)
    return sub.id, did_id


async def assign(sessions, world, did_id):
    async with transaction(sessions) as s:
        await numbers.assign(
            s, SYSTEM, did_id, world.acme_client_id, monthly_price="6.66", setup_price="5.55"
        )


async def test_the_reseller_charges_the_activation_fee_once(gql, world, sessions, settings):
    sub_id, _ = await alice_subscribes(sessions, world, settings)
    acme = world.tokens["acme"]
    variables = {"id": gid("SubAccount", sub_id), "k": "activate-1"}

    first = (await gql(ACTIVATION, variables, token=acme))["data"]["subAccountActivationFeeCharge"]
    again = (await gql(ACTIVATION, variables, token=acme))["data"]["subAccountActivationFeeCharge"]
    twice = (await gql(ACTIVATION, {**variables, "k": "activate-2"}, token=acme))["data"][
        "subAccountActivationFeeCharge"
    ]

    assert first["errors"] == [] and first["replayed"] is False
    charge = first["feeCharge"]
    assert (charge["kind"], charge["subjectType"], charge["paidBy"]) == (
        "SETUP",
        "SUB_ACCOUNT",
        "CLIENT",
    )
    assert charge["clientAmount"]["amount"] == "4.440000"
    assert charge["resellerCost"]["amount"] == "0.000000"
    assert charge["subAccount"] == {"username": "alicefees"} and charge["did"] is None
    assert charge["client"] == {"name": "Alice"} and charge["invoiced"] is False
    assert again["errors"] == [] and again["replayed"] is True
    assert again["feeCharge"]["id"] == charge["id"]
    assert twice["feeCharge"] is None
    assert [(e["code"], e["field"]) for e in twice["errors"]] == [("CONFLICT", "id")]
    assert "already charged" in twice["errors"][0]["message"]
    async with sessions() as s:
        assert await client_balance(s, world.acme_client_id) == 45_560_000
        await assert_ledger_consistent(s)
    entry = await gql(
        "query($e: ID!) { node(id: $e) { ... on LedgerEntry { kind amount { amount } } } }",
        {"e": charge["entryId"]},
        token=acme,
    )
    assert entry["data"]["node"] == {"kind": "package_setup_fee", "amount": {"amount": "4.440000"}}


async def test_an_activation_fee_is_refused_to_others_and_when_there_is_none(
    gql, world, sessions, settings
):
    sub_id, _ = await alice_subscribes(sessions, world, settings, setup="0")
    variables = {"id": gid("SubAccount", sub_id), "k": "k1"}

    answers = {
        who: (await gql(ACTIVATION, variables, token=world.tokens[who]))["data"][
            "subAccountActivationFeeCharge"
        ]["errors"]
        for who in ("acme", "globex", "acme_client")
    }

    assert [e["code"] for e in answers["acme"]] == ["VALIDATION"]  # its package has no setup fee
    assert "no setup fee" in answers["acme"][0]["message"]
    assert [e["code"] for e in answers["globex"]] == ["NOT_FOUND"]
    assert [e["code"] for e in answers["acme_client"]] == ["PERMISSION_DENIED"]
    async with sessions() as s:
        assert await client_balance(s, world.acme_client_id) == 50_000_000


async def test_a_numbers_setup_price_is_charged_once_it_is_assigned(gql, world, sessions, settings):
    _, did_id = await alice_subscribes(sessions, world, settings)
    acme = world.tokens["acme"]
    variables = {"id": gid("Did", did_id), "k": "did-setup"}

    unassigned = (await gql(DID_SETUP, variables, token=acme))["data"]["didSetupFeeCharge"]
    await assign(sessions, world, did_id)
    done = (await gql(DID_SETUP, {**variables, "k": "did-setup-b"}, token=acme))["data"][
        "didSetupFeeCharge"
    ]
    twice = (await gql(DID_SETUP, {**variables, "k": "did-setup-c"}, token=acme))["data"][
        "didSetupFeeCharge"
    ]
    stranger = (await gql(DID_SETUP, {**variables, "k": "x"}, token=world.tokens["globex"]))[
        "data"
    ]["didSetupFeeCharge"]

    assert [e["code"] for e in unassigned["errors"]] == ["CONFLICT"]
    assert "not assigned" in unassigned["errors"][0]["message"]
    assert done["errors"] == []
    assert done["feeCharge"]["clientAmount"]["amount"] == "5.550000"
    assert done["feeCharge"]["did"] == {"number": "15557770301"}
    assert [e["code"] for e in twice["errors"]] == ["CONFLICT"]
    assert [e["code"] for e in stranger["errors"]] == ["NOT_FOUND"]
    async with sessions() as s:
        assert await client_balance(s, world.acme_client_id) == 44_450_000


async def test_fee_charges_as_the_reseller_and_the_client_see_them(gql, world, sessions, settings):
    _, did_id = await alice_subscribes(sessions, world, settings)
    await assign(sessions, world, did_id)
    assert await fees.run_due(sessions, settings, utcnow()) == 3

    reseller_view = (await gql(LIST, token=world.tokens["acme"]))["data"]["feeCharges"]["edges"]
    client_view = (await gql(LIST, token=world.tokens["acme_client"]))["data"]["feeCharges"][
        "edges"
    ]
    globex_view = (await gql(LIST, token=world.tokens["globex"]))["data"]["feeCharges"]["edges"]

    by_payer = sorted(
        (
            n["node"]["paidBy"],
            n["node"]["clientAmount"]["amount"],
            n["node"]["resellerCost"]["amount"],
        )
        for n in reseller_view
    )
    assert by_payer == [
        ("CLIENT", "3.000000", "0.000000"),
        ("CLIENT", "6.660000", "0.000000"),
        ("RESELLER", "0.000000", "1.170000"),
    ]
    assert sorted(n["node"]["clientAmount"]["amount"] for n in client_view) == [
        "3.000000",
        "6.660000",
    ]
    assert all(n["node"]["resellerCost"] is None for n in client_view)
    assert all(n["node"]["paidBy"] == "CLIENT" for n in client_view)
    assert globex_view == []
    # the reseller's own cost row is not a node the client may read either
    cost_id = next(n["node"]["id"] for n in reseller_view if n["node"]["paidBy"] == "RESELLER")
    body = await gql(
        "query($id: ID!) { node(id: $id) { id } }",
        {"id": cost_id},
        token=world.tokens["acme_client"],
    )
    assert body["data"]["node"] is None
    today = utcnow().date().isoformat()
    assert {n["node"]["periodStart"] for n in reseller_view} == {today}


async def test_the_fee_charges_list_does_not_grow_in_statements_with_its_page(
    app, gql, world, sessions, settings
):
    from tests.factories import count_statements

    _, did_id = await alice_subscribes(sessions, world, settings)
    await assign(sessions, world, did_id)
    async with transaction(sessions) as s:
        for n in range(12):
            await callers.create_sub_account(
                s,
                SYSTEM,
                world.acme_client2_id,
                {"username": f"arnold{n}", "package_id": (await _gold(s))},
                settings=settings,
            )
    assert await fees.run_due(sessions, settings, utcnow()) == 15
    query = (
        "query($n: Int!) { feeCharges(first: $n) { edges { node {"
        " id clientAmount { amount } client { name } reseller { name }"
        " subAccount { username } did { number } } } } }"
    )

    counts = []
    for first in (3, 15):  # both pages hold fees of sub-accounts and of the number
        with count_statements(app.state.engine) as seen:
            body = await gql(query, {"n": first}, token=world.tokens["acme"])
        assert len(body["data"]["feeCharges"]["edges"]) == first
        counts.append(len(seen))

    assert counts[0] == counts[1] > 0, counts


async def _gold(s) -> int:
    from api.models import Package

    return await s.scalar(select(Package.id).where(Package.name == "Gold"))


UPCOMING = (
    "{ viewer { client { upcomingFees { subjectType dueOn periodEnd amount { amount currency }"
    " description subAccount { username } did { number } } } } }"
)


async def test_a_client_sees_its_next_fees_and_the_worker_charges_just_those(
    gql, world, sessions, settings
):
    # given Alice's sub-account on a 3.00 package, her 6.66 number, and a free sub-account
    _, did_id = await alice_subscribes(sessions, world, settings)
    await assign(sessions, world, did_id)
    async with transaction(sessions) as s:
        await callers.create_sub_account(
            s, SYSTEM, world.acme_client_id, {"username": "alicefree"}, settings=settings
        )

    # when she looks at her next fees
    body = await gql(UPCOMING, token=world.tokens["acme_client"])
    upcoming = body["data"]["viewer"]["client"]["upcomingFees"]

    # then the package's and the number's are there, soonest first, the free one is not
    assert sorted((f["subjectType"], f["amount"]["amount"]) for f in upcoming) == [
        ("DID", "6.660000"),
        ("SUB_ACCOUNT", "3.000000"),
    ]
    assert {f["amount"]["currency"] for f in upcoming} == {"USD"}
    assert [f["dueOn"] for f in upcoming] == sorted(f["dueOn"] for f in upcoming)
    by_type = {f["subjectType"]: f for f in upcoming}
    assert by_type["SUB_ACCOUNT"]["subAccount"] == {"username": "alicefees"}
    assert by_type["DID"]["did"] == {"number": "15557770301"}
    # and nobody else's: Globex's client has none
    other = await gql(UPCOMING, token=world.tokens["globex_client"])
    assert other["data"]["viewer"]["client"]["upcomingFees"] == []

    # when the worker runs on the last of those days
    last = max(date.fromisoformat(f["dueOn"]) for f in upcoming)
    await fees.run_due(sessions, settings, datetime.combine(last, time(1), tzinfo=UTC))

    # then it charged exactly what was shown, for the periods shown
    charged = await gql(
        "{ feeCharges { edges { node { subjectType periodStart periodEnd"
        " clientAmount { amount } } } } }",
        token=world.tokens["acme_client"],
    )
    periods = sorted(
        (n["subjectType"], n["periodStart"], n["periodEnd"], n["clientAmount"]["amount"])
        for n in (e["node"] for e in charged["data"]["feeCharges"]["edges"])
    )
    assert periods == sorted(
        (f["subjectType"], f["dueOn"], f["periodEnd"], f["amount"]["amount"]) for f in upcoming
    )
    # and the next fees moved on to the following periods
    after = (await gql(UPCOMING, token=world.tokens["acme_client"]))["data"]["viewer"]
    assert len(after["client"]["upcomingFees"]) == 2
    for fee in after["client"]["upcomingFees"]:
        before = by_type[fee["subjectType"]]
        assert date.fromisoformat(fee["dueOn"]) == date.fromisoformat(before["periodEnd"]) + (
            timedelta(days=1)
        )
