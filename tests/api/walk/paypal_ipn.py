"""The walk's operations for PayPal IPN: the stored messages and a client's top-up form."""

from __future__ import annotations

from urllib.parse import urlencode

from api.db import transaction
from api.domain import paypal_ipn
from api.models import Deposit, PaypalIpnMessage
from api.settings import Settings
from tests.api.conftest import gid
from tests.conftest import TEST_SECRET_KEY

SNAPSHOT_MODELS = (PaypalIpnMessage, Deposit)
TXN_ID = "ACMEWALKTXN0001"
PAYER = "payer@acme-walk.test"

QUERIES = {
    "paypalIpnMessages": (
        "query($c: ID!, $ipn: ID!) { all: paypalIpnMessages { edges { node { id txnId"
        " payerEmail reason body amount { amount } client { name } } } }"
        " theirs: paypalIpnMessages(clientId: $c) { edges { node { id txnId } } }"
        " flagged: paypalIpnMessages(status: FLAGGED) { edges { node { id txnId } } }"
        " n: node(id: $ipn) { id ... on PaypalIpnMessage { txnId payerEmail } } }"
    ),
    "paypalTopUpForm": (
        "{ paypalTopUpForm { actionUrl receiverEmail currency amounts { amount } custom"
        " notifyUrl returnUrl hiddenFields { name value } } }"
    ),
}


async def prepare(sessions, world) -> tuple[dict, list[str]]:
    """A flagged IPN message for Acme's Alice."""
    settings = Settings(secret_key=TEST_SECRET_KEY)
    custom = paypal_ipn.client_reference(TEST_SECRET_KEY, world.acme_client_id)
    raw = urlencode(
        {
            "txn_id": TXN_ID,
            "payment_status": "Completed",
            "payer_email": PAYER,
            "custom": custom,
            "mc_gross": "12.34",
            "mc_currency": "USD",
            "charset": "windows-1252",
        }
    ).encode()
    async with transaction(sessions) as s:
        message = await paypal_ipn.receive(s, settings, raw)
        message.reseller_id, message.client_id = world.acme_id, world.acme_client_id
        message.status, message.reason = "flagged", "acme walk reason"
    variables = {"ipn": gid("PaypalIpnMessage", message.id)}
    return variables, [TXN_ID, PAYER, custom, "acme walk reason", *variables.values()]
