"""The walk's operations for fees: the fee charges and the setup fees charged on request."""

from __future__ import annotations

from sqlalchemy import select

from api.db import transaction
from api.domain import callers, fees, numbers, rates
from api.domain.actors import SYSTEM
from api.models import Did, FeeCharge
from api.models.base import utcnow
from api.settings import Settings
from tests.api.conftest import gid

SNAPSHOT_MODELS = (FeeCharge,)
NUMBER = "15557770201"
SUB_USERNAME = "acmefeewalk"
PACKAGE = "Acme Fee Walk Pack"


async def prepare(sessions, world):
    """Alice has a sub-account on a package with monthly and setup fees, and a number with a
    monthly and a setup price; the worker charged their first month."""
    settings = Settings(secret_key="dialtone-test-secret-key-0123456789")
    csv = [
        "number,country,city,monthly_cost,setup_cost,per_minute,currency\n",
        f"{NUMBER},US,Acme Fee City,1.17,0,0,USD\n",
    ]
    async with transaction(sessions) as s:
        package = await rates.create_package(
            s,
            SYSTEM,
            world.acme_id,
            {"name": PACKAGE, "monthly_fee": "3.33", "setup_fee": "4.44"},
        )
        sub, _secret = await callers.create_sub_account(
            s,
            SYSTEM,
            world.acme_client_id,
            {"username": SUB_USERNAME, "package_id": package.id},
            settings=settings,
        )
        await numbers.import_numbers(s, SYSTEM, csv)
        did_id = await s.scalar(select(Did.id).where(Did.number == NUMBER))
        await numbers.order(s, SYSTEM, did_id, "fee-walk", reseller_id=world.acme_id)
        await numbers.assign(
            s, SYSTEM, did_id, world.acme_client_id, monthly_price="6.66", setup_price="5.55"
        )
    assert await fees.run_due(sessions, settings, utcnow()) == 3
    async with sessions() as s:
        charge_ids = list(await s.scalars(select(FeeCharge.id)))
    variables = {"fs": gid("SubAccount", sub.id), "fd": gid("Did", did_id)}
    markers = [
        SUB_USERNAME,
        PACKAGE,
        NUMBER,
        "3.33",
        "6.66",
        "1.17",
        *variables.values(),
        *(gid("FeeCharge", i) for i in charge_ids),
    ]
    return variables, markers


CHARGE = (
    "id kind subjectType paidBy periodStart description clientAmount { amount }"
    " resellerCost { amount } entryId client { name } reseller { name }"
    " subAccount { username } did { number }"
)
PAYLOAD = "errors { code field message }"

QUERIES = {
    "feeCharges": (
        "query($r: ID!, $c: ID!) {"
        f" all: feeCharges {{ edges {{ node {{ {CHARGE} }} }} }}"
        f" byReseller: feeCharges(resellerId: $r) {{ edges {{ node {{ {CHARGE} }} }} }}"
        f" byClient: feeCharges(clientId: $c, kind: MONTHLY) {{ edges {{ node {{ id }} }} }} }}"
    ),
}

MUTATIONS = {
    "subAccountActivationFeeCharge": (
        "mutation($fs: ID!) { subAccountActivationFeeCharge(input: {id: $fs,"
        f' idempotencyKey: "walk-fee"}}) {{ feeCharge {{ {CHARGE} }} replayed {PAYLOAD} }} }}'
    ),
    "didSetupFeeCharge": (
        "mutation($fd: ID!) { didSetupFeeCharge(input: {id: $fd,"
        f' idempotencyKey: "walk-fee"}}) {{ feeCharge {{ {CHARGE} }} replayed {PAYLOAD} }} }}'
    ),
}
