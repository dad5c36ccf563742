"""A generated rate deck with realistic country codes, and dialled numbers to look up."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from sqlalchemy import insert

from api.models import Rate, RateDeck

_CODES = (
    "1 7 20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 "
    "62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98 211 212 213 216 218 220 221 223 225 226 "
    "227 228 229 230 231 232 233 234 235 237 238 239 240 241 242 243 244 248 249 250 251 252 "
    "253 254 255 256 257 258 260 261 262 263 264 265 266 267 268 269 290 291 297 298 299 350 "
    "351 352 353 354 355 356 357 358 359 370 371 372 373 374 375 376 377 378 380 381 382 383 "
    "385 386 387 389 420 421 423 500 501 502 503 504 505 506 507 508 509 590 591 592 593 594 "
    "595 596 597 598 599 670 672 673 674 675 676 677 678 679 680 681 682 685 686 687 688 689 "
    "690 691 692 850 852 853 855 856 880 886 960 961 962 963 964 965 966 967 968 970 971 972 "
    "973 974 975 976 977 992 993 994 995 996 998 "
)
COUNTRY_CODES = tuple(_CODES.split())
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def generate_prefixes(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    prefixes: set[str] = set(COUNTRY_CODES)
    while len(prefixes) < count:
        cc = rng.choice(COUNTRY_CODES)
        prefixes.add(cc + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 5))))
    return sorted(prefixes)[:count]


def generate_numbers(prefixes: list[str], count: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        prefix = rng.choice(prefixes)
        out.append(prefix + "".join(rng.choice("0123456789") for _ in range(12 - len(prefix))))
    return out


async def create_deck(session, name: str, prefixes: list[str], progress=None) -> int:
    deck = RateDeck(name=name, currency="USD", version=1)
    session.add(deck)
    await session.flush()
    rng = random.Random(3)
    chunk = 5000
    for start in range(0, len(prefixes), chunk):
        rows = [
            {
                "deck_id": deck.id,
                "prefix": p,
                "destination": f"Destination {p}",
                "country": "",
                "rate": rng.randint(1_000, 500_000),
                "connection_fee": 0,
                "first_increment": 60,
                "increment": 60,
                "effective_from": EPOCH,
            }
            for p in prefixes[start : start + chunk]
        ]
        await session.execute(insert(Rate), rows)
        if progress:
            progress("deck rows", min(start + chunk, len(prefixes)), len(prefixes))
    return deck.id
