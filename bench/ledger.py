"""Ledger posting throughput: client charges through ``payments.client_charge`` (idempotency
check, conditional balance update, postings, status rule, audit) against the baseline of
inserting the same number of bare rows into the same table in one statement each."""

from __future__ import annotations

from sqlalchemy import insert

from api.db import create_engine, session_factory, transaction
from api.domain import accounts, payments
from api.domain.actors import SYSTEM
from api.models import AuditEvent
from bench.support import fresh_database, progress, timer

CHARGES = 2000


async def run() -> str:
    url = fresh_database()
    engine = create_engine(url)
    sessions = session_factory(engine)
    async with transaction(sessions) as s:
        reseller = await accounts.create_reseller(
            s, SYSTEM, {"name": "Bench", "currency": "USD", "billing_model": "markup"}
        )
        [client] = await accounts.create_clients(
            s, SYSTEM, reseller.id, [{"name": "Bench client", "billing_mode": "postpaid"}]
        )
    with timer() as charged:
        for i in range(CHARGES):
            async with transaction(sessions) as s:
                await payments.client_charge(s, SYSTEM, client.id, "0.01", f"b-{i}", "bench")
            progress("charges", i + 1, CHARGES)
    with timer() as baseline:
        for i in range(CHARGES):
            async with transaction(sessions) as s:
                await s.execute(
                    insert(AuditEvent).values(
                        actor_type="system",
                        actor_label="bench",
                        subject_type="bench",
                        subject_id=i,
                        action="bench",
                    )
                )
    await engine.dispose()
    per_s = CHARGES / charged["seconds"]
    base_per_s = CHARGES / baseline["seconds"]
    backend = "sqlite" if url.startswith("sqlite") else "postgresql"
    return (
        f"ledger: backend={backend} charges={CHARGES} charges_per_s={per_s:.0f}"
        f" baseline_inserts_per_s={base_per_s:.0f} ratio_to_baseline={per_s / base_per_s:.3f}"
    )
