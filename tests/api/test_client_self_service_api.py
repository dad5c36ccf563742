"""What a client user changes of its own through the API: its numbers' forwarding
(``didForwardingSet``), its sub-accounts' caller ID within the numbers it holds
(``subAccountCallerIdSet``) and their SIP secret (``subAccountSecretReset``); never another
client's. And the calls connection paged backwards (``before``)."""

from __future__ import annotations

import io
from datetime import timedelta

from sqlalchemy import select

from api.db import transaction
from api.domain import callers, calls, numbers
from api.domain.actors import SYSTEM
from api.domain.cdr_formats import CallRecord
from api.models import AuditEvent, Did, SubAccount
from api.settings import Settings
from tests.api.conftest import gid
from tests.api.test_calls_api import ALICE_SIP, T0, rate_world

PAYLOAD = "errors { code field message }"
FORWARD = (
    "mutation($id: ID!, $sub: ID, $fwd: String) {"
    " didForwardingSet(input: {id: $id, subAccountId: $sub, forwardTo: $fwd})"
    f" {{ did {{ number routing forwardTo subAccount {{ username }} monthlyCost {{ amount }} }}"
    f" {PAYLOAD} }} }}"
)
CALLER_ID = (
    "mutation($id: ID!, $n: String!) { subAccountCallerIdSet(input: {id: $id, callerId: $n})"
    f" {{ subAccount {{ username callerId }} {PAYLOAD} }} }}"
)
RESET = (
    "mutation($id: ID!) { subAccountSecretReset(input: {id: $id})"
    f" {{ subAccount {{ username }} secret {PAYLOAD} }} }}"
)
ALICE_DID, ARNOLD_DID = "14155550100", "14155550199"


async def _numbers_world(sessions, world) -> dict[str, int]:
    """Alice (the client user's client) holds one number and two sub-accounts; Arnold, another
    Acme client, holds one number and one sub-account."""
    async with transaction(sessions) as s:
        csv = (
            "number,country,city,monthly_cost,setup_cost,per_minute,currency\n"
            f"{ALICE_DID},US,San Francisco,1.00,0,0,USD\n"
            f"{ARNOLD_DID},US,San Francisco,1.00,0,0,USD\n"
        )
        await numbers.import_numbers(s, SYSTEM, io.StringIO(csv))
        ids = {n: i for n, i in (await s.execute(select(Did.number, Did.id))).all()}
        subs = {}
        for client_id, username in (
            (world.acme_client_id, "alice-desk"),
            (world.acme_client_id, "alice-phone"),
            (world.acme_client2_id, "arnold-desk"),
        ):
            sub, _ = await callers.create_sub_account(
                s, SYSTEM, client_id, {"username": username}, settings=Settings()
            )
            subs[username] = sub.id
        for number, client_id in (
            (ALICE_DID, world.acme_client_id),
            (ARNOLD_DID, world.acme_client2_id),
        ):
            await numbers.order(s, SYSTEM, ids[number], f"o-{number}", reseller_id=world.acme_id)
            await numbers.assign(s, SYSTEM, ids[number], client_id, monthly_price="3")
    return {**ids, **subs}


async def test_a_client_forwards_its_own_number_to_a_sub_account_or_outside(gql, world, sessions):
    ids = await _numbers_world(sessions, world)
    token = world.tokens["acme_client"]
    alice_did = gid("Did", ids[ALICE_DID])
    # when the client forwards its number to an outside number (written as people write it)
    done = (await gql(FORWARD, {"id": alice_did, "fwd": "+1 (212) 555-0123"}, token=token))["data"][
        "didForwardingSet"
    ]
    # then its calls go there, and no operator cost is shown to it
    assert done["errors"] == []
    assert done["did"]["routing"] == "FORWARD" and done["did"]["forwardTo"] == "12125550123"
    assert done["did"]["monthlyCost"] is None
    # when it sends them to one of its sub-accounts instead
    sub = gid("SubAccount", ids["alice-phone"])
    done = (await gql(FORWARD, {"id": alice_did, "sub": sub}, token=token))["data"][
        "didForwardingSet"
    ]
    assert done["errors"] == []
    assert done["did"]["routing"] == "SUB_ACCOUNT" and done["did"]["forwardTo"] == ""
    assert done["did"]["subAccount"]["username"] == "alice-phone"
    # and with neither, nowhere
    done = (await gql(FORWARD, {"id": alice_did}, token=token))["data"]["didForwardingSet"]
    assert done["did"]["routing"] == "NONE" and done["did"]["subAccount"] is None
    # every change is in the number's history, by the client user
    async with sessions() as s:
        actions = (
            await s.scalars(
                select(AuditEvent.action).where(
                    AuditEvent.subject_type == "did", AuditEvent.subject_id == ids[ALICE_DID]
                )
            )
        ).all()
    assert actions.count("did.forwarding_set") == 3


async def test_a_client_cannot_forward_what_is_not_its_own(gql, world, sessions):
    ids = await _numbers_world(sessions, world)
    token = world.tokens["acme_client"]
    alice_did = gid("Did", ids[ALICE_DID])

    async def refused(variables, token=token):
        body = await gql(FORWARD, variables, token=token)
        return body["data"]["didForwardingSet"]["errors"][0]

    # another client's number is not found, to the client and to another reseller's client
    arnold = {"id": gid("Did", ids[ARNOLD_DID]), "fwd": "12125550123"}
    assert (await refused(arnold))["code"] == "NOT_FOUND"
    assert (await refused(arnold, world.tokens["globex_client"]))["code"] == "NOT_FOUND"
    assert (await refused({"id": alice_did}, world.tokens["globex"]))["code"] == "NOT_FOUND"
    # another client's sub-account is not one to forward to
    other_sub = gid("SubAccount", ids["arnold-desk"])
    error = await refused({"id": alice_did, "sub": other_sub})
    assert (error["code"], error["field"]) == ("NOT_FOUND", "subAccountId")
    # both at once, a bad number, the number itself: refused with a reason
    own_sub = gid("SubAccount", ids["alice-desk"])
    error = await refused({"id": alice_did, "sub": own_sub, "fwd": "12125550123"})
    assert error["message"] == "forward to a sub-account or to a number, not both at once"
    assert (
        "is not a phone number" in (await refused({"id": alice_did, "fwd": "call me"}))["message"]
    )
    error = await refused({"id": alice_did, "fwd": "+" + ALICE_DID})
    assert error["message"] == "a number cannot forward to itself"
    # and nothing changed on either number
    async with sessions() as s:
        rows = (await s.scalars(select(Did).order_by(Did.number))).all()
    assert [(d.routing, d.forward_to) for d in rows] == [("none", ""), ("none", "")]


async def test_the_reseller_staff_sets_forwarding_too(gql, world, sessions):
    ids = await _numbers_world(sessions, world)
    arnold = {"id": gid("Did", ids[ARNOLD_DID]), "sub": gid("SubAccount", ids["arnold-desk"])}
    done = (await gql(FORWARD, arnold, token=world.tokens["acme_staff"]))["data"][
        "didForwardingSet"
    ]
    assert done["errors"] == [] and done["did"]["subAccount"]["username"] == "arnold-desk"


async def test_a_client_sets_caller_id_within_the_numbers_it_holds(gql, world, sessions):
    ids = await _numbers_world(sessions, world)
    async with transaction(sessions) as s:  # a number its reseller registered for it
        await callers.set_client_numbers(s, SYSTEM, world.acme_client_id, ["442079460000"])
    token = world.tokens["acme_client"]
    desk = gid("SubAccount", ids["alice-desk"])

    async def set_to(number: str, sub: str = desk, token: str = token) -> dict:
        body = await gql(CALLER_ID, {"id": sub, "n": number}, token=token)
        return body["data"]["subAccountCallerIdSet"]

    # its DID, or its registered number, may be shown
    done = await set_to("+1 415 555 0100")
    assert done["errors"] == [] and done["subAccount"]["callerId"] == ALICE_DID
    assert (await set_to("442079460000"))["subAccount"]["callerId"] == "442079460000"
    # another client's number is refused, naming the numbers allowed
    error = (await set_to(ARNOLD_DID))["errors"][0]
    assert error["field"] == "callerId"
    assert error["message"] == (
        f"+{ARNOLD_DID} is not one of your numbers; the caller ID must be one of: "
        f"+{ALICE_DID}, +442079460000"
    )
    async with sessions() as s:
        assert (await s.get(SubAccount, ids["alice-desk"])).caller_id == "442079460000"
    # the reseller is held to the same numbers through this mutation
    error = (await set_to("19995550000", token=world.tokens["acme"]))["errors"][0]
    assert error["code"] == "VALIDATION"
    # another client's sub-account is not found
    arnold = gid("SubAccount", ids["arnold-desk"])
    assert (await set_to(ALICE_DID, sub=arnold))["errors"][0]["code"] == "NOT_FOUND"
    # empty clears it
    assert (await set_to(""))["subAccount"]["callerId"] == ""


async def test_a_client_resets_its_own_sub_accounts_secret_only(gql, world, sessions):
    ids = await _numbers_world(sessions, world)
    async with sessions() as s:
        before = (await s.get(SubAccount, ids["alice-desk"])).ha1
    token = world.tokens["acme_client"]
    done = (await gql(RESET, {"id": gid("SubAccount", ids["alice-desk"])}, token=token))["data"][
        "subAccountSecretReset"
    ]
    assert done["errors"] == [] and len(done["secret"]) >= 16
    async with sessions() as s:
        sub = await s.get(SubAccount, ids["alice-desk"])
        assert sub.ha1 != before
        assert callers.secrets.ha1("alice-desk", Settings().sip_realm, done["secret"]) == sub.ha1
    # another client's, and another reseller's client: not found, and no secret
    for who in ("acme_client", "globex_client"):
        other = (
            await gql(RESET, {"id": gid("SubAccount", ids["arnold-desk"])}, token=world.tokens[who])
        )["data"]["subAccountSecretReset"]
        assert other["errors"][0]["code"] == "NOT_FOUND" and other["secret"] is None


PAGE = (
    "query($after: String, $before: String) { calls(first: 3, after: $after, before: $before)"
    " { nodes { callId } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"
)


async def test_calls_page_backwards_with_before(gql, world, sessions):
    # given 8 calls of Alice's sub-account, one a minute
    await rate_world(sessions, world)
    records = [
        CallRecord(
            call_id=f"c{i}",
            destination="442071234567",
            started_at=T0 + timedelta(minutes=i),
            duration=30,
            billsec=20,
            disposition="answered",
            sub_account=ALICE_SIP,
        )
        for i in range(8)
    ]
    async with transaction(sessions) as s:
        assert (await calls.ingest(s, SYSTEM, enumerate(records, 1))).ingested == 8
    token = world.tokens["acme"]

    async def page(**cursor) -> dict:
        return (await gql(PAGE, cursor, token=token))["data"]["calls"]

    first = await page()
    second = await page(after=first["pageInfo"]["endCursor"])
    third = await page(after=second["pageInfo"]["endCursor"])
    assert [n["callId"] for n in third["nodes"]] == ["c1", "c0"]
    # back from the third page: the second, newest first, with pages on both sides
    back = await page(before=third["pageInfo"]["startCursor"])
    assert back["nodes"] == second["nodes"] == [{"callId": c} for c in ("c4", "c3", "c2")]
    assert back["pageInfo"]["hasPreviousPage"] and back["pageInfo"]["hasNextPage"]
    # back again: the first page, with nothing before it
    front = await page(before=back["pageInfo"]["startCursor"])
    assert front["nodes"] == first["nodes"]
    assert not front["pageInfo"]["hasPreviousPage"] and front["pageInfo"]["hasNextPage"]
    both = await gql(PAGE, {"after": "x", "before": "y"}, token=token)
    assert "give after or before, not both" in both["errors"][0]["message"]
