"""The tenancy walk: every query and mutation, run by a second reseller (by session and by
API token), by a client of that reseller and by an anonymous caller against the first
reseller's objects, neither reads nor changes any of the first reseller's data."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from api.db import transaction
from api.domain import auth
from api.domain.actors import actor_for_user
from api.models import (
    Account,
    ApiToken,
    AuditEvent,
    Client,
    LedgerEntry,
    Posting,
    Reseller,
    User,
)
from api.schema import schema
from tests.api import walk
from tests.api.conftest import gid

QUERIES = walk.merged("QUERIES")
MUTATIONS = walk.merged("MUTATIONS")
OWN_TENANT_OK = set().union(*(getattr(m, "OWN_TENANT_OK", set()) for m in walk.modules()))


def test_the_walk_covers_every_root_field():
    gql_schema = schema._schema
    assert set(QUERIES) == set(gql_schema.query_type.fields)
    assert set(MUTATIONS) == set(gql_schema.mutation_type.fields)


async def acme_snapshot(sessions, acme_id: int) -> str:
    """Everything of Acme's, as text (API tokens without their last-used time)."""
    async with sessions() as s:
        out = {}
        extra = [m for mod in walk.modules() for m in getattr(mod, "SNAPSHOT_MODELS", ())]
        for model in (Client, User, Account, LedgerEntry, AuditEvent, *extra):
            rows = await s.scalars(
                select(model).where(model.reseller_id == acme_id).order_by(model.id)
            )
            out[model.__tablename__] = [_row(r) for r in rows]
        out["resellers"] = [_row(await s.get(Reseller, acme_id))]
        postings = await s.scalars(
            select(Posting)
            .join(LedgerEntry, LedgerEntry.id == Posting.entry_id)
            .where(LedgerEntry.reseller_id == acme_id)
            .order_by(Posting.id)
        )
        out["postings"] = [_row(p) for p in postings]
        tokens = await s.scalars(select(ApiToken).where(ApiToken.reseller_id == acme_id))
        out["api_tokens"] = [_row(t, skip=("last_used_at",)) for t in tokens]
    return json.dumps(out, default=str, sort_keys=True)


def _row(obj, skip=()) -> dict:
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns if c.key not in skip}


async def acme_markers(sessions, world) -> list[str]:
    """Strings that only Acme's data contains: its ids, names, logins and token prefix."""
    async with sessions() as s:
        names = list(
            await s.scalars(select(Client.name).where(Client.reseller_id == world.acme_id))
        )
        emails = list(await s.scalars(select(User.email).where(User.reseller_id == world.acme_id)))
        entries = list(
            await s.scalars(select(LedgerEntry.id).where(LedgerEntry.reseller_id == world.acme_id))
        )
        prefixes = list(
            await s.scalars(select(ApiToken.prefix).where(ApiToken.reseller_id == world.acme_id))
        )
    return [
        "Acme",
        *names,
        *emails,
        *prefixes,
        gid("Reseller", world.acme_id),
        gid("Client", world.acme_client_id),
        gid("Client", world.acme_client2_id),
        *(gid("LedgerEntry", e) for e in entries),
    ]


@pytest.mark.parametrize("viewer", ["globex", "globex_token", "globex_client", "anonymous"])
async def test_other_tenants_neither_read_nor_change_acme(gql, world, sessions, viewer):
    # given a viewer from outside Acme
    if viewer == "globex_token":
        async with transaction(sessions) as s:
            owner = await s.scalar(select(User).where(User.email == "owner@globex.test"))
            token = (
                await auth.create_api_token(
                    s, actor_for_user(owner), name="walk", scopes=sorted(auth.TOKEN_SCOPES)
                )
            ).token
    else:
        token = None if viewer == "anonymous" else world.tokens[viewer]
    async with sessions() as s:
        acme_token_id = await s.scalar(
            select(ApiToken.id).where(ApiToken.reseller_id == world.acme_id)
        )
    variables = {
        "c": gid("Client", world.acme_client_id),
        "c2": gid("Client", world.acme_client2_id),
        "r": gid("Reseller", world.acme_id),
        "e": gid("LedgerEntry", world.payment_entry_id),
        "t": gid("ApiToken", acme_token_id),
    }
    markers = await acme_markers(sessions, world)
    for module in walk.modules():
        if hasattr(module, "prepare"):
            extra_variables, extra_markers = await module.prepare(sessions, world)
            variables.update(extra_variables)
            markers.extend(extra_markers)
    before = await acme_snapshot(sessions, world.acme_id)

    # when it runs every query and every mutation against Acme's objects
    operations = {**QUERIES, **MUTATIONS}
    for name in sorted(operations, key=lambda n: n == "logout"):  # logout last
        document = operations[name]
        used = {k: v for k, v in variables.items() if f"${k}" in document}
        body = await gql(document, used, token=token)
        text = json.dumps(body)
        # then nothing of Acme's comes back
        leaked = [m for m in markers if m in text]
        assert leaked == [], f"{viewer} / {name} leaked {leaked}: {text}"
        if name in MUTATIONS and name not in OWN_TENANT_OK:
            for payload in body["data"].values():
                assert payload["errors"], f"{viewer} / {name} was not refused: {text}"

    # and nothing of Acme's changed, and Acme's own session still works
    assert await acme_snapshot(sessions, world.acme_id) == before
    body = await gql("{ viewer { kind } }", token=world.tokens["acme"])
    assert body["data"]["viewer"]["kind"] == "reseller_user"


async def test_a_client_sees_itself_but_nothing_else_of_its_reseller(gql, world):
    # given Acme's client Alice logged in
    token = world.tokens["acme_client"]
    # when she lists clients, entries and reads her reseller and her neighbour
    body = await gql(
        "query($c2: ID!) { clients { edges { node { name balance { amount } } } }"
        " ledgerEntries { edges { node { kind postings { account } } } }"
        " viewer { client { name reseller { name balance { amount } } } }"
        " node(id: $c2) { id } auditEvents { edges { node { id } } }"
        " apiTokens { edges { node { id } } } }",
        {"c2": gid("Client", world.acme_client2_id)},
        token=token,
    )
    data = body["data"]
    # then she sees only herself, her own payment without postings, and no reseller balance
    assert [e["node"]["name"] for e in data["clients"]["edges"]] == ["Alice"]
    assert data["clients"]["edges"][0]["node"]["balance"]["amount"] == "50.000000"
    assert [e["node"] for e in data["ledgerEntries"]["edges"]] == [
        {"kind": "client_payment", "postings": []}
    ]
    assert data["viewer"]["client"]["reseller"] == {"name": "Acme", "balance": None}
    assert data["node"] is None
    assert data["auditEvents"]["edges"] == [] and data["apiTokens"]["edges"] == []
    # and she cannot move money or change herself
    body = await gql(
        'mutation($c: ID!) { clientTransfer(input: {clientId: $c, amount: "1",'
        ' idempotencyKey: "self"}) { errors { code } } clientUpdate(input: {id: $c,'
        ' creditLimit: "1000"}) { errors { code } } }',
        {"c": gid("Client", world.acme_client_id)},
        token=token,
    )
    assert body["data"]["clientTransfer"]["errors"][0]["code"] == "PERMISSION_DENIED"
    assert body["data"]["clientUpdate"]["errors"][0]["code"] == "PERMISSION_DENIED"
