"""Rate decks, packages, overrides, margin warnings and quotes (domain level)."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from api.db import transaction
from api.domain import rates, rating
from api.domain.actors import SYSTEM
from api.domain.errors import DomainError, DomainErrors
from api.models import AuditEvent, Package, Rate, RateDeck, Reseller, SubAccount
from tests.factories import (
    client_actor,
    make_client,
    make_reseller,
    operator_actor,
    reseller_actor,
)

HEADER = "prefix,destination,country,rate,connection_fee,first_increment,increment,effective_from"
OPERATOR = operator_actor()


def csv_lines(*rows: str) -> list[str]:
    return [HEADER + "\n", *(row + "\n" for row in rows)]


async def new_deck(sessions, *rows: str, name: str = "Base", now=None) -> int:
    async with transaction(sessions) as s:
        deck = await rates.create_deck(s, OPERATOR, name, "USD")
        if rows:
            await rates.import_rates(s, OPERATOR, deck.id, csv_lines(*rows), now=now)
        return deck.id


async def setup_reseller(sessions, deck_id: int, billing_model: str = "markup") -> Reseller:
    async with transaction(sessions) as s:
        reseller = await make_reseller(s, billing_model, commission_pct="10")
        await rates.set_base_deck(s, OPERATOR, reseller.id, deck_id)
        return reseller


# --- import ----------------------------------------------------------------------------------


async def test_import_lands_good_rows_and_reports_bad_ones_by_line(sessions):
    # given a deck and a file with good and broken rows
    lines = csv_lines(
        "44,United Kingdom,GB,0.0100,0,6,6,2026-01-01",
        "4477,UK Mobile,gb,0.0500,0.01,60,60,",
        "44x,Broken,GB,0.01,0,6,6,",
        "33,France,FR,abc,0,6,6,",
        "34,Spain,ES,-0.01,0,6,6,",
        "35,Portugal,PT,0.01,0,0,6,",
        "36,Hungary,HU,0.01,0,6,6,2026-13-01",
        "37,Too few,XX,0.01",
        "1,USA,US,0.0050,0,6,6,2026-01-01T00:00:00Z",
    )
    async with transaction(sessions) as s:
        deck = await rates.create_deck(s, OPERATOR, "Base", "USD")
        version = deck.version
        # when it is imported
        result = await rates.import_rates(s, OPERATOR, deck.id, lines)
    # then the good rows land and each bad one is named by its line with a reason
    assert result.imported == 3
    assert [(e.line, e.message.split(":")[0]) for e in result.errors] == [
        (4, "prefix must be 1 to 24 digits"),
        (5, "rate"),
        (6, "rate must not be negative"),
        (7, "first_increment must be between 1 and 3600 seconds"),
        (8, "effective_from"),
        (9, "expected 8 columns, found 4"),
    ]
    async with sessions() as s:
        stored = {r.prefix: r for r in await s.scalars(select(Rate))}
        assert sorted(stored) == ["1", "44", "4477"]
        assert stored["44"].rate == 10_000 and stored["44"].first_increment == 6
        assert stored["4477"].country == "GB" and stored["4477"].connection_fee == 10_000
        assert stored["44"].effective_from == datetime(2026, 1, 1, tzinfo=UTC)
        # and the deck's version moved
        assert (await s.get(RateDeck, deck.id)).version == version + 1


async def test_a_header_without_required_columns_is_refused(sessions):
    async with transaction(sessions) as s:
        deck = await rates.create_deck(s, OPERATOR, "Base", "USD")
    with pytest.raises(DomainError, match="missing column"):
        async with transaction(sessions) as s:
            await rates.import_rates(s, OPERATOR, deck.id, ["prefix,destination\n", "44,UK\n"])


async def test_same_date_replaces_and_a_later_date_is_history_that_takes_over(sessions):
    # given 44 at 0.01 from January
    deck_id = await new_deck(sessions, "44,UK,GB,0.0100,0,60,60,2026-01-01")
    # when the same date is imported again at 0.02, and March at 0.03
    async with transaction(sessions) as s:
        await rates.import_rates(
            s,
            OPERATOR,
            deck_id,
            csv_lines("44,UK,GB,0.0200,0,60,60,2026-01-01", "44,UK,GB,0.0300,0,60,60,2026-03-01"),
        )
    async with sessions() as s:
        rows = list(await s.scalars(select(Rate).order_by(Rate.effective_from)))
        index = await rating.deck_index(s, deck_id)
    # then January was replaced, March is kept beside it
    assert [(r.effective_from.month, r.rate) for r in rows] == [(1, 20_000), (3, 30_000)]
    # and March takes over only from its date
    assert index.lookup("4420", datetime(2026, 2, 28, tzinfo=UTC)).rate == 20_000
    assert index.lookup("4420", datetime(2026, 3, 1, tzinfo=UTC)).rate == 30_000
    assert index.lookup("4420", datetime(2025, 12, 31, tzinfo=UTC)) is None


async def test_a_future_rate_is_not_in_effect_before_its_date(sessions):
    # given a prefix whose only row starts tomorrow
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    deck_id = await new_deck(sessions, f"49,Germany,DE,0.0100,0,60,60,{tomorrow}")
    async with sessions() as s:
        index = await rating.deck_index(s, deck_id)
    # then a lookup now finds nothing, and one tomorrow finds it
    assert index.lookup("4930") is None
    assert index.lookup("4930", datetime.now(UTC) + timedelta(days=2)).rate == 10_000


async def test_a_rate_change_is_seen_by_the_next_quote_in_the_same_process(sessions):
    # given a reseller on a deck, a client with a 20 % package
    deck_id = await new_deck(sessions, "44,UK,GB,0.0100,0,60,60,2026-01-01")
    reseller = await setup_reseller(sessions, deck_id)
    async with transaction(sessions) as s:
        package = await rates.create_package(
            s, reseller_actor(reseller), None, {"name": "Std", "markup_pct": "20"}
        )
        client = await make_client(s, reseller)
        await rates.set_client_package(s, reseller_actor(reseller), client.id, package.id)
    async with sessions() as s:
        first = await rates.quote(s, reseller_actor(reseller), "+44 20 7946", client_id=client.id)
    assert first.sell.rate == Decimal(12_000) and first.cost.rate == 10_000
    # when the operator changes the rate (a new row from now on)
    async with transaction(sessions) as s:
        await rates.import_rates(s, OPERATOR, deck_id, csv_lines("44,UK,GB,0.0200,0,60,60,"))
    # then the very next quote in this process has the new price
    async with sessions() as s:
        second = await rates.quote(s, reseller_actor(reseller), "442079", client_id=client.id)
    assert second.cost.rate == 20_000 and second.sell.rate == Decimal(24_000)


async def test_only_the_operator_imports_and_a_reseller_sees_only_its_base_deck(sessions):
    deck_id = await new_deck(sessions, "44,UK,GB,0.01,0,60,60,")
    other = await new_deck(sessions, "44,UK,GB,0.01,0,60,60,", name="Other")
    reseller = await setup_reseller(sessions, deck_id)
    actor = reseller_actor(reseller)
    async with transaction(sessions) as s:
        with pytest.raises(DomainError) as denied:
            await rates.import_rates(s, actor, deck_id, csv_lines("1,US,US,0,0,6,6,"))
        assert denied.value.code == "PERMISSION_DENIED"
        assert (await rates.get_deck(s, actor, deck_id)).id == deck_id
        with pytest.raises(DomainError) as hidden:
            await rates.get_deck(s, actor, other)
        assert hidden.value.code == "NOT_FOUND"
        listed = list(await s.scalars(rates.decks_query(actor)))
        assert [d.id for d in listed] == [deck_id]


async def test_base_deck_assignment_is_audited_and_needs_the_same_currency(sessions):
    deck_id = await new_deck(sessions)
    async with transaction(sessions) as s:
        eur = await make_reseller(s, currency="EUR")
    async with transaction(sessions) as s:
        with pytest.raises(DomainError, match="EUR"):
            await rates.set_base_deck(s, OPERATOR, eur.id, deck_id)
    reseller = await setup_reseller(sessions, deck_id)
    async with sessions() as s:
        event = await s.scalar(
            select(AuditEvent).where(
                AuditEvent.subject_id == reseller.id, AuditEvent.action == "reseller.updated"
            )
        )
    assert event.before == {"base_deck_id": None} and event.after == {"base_deck_id": deck_id}


# --- packages --------------------------------------------------------------------------------


async def test_package_precedence_prefix_then_country_then_nanpa_then_markup(sessions):
    # given a deck and a package with overrides of every kind
    deck_id = await new_deck(
        sessions,
        "44,UK,GB,0.0100,0,60,60,2026-01-01",
        "447,UK Mobile,GB,0.0400,0,60,60,2026-01-01",
        "1,USA,US,0.0050,0,6,6,2026-01-01",
        "1204,Canada,CA,0.0060,0,6,6,2026-01-01",
        "33,France,FR,0.0100,0.02,60,60,2026-01-01",
    )
    reseller = await setup_reseller(sessions, deck_id)
    actor = reseller_actor(reseller)
    async with transaction(sessions) as s:
        package = await rates.create_package(
            s,
            actor,
            None,
            {"name": "P", "markup_fixed": "0.001", "markup_pct": "10", "first_increment": 6},
        )
        await rates.set_overrides(
            s,
            actor,
            package.id,
            [
                {"kind": "prefix", "key": "4477", "rate": "0.09"},
                {"kind": "prefix", "key": "44", "rate": "0.02"},
                {"kind": "country", "key": "GB", "rate": "0.03"},
                {"kind": "country", "key": "CA", "rate": "0.008"},
                {"kind": "nanpa", "key": "", "rate": "0.007", "connection_fee": "0.001"},
            ],
        )

    async def rule_and_rate(number: str):
        async with sessions() as s:
            q = await rates.quote(s, actor, number, package_id=package.id)
        return q.sell.rule, q.sell.rate

    # then the longest prefix override wins, then country, then NANPA, then the markup
    assert await rule_and_rate("447700") == ("prefix", Decimal(90_000))
    assert await rule_and_rate("447100") == ("prefix", Decimal(20_000))
    assert await rule_and_rate("12045551") == ("country", Decimal(8_000))
    assert await rule_and_rate("12125551") == ("nanpa", Decimal(7_000))
    # (0.0100 + 0.001) x 1.10 = 0.0121 per minute; the fee 0.02 x 1.10
    async with sessions() as s:
        q = await rates.quote(s, actor, "3312345", package_id=package.id)
    assert (q.sell.rule, q.sell.rate, q.sell.connection_fee) == (
        "markup",
        Decimal(12_100),
        Decimal(22_000),
    )
    assert (q.sell.first_increment, q.sell.increment) == (6, 60)
    assert q.cost.first_increment == 60


async def test_overrides_set_removes_with_a_null_rate_and_bumps_the_version(sessions):
    deck_id = await new_deck(sessions, "44,UK,GB,0.0100,0,60,60,2026-01-01")
    reseller = await setup_reseller(sessions, deck_id)
    actor = reseller_actor(reseller)
    async with transaction(sessions) as s:
        package = await rates.create_package(s, actor, None, {"name": "P"})
        await rates.set_overrides(
            s, actor, package.id, [{"kind": "prefix", "key": "44", "rate": "0.05"}]
        )
        version = package.version
        _pkg, result = await rates.set_overrides(
            s, actor, package.id, [{"kind": "prefix", "key": "44", "rate": None}]
        )
    assert (result.set, result.removed) == (0, 1)
    async with sessions() as s:
        assert (await s.get(Package, package.id)).version == version + 1
        q = await rates.quote(s, actor, "4420", package_id=package.id)
    assert q.sell.rule == "markup"


async def test_a_bad_override_changes_nothing(sessions):
    deck_id = await new_deck(sessions)
    reseller = await setup_reseller(sessions, deck_id)
    actor = reseller_actor(reseller)
    async with transaction(sessions) as s:
        package = await rates.create_package(s, actor, None, {"name": "P"})
    with pytest.raises(DomainErrors) as failed:
        async with transaction(sessions) as s:
            await rates.set_overrides(
                s,
                actor,
                package.id,
                [
                    {"kind": "prefix", "key": "44", "rate": "0.05"},
                    {"kind": "country", "key": "GBR", "rate": "0.05"},
                    {"kind": "prefix", "key": "1", "rate": "-1"},
                ],
            )
    assert [e.message for e in failed.value.errors] == [
        "override 2: a country key is a two-letter ISO code",
        "override 3: rate must not be negative",
    ]
    async with sessions() as s:
        assert await rates.list_overrides(s, package.id) == []


async def test_override_csv_import_reports_lines_and_lands_good_rows(sessions):
    deck_id = await new_deck(sessions)
    reseller = await setup_reseller(sessions, deck_id)
    actor = reseller_actor(reseller)
    async with transaction(sessions) as s:
        package = await rates.create_package(s, actor, None, {"name": "P"})
        _pkg, result = await rates.import_overrides(
            s,
            actor,
            package.id,
            [
                "kind,key,rate,connection_fee\n",
                "prefix,44,0.02,0\n",
                "country,FR,0.03,\n",
                "planet,Mars,1,0\n",
                "nanpa,,0.01,0.001\n",
            ],
        )
    assert result.set == 3
    assert [(e.line, e.message) for e in result.errors] == [
        (4, "kind must be one of PREFIX, COUNTRY, NANPA")
    ]


async def test_margin_warnings_list_overrides_below_cost(sessions):
    # given a deck where UK mobile costs more than UK fixed
    deck_id = await new_deck(
        sessions,
        "44,UK,GB,0.0100,0,60,60,2026-01-01",
        "447,UK Mobile,GB,0.0400,0,60,60,2026-01-01",
        "4475,UK Mobile Premium,GB,0.0600,0,60,60,2026-01-01",
        "33,France,FR,0.0100,0,60,60,2026-01-01",
        "1,USA,US,0.0050,0,6,6,2026-01-01",
    )
    reseller = await setup_reseller(sessions, deck_id)
    actor = reseller_actor(reseller)
    async with transaction(sessions) as s:
        package = await rates.create_package(s, actor, None, {"name": "P"})
        await rates.set_overrides(
            s,
            actor,
            package.id,
            [
                {"kind": "country", "key": "GB", "rate": "0.0200"},  # below both mobiles
                {"kind": "prefix", "key": "33", "rate": "0.0150"},  # fine
                {"kind": "prefix", "key": "4499", "rate": "0.0050"},  # below 44 under it
                {"kind": "nanpa", "key": "NANPA", "rate": "0.0040"},  # below USA
            ],
        )
    # when the warnings are read
    async with sessions() as s:
        warnings = await rates.margin_warnings(s, await s.get(Package, package.id))
    # then each override below cost is listed with its worst prefix, its cost and its sell
    assert [
        (w.kind, w.key, w.cost_prefix, w.cost_rate, w.sell_rate, w.prefixes_below_cost)
        for w in warnings
    ] == [
        ("country", "GB", "4475", 60_000, 20_000, 2),
        ("nanpa", "NANPA", "1", 5_000, 4_000, 1),
        ("prefix", "4499", "44", 10_000, 5_000, 1),
    ]


async def test_a_second_reseller_can_neither_see_nor_change_a_package(sessions):
    deck_id = await new_deck(sessions)
    acme = await setup_reseller(sessions, deck_id)
    globex = await setup_reseller(sessions, deck_id)
    async with transaction(sessions) as s:
        package = await rates.create_package(s, reseller_actor(acme), None, {"name": "Gold"})
    async with transaction(sessions) as s:
        for attempt in (
            rates.get_package(s, reseller_actor(globex), package.id),
            rates.update_package(s, reseller_actor(globex), package.id, {"name": "Mine"}),
            rates.set_overrides(s, reseller_actor(globex), package.id, []),
        ):
            with pytest.raises(DomainError) as failed:
                await attempt
            assert failed.value.code == "NOT_FOUND"
        assert list(await s.scalars(rates.packages_query(reseller_actor(globex)))) == []


# --- quotes ----------------------------------------------------------------------------------


async def test_commission_client_pays_base_plus_personal_percent(sessions):
    deck_id = await new_deck(sessions, "44,UK,GB,0.0100,0.0010,30,6,2026-01-01")
    reseller = await setup_reseller(sessions, deck_id, "commission")
    async with transaction(sessions) as s:
        client = await make_client(s, reseller)
    async with sessions() as s:
        base = await rates.quote(s, client_actor(client), "4420")
    assert (base.sell.rule, base.sell.rate, base.below_cost) == ("base", Decimal(10_000), False)
    assert (base.sell.first_increment, base.sell.increment) == (30, 6)
    async with transaction(sessions) as s:
        await rates.set_client_rate_percent(s, reseller_actor(reseller), client.id, "5")
    async with sessions() as s:
        personal = await rates.quote(s, client_actor(client), "4420")
    assert (personal.sell.rule, personal.sell.rate) == ("personal", Decimal(10_500))
    assert personal.show_cost is False


async def test_personal_percent_is_refused_for_markup_resellers(sessions):
    deck_id = await new_deck(sessions)
    reseller = await setup_reseller(sessions, deck_id)
    async with transaction(sessions) as s:
        client = await make_client(s, reseller)
    async with transaction(sessions) as s:
        with pytest.raises(DomainError, match="commission"):
            await rates.set_client_rate_percent(s, SYSTEM, client.id, "5")


async def test_sub_account_quotes_use_its_package_and_below_cost_is_flagged(sessions):
    deck_id = await new_deck(sessions, "44,UK,GB,0.0100,0,60,60,2026-01-01")
    reseller = await setup_reseller(sessions, deck_id)
    actor = reseller_actor(reseller)
    async with transaction(sessions) as s:
        cheap = await rates.create_package(
            s, actor, None, {"name": "Cheap", "refuse_below_cost": True}
        )
        await rates.set_overrides(
            s, actor, cheap.id, [{"kind": "country", "key": "GB", "rate": "0.005"}]
        )
        client = await make_client(s, reseller)
        sub = SubAccount(
            reseller_id=reseller.id,
            client_id=client.id,
            username="alice100",
            secret_encrypted="x",
            package_id=cheap.id,
        )
        s.add(sub)
    async with sessions() as s:
        q = await rates.quote(s, actor, "4420", sub_account_id=sub.id)
        none = await rates.quote(s, actor, "99", sub_account_id=sub.id)
    assert (q.sell.rule, q.below_cost, q.refuse_below_cost) == ("country", True, True)
    assert none is None


async def test_a_client_quotes_only_its_own_rates(sessions):
    deck_id = await new_deck(sessions, "44,UK,GB,0.0100,0,60,60,2026-01-01")
    reseller = await setup_reseller(sessions, deck_id)
    async with transaction(sessions) as s:
        alice = await make_client(s, reseller)
        bob = await make_client(s, reseller)
        package = await rates.create_package(s, reseller_actor(reseller), None, {"name": "P"})
    async with sessions() as s:
        own = await rates.quote(s, client_actor(alice), "4420", client_id=alice.id)
        assert own.sell.rule == "base" and own.show_cost is False
        for kwargs in ({"client_id": bob.id}, {"package_id": package.id}, {"deck_id": deck_id}):
            with pytest.raises(DomainError) as failed:
                await rates.quote(s, client_actor(alice), "4420", **kwargs)
            assert failed.value.code == "NOT_FOUND"


async def test_import_of_many_rows_is_chunked_and_counted(sessions):
    rows = [f"{9000000 + i},Somewhere,ZZ,0.0{i % 10}1,0,60,60,2026-01-01" for i in range(5000)]
    async with transaction(sessions) as s:
        deck = await rates.create_deck(s, OPERATOR, "Big", "USD")
        seen: list[int] = []
        result = await rates.import_rates(
            s, OPERATOR, deck.id, csv_lines(*rows), progress=seen.append, chunk=1000
        )
    assert result.imported == 5000 and seen[-1] == 5000 and len(seen) >= 5
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Rate)) == 5000


# --- the command line ------------------------------------------------------------------------

PROJECT = Path(__file__).resolve().parents[2]
DIALTONE = PROJECT / ".venv" / "bin" / "dialtone"


def _dialtone(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DIALTONE_")}
    environment["DIALTONE_DATABASE_URL"] = url
    return subprocess.run(
        [str(DIALTONE), *args],
        cwd=PROJECT,
        env=environment,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )


@pytest.mark.skipif(not DIALTONE.exists(), reason="the dialtone script is not installed")
def test_cli_rates_import_reports_bad_lines_and_exit_codes(tmp_path: Path):
    # given a migrated database and a file of 20,000 good rows and two bad ones
    url = f"sqlite+aiosqlite:///{tmp_path / 'rates.db'}"
    assert _dialtone("migrate", url=url).returncode == 0
    deck = tmp_path / "deck.csv"
    good = [f"{100000 + i},Place {i},GB,0.0{i % 9 + 1}00,0,6,6,2026-01-01" for i in range(20_000)]
    deck.write_text("\n".join([HEADER, good[0], "4x,Bad,GB,0.1,0,6,6,", *good[1:], "5,X"]) + "\n")

    # when it is imported into a new deck
    done = _dialtone("rates", "import", str(deck), "--deck", "World", url=url)

    # then the good rows land, each bad one is named FILE:LINE, with a progress bar
    assert done.returncode == 0, done.stderr
    assert "20000 rows imported, 2 rejected into deck 'World' (USD, new" in done.stdout
    assert f"{deck}:3: prefix must be 1 to 24 digits" in done.stderr
    assert f"{deck}:20003: expected 8 columns, found 2" in done.stderr
    assert "20002/20002 rows" in done.stderr
    assert "Traceback" not in done.stderr

    # and a file that cannot be read is status 2, one line; a file of bad rows only is 1
    missing = _dialtone("rates", "import", str(tmp_path / "nope.csv"), "--deck", "W", url=url)
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "\nabc,X,GB,1,0,6,6,\n")
    assert _dialtone("rates", "import", str(bad), "--deck", "World", url=url).returncode == 1
    # and an existing deck in another currency is refused
    eur = _dialtone("rates", "import", str(bad), "--deck", "World", "--currency", "EUR", url=url)
    assert eur.returncode == 2 and "is in USD" in eur.stderr
