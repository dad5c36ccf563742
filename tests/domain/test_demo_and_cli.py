"""The demo data and the ``dialtone`` command, each on its own fresh SQLite file.

These tests build their own database (not the shared fixtures): the demo seeds fixed emails, and
the CLI is run as a user runs it, in a subprocess.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api import cli, money
from api.db import migrate, transaction
from api.domain import auth, demo, fees
from api.domain.errors import DomainError, ErrorCode
from api.models import (
    Account,
    Call,
    CallRollup,
    Client,
    Did,
    FeeCharge,
    Invoice,
    LedgerEntry,
    Posting,
    Reseller,
    SubAccount,
    User,
)
from api.settings import Settings

PROJECT = Path(__file__).resolve().parents[2]
DIALTONE = Path(sys.executable).parent / "dialtone"


def _migrate_outside_loop(url: str) -> None:
    """Alembic's env.py calls asyncio.run, so migrate in a thread with no event loop."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            migrate(url)
        except BaseException as exc:  # pragma: no cover - re-raised below
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


@pytest.fixture
def demo_url(db_url: str, engine) -> str:
    """The backend's database (SQLite, and PostgreSQL when configured), migrated and empty."""
    return db_url


@pytest.fixture
def demo_sessions(sessions) -> async_sessionmaker[AsyncSession]:
    return sessions


async def _counts(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as session:
        return {
            model.__tablename__: await session.scalar(select(func.count()).select_from(model))
            for model in (User, Reseller, Client, Account, LedgerEntry, Posting)
        }


async def test_demo_seed_gives_a_usable_consistent_world(demo_url, demo_sessions):
    # given a fresh, migrated database
    steps: list[tuple[int, int, str]] = []

    # when the demo is seeded
    result = await demo.seed(
        demo_sessions, progress=lambda d, t, label: steps.append((d, t, label))
    )

    # then every demo login works with its role
    assert len(demo.DEMO_LOGINS) == 6
    for email, role, password in demo.DEMO_LOGINS:
        async with transaction(demo_sessions) as session:
            logged_in = await auth.login(
                session, email, password, ttl_seconds=3600, secret_key="test-secret"
            )
            assert logged_in.user.role == role
            assert logged_in.token.startswith("dts_")

    async with demo_sessions() as session:
        # the two resellers, one per commercial model
        resellers = {r.name: r for r in await session.scalars(select(Reseller))}
        assert resellers["Acme Telecom"].billing_model == "markup"
        assert resellers["Acme Telecom"].currency == "USD"
        assert resellers["Globex Communications"].billing_model == "commission"
        assert resellers["Globex Communications"].commission_pct == 10
        assert resellers["Globex Communications"].currency == "EUR"

        # a dozen clients with a spread of billing modes and balances
        clients = list(await session.scalars(select(Client)))
        assert len(clients) >= 12
        assert {c.billing_mode for c in clients} == {
            "prepaid_strict",
            "prepaid_permissive",
            "postpaid",
        }
        assert {c.reseller_id for c in clients} == {r.id for r in resellers.values()}
        assert any(c.billing_mode == "postpaid" and c.credit_limit > 0 for c in clients)
        balances = {
            a.client_id: a.balance
            for a in await session.scalars(select(Account).where(Account.kind == "client"))
        }
        modes = {c.id: c.billing_mode for c in clients}
        assert any(b == 0 for b in balances.values())
        assert any(b > 0 for b in balances.values())
        assert any(b < 0 and modes[cid] == "prepaid_permissive" for cid, b in balances.items())

        # the portal user belongs to an Acme client
        client_user = await session.scalar(select(User).where(User.email == "client@acme.test"))
        portal_client = await session.get(Client, client_user.client_id)
        assert portal_client.reseller_id == resellers["Acme Telecom"].id

        # ledger history of every kind, with demo idempotency keys
        kinds = set(await session.scalars(select(LedgerEntry.kind)))
        assert {
            "reseller_deposit",
            "client_transfer",
            "client_payment",
            "client_charge",
            "client_refund",
        } <= kinds
        keys = list(
            await session.scalars(select(LedgerEntry.idem_key).where(LedgerEntry.kind != "calls"))
        )
        assert len(keys) == result.entries
        assert all(k.startswith("demo-") for k in keys)

        # a month of calls, rated and posted: each client's calls entries are its calls' sells
        assert result.calls == await session.scalar(select(func.count()).select_from(Call))
        assert result.calls > 200
        sold = dict(
            (
                await session.execute(
                    select(Call.client_id, func.sum(Call.sell)).group_by(Call.client_id)
                )
            ).all()
        )
        debited = dict(
            (
                await session.execute(
                    select(LedgerEntry.client_id, func.sum(LedgerEntry.amount))
                    .where(LedgerEntry.kind == "calls")
                    .group_by(LedgerEntry.client_id)
                )
            ).all()
        )
        assert {k: v for k, v in sold.items() if v} == debited
        assert await session.scalar(select(func.sum(CallRollup.calls))) == result.calls
        rules = set(await session.scalars(select(Call.rule).distinct()))
        assert {"markup", "nanpa", "prefix", "base"} <= rules  # the package's rules, commission
        # every client has a sub-account; the resellers have base decks
        assert await session.scalar(select(func.count()).select_from(SubAccount)) == len(clients)
        # Acme's sub-accounts are on the Office package, so its monthly fee is charged
        acme_id = resellers[demo.ACME["name"]].id
        acme_subs = list(
            await session.scalars(
                select(SubAccount).join(Client).where(Client.reseller_id == acme_id)
            )
        )
        assert acme_subs and all(sub.package_id is not None for sub in acme_subs)
        assert all(r.base_deck_id for r in resellers.values())
        # numbers: two ordered by Acme, one assigned to the portal client, one to Gotham
        gotham = next(c for c in clients if c.name == "Gotham Legal LLP")
        dids = list(await session.scalars(select(Did).where(Did.reseller_id.is_not(None))))
        assert sorted(d.status for d in dids) == ["assigned", "assigned"]
        assert sorted(d.client_id for d in dids) == sorted([client_user.client_id, gotham.id])
        # Gotham (postpaid, with its portal login) has two sent invoices: its calls, paid by
        # bank transfer; the number's setup fee, still to pay
        paid, to_pay = [await session.get(Invoice, pk) for pk in result.invoice_ids]
        assert result.invoice_id == to_pay.id
        assert (paid.client_id, to_pay.client_id) == (gotham.id, gotham.id)
        assert (paid.status, paid.number, paid.paid) == ("paid", "INV-000001", paid.total)
        assert paid.subtotal == sold[gotham.id] > 0
        assert (to_pay.status, to_pay.number, to_pay.paid) == ("sent", "INV-000002", 0)
        assert to_pay.total == 5_000_000
        gotham_user = await session.scalar(
            select(User).where(User.email == demo.POSTPAID_CLIENT_EMAIL)
        )
        assert gotham_user.client_id == gotham.id

        # the books balance: all postings sum to zero, and every cached balance is its postings
        assert await session.scalar(select(func.coalesce(func.sum(Posting.amount), 0))) == 0
        sums = dict(
            (
                await session.execute(
                    select(Posting.account_id, func.sum(Posting.amount)).group_by(
                        Posting.account_id
                    )
                )
            ).all()
        )
        for account in await session.scalars(select(Account)):
            assert account.balance == sums.get(account.id, 0), account.key

    # and progress went from 0 to the end, in order
    assert steps[-1][0] == steps[-1][1] == demo.TOTAL_STEPS
    assert [d for d, _, _ in steps] == sorted(d for d, _, _ in steps)


async def test_the_recurring_fees_job_bills_the_demo_sub_accounts_their_office_fee(
    demo_sessions, settings
):
    # given the seeded demo: Acme's sub-accounts on its Office package (4.99 a month)
    await demo.seed(demo_sessions)
    async with demo_sessions() as session:
        acme = await session.scalar(select(Reseller).where(Reseller.name == demo.ACME["name"]))
        subs = list(
            await session.scalars(
                select(SubAccount).join(Client).where(Client.reseller_id == acme.id)
            )
        )
        before = {
            a.client_id: a.balance
            for a in await session.scalars(select(Account).where(Account.kind == "client"))
        }
    due = max(sub.next_billing_date for sub in subs)

    # when the worker's recurring-fees job runs on the day they are due
    now = datetime.combine(due, time(6), tzinfo=UTC)
    assert await fees.run_due(demo_sessions, settings, now) >= len(subs)

    # then each of them was charged one month of the Office fee, from its client's balance
    office = money.parse(demo.OFFICE_MONTHLY_FEE)
    async with demo_sessions() as session:
        every = list(await session.scalars(select(FeeCharge).where(FeeCharge.kind == "monthly")))
        after = {
            a.client_id: a.balance
            for a in await session.scalars(select(Account).where(Account.kind == "client"))
        }
    charges = [c for c in every if c.subject_type == "sub_account"]
    assert sorted(c.subject_id for c in charges) == sorted(sub.id for sub in subs)
    assert {c.client_amount for c in charges} == {office}
    assert {c.currency for c in charges} == {"USD"}
    # (the portal client also pays its number's month)
    for sub in subs:
        paid = sum(c.client_amount for c in every if c.client_id == sub.client_id)
        assert paid >= office and before[sub.client_id] - after[sub.client_id] == paid
    # and running it again the same day charges nothing more
    assert await fees.run_due(demo_sessions, settings, now) == 0


async def test_demo_if_empty_leaves_a_seeded_database_alone(demo_url, demo_sessions):
    # given a seeded database
    settings = Settings(database_url=demo_url)
    out, err = io.StringIO(), io.StringIO()
    assert await cli.cmd_demo(settings, if_empty=True, out=out, err=err) == 0
    assert "owner@acme.test" in out.getvalue()
    assert f"{demo.TOTAL_STEPS}/{demo.TOTAL_STEPS}" in err.getvalue()
    before = await _counts(demo_sessions)

    # when the demo runs again with --if-empty
    out = io.StringIO()
    assert await cli.cmd_demo(settings, if_empty=True, out=out, err=io.StringIO()) == 0

    # then it says so, still shows the logins (make run prints them each time), and nothing
    # changed
    assert "nothing seeded" in out.getvalue()
    assert "client@acme.test" in out.getvalue()
    assert await _counts(demo_sessions) == before

    # and without --if-empty it refuses clearly, changing nothing
    with pytest.raises(DomainError) as refused:
        await demo.seed(demo_sessions)
    assert refused.value.code == ErrorCode.CONFLICT
    assert await _counts(demo_sessions) == before


def _dialtone(*args: str, url: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DIALTONE_")}
    environment.update(DIALTONE_DATABASE_URL=url, **env)
    return subprocess.run(
        [str(DIALTONE), *args],
        cwd=PROJECT,
        env=environment,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


@pytest.mark.skipif(not DIALTONE.exists(), reason="the dialtone script is not installed")
def test_cli_migrate_and_create_operator(tmp_path: Path):
    # given an empty database file
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"

    # when it is migrated, twice
    first = _dialtone("migrate", url=url)
    again = _dialtone("migrate", url=url)

    # then the first run creates the schema and the second has nothing to do
    assert first.returncode == 0, first.stderr
    assert "migrated from an empty database" in first.stdout
    assert again.returncode == 0, again.stderr
    assert "already up to date" in again.stdout

    # when an operator is created (password from the environment)
    created = _dialtone(
        "create-operator", "Ops@Example.test", url=url, DIALTONE_OPERATOR_PASSWORD="s3cret-pass"
    )
    assert created.returncode == 0, created.stderr
    assert "created operator ops@example.test" in created.stdout

    # then the same email again fails clearly, without a traceback
    duplicate = _dialtone(
        "create-operator", "ops@example.test", "--password", "other-pass", url=url
    )
    assert duplicate.returncode == 2
    assert "a user with this email exists" in duplicate.stderr
    assert "Traceback" not in duplicate.stderr + duplicate.stdout
    assert len(duplicate.stderr.strip().splitlines()) == 1

    # and so do a bad email and a short password
    bad = _dialtone("create-operator", "not-an-email", "--password", "long-enough", url=url)
    assert bad.returncode == 2
    assert "not a valid email address" in bad.stderr
    assert "Traceback" not in bad.stderr
    short = _dialtone("create-operator", "x@example.test", "--password", "short", url=url)
    assert short.returncode == 2
    assert "at least 8 characters" in short.stderr

    # and the demo seeds once, then leaves the database alone with --if-empty
    seeded = _dialtone("demo", "--if-empty", url=url)
    assert seeded.returncode == 0, seeded.stderr
    assert "nothing seeded" in seeded.stdout  # the operator created above is a user already


@pytest.mark.skipif(not DIALTONE.exists(), reason="the dialtone script is not installed")
def test_cli_demo_on_a_fresh_database_prints_logins(tmp_path: Path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    assert _dialtone("migrate", url=url).returncode == 0

    seeded = _dialtone("demo", "--if-empty", url=url)

    assert seeded.returncode == 0, seeded.stderr
    for email, role, password in demo.DEMO_LOGINS:
        assert email in seeded.stdout
        assert role in seeded.stdout
        assert password in seeded.stdout
    assert f"{demo.TOTAL_STEPS}/{demo.TOTAL_STEPS} done" in seeded.stderr
    assert "Traceback" not in seeded.stderr


@pytest.mark.skipif(not DIALTONE.exists(), reason="the dialtone script is not installed")
def test_cli_demo_before_migrate_says_what_to_do(tmp_path: Path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"

    result = _dialtone("demo", url=url)

    assert result.returncode == 2
    assert "run `dialtone migrate`" in result.stderr
    assert "Traceback" not in result.stderr
