"""The walk's operations for calls: ingestion and the calls report."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from api.db import transaction
from api.domain import calls
from api.domain.actors import SYSTEM
from api.domain.cdr_formats import CallRecord
from api.models import Call, CallRollup, SubAccount
from tests.api.conftest import gid

SNAPSHOT_MODELS = (Call, CallRollup)
USERNAME = "acmewalkcalls"  # sent by the intruder below, so not a marker
CALL_ID = "acme-walk-call-7f3e"
DESTINATION = "4420799911"

PAYLOAD = "errors { code field message }"
CALL = "id callId destination aNumber sell { amount } cost { amount }"

QUERIES = {
    "calls": (
        "query($c: ID!, $r: ID!, $call: ID!) { all: calls { edges { node { " + CALL + " } }"
        " totals { count sell { amount } } }"
        " byClient: calls(clientId: $c) { edges { node { id callId } } totals { count } }"
        " byReseller: calls(resellerId: $r) { edges { node { id callId } } totals { count } }"
        " asNode: node(id: $call) { id ... on Call { callId destination } } }"
    ),
}

MUTATIONS = {
    "callsIngest": (
        'mutation { callsIngest(input: {calls: [{callId: "walk-intruder-1", subAccount: "'
        + USERNAME
        + '", destination: "442071234567", startedAt: "2024-03-01T10:00:00Z", duration: 60,'
        " billsec: 60, disposition: ANSWERED}]}) { ingested rejected rowErrors { row message }"
        f" {PAYLOAD} }} }}"
    ),
}
# Another tenant's token ingests its own callers; Acme's caller is an unknown caller to it
# (a row error, not a payload error): the snapshot proves nothing of Acme's changed.
OWN_TENANT_OK = {"callsIngest"}


async def prepare(sessions, world) -> tuple[dict, list[str]]:
    """Acme's Alice gets a sub-account and one stored call (inbound: no deck needed)."""
    async with transaction(sessions) as s:
        if not await s.scalar(select(SubAccount.id).where(SubAccount.username == USERNAME)):
            s.add(
                SubAccount(
                    reseller_id=world.acme_id,
                    client_id=world.acme_client_id,
                    username=USERNAME,
                    secret_encrypted="x",
                )
            )
            await s.flush()
        record = CallRecord(
            CALL_ID,
            DESTINATION,
            datetime(2024, 3, 1, 10, 0, tzinfo=UTC),
            30,
            25,
            "answered",
            direction="inbound",
            sub_account=USERNAME,
        )
        await calls.ingest(s, SYSTEM, [(1, record)])
        call_pk = await s.scalar(select(Call.id).where(Call.call_id == CALL_ID))
    return {"call": gid("Call", call_pk)}, [CALL_ID, DESTINATION, gid("Call", call_pk)]
