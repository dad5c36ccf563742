"""Test data for who calls and call authorization: decks, rates and packages are written
directly with the ORM (their import API is another area's), with their version bumped on
every change as the rating cache requires."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from api.models import Package, Rate, RateDeck, Reseller
from tests.factories import _n

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


async def make_deck(
    session: AsyncSession, rows: list[dict[str, Any]], *, currency: str = "USD"
) -> RateDeck:
    """A deck with ``rows`` (prefix, rate in micros/min, optional destination, country,
    connection_fee, first_increment, increment, effective_from)."""
    deck = RateDeck(name=f"deck {_n()}", currency=currency, version=1)
    session.add(deck)
    await session.flush()
    for row in rows:
        session.add(Rate(deck_id=deck.id, **{"effective_from": EPOCH, **row}))
    await session.flush()
    return deck


async def set_rate(session: AsyncSession, deck: RateDeck, prefix: str, rate: int) -> None:
    """Change one prefix's rate in place and bump the deck's version."""
    from sqlalchemy import update

    await session.execute(
        update(Rate).where(Rate.deck_id == deck.id, Rate.prefix == prefix).values(rate=rate)
    )
    await session.execute(
        update(RateDeck).where(RateDeck.id == deck.id).values(version=RateDeck.version + 1)
    )


async def make_package(session: AsyncSession, reseller: Reseller, **kw: Any) -> Package:
    data = {
        "name": f"package {_n()}",
        "markup_fixed": 0,
        "markup_pct": Decimal(0),
        "first_increment": 60,
        "increment": 60,
        "version": 1,
        **kw,
    }
    package = Package(reseller_id=reseller.id, **data)
    session.add(package)
    await session.flush()
    return package


async def assign_deck(session: AsyncSession, reseller: Reseller, deck: RateDeck) -> None:
    reseller.base_deck_id = deck.id
    await session.flush()
