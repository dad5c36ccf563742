"""Demo data: an operator, two resellers (one per commercial model), a dozen clients and some
ledger history, all made through the domain functions so that every balance comes from postings.

``seed`` runs in one transaction: it lands completely or not at all. ``DEMO_LOGINS`` lists the
logins it creates; every one has the password ``demo1234``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.db import transaction
from api.domain import accounts, auth, payments
from api.domain.actors import SYSTEM, Actor, actor_for_user
from api.domain.errors import DomainError, ErrorCode
from api.models import Client, Reseller, User

DEMO_PASSWORD = "demo1234"
OPERATOR_EMAIL = "admin@dialtone.test"
ACME_OWNER_EMAIL = "owner@acme.test"
GLOBEX_OWNER_EMAIL = "owner@globex.test"
CLIENT_EMAIL = "client@acme.test"

# (email, role, password): printed by ``dialtone demo`` and shown in the README.
DEMO_LOGINS: list[tuple[str, str, str]] = [
    (OPERATOR_EMAIL, "operator", DEMO_PASSWORD),
    (ACME_OWNER_EMAIL, "reseller_owner", DEMO_PASSWORD),
    (GLOBEX_OWNER_EMAIL, "reseller_owner", DEMO_PASSWORD),
    (CLIENT_EMAIL, "client", DEMO_PASSWORD),
]

ACME = {"name": "Acme Telecom", "currency": "USD", "billing_model": "markup"}
GLOBEX = {
    "name": "Globex Communications",
    "currency": "EUR",
    "billing_model": "commission",
    "commission_pct": "10",
    "timezone": "Europe/Berlin",
}

ACME_CLIENTS: list[dict[str, Any]] = [
    {
        "name": "Blue Harbor Dental",
        "contact_name": "Dana Reyes",
        "email": "frontdesk@blueharbor.test",
        "phone": "+1 415 555 0134",
        "country": "US",
        "characteristic": "good",
        "label": "healthcare",
        "billing_mode": "prepaid_strict",
        "low_balance_threshold": "10",
    },
    {
        "name": "Northwind Cafe",
        "contact_name": "Sam Porter",
        "email": "sam@northwind.test",
        "country": "US",
        "label": "hospitality",
        "billing_mode": "prepaid_strict",
        "notes": "Cancelled in March; the top-up was refunded.",
    },
    {
        "name": "Lopez & Sons Plumbing",
        "company": "Lopez & Sons LLC",
        "contact_name": "Maria Lopez",
        "email": "office@lopezplumbing.test",
        "country": "US",
        "label": "trades",
        "billing_mode": "postpaid",
        "credit_limit": "200",
    },
    {
        "name": "Maple Leaf Realty",
        "contact_name": "Jean Tremblay",
        "email": "jean@mapleleaf.test",
        "country": "CA",
        "language": "fr",
        "label": "real-estate",
        "billing_mode": "prepaid_permissive",
    },
    {
        "name": "Sunrise Yoga Studio",
        "contact_name": "Priya Natarajan",
        "email": "hello@sunriseyoga.test",
        "country": "US",
        "characteristic": "good",
        "label": "wellness",
        "billing_mode": "prepaid_strict",
    },
    {
        "name": "Gotham Legal LLP",
        "contact_name": "Harvey Dent",
        "email": "billing@gothamlegal.test",
        "country": "US",
        "characteristic": "conflict",
        "label": "vip",
        "billing_mode": "postpaid",
        "credit_limit": "1000",
        "notes": "Disputes every invoice; check call records before answering.",
    },
    {
        "name": "Pacific Freight",
        "contact_name": "Luis Ortega",
        "email": "ops@pacificfreight.test",
        "country": "MX",
        "language": "es",
        "label": "logistics",
        "billing_mode": "prepaid_strict",
    },
]

GLOBEX_CLIENTS: list[dict[str, Any]] = [
    {
        "name": "Müller Maschinenbau GmbH",
        "contact_name": "Jonas Müller",
        "email": "einkauf@mueller-mb.test",
        "country": "DE",
        "language": "de",
        "characteristic": "good",
        "label": "industry",
        "billing_mode": "prepaid_strict",
    },
    {
        "name": "Boulangerie Dupont",
        "contact_name": "Claire Dupont",
        "email": "claire@dupont.test",
        "country": "FR",
        "language": "fr",
        "label": "retail",
        "billing_mode": "prepaid_strict",
    },
    {
        "name": "Rossi Trasporti",
        "contact_name": "Marco Rossi",
        "email": "amministrazione@rossi.test",
        "country": "IT",
        "language": "it",
        "label": "logistics",
        "billing_mode": "postpaid",
        "credit_limit": "500",
    },
    {
        "name": "Van Dijk Design",
        "contact_name": "Sanne van Dijk",
        "email": "studio@vandijk.test",
        "country": "NL",
        "language": "nl",
        "label": "agency",
        "billing_mode": "prepaid_permissive",
    },
    {
        "name": "Nordic Fisk AS",
        "contact_name": "Erik Hansen",
        "email": "post@nordicfisk.test",
        "country": "NO",
        "language": "nb",
        "characteristic": "conflict",
        "label": "food",
        "billing_mode": "prepaid_strict",
    },
]

Progress = Callable[[int, int, str], None]


@dataclass
class SeedResult:
    """What ``seed`` created: ids by name, for the CLI and the tests."""

    operator_id: int = 0
    reseller_ids: dict[str, int] = field(default_factory=dict)
    client_ids: dict[str, int] = field(default_factory=dict)
    entries: int = 0


async def has_users(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """Whether anyone can log in already: ``dialtone demo --if-empty`` seeds only when not."""
    async with sessions() as session:
        return (await session.scalar(select(func.count()).select_from(User))) > 0


async def is_seeded(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """Whether the demo logins exist here (so that printing them is true)."""
    emails = [email for email, _role, _password in DEMO_LOGINS]
    async with sessions() as session:
        found = await session.scalar(
            select(func.count()).select_from(User).where(User.email.in_(emails))
        )
    return found == len(emails)


class _Steps:
    """Runs named steps in order, reporting ``(done, total, label)`` as each one starts and
    ``(total, total, "done")`` at the end."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total = total
        self.done = 0
        self.progress = progress

    def report(self, label: str) -> None:
        if self.progress is not None:
            self.progress(self.done, self.total, label)

    async def run(self, label: str, step: Awaitable[Any]) -> Any:
        self.report(label)
        result = await step
        self.done += 1
        return result

    def finish(self) -> None:
        self.done = self.total
        self.report("done")


# Money movements after the clients exist: (kind, who acts, client name, amount, memo).
# ``refund_of`` names the key of the payment a refund reverses.
_MOVES: list[dict[str, Any]] = [
    {"kind": "transfer", "client": "Blue Harbor Dental", "amount": "50", "memo": "Welcome credit"},
    {
        "kind": "charge",
        "client": "Blue Harbor Dental",
        "amount": "12.50",
        "memo": "Extra DID setup",
    },
    {"kind": "payment", "client": "Northwind Cafe", "amount": "25", "memo": "Cash at signup"},
    {
        "kind": "refund",
        "client": "Northwind Cafe",
        "amount": "25",
        "memo": "Service cancelled",
        "refund_of": "Northwind Cafe",
    },
    {
        "kind": "charge",
        "client": "Lopez & Sons Plumbing",
        "amount": "80",
        "memo": "March usage",
    },
    {"kind": "payment", "client": "Maple Leaf Realty", "amount": "10", "memo": "Cheque 1042"},
    {
        "kind": "charge",
        "client": "Maple Leaf Realty",
        "amount": "15",
        "memo": "Fax-to-email add-on",
    },
    {"kind": "payment", "client": "Sunrise Yoga Studio", "amount": "100", "memo": "Bank transfer"},
    {"kind": "transfer", "client": "Pacific Freight", "amount": "150", "memo": "Prepaid bundle"},
    {
        "kind": "transfer",
        "client": "Müller Maschinenbau GmbH",
        "amount": "200",
        "memo": "Quarterly top-up",
    },
    {"kind": "payment", "client": "Boulangerie Dupont", "amount": "40", "memo": "Paid in cash"},
    {
        "kind": "charge",
        "client": "Boulangerie Dupont",
        "amount": "5",
        "memo": "Number porting fee",
    },
    {"kind": "charge", "client": "Rossi Trasporti", "amount": "120", "memo": "February usage"},
    {"kind": "transfer", "client": "Nordic Fisk AS", "amount": "60", "memo": "Starter credit"},
    {
        "kind": "refund",
        "client": "Nordic Fisk AS",
        "amount": "10",
        "memo": "Partial refund: overbilled",
        "refund_of": "Nordic Fisk AS",
    },
]

_DEPOSITS = [("Acme Telecom", "500", "Wire transfer"), ("Globex Communications", "1000", "SEPA")]

# Users (3 + 1), resellers (2), client batches (2), deposits, movements.
TOTAL_STEPS = 1 + 2 + 2 + 2 + 1 + len(_DEPOSITS) + len(_MOVES)


async def seed(
    sessions: async_sessionmaker[AsyncSession], progress: Progress | None = None
) -> SeedResult:
    """Create the demo world in one transaction. Refuses (CONFLICT) when it is already there."""
    steps = _Steps(TOTAL_STEPS, progress)
    result = SeedResult()
    async with transaction(sessions) as session:
        if await session.scalar(select(User.id).where(User.email == OPERATOR_EMAIL)):
            raise DomainError(
                ErrorCode.CONFLICT,
                f"the demo data is already there ({OPERATOR_EMAIL} exists); "
                "use an empty database or `dialtone demo --if-empty`",
            )

        admin = await steps.run(
            "creating the operator",
            auth.create_user(
                session,
                SYSTEM,
                email=OPERATOR_EMAIL,
                password=DEMO_PASSWORD,
                role="operator",
                name="Platform Admin",
            ),
        )
        result.operator_id = admin.id
        operator = actor_for_user(admin)

        owners: dict[str, Actor] = {}
        resellers: dict[str, Reseller] = {}
        for data, owner_email, owner_name in (
            (ACME, ACME_OWNER_EMAIL, "Alice Acme"),
            (GLOBEX, GLOBEX_OWNER_EMAIL, "Gustav Globex"),
        ):
            reseller = await steps.run(
                f"creating reseller {data['name']}",
                accounts.create_reseller(session, operator, data),
            )
            owner = await steps.run(
                f"creating {owner_email}",
                auth.create_user(
                    session,
                    operator,
                    email=owner_email,
                    password=DEMO_PASSWORD,
                    role="reseller_owner",
                    name=owner_name,
                    reseller_id=reseller.id,
                ),
            )
            resellers[reseller.name] = reseller
            owners[reseller.name] = actor_for_user(owner)
            result.reseller_ids[reseller.name] = reseller.id

        clients: dict[str, Client] = {}
        for reseller_name, rows in (
            (ACME["name"], ACME_CLIENTS),
            (GLOBEX["name"], GLOBEX_CLIENTS),
        ):
            created = await steps.run(
                f"creating clients of {reseller_name}",
                accounts.create_clients(session, owners[reseller_name], None, rows),
            )
            for client in created:
                clients[client.name] = client
                result.client_ids[client.name] = client.id

        portal_client = clients["Blue Harbor Dental"]
        await steps.run(
            f"creating {CLIENT_EMAIL}",
            auth.create_user(
                session,
                owners[ACME["name"]],
                email=CLIENT_EMAIL,
                password=DEMO_PASSWORD,
                role="client",
                name="Dana Reyes",
                client_id=portal_client.id,
            ),
        )

        n = 0

        def key() -> str:
            nonlocal n
            n += 1
            return f"demo-{n}"

        for reseller_name, amount, memo in _DEPOSITS:
            await steps.run(
                f"depositing to {reseller_name}",
                payments.reseller_deposit(
                    session, operator, resellers[reseller_name].id, amount, key(), memo
                ),
            )
            result.entries += 1

        payments_by_client: dict[str, int] = {}
        for move in _MOVES:
            client = clients[move["client"]]
            actor = owners[_reseller_name(resellers, client.reseller_id)]
            args = (session, actor, client.id, move["amount"], key(), move["memo"])
            kind = move["kind"]
            if kind == "transfer":
                call = payments.client_transfer(*args)
            elif kind == "payment":
                call = payments.client_payment(*args)
            elif kind == "charge":
                call = payments.client_charge(*args)
            else:
                call = payments.client_refund(
                    *args, payment_id=payments_by_client[move["refund_of"]]
                )
            movement = await steps.run(f"{kind} for {client.name}", call)
            if kind in ("transfer", "payment"):
                payments_by_client[client.name] = movement.entry.id
            result.entries += 1
    steps.finish()
    return result


def _reseller_name(resellers: dict[str, Reseller], reseller_id: int) -> str:
    return next(name for name, r in resellers.items() if r.id == reseller_id)
