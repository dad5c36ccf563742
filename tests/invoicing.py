"""A postpaid world for the invoice tests: Acme (markup, USD) on a deck with 44 (UK) and 33
(France) at 0.0100/min, per second; Alice (postpaid, credit limit 1.00) on a 20 % package,
so a minute costs her 0.012; her sub-account ``alice<N>``."""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pypdf

from api.domain import calls
from api.domain.actors import SYSTEM
from api.domain.cdr_formats import CallRecord
from api.models import Package, Rate, RateDeck, SubAccount
from tests.factories import fund_reseller, make_client, make_reseller

U = 1_000_000
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
_ids = itertools.count(1)


@dataclass
class World:
    reseller_id: int
    client_id: int
    username: str


async def postpaid_world(session, *, credit_limit="1", step="5", email="alice@example.test"):
    deck = RateDeck(name=f"Base {next(_ids)}", currency="USD")
    session.add(deck)
    await session.flush()
    for prefix, name in (("44", "United Kingdom"), ("33", "France")):
        session.add(
            Rate(
                deck_id=deck.id,
                prefix=prefix,
                destination=name,
                country="GB" if prefix == "44" else "FR",
                rate=10_000,
                first_increment=1,
                increment=1,
                effective_from=datetime(2020, 1, 1, tzinfo=UTC),
            )
        )
    reseller = await make_reseller(session, "markup", name="Acme Telecom")
    reseller.base_deck_id = deck.id
    reseller.credit_limit_step = int(Decimal(step) * U)
    package = Package(
        reseller_id=reseller.id,
        name="Retail",
        markup_pct=Decimal(20),
        first_increment=1,
        increment=1,
    )
    session.add(package)
    await session.flush()
    client = await make_client(
        session,
        reseller,
        "postpaid",
        name="Alice",
        company="Alice Ltd",
        email=email,
        credit_limit=credit_limit,
    )
    sub = SubAccount(
        reseller_id=reseller.id,
        client_id=client.id,
        username=f"alice{client.id}",
        secret_encrypted="x",
        package_id=package.id,
    )
    session.add(sub)
    await fund_reseller(session, reseller, "100")
    await session.flush()
    return World(reseller.id, client.id, sub.username)


def call(world: World, dest: str, seconds: int, *, at: datetime | None = None) -> CallRecord:
    return CallRecord(
        call_id=f"call-{next(_ids)}",
        destination=dest,
        started_at=at or T0 + timedelta(seconds=next(_ids)),
        duration=seconds + 5,
        billsec=seconds,
        disposition="answered",
        sub_account=world.username,
    )


async def ingest(session, *records: CallRecord):
    report = await calls.ingest(session, SYSTEM, list(enumerate(records, start=1)))
    assert report.ingested == len(records), report.issues
    return report


def pdf_text(content: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)
