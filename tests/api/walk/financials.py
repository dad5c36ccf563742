"""The walk's operations for the financial report: another tenant asks for Acme's month."""

from __future__ import annotations

from api.db import transaction
from api.domain import payments
from api.domain.actors import SYSTEM
from api.models import LedgerRollup
from api.models.base import utcnow

SNAPSHOT_MODELS = (LedgerRollup,)
AMOUNT = "7.654321"  # only Acme's payment of this month has it
MONTH = utcnow().strftime("%Y-%m")

FIGURES = (
    "currency revenue { amount } clientDeposits { amount } profit { amount } calls"
    " cost { amount } commissions { amount }"
)
QUERIES = {
    "financialReport": (
        "query($r: ID!) {"
        f' named: financialReport(month: "{MONTH}", resellerId: $r) {{'
        f" errors {{ code field message }} report {{ totals {{ {FIGURES} }}"
        f" clients {{ client {{ name }} figures {{ {FIGURES} }} }} }} }}"
        f' own: financialReport(month: "{MONTH}") {{ errors {{ code }} report {{'
        f" reseller {{ name }} totals {{ {FIGURES} }} days {{ day totals {{ {FIGURES} }} }}"
        f" clients {{ client {{ name }} figures {{ {FIGURES} }} }}"
        f" resellers {{ reseller {{ name }} figures {{ {FIGURES} }} }} }} }} }}"
    ),
}


async def prepare(sessions, world) -> tuple[dict, list[str]]:
    """Acme took a payment of a distinctive amount from Alice this month."""
    async with transaction(sessions) as s:
        await payments.client_payment(
            s, SYSTEM, world.acme_client_id, AMOUNT, "financials-walk-payment"
        )
    return {}, [AMOUNT]
