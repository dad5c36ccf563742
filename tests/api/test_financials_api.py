"""financialReport over GraphQL: Money figures equal to the ledger's, tenancy, permissions."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from api.db import transaction
from api.domain import auth
from api.domain.actors import actor_for_user
from api.models import Account, LedgerEntry, Posting, User
from api.models.base import utcnow
from tests.api.conftest import gid

MONTH = utcnow().strftime("%Y-%m")
FIGURES = (
    "currency revenue { amount currency } clientDeposits { amount currency }"
    " transfers { amount } resellerDeposits { amount } commissions { amount }"
    " earnings { amount } profit { amount } cost { amount } calls answeredSeconds answeredMinutes"
)
QUERY = (
    "query($m: String!, $r: ID) { financialReport(month: $m, resellerId: $r) {"
    " errors { code field message } report { month reseller { name }"
    f" totals {{ {FIGURES} }} days {{ day totals {{ {FIGURES} }} }}"
    f" clients {{ client {{ name }} figures {{ {FIGURES} }} }}"
    f" resellers {{ reseller {{ name }} figures {{ {FIGURES} }} }} }} }} }}"
)


async def _client_postings(sessions, reseller_id: int, kind: str) -> Decimal:
    """Straight from the postings: what clients' accounts of the reseller received."""
    async with sessions() as s:
        total = await s.scalar(
            select(func.coalesce(func.sum(Posting.amount), 0))
            .join(LedgerEntry, LedgerEntry.id == Posting.entry_id)
            .join(Account, Account.id == Posting.account_id)
            .where(
                LedgerEntry.reseller_id == reseller_id,
                LedgerEntry.kind == kind,
                Account.key.like("client:%"),
            )
        )
    return Decimal(int(total)) / 1_000_000


async def test_a_reseller_reads_its_month(gql, world, sessions):
    body = await gql(QUERY, {"m": MONTH}, token=world.tokens["acme"])
    payload = body["data"]["financialReport"]
    assert payload["errors"] == []
    report = payload["report"]
    assert report["month"] == MONTH and report["reseller"]["name"] == "Acme"
    [totals] = report["totals"]
    paid = await _client_postings(sessions, world.acme_id, "client_payment")
    assert paid == Decimal(50)
    assert totals["clientDeposits"] == {"amount": "50.000000", "currency": "USD"}
    assert Decimal(totals["resellerDeposits"]["amount"]) == Decimal(1000)
    assert [c["client"]["name"] for c in report["clients"]] == ["Alice"]
    assert sum(Decimal(d["totals"][0]["clientDeposits"]["amount"]) for d in report["days"]) == 50
    assert [r["reseller"]["name"] for r in report["resellers"]] == ["Acme"]


async def test_globex_earns_its_commission_and_sees_nothing_of_acme(gql, world):
    body = await gql(QUERY, {"m": MONTH}, token=world.tokens["globex"])
    [totals] = body["data"]["financialReport"]["report"]["totals"]
    assert totals["currency"] == "EUR"
    assert totals["transfers"]["amount"] == "40.000000"
    assert totals["commissions"]["amount"] == "4.000000"  # 10 % of the transfer
    assert totals["earnings"]["amount"] == "4.000000"
    # Acme's month, named by Globex, is not found
    body = await gql(
        QUERY, {"m": MONTH, "r": gid("Reseller", world.acme_id)}, world.tokens["globex"]
    )
    payload = body["data"]["financialReport"]
    assert payload["report"] is None
    assert payload["errors"][0]["code"] == "NOT_FOUND"
    assert payload["errors"][0]["field"] == "resellerId"


async def test_the_operator_reads_every_reseller_per_currency(gql, world):
    body = await gql(QUERY, {"m": MONTH}, token=world.tokens["operator"])
    report = body["data"]["financialReport"]["report"]
    assert report["reseller"] is None and report["clients"] == []
    assert [t["currency"] for t in report["totals"]] == ["EUR", "USD"]
    assert [r["reseller"]["name"] for r in report["resellers"]] == ["Acme", "Globex"]
    named = await gql(
        QUERY, {"m": MONTH, "r": gid("Reseller", world.globex_id)}, world.tokens["operator"]
    )
    assert [c["client"]["name"] for c in named["data"]["financialReport"]["report"]["clients"]] == [
        "Gina"
    ]


async def test_a_client_a_narrow_token_and_a_bad_month_are_refused(gql, world, sessions):
    body = await gql(QUERY, {"m": MONTH}, token=world.tokens["acme_client"])
    payload = body["data"]["financialReport"]
    assert payload["report"] is None and payload["errors"][0]["code"] == "PERMISSION_DENIED"

    async with transaction(sessions) as s:
        owner = await s.scalar(select(User).where(User.email == "owner@acme.test"))
        token = await auth.create_api_token(
            s, actor_for_user(owner), name="clients only", scopes=["clients:read"]
        )
    body = await gql(QUERY, {"m": MONTH}, token=token.token)
    assert body["data"]["financialReport"]["errors"][0]["code"] == "PERMISSION_DENIED"

    body = await gql(QUERY, {"m": "2026-13"}, token=world.tokens["acme"])
    [error] = body["data"]["financialReport"]["errors"]
    assert (error["code"], error["field"]) == ("VALIDATION", "month")

    body = await gql(QUERY, {"m": MONTH})
    assert body["data"]["financialReport"]["errors"][0]["code"] == "UNAUTHENTICATED"
