"""``dialtone worker --once`` as a real process: it verifies a stored IPN message with the fake
PayPal and credits it; before migrations it says what to do."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from api.db import create_engine, session_factory, transaction
from api.domain import paypal_ipn
from api.models import Brand
from api.settings import Settings
from tests.conftest import TEST_SECRET_KEY
from tests.domain.test_demo_and_cli import DIALTONE, _dialtone
from tests.factories import assert_ledger_consistent, client_balance, make_client, make_reseller

pytestmark = pytest.mark.skipif(
    not DIALTONE.exists(), reason="the dialtone script is not installed"
)


async def test_worker_once_verifies_a_waiting_message(tmp_path: Path, paypal):
    # given a migrated database holding a payment message nobody verified yet
    url = f"sqlite+aiosqlite:///{tmp_path / 'worker.db'}"
    assert _dialtone("migrate", url=url).returncode == 0
    settings = Settings(database_url=url, secret_key=TEST_SECRET_KEY)
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        async with transaction(sessions) as s:
            reseller = await make_reseller(s)
            s.add(Brand(reseller_id=reseller.id, paypal_receiver_email="pay@shop.test"))
            client = await make_client(s, reseller)
            raw = (
                "payment_status=Completed&txn_id=WORKER1&receiver_email=pay%40shop.test"
                "&mc_gross=12.50&mc_currency=USD&charset=windows-1252&custom="
                + paypal_ipn.client_reference(TEST_SECRET_KEY, client.id)
            ).encode()
            message = await paypal_ipn.receive(s, settings, raw)
            message.received_at -= paypal_ipn.STALE_RECEIVED + timedelta(seconds=1)

        # when the worker runs one round
        result = _dialtone(
            "worker",
            "--once",
            url=url,
            DIALTONE_SECRET_KEY=TEST_SECRET_KEY,
            DIALTONE_PAYPAL_IPN_URL=paypal.ipn_url,
        )

        # then it says what it did, and the client has the money
        assert result.returncode == 0, result.stderr
        assert "paypal-ipn=1" in result.stdout
        assert [r.body for r in paypal.received()] == [b"cmd=_notify-validate&" + raw]
        async with sessions() as s:
            assert await client_balance(s, client) == 12_500_000
            await assert_ledger_consistent(s)
    finally:
        await engine.dispose()


def test_worker_before_migrate_says_what_to_do(tmp_path: Path):
    result = _dialtone("worker", "--once", url=f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    assert result.returncode == 2
    assert "run `dialtone migrate`" in result.stderr
    assert "Traceback" not in result.stderr
