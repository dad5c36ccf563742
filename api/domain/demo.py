"""Demo data: an operator, two resellers (one per commercial model), a dozen clients and some
ledger history, then the telephone side: a rate deck per currency as the resellers' base decks,
a package with overrides and a monthly fee for the markup reseller's clients, a SIP sub-account
per client, numbers (DIDs) in the inventory, two ordered and assigned, a month of calls rated
and posted, two invoices of a postpaid client (Gotham Legal LLP: one paid, one to pay, and a
portal login, ``POSTPAID_CLIENT_EMAIL``), and the resellers' portals on
``acme.localhost`` (Acme's brand) and ``globex.localhost``. All of it is made through the
domain functions, so that every balance comes from postings and every call was rated.

``seed`` runs in one transaction: it lands completely or not at all. ``DEMO_LOGINS`` lists the
logins it creates; every one has the password ``demo1234``.
"""

from __future__ import annotations

import io
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api import money
from api.db import transaction
from api.domain import (
    accounts,
    auth,
    brands,
    callers,
    calls,
    fees,
    invoices,
    numbers,
    payments,
    rates,
)
from api.domain.actors import SYSTEM, Actor, actor_for_user
from api.domain.cdr_formats import CallRecord
from api.domain.errors import DomainError, ErrorCode
from api.models import Client, Did, Reseller, User
from api.models.base import utcnow
from api.settings import Settings

DEMO_PASSWORD = "demo1234"
OPERATOR_EMAIL = "admin@dialtone.test"
ACME_OWNER_EMAIL = "owner@acme.test"
GLOBEX_OWNER_EMAIL = "owner@globex.test"
# Acme's staff user: the reseller portal shows what the reseller_staff role allows
ACME_STAFF_EMAIL = "staff@acme.test"
CLIENT_EMAIL = "client@acme.test"
# Gotham Legal LLP's portal user: Acme's postpaid client, with a paid and an open invoice
POSTPAID_CLIENT_EMAIL = "billing@acme.test"

# (email, role, password): printed by ``dialtone demo`` and shown in the README.
DEMO_LOGINS: list[tuple[str, str, str]] = [
    (OPERATOR_EMAIL, "operator", DEMO_PASSWORD),
    (ACME_OWNER_EMAIL, "reseller_owner", DEMO_PASSWORD),
    (GLOBEX_OWNER_EMAIL, "reseller_owner", DEMO_PASSWORD),
    (ACME_STAFF_EMAIL, "reseller_staff", DEMO_PASSWORD),
    (CLIENT_EMAIL, "client", DEMO_PASSWORD),
    (POSTPAID_CLIENT_EMAIL, "client", DEMO_PASSWORD),
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
    entries: int = 0  # the ledger entries with demo idempotency keys (all but the calls')
    calls: int = 0
    invoice_id: int = 0  # Gotham's open invoice
    invoice_ids: list[int] = field(default_factory=list)  # Gotham's: paid, then open


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

# The resellers' portals: a hostname under .localhost (browsers send it to this machine
# without any DNS), approved by the operator, free of the hostname fee; Acme's brand.
OFFICE_MONTHLY_FEE = "4.99"  # the Acme Office package, billed on its sub-accounts
DEMO_HOSTS = {"Acme Telecom": "acme.localhost", "Globex Communications": "globex.localhost"}
DEMO_BRANDS: dict[str, dict[str, Any]] = {
    "Acme Telecom": {
        "display_name": "Acme Voice",
        "header_background": "#4a1942",
        "title_background": "#7b2d6b",
        "text_color": "#ffffff",
        "content_background": "#fbf8fa",
        "content_text": "#1f1a1e",
        "support_email": "support@acme.test",
        "footer_text": "Acme Telecom, 1 Market Street, San Francisco",
        # the Top up page's PayPal buttons (the demo's payments go to PayPal's real site)
        "paypal_receiver_email": "sales@acme.test",
        "paypal_amounts": [10, 25, 50],
    },
}

# Users (3 + 1 + Acme's staff), resellers (2), client batches (2), deposits, portals,
# movements; then decks (2), the package, a sub-account per client (7 + 5), numbers (2),
# calls, and Gotham's invoices (its calls, sent; its payment; a number; its setup fee, sent).
TOTAL_STEPS = (
    (
        1
        + 2
        + 2
        + 1
        + 2
        + 2
        + len(_DEPOSITS)
        + len(DEMO_HOSTS)
        + len(_MOVES)
        + 2
        + 1
        + len(ACME_CLIENTS + GLOBEX_CLIENTS)
    )
    + 2
    + 1
    + 4
)


async def seed(
    sessions: async_sessionmaker[AsyncSession],
    progress: Progress | None = None,
    settings: Settings | None = None,
) -> SeedResult:
    """Create the demo world in one transaction. Refuses (CONFLICT) when it is already there.
    ``settings``: the secret key the sub-accounts' secrets are encrypted with (the
    environment's by default)."""
    settings = settings or Settings.from_env()
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
            if data is ACME:
                await steps.run(
                    f"creating {ACME_STAFF_EMAIL}",
                    auth.create_user(
                        session,
                        owners[reseller.name],
                        email=ACME_STAFF_EMAIL,
                        password=DEMO_PASSWORD,
                        role="reseller_staff",
                        name="Sam Staff",
                        reseller_id=reseller.id,
                    ),
                )
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
        await steps.run(
            f"creating {POSTPAID_CLIENT_EMAIL}",
            auth.create_user(
                session,
                owners[ACME["name"]],
                email=POSTPAID_CLIENT_EMAIL,
                password=DEMO_PASSWORD,
                role="client",
                name="Harvey Dent",
                client_id=clients["Gotham Legal LLP"].id,
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

        for reseller_name, host in DEMO_HOSTS.items():
            await steps.run(
                f"opening the portal of {reseller_name} at {host}",
                _portal(
                    session,
                    operator,
                    owners[reseller_name],
                    host,
                    DEMO_BRANDS.get(reseller_name),
                    settings,
                ),
            )

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
        await _telephony(session, steps, settings, operator, owners, resellers, clients, result)
    steps.finish()
    return result


# The operator's rate deck, the same prefixes for each currency (rates in units per minute).
DECK_CSV = """prefix,destination,country,rate,connection_fee,first_increment,increment
1,USA & Canada,US,0.0090,0,6,6
1212,USA New York,US,0.0080,0,6,6
1416,Canada Toronto,CA,0.0085,0,6,6
52,Mexico,MX,0.0210,0,60,60
5255,Mexico City,MX,0.0150,0,60,60
44,United Kingdom,GB,0.0120,0,1,1
447,United Kingdom Mobile,GB,0.0450,0,1,1
49,Germany,DE,0.0110,0,1,1
4915,Germany Mobile,DE,0.0600,0,1,1
33,France,FR,0.0130,0,1,1
336,France Mobile,FR,0.0520,0,1,1
39,Italy,IT,0.0140,0,1,1
31,Netherlands,NL,0.0125,0,1,1
47,Norway,NO,0.0160,0.0100,1,1
"""
DESTINATIONS = {
    "Acme Telecom": ("1212", "1415", "1416", "5255", "447", "44", "33"),
    "Globex Communications": ("49", "4915", "33", "336", "39", "31", "47", "44"),
}
NUMBERS_CSV = """number,country,city,monthly_cost,setup_cost,per_minute,currency
+1 415 555 0100,US,San Francisco,1.00,2.00,,USD
+1 415 555 0101,US,San Francisco,1.00,2.00,,USD
+1 212 555 0142,US,New York,1.20,2.00,0.0040,USD
+1 800 555 0199,US,Toll-free,2.50,5.00,0.0150,USD
+49 30 5550 1234,DE,Berlin,1.10,1.50,,EUR
+33 1 5550 4321,FR,Paris,1.10,1.50,,EUR
"""
CALLS_PER_CLIENT = 24
QUIET_CLIENTS = {"Northwind Cafe"}  # cancelled: it makes no calls


async def _telephony(
    session: AsyncSession,
    steps: _Steps,
    settings: Settings,
    operator: Actor,
    owners: dict[str, Actor],
    resellers: dict[str, Reseller],
    clients: dict[str, Client],
    result: SeedResult,
) -> None:
    """Decks, a package, sub-accounts, numbers, a month of calls and Gotham's invoices."""
    for reseller in resellers.values():
        deck = await steps.run(
            f"importing the {reseller.currency} rate deck",
            _deck(session, operator, f"Standard {reseller.currency}", reseller.currency),
        )
        await rates.set_base_deck(session, operator, reseller.id, deck.id)
    acme = owners[ACME["name"]]
    package = await steps.run(
        "creating the Acme Office package",
        rates.create_package(
            session,
            acme,
            None,
            {
                "name": "Office",
                "markup_pct": "35",
                "first_increment": 30,
                "increment": 6,
                "monthly_fee": OFFICE_MONTHLY_FEE,
                "free_minutes": 30,
            },
        ),
    )
    await rates.set_overrides(
        session,
        acme,
        package.id,
        [
            {"kind": "nanpa", "key": "NANPA", "rate": "0.0150"},
            {"kind": "prefix", "key": "447", "rate": "0.0690"},
        ],
    )
    usernames: dict[str, str] = {}
    for client in clients.values():
        reseller_name = _reseller_name(resellers, client.reseller_id)
        owner = owners[reseller_name]
        fields: dict[str, Any] = {}
        if reseller_name == ACME["name"]:
            # the package on the client prices its calls; on the sub-account it bills its fees
            await rates.set_client_package(session, owner, client.id, package.id)
            fields["package_id"] = package.id
        username = (
            "demo-"
            + "".join(ch for ch in client.name.lower() if ch.isascii() and ch.isalnum())[:20]
        )
        await steps.run(
            f"creating the sub-account of {client.name}",
            callers.create_sub_account(
                session, owner, client.id, {"username": username, **fields}, settings=settings
            ),
        )
        usernames[client.name] = username
    imported = await steps.run(
        "importing numbers", numbers.import_numbers(session, operator, io.StringIO(NUMBERS_CSV))
    )
    if imported.rejected:
        raise DomainError(ErrorCode.VALIDATION, f"demo numbers: {imported.errors}")
    result.entries += await steps.run(
        "ordering and assigning numbers", _numbers(session, acme, clients)
    )
    records = _calls(clients, usernames, resellers)
    report = await steps.run(
        f"rating {len(records)} calls", calls.ingest(session, SYSTEM, enumerate(records, 1))
    )
    if report.rejected:
        raise DomainError(ErrorCode.VALIDATION, f"demo calls: {report.issues[:3]}")
    result.calls = report.ingested
    await _gotham_invoices(session, steps, acme, clients["Gotham Legal LLP"], result)


async def _gotham_invoices(
    session: AsyncSession, steps: _Steps, acme: Actor, gotham: Client, result: SeedResult
) -> None:
    """Gotham Legal LLP (postpaid) has two invoices: its calls, sent and paid by bank
    transfer; then the setup fee of the number Acme gives it, sent and still to pay."""
    paid = await steps.run(
        "invoicing the calls of Gotham Legal LLP", _sent_invoice(session, acme, gotham.id)
    )
    await steps.run(
        f"Gotham Legal LLP pays {paid.number}",
        payments.client_payment(
            session,
            acme,
            gotham.id,
            money.format_amount(paid.total - paid.paid),
            f"demo-payment-{paid.number}",
            f"Bank transfer for {paid.number}",
        ),
    )
    result.entries += 1
    await steps.run("giving Gotham Legal LLP a number", _gotham_number(session, acme, gotham))
    result.entries += 1
    open_one = await steps.run(
        "invoicing the number's setup fee", _sent_invoice(session, acme, gotham.id)
    )
    result.invoice_ids = [paid.id, open_one.id]
    result.invoice_id = open_one.id


async def _sent_invoice(session: AsyncSession, acme: Actor, client_id: int):
    draft = await invoices.draft_for_client(session, acme, client_id)
    return await invoices.send(session, acme, draft.id)


async def _gotham_number(session: AsyncSession, acme: Actor, gotham: Client) -> None:
    """Acme's second San Francisco number goes to Gotham, and its setup fee is charged."""
    did = await session.scalar(select(Did).where(Did.number == "14155550101"))
    assert did is not None
    await numbers.assign(session, acme, did.id, gotham.id, monthly_price="3.00", setup_price="5.00")
    await fees.charge_did_setup(session, acme, did.id, "demo-setup-14155550101")


async def _portal(
    session: AsyncSession,
    operator: Actor,
    owner: Actor,
    host: str,
    brand: dict[str, Any] | None,
    settings: Settings,
) -> None:
    if brand:
        await brands.update_brand(session, owner, None, brand)
    free = replace(settings, hostname_fee=0)
    hostname = await brands.order_hostname(session, owner, None, host, settings=free)
    await brands.approve_hostname(session, operator, hostname.id)


async def _deck(session: AsyncSession, operator: Actor, name: str, currency: str):
    deck = await rates.create_deck(session, operator, name, currency)
    imported = await rates.import_rates(
        session, operator, deck.id, io.StringIO(DECK_CSV), now=utcnow() - timedelta(days=90)
    )
    if imported.rejected:
        raise DomainError(ErrorCode.VALIDATION, f"demo deck: {imported.errors}")
    return deck


async def _numbers(session: AsyncSession, acme: Actor, clients: dict[str, Client]) -> int:
    """Acme orders two San Francisco numbers (their setup costs: two ledger entries) and gives
    one to Blue Harbor Dental."""
    found = {
        did.number: did
        for did in await session.scalars(numbers.available_query(acme, country="US"))
    }
    ordered = [found["14155550100"], found["14155550101"]]
    for did in ordered:
        await numbers.order(session, acme, did.id, f"demo-order-{did.number}")
    first = ordered[0]
    await numbers.assign(
        session,
        acme,
        first.id,
        clients["Blue Harbor Dental"].id,
        monthly_price="3.00",
        setup_price="5.00",
    )
    return len(ordered)


def _calls(
    clients: dict[str, Client], usernames: dict[str, str], resellers: dict[str, Reseller]
) -> list[CallRecord]:
    """A month of calls for each client, ending now (the same every time: a fixed seed)."""
    rng = random.Random(20260101)
    now = utcnow().replace(microsecond=0)
    records: list[CallRecord] = []
    for client in clients.values():
        if client.name in QUIET_CLIENTS:
            continue
        prefixes = DESTINATIONS[_reseller_name(resellers, client.reseller_id)]
        for i in range(CALLS_PER_CLIENT):
            prefix = rng.choice(prefixes)
            answered = rng.random() < 0.8
            billsec = rng.randint(8, 420) if answered else 0
            records.append(
                CallRecord(
                    call_id=f"demo-{client.id}-{i}",
                    destination=prefix + "".join(str(rng.randint(0, 9)) for _ in range(8)),
                    started_at=now - timedelta(seconds=rng.randint(3600, 30 * 86400)),
                    duration=billsec + rng.randint(3, 25),
                    billsec=billsec,
                    disposition="answered" if answered else rng.choice(("no_answer", "busy")),
                    sub_account=usernames[client.name],
                )
            )
    records.sort(key=lambda r: r.started_at)
    return records


def _reseller_name(resellers: dict[str, Reseller], reseller_id: int) -> str:
    return next(name for name, r in resellers.items() if r.id == reseller_id)
