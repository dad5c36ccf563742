"""The worker's recurring fees over 10,000 sub-accounts due today (and 2,000 numbers, each
with a client's price and the reseller's platform cost): the time of one ``recurring-fees`` run
(``api.domain.fees.run_due``), against the baseline of inserting the same number of bare rows
(one per fee charged) into a table in chunks of the same size, one transaction each. A second
run right after shows that nothing is charged twice. Goal: the run within 10 s on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, insert, select

from api.db import create_engine, session_factory, transaction
from api.domain import accounts, fees, ledger, rates
from api.domain.actors import SYSTEM
from api.domain.ledger import EntrySpec, Idempotency, Leg
from api.models import AuditEvent, Client, Did, FeeCharge, Posting, SubAccount
from api.settings import Settings
from bench.support import fresh_database, progress, timer

SUB_ACCOUNTS = 10_000
DIDS = 2_000
SHORT = 1_000  # clients whose balance the fee takes to zero: strict prepaid, suspended
NOW = datetime(2027, 3, 31, 2, 0, tzinfo=UTC)


async def _world(sessions) -> None:
    today = NOW.date()
    async with transaction(sessions) as s:
        reseller = await accounts.create_reseller(
            s, SYSTEM, {"name": "Bench", "currency": "USD", "billing_model": "markup"}
        )
        package = await rates.create_package(
            s, SYSTEM, reseller.id, {"name": "Monthly", "monthly_fee": "10"}
        )
    for start in range(0, SUB_ACCOUNTS, accounts.BULK_MAX):
        async with transaction(sessions) as s:
            clients = await accounts.create_clients(
                s,
                SYSTEM,
                reseller.id,
                [{"name": f"Bench {n}"} for n in range(start, start + accounts.BULK_MAX)],
            )
            reseller_acc = await accounts.reseller_account(s, reseller)
            specs = []
            for client in clients:
                amount = 10_000_000 if client.id <= SHORT else 50_000_000
                client_acc = await accounts.client_account(s, client, "USD")
                specs.append(
                    EntrySpec(
                        kind="client_transfer",
                        currency="USD",
                        amount=amount,
                        legs=[Leg(reseller_acc, -amount), Leg(client_acc, amount)],
                        idem=Idempotency.of("bench", f"fund-{client.id}", "fund", {}),
                        reseller_id=reseller.id,
                        client_id=client.id,
                    )
                )
            await ledger.post_many(s, specs, SYSTEM)
            await s.execute(
                insert(SubAccount),
                [
                    {
                        "reseller_id": reseller.id,
                        "client_id": client.id,
                        "username": f"bench{client.id}",
                        "secret_encrypted": "-",
                        "package_id": package.id,
                        "next_billing_date": today,
                        "billing_day": today.day,
                    }
                    for client in clients
                ],
            )
        progress("sub-accounts", start + accounts.BULK_MAX, SUB_ACCOUNTS)
    async with transaction(sessions) as s:
        client_ids = list(await s.scalars(select(Client.id).order_by(Client.id).limit(DIDS)))
        await s.execute(
            insert(Did),
            [
                {
                    "number": f"1555{n:07d}",
                    "country": "US",
                    "currency": "USD",
                    "monthly_cost": 1_170_000,
                    "status": "assigned",
                    "reseller_id": reseller.id,
                    "client_id": client_id,
                    "monthly_price": 2_500_000,
                    "reseller_next_billing_date": today,
                    "client_next_billing_date": today,
                    "reseller_setup_fee_charged": True,
                    "ordered_at": NOW,
                    "assigned_at": NOW,
                }
                for n, client_id in enumerate(client_ids)
            ],
        )


async def run() -> str:
    url = fresh_database()
    engine = create_engine(url)
    sessions = session_factory(engine)
    settings = Settings(database_url=url)
    await _world(sessions)

    with timer() as charging:
        charged = await fees.run_due(sessions, settings, NOW)
    with timer() as rerun:
        again = await fees.run_due(sessions, settings, NOW)
    with timer() as baseline:
        for start in range(0, charged, fees.CHUNK):
            async with transaction(sessions) as s:
                await s.execute(
                    insert(AuditEvent),
                    [
                        {
                            "actor_type": "system",
                            "actor_label": "bench",
                            "subject_type": "bench",
                            "subject_id": i,
                            "action": "bench",
                        }
                        for i in range(start, min(start + fees.CHUNK, charged))
                    ],
                )
    async with sessions() as s:
        rows = await s.scalar(select(func.count()).select_from(FeeCharge))
        ledger_sum = await s.scalar(select(func.coalesce(func.sum(Posting.amount), 0)))
        suspended = await s.scalar(
            select(func.count()).select_from(Client).where(Client.status == "suspended")
        )
    await engine.dispose()
    backend = "sqlite" if url.startswith("sqlite") else "postgresql"
    return (
        f"recurring: backend={backend} sub_accounts={SUB_ACCOUNTS} dids={DIDS}"
        f" fees_charged={charged} fee_rows={rows} suspended={suspended}"
        f" run_s={charging['seconds']:.2f}"
        f" sub_accounts_per_s={SUB_ACCOUNTS / charging['seconds']:.0f}"
        f" rerun_charged={again} rerun_s={rerun['seconds']:.2f}"
        f" baseline_insert_s={baseline['seconds']:.2f}"
        f" ratio_to_baseline={charging['seconds'] / baseline['seconds']:.1f}"
        f" ledger_sum={ledger_sum} target_s=10"
        f" within_target={'yes' if charging['seconds'] <= 10 else 'no'}"
    )
