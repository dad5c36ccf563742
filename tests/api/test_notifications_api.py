"""Webhook endpoints, events, deliveries and the outbox through GraphQL, delivered by the worker
to a real HTTP receiver and a real SMTP server."""

from __future__ import annotations

import json
from datetime import timedelta

from api import worker
from api.models.base import utcnow
from tests.api.conftest import gid
from tests.domain.test_notifications import verify_signature

PAYLOAD = "errors { code field message }"
CREATE = (
    "mutation($url: String!, $types: [WebhookEventType!]!, $r: ID) {"
    ' webhookEndpointCreate(input: {url: $url, eventTypes: $types, description: "books",'
    " resellerId: $r}) { secret endpoint { id url eventTypes active description resellerId }"
    f" {PAYLOAD} }} }}"
)
PAY = (
    'mutation($c: ID!, $k: String!) { clientPaymentRecord(input: {clientId: $c, amount: "25",'
    " idempotencyKey: $k}) { errors { code } } }"
)
DELIVERIES = (
    "query($s: WebhookDeliveryStatus) { webhookDeliveries(status: $s) { nodes { id status"
    " attemptCount lastStatusCode nextAttemptAt endpoint { url } event { eventId type data }"
    " attempts { number succeeded statusCode error nextAttemptAt } } } }"
)


async def _create(gql, token, url, types=("PAYMENT_RECEIVED",), reseller=None):
    body = await gql(CREATE, {"url": url, "types": list(types), "r": reseller}, token=token)
    return body["data"]["webhookEndpointCreate"]


async def test_a_reseller_registers_an_endpoint_and_reads_its_deliveries_and_attempts(
    gql, world, receiver, mail_settings, sessions
):
    acme = world.tokens["acme"]
    # given an endpoint Acme registered for payments
    created = await _create(gql, acme, receiver.url)
    assert created["errors"] == []
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert created["endpoint"]["eventTypes"] == ["PAYMENT_RECEIVED"]
    assert created["endpoint"]["resellerId"] == gid("Reseller", world.acme_id)
    # the secret is never shown again
    listed = await gql("{ webhookEndpoints { nodes { id url } } }", token=acme)
    assert listed["data"]["webhookEndpoints"]["nodes"] == [
        {"id": created["endpoint"]["id"], "url": receiver.url}
    ]
    assert secret not in json.dumps(listed)

    # when a payment is recorded and the receiver first answers 500
    body = await gql(PAY, {"c": gid("Client", world.acme_client_id), "k": "p1"}, token=acme)
    assert body["data"]["clientPaymentRecord"]["errors"] == []
    receiver.statuses.append(500)
    now = utcnow()
    await worker.run_once(sessions, mail_settings, now=now)

    # then the delivery waits, with its failed attempt listed
    body = await gql(DELIVERIES, {"s": "PENDING"}, token=acme)
    [pending] = body["data"]["webhookDeliveries"]["nodes"]
    assert pending["attemptCount"] == 1 and pending["lastStatusCode"] == 500
    assert [(a["number"], a["succeeded"], a["statusCode"]) for a in pending["attempts"]] == [
        (1, False, 500)
    ]
    assert pending["event"]["type"] == "PAYMENT_RECEIVED"
    assert pending["event"]["data"]["amount"] == {"amount": "25.000000", "currency": "USD"}
    assert pending["event"]["data"]["clientId"] == gid("Client", world.acme_client_id)
    assert pending["endpoint"] == {"url": receiver.url}

    # when the worker runs after the backoff, the receiver takes it
    await worker.run_once(sessions, mail_settings, now=now + timedelta(minutes=1))
    body = await gql(DELIVERIES, {"s": "DELIVERED"}, token=acme)
    [delivered] = body["data"]["webhookDeliveries"]["nodes"]
    assert delivered["id"] == pending["id"]
    assert [(a["number"], a["statusCode"], a["error"]) for a in delivered["attempts"]] == [
        (1, 500, "HTTP 500"),
        (2, 200, ""),
    ]
    assert (await gql(DELIVERIES, {"s": "PENDING"}, token=acme))["data"]["webhookDeliveries"][
        "nodes"
    ] == []
    # and both POSTs carried the event id the API shows, signed with the secret shown once
    event_id = delivered["event"]["eventId"]
    assert len(receiver.hits) == 2
    for hit in receiver.hits:
        assert hit.headers["Dialtone-Event-Id"] == event_id
        assert json.loads(hit.body)["id"] == event_id
        assert verify_signature(secret, hit.headers["Dialtone-Signature"], hit.body)

    # and the events list shows it with its delivery
    body = await gql(
        "{ webhookEvents(type: PAYMENT_RECEIVED) { nodes { eventId client { name }"
        " deliveries { status attempts { number } } } } }",
        token=acme,
    )
    events = body["data"]["webhookEvents"]["nodes"]
    assert events[0]["eventId"] == event_id and events[0]["client"] == {"name": "Alice"}
    assert events[0]["deliveries"] == [
        {"status": "DELIVERED", "attempts": [{"number": 1}, {"number": 2}]}
    ]

    # and the emails of the payment are in the outbox, sent
    body = await gql("{ emailOutbox { nodes { to subject status } } }", token=acme)
    sent = body["data"]["emailOutbox"]["nodes"]
    assert {
        "to": "client@acme.test",
        "subject": "Payment received: $25.00",
        "status": "SENT",
    } in sent
    assert {
        "to": "owner@acme.test",
        "subject": "Payment received from Alice: 25.00 USD",
        "status": "SENT",
    } in sent

    # and Globex sees none of it (only its own seed deposit and its mail)
    everything = (
        "{ webhookEndpoints { nodes { id } } webhookEvents { nodes { id } }"
        " webhookDeliveries { nodes { id } } emailOutbox { nodes { id to } } }"
    )
    mine = (await gql(everything, token=acme))["data"]
    theirs = (await gql(everything, token=world.tokens["globex"]))["data"]
    for name, part in theirs.items():
        assert not {json.dumps(n) for n in part["nodes"]} & {
            json.dumps(n) for n in mine[name]["nodes"]
        }, name
    assert theirs["webhookEndpoints"]["nodes"] == theirs["webhookDeliveries"]["nodes"] == []
    assert [n["to"] for n in theirs["emailOutbox"]["nodes"]] == ["owner@globex.test"]


async def test_an_endpoint_is_updated_deactivated_and_deleted(
    gql, world, receiver, mail_settings, sessions
):
    acme = world.tokens["acme"]
    created = await _create(gql, acme, receiver.url)
    endpoint_id = created["endpoint"]["id"]
    # when it is changed to also get low balances and turned off
    body = await gql(
        "mutation($id: ID!) { webhookEndpointUpdate(input: {id: $id, active: false,"
        " eventTypes: [CLIENT_LOW_BALANCE, PAYMENT_RECEIVED]}) { endpoint { active eventTypes }"
        f" {PAYLOAD} }} }}",
        {"id": endpoint_id},
        token=acme,
    )
    assert body["data"]["webhookEndpointUpdate"] == {
        "endpoint": {"active": False, "eventTypes": ["CLIENT_LOW_BALANCE", "PAYMENT_RECEIVED"]},
        "errors": [],
    }
    # then a payment is not delivered to it
    await gql(PAY, {"c": gid("Client", world.acme_client_id), "k": "p2"}, token=acme)
    await worker.run_once(sessions, mail_settings)
    assert receiver.hits == []
    # when it is deleted, it is gone from the list and a second delete is not found
    delete = (
        "mutation($id: ID!) { webhookEndpointDelete(input: {id: $id})"
        f" {{ deletedId {PAYLOAD} }} }}"
    )
    body = await gql(delete, {"id": endpoint_id}, token=acme)
    assert body["data"]["webhookEndpointDelete"] == {"deletedId": endpoint_id, "errors": []}
    body = await gql(delete, {"id": endpoint_id}, token=acme)
    assert body["data"]["webhookEndpointDelete"]["errors"][0]["code"] == "NOT_FOUND"
    body = await gql("{ webhookEndpoints { nodes { id } } }", token=acme)
    assert body["data"]["webhookEndpoints"]["nodes"] == []


async def test_bad_endpoints_are_refused_with_nothing_created(gql, world):
    acme = world.tokens["acme"]
    refused = await _create(gql, acme, "ftp://hooks.test/x")
    assert refused["endpoint"] is None and refused["secret"] is None
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("VALIDATION", "url")]
    body = await gql(CREATE, {"url": "https://hooks.test/x", "types": []}, token=acme)
    errors = body["data"]["webhookEndpointCreate"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("VALIDATION", "eventTypes")]
    body = await gql("{ webhookEndpoints { nodes { id } } }", token=acme)
    assert body["data"]["webhookEndpoints"]["nodes"] == []


async def test_who_may_manage_endpoints(gql, world):
    url = "https://hooks.test/x"
    # staff may read but not create
    staff = await _create(gql, world.tokens["acme_staff"], url)
    assert staff["errors"][0]["code"] == "PERMISSION_DENIED"
    body = await gql("{ webhookEndpoints { nodes { id } } }", token=world.tokens["acme_staff"])
    assert body["data"]["webhookEndpoints"]["nodes"] == []
    # a client may not
    client = await _create(gql, world.tokens["acme_client"], url)
    assert client["errors"][0]["code"] == "PERMISSION_DENIED"
    # an API token with the scope may
    token = await _create(gql, world.api_token, url)
    assert token["errors"] == [] and token["secret"]
    # the operator must name the reseller, and then may
    operator = world.tokens["operator"]
    unnamed = await _create(gql, operator, url)
    assert [(e["code"], e["field"]) for e in unnamed["errors"]] == [("VALIDATION", "resellerId")]
    named = await _create(gql, operator, url, reseller=gid("Reseller", world.globex_id))
    assert named["endpoint"]["resellerId"] == gid("Reseller", world.globex_id)
    # Globex's owner sees only its own one
    body = await gql("{ webhookEndpoints { nodes { id } } }", token=world.tokens["globex"])
    assert body["data"]["webhookEndpoints"]["nodes"] == [{"id": named["endpoint"]["id"]}]


async def test_a_failed_delivery_is_retried_by_hand(gql, world, receiver, mail_settings, sessions):
    from dataclasses import replace

    settings = replace(mail_settings, webhook_max_attempts=1)
    acme = world.tokens["acme"]
    await _create(gql, acme, receiver.url)
    await gql(PAY, {"c": gid("Client", world.acme_client_id), "k": "p3"}, token=acme)
    receiver.statuses.append(502)
    await worker.run_once(sessions, settings)
    body = await gql(DELIVERIES, {"s": "FAILED"}, token=acme)
    [failed] = body["data"]["webhookDeliveries"]["nodes"]
    retry = (
        "mutation($id: ID!) { webhookDeliveryRetry(input: {id: $id}) { delivery { status"
        f" attemptCount }} {PAYLOAD} }} }}"
    )
    # Globex cannot retry it
    body = await gql(retry, {"id": failed["id"]}, token=world.tokens["globex"])
    assert body["data"]["webhookDeliveryRetry"]["errors"][0]["code"] == "NOT_FOUND"
    # Acme can: pending again, then delivered
    body = await gql(retry, {"id": failed["id"]}, token=acme)
    assert body["data"]["webhookDeliveryRetry"] == {
        "delivery": {"status": "PENDING", "attemptCount": 0},
        "errors": [],
    }
    await worker.run_once(sessions, settings)
    body = await gql(DELIVERIES, {"s": "DELIVERED"}, token=acme)
    [delivered] = body["data"]["webhookDeliveries"]["nodes"]
    assert [a["statusCode"] for a in delivered["attempts"]] == [502, 200]
    body = await gql(retry, {"id": failed["id"]}, token=acme)
    assert body["data"]["webhookDeliveryRetry"]["errors"][0]["code"] == "CONFLICT"


EVENTS_DEEP = (
    "query($first: Int!) { webhookEvents(first: $first) { nodes { eventId client { name }"
    " deliveries { status endpoint { url } event { eventId } attempts { number statusCode } } } }"
    " webhookDeliveries(first: $first) { nodes { attempts { number } endpoint { url } } } }"
)


async def test_event_and_delivery_lists_do_not_grow_statements_with_the_page(
    app, gql, world, sessions
):
    from sqlalchemy import select

    from api.db import transaction
    from api.domain import notifications
    from api.domain.actors import SYSTEM
    from api.models import WebhookAttempt, WebhookDelivery
    from tests.api.test_query_count import statements

    # given 40 events of Acme's, each delivered to two endpoints with an attempt each
    async with transaction(sessions) as s:
        for n in range(2):
            await notifications.create_endpoint(
                s,
                SYSTEM,
                world.acme_id,
                {"url": f"https://hooks.test/{n}", "event_types": ["payment.received"]},
                settings=app.state.settings,
            )
        for n in range(40):
            await notifications.publish(
                s,
                reseller_id=world.acme_id,
                type="payment.received",
                client_id=world.acme_client_id,
                data={"n": n},
            )
        for delivery_id in list(await s.scalars(select(WebhookDelivery.id))):
            s.add(WebhookAttempt(delivery_id=delivery_id, number=1, status_code=500))
    token = world.tokens["acme"]
    with statements(app.state.engine) as small:
        body = await gql(EVENTS_DEEP, {"first": 3}, token=token)
    assert len(body["data"]["webhookEvents"]["nodes"]) == 3
    with statements(app.state.engine) as large:
        body = await gql(EVENTS_DEEP, {"first": 40}, token=token)
    nodes = body["data"]["webhookEvents"]["nodes"]
    assert len(nodes) == 40
    assert all(len(n["deliveries"]) == 2 for n in nodes)
    assert nodes[0]["deliveries"][0]["attempts"] == [{"number": 1, "statusCode": 500}]
    assert len(large) == len(small), (len(small), len(large))
