"""Dialled numbers read by a home country on every path: ingest (a batch, the CLI import of
an Asterisk file), authorization and the rate quote, with the reseller's home country or the
import's."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from api.cli_calls import cmd_calls_import
from api.db import transaction
from api.domain import accounts, callers, calls, cdr_formats, dialing, payments, rates
from api.domain.actors import SYSTEM
from api.domain.authorize import Reason, authorize, warm_up
from api.domain.errors import DomainError, DomainErrors
from api.models import Call, SubAccount
from tests.callers_data import assign_deck, make_deck
from tests.factories import (
    assert_ledger_consistent,
    client_balance,
    fund_reseller,
    make_client,
    make_reseller,
    reseller_actor,
)

DECK = [
    {"prefix": "44", "destination": "United Kingdom", "country": "GB", "rate": 10_000},
    {"prefix": "1", "destination": "USA", "country": "US", "rate": 5_000},
    {"prefix": "7", "destination": "Russia", "country": "RU", "rate": 20_000},
]
ASTERISK_ROW = (
    '"","1001","{dst}","from-internal","""Alice"" <1001>","SIP/{user}-0000000{n}",'
    '"SIP/trunk-00000002","Dial","SIP/trunk/{dst},60","2024-03-01 10:00:00",'
    '"2024-03-01 10:00:05","2024-03-01 10:01:05",65,60,"ANSWERED","DOCUMENTATION",'
    '"1709287200.{n}",""\n'
)


async def world(sessions, home_country: str = ""):
    """A markup reseller (home country ``home_country``) on a deck with 44 at 0.0100/min,
    1 at 0.0050/min and 7 at 0.0200/min (60/60), funded with 100; a permissive client with
    10.00 and a sub-account without a package (sold at cost)."""
    async with transaction(sessions) as s:
        reseller = await make_reseller(s, "markup", home_country=home_country)
        await assign_deck(s, reseller, await make_deck(s, DECK))
        await fund_reseller(s, reseller, "100")
        client = await make_client(s, reseller, "prepaid_permissive")
        await payments.client_payment(s, SYSTEM, client.id, "10", f"pay-{client.id}")
        sub = SubAccount(
            reseller_id=reseller.id,
            client_id=client.id,
            username=f"nyc{client.id}",
            secret_encrypted="x",
        )
        s.add(sub)
    return reseller, client, sub


def asterisk_file(user: str, *dialled: str) -> str:
    return "".join(ASTERISK_ROW.format(dst=d, user=user, n=n) for n, d in enumerate(dialled, 1))


async def ingest_asterisk(sessions, text: str, home_country: str | None = None):
    parsed = list(cdr_formats.read("asterisk-csv", io.StringIO(text, newline="")))
    async with transaction(sessions) as s:
        return await calls.ingest(s, SYSTEM, parsed, home_country)


async def stored(sessions) -> list[tuple[str, str, int]]:
    async with sessions() as s:
        rows = await s.execute(
            select(Call.destination, Call.matched_prefix, Call.cost).order_by(Call.call_id)
        )
        return [tuple(row) for row in rows]


async def test_a_north_american_asterisk_box_dialling_011_is_rated_by_the_country_code(
    sessions,
):
    # given a reseller at home in the US, and an Asterisk Master.csv of its box: London with
    # 011, New York with 10 digits, 11 digits and +
    _, client, sub = await world(sessions, "US")
    text = asterisk_file(
        sub.username, "011442079460000", "2125551234", "12125551234", "+12125551234"
    )
    # when it is ingested
    report = await ingest_asterisk(sessions, text)
    # then every call is rated: London at the 44 rate, New York at the 1 rate, a minute each
    assert (report.ingested, report.rejected) == (4, 0), report.issues
    assert await stored(sessions) == [
        ("011442079460000", "44", 10_000),
        ("2125551234", "1", 5_000),
        ("12125551234", "1", 5_000),
        ("+12125551234", "1", 5_000),
    ]
    async with sessions() as s:
        assert await client_balance(s, client) == 10_000_000 - 25_000
        await assert_ledger_consistent(s)


async def test_without_a_home_country_011_is_no_rate_as_before(sessions):
    # given a reseller without a home country
    _, client, sub = await world(sessions)
    # when its box's 011 call is ingested
    report = await ingest_asterisk(sessions, asterisk_file(sub.username, "011442079460000"))
    # then it is refused, as ever (011 is not an exit code everywhere), and nothing is charged
    assert (report.ingested, report.rejected) == (0, 1)
    assert report.issues[0].message == "no rate for destination 011442079460000"
    async with sessions() as s:
        assert await client_balance(s, client) == 10_000_000


async def test_an_import_names_the_home_country_of_its_switch(sessions):
    # given a reseller without a home country, and a British box's calls
    _, _, sub = await world(sessions)
    british = asterisk_file(sub.username, "02079460000", "00442079460000")
    # when the British file is ingested as from GB
    report = await ingest_asterisk(sessions, british, "gb")
    # then the national number is London
    assert (report.ingested, report.rejected) == (2, 0), report.issues
    assert [(d, p) for d, p, _ in await stored(sessions)] == [
        ("02079460000", "44"),
        ("00442079460000", "44"),
    ]


async def test_the_import_home_country_wins_over_the_resellers(sessions):
    # given a reseller at home in the US whose calls come from a Russian box this time
    _, _, sub = await world(sessions, "US")
    text = asterisk_file(sub.username, "84951234567", "81074951234567")
    report = await ingest_asterisk(sessions, text, "RU")
    # then the trunk prefix 8 and the exit code 810 are read the Russian way
    assert (report.ingested, report.rejected) == (2, 0), report.issues
    assert [p for _, p, _ in await stored(sessions)] == ["7", "7"]


async def test_an_unknown_home_country_is_refused_before_anything_lands(sessions):
    _, client, sub = await world(sessions)
    with pytest.raises(DomainError) as caught:
        await ingest_asterisk(sessions, asterisk_file(sub.username, "02079460000"), "UK")
    assert caught.value.field == "homeCountry"
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Call)) == 0
        assert await client_balance(s, client) == 10_000_000


async def test_the_cli_import_takes_a_home_country(sessions, settings, tmp_path):
    # given a reseller without a home country and its North-American box's Master.csv
    _, client, sub = await world(sessions)
    path = tmp_path / "Master.csv"
    path.write_text(asterisk_file(sub.username, "011442079460000", "2125551234"))
    out, err = io.StringIO(), io.StringIO()
    # when it is imported with --home-country US
    status = await cmd_calls_import(
        settings, str(path), "asterisk-csv", None, 1, out=out, err=err, home_country="US"
    )
    # then both calls land at their rates
    assert status == 0, err.getvalue()
    assert "calls import: 2 ingested, 0 duplicates, 0 rejected, of 2 rows" in out.getvalue()
    assert [p for _, p, _ in await stored(sessions)] == ["44", "1"]
    async with sessions() as s:
        assert await client_balance(s, client) == 10_000_000 - 15_000


async def test_the_cli_import_refuses_an_unknown_home_country(sessions, settings, tmp_path):
    _, _, sub = await world(sessions)
    path = tmp_path / "Master.csv"
    path.write_text(asterisk_file(sub.username, "011442079460000"))
    with pytest.raises(DomainError):
        await cmd_calls_import(
            settings,
            str(path),
            "asterisk-csv",
            None,
            1,
            out=io.StringIO(),
            err=io.StringIO(),
            home_country="USA",
        )
    assert await stored(sessions) == []


async def ask(sessions, settings, **kw):
    async with sessions() as s:
        return await authorize(s, None, secret_key=settings.secret_key, **kw)


async def test_authorization_reads_the_dialled_number_by_the_resellers_home_country(
    sessions, settings
):
    # given a reseller at home in the US and its client's sub-account
    _, _, sub = await world(sessions, "US")
    # when its box asks for London with 011, and New York with 10 digits
    london = await ask(
        sessions, settings, sub_account_username=sub.username, destination="011442079460000"
    )
    new_york = await ask(
        sessions, settings, sub_account_username=sub.username, destination="2125551234"
    )
    # then both may go, priced by their country code
    assert (london.allowed, london.reason, london.prefix) == (True, Reason.ACTIVE, "44")
    assert london.destination == "442079460000"
    assert (new_york.allowed, new_york.prefix, new_york.destination) == (True, "1", "12125551234")


async def test_authorization_without_a_home_country_is_unchanged(sessions, settings):
    _, _, sub = await world(sessions)
    decision = await ask(
        sessions, settings, sub_account_username=sub.username, destination="011442079460000"
    )
    assert (decision.allowed, decision.reason) == (False, Reason.NO_ROUTE)


async def test_a_blacklisted_number_is_blacklisted_however_it_is_dialled(sessions, settings):
    # given a US reseller that blacklisted London's +44 20 7946 0000
    reseller, _, sub = await world(sessions, "US")
    async with transaction(sessions) as s:
        await callers.add_to_blacklist(
            s, reseller_actor(reseller), number="+44 20 7946 0000", reason="fraud"
        )
    # when its box dials it with 011, or with 00
    for dialled in ("011442079460000", "00442079460000"):
        decision = await ask(
            sessions, settings, sub_account_username=sub.username, destination=dialled
        )
        # then it is refused as blacklisted
        assert (decision.reason, decision.message) == (Reason.BLACKLISTED, "fraud")


async def test_a_rate_quote_reads_the_number_by_the_resellers_home_country(sessions):
    reseller, client, _ = await world(sessions, "GB")
    async with sessions() as s:
        quote = await rates.quote(s, reseller_actor(reseller), "020 7946 0000", client_id=client.id)
    assert quote is not None
    assert (quote.destination, quote.cost.prefix) == ("442079460000", "44")
    assert quote.sell.rate == Decimal(10_000)


async def test_a_resellers_home_country_is_set_checked_and_cleared(sessions):
    reseller, _, _ = await world(sessions)
    async with transaction(sessions) as s:
        updated = await accounts.update_reseller(s, SYSTEM, reseller.id, {"home_country": "ca"})
        assert updated.home_country == "CA"
    async with transaction(sessions) as s:
        with pytest.raises(DomainErrors) as caught:
            await accounts.update_reseller(s, SYSTEM, reseller.id, {"home_country": "Canada"})
        assert [e.field for e in caught.value.errors] == ["homeCountry"]
    async with transaction(sessions) as s:
        assert (await accounts.get_reseller(s, SYSTEM, reseller.id)).home_country == "CA"
        cleared = await accounts.update_reseller(s, SYSTEM, reseller.id, {"home_country": ""})
        assert cleared.home_country == ""


async def test_a_process_works_out_its_resellers_dial_plans_when_it_starts(engine, sessions):
    # given a reseller at home in New Zealand, and a process that has read no number yet
    await world(sessions, "NZ")
    dialing.normalizer.cache_clear()
    # when it warms up
    await warm_up(engine)
    # then New Zealand's dial plan is ready before the first call
    assert dialing.normalizer.cache_info().currsize >= 1
    hits = dialing.normalizer.cache_info().hits
    assert dialing.normalize("09 123 4567", "NZ") == "6491234567"
    assert dialing.normalizer.cache_info().hits == hits + 1
