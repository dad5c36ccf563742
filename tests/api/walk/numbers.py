"""The walk's operations for numbers (DIDs): the inventory, orders, assignment, the reports."""

from __future__ import annotations

from sqlalchemy import select

from api.db import transaction
from api.domain import callers, numbers
from api.domain.actors import SYSTEM
from api.models import Did
from api.settings import Settings
from tests.api.conftest import gid

SNAPSHOT_MODELS = (Did,)
ASSIGNED, OWNED, FREE = "15557770101", "15557770102", "15557770103"
SUB_USERNAME = "acmedidwalk"


async def prepare(sessions, world):
    """Acme holds two numbers, one assigned to its client Alice's sub-account; a third is
    still in the inventory (anyone may see that one: it is nobody's)."""
    csv = "number,country,city,monthly_cost,setup_cost,per_minute,currency\n" + "".join(
        f"{n},US,Acme Walk City,1.25,2.50,0.01,USD\n" for n in (ASSIGNED, OWNED, FREE)
    )
    async with transaction(sessions) as s:
        await numbers.import_numbers(s, SYSTEM, csv.splitlines(keepends=True))
        ids = dict((await s.execute(select(Did.number, Did.id))).all())
        sub, _secret = await callers.create_sub_account(
            s, SYSTEM, world.acme_client_id, {"username": SUB_USERNAME}, settings=Settings()
        )
        for number in (ASSIGNED, OWNED):
            await numbers.order(s, SYSTEM, ids[number], f"walk-{number}", reseller_id=world.acme_id)
        await numbers.assign(
            s,
            SYSTEM,
            ids[ASSIGNED],
            world.acme_client_id,
            sub_account_id=sub.id,
            monthly_price="7.77",
        )
    variables = {
        "dx": gid("Did", ids[ASSIGNED]),
        "do": gid("Did", ids[OWNED]),
        "sx": gid("SubAccount", sub.id),
    }
    markers = [ASSIGNED, OWNED, SUB_USERNAME, "7.77", variables["dx"], variables["do"]]
    return variables, markers


DID = "id number status monthlyPrice { amount } monthlyCost { amount } client { name }"
PAYLOAD = "errors { code field message }"

QUERIES = {
    "dids": (
        "query($r: ID!, $c: ID!, $dx: ID!, $do: ID!, $sx: ID!) {"
        f" all: dids {{ edges {{ node {{ {DID} }} }} }}"
        f" byReseller: dids(resellerId: $r) {{ edges {{ node {{ {DID} }} }} }}"
        f" byClient: dids(clientId: $c) {{ edges {{ node {{ {DID} }} }} }}"
        f" bySub: dids(subAccountId: $sx) {{ edges {{ node {{ {DID} }} }} }}"
        " owned: dids(status: OWNED) { edges { node { number } } }"
        " x: node(id: $dx) { id ... on Did { number } }"
        " o: node(id: $do) { id ... on Did { number } }"
        " c: node(id: $c) { id ... on Client { dids { number } } }"
        " s: node(id: $sx) { id ... on SubAccount { dids { number } } } }"
    ),
    "didsAvailable": (
        "{ a: didsAvailable { edges { node { number status reseller { name } } } }"
        ' b: didsAvailable(prefix: "1555777") { edges { node { number } } } }'
    ),
    "didReport": (
        "query($r: ID!, $c: ID!) {"
        f" all: didReport {{ edges {{ node {{ {DID} }} }}"
        " totals { numbers monthlyPrice { amount } } }"
        f" theirs: didReport(resellerId: $r, clientId: $c) {{ edges {{ node {{ {DID} }} }}"
        " totals { numbers assigned } } }"
    ),
    "subAccountReport": (
        "query($r: ID!) { all: subAccountReport { edges { node { subAccount { username }"
        " client { name } package { name } dids { number } } } }"
        " theirs: subAccountReport(resellerId: $r) { edges { node { dids { number } } } } }"
    ),
}

MUTATIONS = {
    "didsImport": (
        'mutation { didsImport(input: {csv: "number,country,monthly_cost\\n15557770101,US,0"})'
        f" {{ imported rejected rowErrors {{ line message }} {PAYLOAD} }} }}"
    ),
    "didOrder": (
        "mutation($do: ID!, $r: ID!) {"
        ' a: didOrder(input: {id: $do, idempotencyKey: "walk-a"})'
        f" {{ did {{ {DID} }} replayed {PAYLOAD} }}"
        ' b: didOrder(input: {id: $do, idempotencyKey: "walk-b", resellerId: $r})'
        f" {{ did {{ number }} {PAYLOAD} }} }}"
    ),
    "didAssign": (
        "mutation($do: ID!, $c: ID!, $sx: ID!) { didAssign(input: {id: $do, clientId: $c,"
        f' subAccountId: $sx, monthlyPrice: "0"}}) {{ did {{ {DID} }} {PAYLOAD} }} }}'
    ),
    "didForwardingSet": (
        "mutation($dx: ID!, $sx: ID!) {"
        ' a: didForwardingSet(input: {id: $dx, forwardTo: "19995550100"})'
        f" {{ did {{ {DID} }} {PAYLOAD} }}"
        " b: didForwardingSet(input: {id: $dx, subAccountId: $sx})"
        f" {{ did {{ {DID} }} {PAYLOAD} }} }}"
    ),
    "didUnassign": (
        f"mutation($dx: ID!) {{ didUnassign(input: {{id: $dx}}) {{ did {{ {DID} }} {PAYLOAD} }} }}"
    ),
    "didRelease": (
        f"mutation($do: ID!) {{ didRelease(input: {{id: $do}}) {{ did {{ {DID} }} {PAYLOAD} }} }}"
    ),
}
