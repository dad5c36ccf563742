"""The migrated schema matches the models: ``alembic check`` finds nothing to generate."""

from __future__ import annotations

import asyncio
import json

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

import api.models  # noqa: F401
from api.db import Base, alembic_config, migrate


async def test_alembic_check_is_clean(db_url):
    # Alembic's env.py runs its own event loop, so it goes to a worker thread.
    await asyncio.to_thread(command.check, alembic_config(db_url))


async def test_migrations_create_every_table_of_the_models(engine):
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_audit_money_recorded_as_micro_units_is_shown_with_its_currency(tmp_path, db_url):
    # given a database at revision 0016 holding audit events with money in micro-units
    url = f"sqlite:///{tmp_path / 'old.db'}"
    await asyncio.to_thread(migrate, url.replace("sqlite://", "sqlite+aiosqlite://"), "0016")
    sync = create_engine(url)
    with sync.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO resellers (id, name, currency, timezone, billing_model,"
                " commission_pct, status, status_reason, low_balance_threshold, created_at,"
                " updated_at) VALUES (7, 'Acme', 'EUR', 'UTC', 'markup', 0, 'active', '', 0,"
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        for event_id, reseller_id, before, after in [
            (1, 7, {"credit_limit": 0, "name": "A"}, {"credit_limit": 20_000_000, "name": "B"}),
            (2, 7, None, {"monthly_fee": 1_500_000, "free_minutes": 100}),
            (3, 7, {"status": "active"}, {"status": "suspended"}),
            (4, None, None, {"setup_fee": 250_000}),
        ]:
            conn.execute(
                text(
                    "INSERT INTO audit_events (id, created_at, actor_type, actor_label,"
                    " reseller_id, subject_type, subject_id, action, before, after) VALUES"
                    " (:id, CURRENT_TIMESTAMP, 'user', 'x', :r, 'client', 1, 'client.updated',"
                    " :b, :a)"
                ),
                {
                    "id": event_id,
                    "r": reseller_id,
                    "b": json.dumps(before) if before else None,
                    "a": json.dumps(after) if after else None,
                },
            )
    # when it is migrated to the head
    await asyncio.to_thread(migrate, url.replace("sqlite://", "sqlite+aiosqlite://"))
    with sync.connect() as conn:
        rows = {
            r.id: (json.loads(r.before) if r.before else None, json.loads(r.after))
            for r in conn.execute(text("SELECT id, before, after FROM audit_events"))
        }
    sync.dispose()
    # then the money reads as amounts in the reseller's currency, the rest as it was
    eur = "EUR"
    assert rows[1] == (
        {"credit_limit": {"amount": "0.00", "currency": eur}, "name": "A"},
        {"credit_limit": {"amount": "20.00", "currency": eur}, "name": "B"},
    )
    assert rows[2] == (
        None,
        {"monthly_fee": {"amount": "1.50", "currency": eur}, "free_minutes": 100},
    )
    assert rows[3] == ({"status": "active"}, {"status": "suspended"})
    assert rows[4] == (None, {"setup_fee": {"amount": "0.25", "currency": None}})
