"""The walk's operations for outbound events: webhook endpoints, events, deliveries, outbox."""

from __future__ import annotations

from sqlalchemy import select

from api.db import transaction
from api.domain import notifications
from api.domain.actors import SYSTEM
from api.models import (
    Event,
    OutboxEmail,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from api.settings import Settings
from tests.api.conftest import gid
from tests.conftest import TEST_SECRET_KEY

SNAPSHOT_MODELS = (WebhookEndpoint, Event, WebhookDelivery, OutboxEmail)
URL = "https://hooks.acme-walk.test/dialtone"
NOTE = "acme walk endpoint note"
SUBJECT = "acme walk email subject"
ERROR = "acme walk attempt error"

PAYLOAD = "errors { code field message }"
ENDPOINT = "id url description eventTypes active resellerId"
DELIVERY = (
    "id status attemptCount lastError endpointId endpoint { url }"
    " event { eventId data } attempts { number error statusCode }"
)

QUERIES = {
    "webhookEndpoints": (
        "query($r: ID!, $we: ID!) { all: webhookEndpoints { edges { node { " + ENDPOINT + " } } }"
        " theirs: webhookEndpoints(resellerId: $r) { nodes { id url } }"
        " n: node(id: $we) { id ... on WebhookEndpoint { url description } } }"
    ),
    "webhookEvents": (
        "query($wv: ID!) { all: webhookEvents { nodes { id eventId type data"
        " client { name } deliveries { " + DELIVERY + " } } }"
        " typed: webhookEvents(type: PAYMENT_RECEIVED) { nodes { id eventId } }"
        " n: node(id: $wv) { id ... on WebhookEvent { eventId data } } }"
    ),
    "webhookDeliveries": (
        "query($wd: ID!, $we: ID!, $wv: ID!) { all: webhookDeliveries { nodes { "
        + DELIVERY
        + " } } failed: webhookDeliveries(status: FAILED) { nodes { id lastError } }"
        " byEndpoint: webhookDeliveries(endpointId: $we) { nodes { id } }"
        " byEvent: webhookDeliveries(eventId: $wv) { nodes { id } }"
        " n: node(id: $wd) { id ... on WebhookDelivery { lastError } } }"
    ),
    "emailOutbox": (
        "query($oe: ID!) { all: emailOutbox { nodes { id to subject textBody eventId } }"
        " failed: emailOutbox(status: FAILED) { nodes { id subject } }"
        " n: node(id: $oe) { id ... on OutboxEmail { subject } } }"
    ),
}

MUTATIONS = {
    "webhookEndpointCreate": (
        'mutation($r: ID!) { webhookEndpointCreate(input: {url: "https://evil.test/h",'
        f" eventTypes: [PAYMENT_RECEIVED], resellerId: $r}}) {{ endpoint {{ {ENDPOINT} }}"
        f" secret {PAYLOAD} }} }}"
    ),
    "webhookEndpointUpdate": (
        'mutation($we: ID!) { webhookEndpointUpdate(input: {id: $we, url: "https://evil.test/h",'
        f" active: false}}) {{ endpoint {{ {ENDPOINT} }} {PAYLOAD} }} }}"
    ),
    "webhookEndpointDelete": (
        f"mutation($we: ID!) {{ webhookEndpointDelete(input: {{id: $we}}) {{ deletedId {PAYLOAD}"
        " } }"
    ),
    "webhookDeliveryRetry": (
        f"mutation($wd: ID!) {{ webhookDeliveryRetry(input: {{id: $wd}}) {{ delivery"
        f" {{ {DELIVERY} }} {PAYLOAD} }} }}"
    ),
}


async def prepare(sessions, world) -> tuple[dict, list[str]]:
    """Acme's endpoint, a payment event of Alice's with a failed delivery and its attempt, and
    an email waiting in the outbox."""
    settings = Settings(secret_key=TEST_SECRET_KEY)
    async with transaction(sessions) as s:
        endpoint, secret = await notifications.create_endpoint(
            s,
            SYSTEM,
            world.acme_id,
            {"url": URL, "description": NOTE, "event_types": ["payment.received"]},
            settings=settings,
        )
        event = await notifications.publish(
            s,
            reseller_id=world.acme_id,
            type="payment.received",
            client_id=world.acme_client_id,
            data={"note": "acme walk event data"},
            emails=[notifications.Email(to="alice@acme-walk.test", subject=SUBJECT, text="x")],
        )
        delivery = await s.scalar(
            select(WebhookDelivery).where(WebhookDelivery.event_id == event.id)
        )
        delivery.status, delivery.attempts, delivery.last_error = "failed", 1, ERROR
        delivery.next_attempt_at = None
        s.add(WebhookAttempt(delivery_id=delivery.id, number=1, status_code=500, error=ERROR))
        outbox = await s.scalar(select(OutboxEmail.id).where(OutboxEmail.event_id == event.id))
    variables = {
        "we": gid("WebhookEndpoint", endpoint.id),
        "wv": gid("WebhookEvent", event.id),
        "wd": gid("WebhookDelivery", delivery.id),
        "oe": gid("OutboxEmail", outbox),
    }
    markers = [URL, NOTE, SUBJECT, ERROR, secret, event.uid, "acme walk event data"]
    return variables, [*markers, *variables.values()]
