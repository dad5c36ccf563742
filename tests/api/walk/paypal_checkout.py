"""The walk's operations for PayPal Checkout: REST apps and top-up orders."""

from __future__ import annotations

from api.db import transaction
from api.domain import paypal_credentials
from api.domain.actors import SYSTEM
from api.models import PaypalCredentials, PaypalEvent, PaypalOrder
from api.settings import Settings
from tests.api.conftest import gid
from tests.conftest import TEST_SECRET_KEY

SNAPSHOT_MODELS = (PaypalCredentials, PaypalOrder)
APP_ID = "acmeWalkPaypalApp"
APP_SECRET = "acmeWalkPaypalSecret"
WEBHOOK_ID = "ACMEWALKWEBHOOK"
ORDER_ID = "ACMEWALKORDER01"
EVENT_ID = "WH-ACMEWALKEVENT"
EVENT_REASON = "acme walk event reason"

PAYLOAD = "errors { code field message }"
ORDER = "id paypalOrderId status amount { amount } approveUrl captureId client { name }"

QUERIES = {
    "paypalCredentials": (
        "query($r: ID!) { mine: paypalCredentials { paypalClientId webhookId resellerId }"
        " theirs: paypalCredentials(resellerId: $r) { paypalClientId webhookId resellerId } }"
    ),
    "paypalOrders": (
        "query($c: ID!, $po: ID!) { all: paypalOrders { edges { node { " + ORDER + " } } }"
        " theirs: paypalOrders(clientId: $c) { edges { node { id paypalOrderId } } }"
        " n: node(id: $po) { id ... on PaypalOrder { paypalOrderId approveUrl } } }"
    ),
    "paypalCheckoutAvailable": (
        "query($c: ID!) { paypalCheckoutAvailable n: node(id: $c) { id ... on Client {"
        " payments { edges { node { id amount { amount } memo corrections { id } } } } } } }"
    ),
    "paypalWebhookEvents": (
        "query($pe: ID!) { all: paypalWebhookEvents { edges { node { id eventId reason body"
        " orderId } } } flagged: paypalWebhookEvents(status: FLAGGED) { edges { node { id } } }"
        " n: node(id: $pe) { id ... on PaypalWebhookEvent { eventId reason } } }"
    ),
}

MUTATIONS = {
    "paypalCredentialsSet": (
        'mutation($r: ID!) { paypalCredentialsSet(input: {paypalClientId: "evil",'
        ' paypalClientSecret: "evil", webhookId: "EVIL", resellerId: $r})'
        f" {{ credentials {{ paypalClientId }} {PAYLOAD} }} }}"
    ),
    "paypalCredentialsDelete": (
        "mutation($r: ID!) { paypalCredentialsDelete(input: {resellerId: $r})"
        f" {{ deleted {PAYLOAD} }} }}"
    ),
    "paypalOrderCreate": (
        'mutation($c: ID!) { paypalOrderCreate(input: {clientId: $c, amount: "10"})'
        f" {{ order {{ {ORDER} }} {PAYLOAD} }} }}"
    ),
    "paypalOrderCapture": (
        f"mutation($po: ID!) {{ paypalOrderCapture(input: {{id: $po}}) {{ order {{ {ORDER} }}"
        f" {PAYLOAD} }} }}"
    ),
}


async def prepare(sessions, world) -> tuple[dict, list[str]]:
    """Acme's PayPal app, an order of Alice's awaiting her approval, and a flagged event."""
    settings = Settings(secret_key=TEST_SECRET_KEY)
    async with transaction(sessions) as s:
        await paypal_credentials.set_credentials(
            s,
            SYSTEM,
            world.acme_id,
            {"client_id": APP_ID, "client_secret": APP_SECRET, "webhook_id": WEBHOOK_ID},
            settings=settings,
        )
        order = PaypalOrder(
            paypal_id=ORDER_ID,
            reference="acmewalkreference",
            reseller_id=world.acme_id,
            client_id=world.acme_client_id,
            payee=paypal_credentials.owner_key(world.acme_id),
            amount=10_000_000,
            currency="USD",
            status="APPROVED",
            approve_url=f"https://paypal.test/checkoutnow?token={ORDER_ID}",
        )
        s.add(order)
        await s.flush()
        event = PaypalEvent(
            body=b'{"id": "' + EVENT_ID.encode() + b'"}',
            event_id=EVENT_ID,
            event_type="PAYMENT.CAPTURE.REFUNDED",
            order_id=order.id,
            status="flagged",
            reason=EVENT_REASON,
        )
        s.add(event)
    variables = {"po": gid("PaypalOrder", order.id), "pe": gid("PaypalWebhookEvent", event.id)}
    markers = [APP_ID, APP_SECRET, WEBHOOK_ID, ORDER_ID, EVENT_ID, EVENT_REASON]
    return variables, [*markers, *variables.values()]
