"""Alerts and outbound events: low balances (once per crossing), suspension, payments received;
the email outbox sent over real SMTP (aiosmtpd) with retries; signed webhooks POSTed to a real
HTTP receiver with retries and every attempt recorded."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from api import worker
from api.db import transaction
from api.domain import accounts, brands, mailer, notifications, payments
from api.domain.actors import SYSTEM
from api.domain.errors import DomainError, DomainErrors
from api.models import Event, OutboxEmail, WebhookAttempt, WebhookDelivery
from api.models.base import utcnow
from tests import factories as f
from webhooks import outbound

OWNER = "owner@acme-notify.test"
CLIENT_EMAIL = "alice@client.test"


async def _setup(sessions, *, threshold="10", billing_mode="prepaid_permissive", brand=True):
    async with transaction(sessions) as s:
        reseller = await f.make_reseller(s, name="Acme Notify")
        await f.fund_reseller(s, reseller, "1000")  # before the owner: no mail of it
        await f.make_user(s, "reseller_owner", reseller=reseller, email=OWNER)
        client = await f.make_client(
            s,
            reseller,
            billing_mode,
            name="Alice",
            email=CLIENT_EMAIL,
            low_balance_threshold=threshold,
        )
        if brand:
            await brands.update_brand(s, SYSTEM, reseller.id, {"display_name": "Acme Voice"})
    return reseller, client


async def _events(sessions, type_: str | None = None) -> list[Event]:
    async with sessions() as s:
        stmt = select(Event).order_by(Event.id)
        if type_:
            stmt = stmt.where(Event.type == type_)
        return list(await s.scalars(stmt))


async def _pay(sessions, client_id, amount):
    async with transaction(sessions) as s:
        await payments.client_payment(s, SYSTEM, client_id, amount, f.unique_key())


async def _charge(sessions, client_id, amount):
    async with transaction(sessions) as s:
        await payments.client_charge(s, SYSTEM, client_id, amount, f.unique_key(), "usage")


async def _by_hand(sessions, client_id, status, reason):
    async with transaction(sessions) as s:
        await accounts.update_client(
            s, SYSTEM, client_id, {"status": status, "status_reason": reason}
        )


async def _outbox(sessions) -> list[OutboxEmail]:
    async with sessions() as s:
        return list(await s.scalars(select(OutboxEmail).order_by(OutboxEmail.id)))


# --- low balance -------------------------------------------------------------------------------


async def test_low_balance_alert_goes_once_per_crossing_and_again_after_a_top_up(
    sessions, mail_settings, smtp_inbox
):
    # given a client with a threshold of 10, paid 50
    _, client = await _setup(sessions)
    await _pay(sessions, client.id, "50")
    assert await _events(sessions, "client.low_balance") == []

    # when charges take it to 5 (crossing), then to 4 (still below)
    await _charge(sessions, client.id, "45")
    await _charge(sessions, client.id, "1")
    # then one alert only
    alerts = await _events(sessions, "client.low_balance")
    assert len(alerts) == 1
    assert alerts[0].data["balance"] == {"amount": "5.000000", "currency": "USD"}
    assert alerts[0].data["threshold"] == {"amount": "10.000000", "currency": "USD"}
    assert alerts[0].client_id == client.id

    # when a top-up takes it to 10 (at the threshold: re-armed) and a charge below again
    await _pay(sessions, client.id, "6")
    assert len(await _events(sessions, "client.low_balance")) == 1
    await _charge(sessions, client.id, "0.000001")
    # then a second alert
    alerts = await _events(sessions, "client.low_balance")
    assert len(alerts) == 2
    assert alerts[1].data["balance"]["amount"] == "9.999999"

    # and the worker mails the client and the reseller's owner, from the brand's name
    done = await worker.run_once(sessions, mail_settings)
    assert done["email"] == len(await _outbox(sessions)) > 0
    to_client = [m for m in smtp_inbox.to(CLIENT_EMAIL) if m["Subject"] == "Your balance is low"]
    to_owner = [m for m in smtp_inbox.to(OWNER) if m["Subject"] == "Low balance: Alice"]
    assert len(to_client) == len(to_owner) == 2
    assert to_client[0]["From"] == "Acme Voice <billing@platform.test>"
    assert "Your balance is now $5.00, below $10.00." in to_client[0].get_content()
    assert "is now 9.999999 USD" in to_owner[1].get_content()
    assert {e.status for e in await _outbox(sessions)} == {"sent"}


async def test_a_threshold_of_zero_sends_no_low_balance_alert(sessions):
    _, client = await _setup(sessions, threshold="0")
    await _pay(sessions, client.id, "5")
    await _charge(sessions, client.id, "10")
    assert await _events(sessions, "client.low_balance") == []


async def test_raising_the_threshold_above_the_balance_is_no_crossing(sessions):
    # given a client at 20 with a threshold of 10
    _, client = await _setup(sessions)
    await _pay(sessions, client.id, "20")
    # when the threshold is raised to 30: no alert, and none on the next charge while below
    async with transaction(sessions) as s:
        await accounts.update_client(s, SYSTEM, client.id, {"low_balance_threshold": "30"})
    await _charge(sessions, client.id, "1")
    assert await _events(sessions, "client.low_balance") == []
    # then back above 30 and below again: one alert
    await _pay(sessions, client.id, "20")
    await _charge(sessions, client.id, "15")
    assert len(await _events(sessions, "client.low_balance")) == 1


async def test_reseller_low_balance_alert_when_its_balance_crosses_its_threshold(
    sessions, mail_settings, smtp_inbox
):
    # given a reseller with 1000 and a threshold of 100
    reseller, client = await _setup(sessions)
    async with transaction(sessions) as s:
        await accounts.update_reseller(s, SYSTEM, reseller.id, {"low_balance_threshold": "100"})
    # when it moves 950 to a client (balance 50), then 10 more
    for amount in ("950", "10"):
        async with transaction(sessions) as s:
            await payments.client_transfer(s, SYSTEM, client.id, amount, f.unique_key())
    # then one reseller alert
    [alert] = await _events(sessions, "reseller.low_balance")
    assert alert.data["balance"] == {"amount": "50.000000", "currency": "USD"}
    assert alert.client_id is None and alert.reseller_id == reseller.id
    # and after a top-up above 100 and a new crossing, a second one
    async with transaction(sessions) as s:
        await payments.reseller_deposit(s, SYSTEM, reseller.id, "200", f.unique_key())
        await payments.client_transfer(s, SYSTEM, client.id, "200", f.unique_key())
    assert len(await _events(sessions, "reseller.low_balance")) == 2
    await worker.run_once(sessions, mail_settings)
    assert len([m for m in smtp_inbox.to(OWNER) if m["Subject"] == "Your balance is low"]) == 2


async def test_concurrent_crossings_alert_once(sessions, engine):
    # given a client at 50 with a threshold of 10
    _, client = await _setup(sessions)
    await _pay(sessions, client.id, "50")

    # when four charges of 15 run at once (each below 10 after the second)
    async def charge():
        for _ in range(20):
            try:
                await _charge(sessions, client.id, "15")
                return
            except Exception:  # SQLite busy: try again
                await asyncio.sleep(0.05)

    await asyncio.gather(*(charge() for _ in range(4)))
    async with sessions() as s:
        assert await f.client_balance(s, client.id) == -10_000_000
    # then exactly one alert
    assert len(await _events(sessions, "client.low_balance")) == 1


# --- suspension and payments ------------------------------------------------------------------


async def test_suspension_by_the_status_rule_and_by_hand_are_announced(sessions):
    # given a strict prepaid client with 5
    _, client = await _setup(sessions, threshold="0", billing_mode="prepaid_strict")
    await _pay(sessions, client.id, "5")
    # when a charge takes it to zero
    await _charge(sessions, client.id, "5")
    # then it is suspended and the suspension is an event with its reason
    [event] = await _events(sessions, "client.suspended")
    assert event.data["reason"] == accounts.AUTO_SUSPEND_REASON
    # when it is reactivated by a payment, then suspended by hand
    await _pay(sessions, client.id, "5")
    await _by_hand(sessions, client.id, "suspended", "abuse")
    events = await _events(sessions, "client.suspended")
    assert [e.data["reason"] for e in events] == [accounts.AUTO_SUSPEND_REASON, "abuse"]


async def test_a_postpaid_client_blocked_at_its_limit_is_announced_and_by_hand_again(
    sessions, mail_settings, smtp_inbox
):
    # given a postpaid client with a credit limit of 20, and an endpoint for blocked clients
    reseller, client = await _setup(sessions, threshold="0", billing_mode="postpaid")
    async with transaction(sessions) as s:
        await accounts.update_client(s, SYSTEM, client.id, {"credit_limit": "20"})
    endpoint, _ = await _endpoint(
        sessions, mail_settings, reseller, "https://hooks.example.test/in", ["client.blocked"]
    )
    # when charges take it to 15 (not blocked), then to its limit, then past it
    await _charge(sessions, client.id, "15")
    assert await _events(sessions, "client.blocked") == []
    await _charge(sessions, client.id, "5")
    await _charge(sessions, client.id, "1")
    # then it is blocked once, with its reason and limit, delivered to the endpoint
    [event] = await _events(sessions, "client.blocked")
    assert (event.client_id, event.data["reason"], event.data["creditLimit"]) == (
        client.id,
        accounts.AUTO_BLOCK_REASON,
        {"amount": "20.000000", "currency": "USD"},
    )
    async with sessions() as s:
        deliveries = list(await s.scalars(select(WebhookDelivery)))
    assert [(d.event_id, d.endpoint_id) for d in deliveries] == [(event.id, endpoint.id)]
    # and the client and the reseller's owner are mailed, from the brand
    await worker.run_once(sessions, mail_settings)
    [to_client] = [m for m in smtp_inbox.to(CLIENT_EMAIL) if "blocked" in m["Subject"]]
    [to_owner] = [m for m in smtp_inbox.to(OWNER) if "blocked" in m["Subject"]]
    assert to_client["Subject"] == "Your service is blocked"
    assert to_client["From"] == "Acme Voice <billing@platform.test>"
    assert "blocked (credit limit reached)" in to_client.get_content()
    assert to_owner["Subject"] == "Client blocked: Alice"
    # when a payment unblocks it and the reseller blocks it by hand
    await _pay(sessions, client.id, "21")
    await _by_hand(sessions, client.id, "blocked", "fraud check")
    # then that is announced too
    events = await _events(sessions, "client.blocked")
    assert [e.data["reason"] for e in events] == [accounts.AUTO_BLOCK_REASON, "fraud check"]


async def test_payments_received_are_announced_and_a_refused_movement_announces_nothing(
    sessions, mail_settings, smtp_inbox
):
    _, client = await _setup(sessions, threshold="0")
    # when a manual payment is recorded (twice with the same key: it lands once)
    async with transaction(sessions) as s:
        await payments.client_payment(s, SYSTEM, client.id, "25", "pay-once")
    async with transaction(sessions) as s:
        await payments.client_payment(s, SYSTEM, client.id, "25", "pay-once")
    # and a PayPal deposit lands
    from api.domain import deposits

    async with transaction(sessions) as s:
        await deposits.credit(
            s,
            source="paypal",
            external_id="TXN-NOTIFY-1",
            client_id=client.id,
            reseller_id=None,
            amount=12_500_000,
            currency="USD",
            memo="",
            raw_id=None,
        )
    # and a transfer the reseller cannot cover is refused
    with pytest.raises((DomainError, DomainErrors)):
        async with transaction(sessions) as s:
            await payments.client_transfer(s, SYSTEM, client.id, "5000", f.unique_key())
    # then: the seed deposit to the reseller, the manual payment, the PayPal one
    events = await _events(sessions, "payment.received")
    assert [(e.client_id, e.data["amount"]["amount"], e.data["source"]) for e in events] == [
        (None, "1000.000000", "operator"),
        (client.id, "25.000000", "manual"),
        (client.id, "12.500000", "paypal"),
    ]
    assert len(await _events(sessions)) == 3
    await worker.run_once(sessions, mail_settings)
    subjects = sorted(m["Subject"] for m in smtp_inbox.to(CLIENT_EMAIL))
    assert subjects == ["Payment received: $12.50", "Payment received: $25.00"]
    assert "Payment received from Alice: 25.00 USD" in [m["Subject"] for m in smtp_inbox.to(OWNER)]


# --- the email outbox ---------------------------------------------------------------------------


async def test_an_email_with_html_and_a_pdf_attachment_arrives_whole(
    sessions, mail_settings, smtp_inbox
):
    reseller, _ = await _setup(sessions)
    pdf = b"%PDF-1.4\n" + bytes(range(256)) + b"\n%%EOF\n"
    async with transaction(sessions) as s:
        await notifications.send_email(
            s,
            reseller_id=reseller.id,
            email=notifications.Email(
                to="books@client.test",
                subject="Invoice 2026-0001",
                text="Your invoice is attached.",
                html="<p>Your invoice is <b>attached</b>.</p>",
                attachments=[
                    notifications.Attachment("invoice-2026-0001.pdf", "application/pdf", pdf)
                ],
            ),
        )
    assert await mailer.send_due(sessions, mail_settings, utcnow()) == 1
    [received] = smtp_inbox.messages
    assert received.mail_from == "billing@platform.test"
    assert received.rcpt_tos == ["books@client.test"]
    message = received.message
    assert message["Subject"] == "Invoice 2026-0001"
    assert message["From"] == "Acme Voice <billing@platform.test>"
    assert message.get_body(("plain",)).get_content().strip() == "Your invoice is attached."
    assert "<b>attached</b>" in message.get_body(("html",)).get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "invoice-2026-0001.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == pdf


async def test_without_a_brand_mail_goes_in_the_resellers_name(sessions, mail_settings, smtp_inbox):
    _, client = await _setup(sessions, threshold="0", brand=False)
    await _pay(sessions, client.id, "1")
    await worker.run_once(sessions, mail_settings)
    [message] = smtp_inbox.to(CLIENT_EMAIL)
    assert message["From"] == "Acme Notify <billing@platform.test>"


async def test_a_temporary_smtp_failure_is_retried_with_backoff_then_sent(
    sessions, mail_settings, smtp_inbox
):
    # given one queued email and a server that answers 451 once
    reseller, _ = await _setup(sessions)
    async with transaction(sessions) as s:
        await notifications.send_email(
            s,
            reseller_id=reseller.id,
            email=notifications.Email(to="x@client.test", subject="Hello", text="Hi"),
        )
    smtp_inbox.answers.append("451 4.3.0 try again later")
    now = utcnow()
    # when the worker sends it: refused, kept pending for a minute
    assert await mailer.send_due(sessions, mail_settings, now) == 1
    [row] = await _outbox(sessions)
    assert (row.status, row.attempts) == ("pending", 1)
    assert "451" in row.last_error and row.next_attempt_at == now + timedelta(minutes=1)
    assert smtp_inbox.messages == []
    # then nothing is tried before it is due
    assert await mailer.send_due(sessions, mail_settings, now + timedelta(seconds=59)) == 0
    # and at its time it is sent
    assert await mailer.send_due(sessions, mail_settings, now + timedelta(minutes=1)) == 1
    [row] = await _outbox(sessions)
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, "")
    assert [m.message["Subject"] for m in smtp_inbox.messages] == ["Hello"]


async def test_no_server_then_gives_up_after_the_last_attempt(sessions, mail_settings):
    from dataclasses import replace

    from tests.receivers import free_port

    settings = replace(mail_settings, smtp_port=free_port(), email_max_attempts=2)
    reseller, _ = await _setup(sessions)
    async with transaction(sessions) as s:
        await notifications.send_email(
            s,
            reseller_id=reseller.id,
            email=notifications.Email(to="x@client.test", subject="Hello", text="Hi"),
        )
    now = utcnow()
    await mailer.send_due(sessions, settings, now)
    await mailer.send_due(sessions, settings, now + timedelta(minutes=1))
    [row] = await _outbox(sessions)
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 2, None)
    assert row.last_error.startswith("gave up after 2 attempts: ConnectionRefusedError")


async def test_a_permanent_refusal_is_not_retried(sessions, mail_settings, smtp_inbox):
    reseller, _ = await _setup(sessions)
    async with transaction(sessions) as s:
        await notifications.send_email(
            s,
            reseller_id=reseller.id,
            email=notifications.Email(to="x@client.test", subject="Hello", text="Hi"),
        )
    smtp_inbox.answers.append("554 5.7.1 rejected")
    await mailer.send_due(sessions, mail_settings, utcnow())
    [row] = await _outbox(sessions)
    assert (row.status, row.attempts) == ("failed", 1)
    assert "554" in row.last_error


async def test_two_workers_at_once_send_each_message_once(sessions, mail_settings, smtp_inbox):
    reseller, _ = await _setup(sessions)
    async with transaction(sessions) as s:
        for n in range(5):
            await notifications.send_email(
                s,
                reseller_id=reseller.id,
                email=notifications.Email(to=f"x{n}@client.test", subject=f"n{n}", text="Hi"),
            )
    now = utcnow()
    await asyncio.gather(
        mailer.send_due(sessions, mail_settings, now), mailer.send_due(sessions, mail_settings, now)
    )
    assert sorted(m.message["Subject"] for m in smtp_inbox.messages) == [f"n{n}" for n in range(5)]
    assert {r.status for r in await _outbox(sessions)} == {"sent"}


# --- webhooks ----------------------------------------------------------------------------------


def verify_signature(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """What an integrator does with Dialtone-Signature (as the README says)."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


async def _endpoint(sessions, settings, reseller, url, types):
    async with transaction(sessions) as s:
        endpoint, secret = await notifications.create_endpoint(
            s, SYSTEM, reseller.id, {"url": url, "event_types": types}, settings=settings
        )
    return endpoint, secret


async def test_webhooks_are_signed_carry_unique_ids_and_only_chosen_types(
    sessions, mail_settings, receiver
):
    reseller, client = await _setup(sessions)
    _, secret = await _endpoint(
        sessions, mail_settings, reseller, receiver.url, ["payment.received", "client.low_balance"]
    )
    assert secret.startswith("whsec_")
    # when two payments are received and the client is suspended by hand (not chosen)
    await _pay(sessions, client.id, "30")
    await _pay(sessions, client.id, "2")
    async with transaction(sessions) as s:
        await accounts.update_client(
            s, SYSTEM, client.id, {"status": "suspended", "status_reason": "fraud check"}
        )
    done = await worker.run_once(sessions, mail_settings)
    # then the receiver got the two payments, signed with the endpoint's secret
    assert done["webhooks"] == 2
    assert len(receiver.hits) == 2
    ids = set()
    for hit in receiver.hits:
        assert hit.path == "/hooks/dialtone"
        assert hit.headers["Content-Type"] == "application/json"
        assert verify_signature(secret, hit.headers["Dialtone-Signature"], hit.body)
        assert not verify_signature("whsec_wrong", hit.headers["Dialtone-Signature"], hit.body)
        assert not verify_signature(secret, hit.headers["Dialtone-Signature"], hit.body + b" ")
        payload = json.loads(hit.body)
        assert set(payload) == {"id", "type", "created", "data"}
        assert payload["type"] == "payment.received"
        assert payload["id"] == hit.headers["Dialtone-Event-Id"]
        ids.add(payload["id"])
    assert len(ids) == 2
    amounts = sorted(json.loads(h.body)["data"]["amount"]["amount"] for h in receiver.hits)
    assert amounts == ["2.000000", "30.000000"]
    async with sessions() as s:
        statuses = list(await s.scalars(select(WebhookDelivery.status)))
    assert statuses == ["delivered", "delivered"]


async def test_an_error_answer_is_retried_with_backoff_and_every_attempt_is_kept(
    sessions, mail_settings, receiver
):
    reseller, client = await _setup(sessions)
    _, secret = await _endpoint(
        sessions, mail_settings, reseller, receiver.url, ["payment.received"]
    )
    receiver.statuses.extend([500, 503])
    await _pay(sessions, client.id, "30")
    now = utcnow()
    # first attempt: 500, next in a minute; nothing before that
    assert await outbound.deliver_due(sessions, mail_settings, now) == 1
    assert await outbound.deliver_due(sessions, mail_settings, now + timedelta(seconds=30)) == 0
    # second: 503, next two minutes later
    assert await outbound.deliver_due(sessions, mail_settings, now + timedelta(minutes=1)) == 1
    assert await outbound.deliver_due(sessions, mail_settings, now + timedelta(minutes=2)) == 0
    # third: 200
    assert await outbound.deliver_due(sessions, mail_settings, now + timedelta(minutes=3)) == 1
    async with sessions() as s:
        [delivery] = list(await s.scalars(select(WebhookDelivery)))
        attempts = list(await s.scalars(select(WebhookAttempt).order_by(WebhookAttempt.number)))
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)
    assert [(a.number, a.status_code, a.succeeded, a.error) for a in attempts] == [
        (1, 500, False, "HTTP 500"),
        (2, 503, False, "HTTP 503"),
        (3, 200, True, ""),
    ]
    assert attempts[0].next_attempt_at == now + timedelta(minutes=1)
    assert attempts[1].next_attempt_at == now + timedelta(minutes=3)
    assert attempts[2].next_attempt_at is None
    # the same event id and body every time, each attempt signed
    bodies = {h.body for h in receiver.hits}
    assert len(bodies) == 1 and len(receiver.hits) == 3
    assert [h.headers["Dialtone-Delivery-Attempt"] for h in receiver.hits] == ["1", "2", "3"]
    assert all(
        verify_signature(secret, h.headers["Dialtone-Signature"], h.body) for h in receiver.hits
    )


async def test_an_endpoint_that_never_answers_well_is_given_up(sessions, mail_settings, receiver):
    from dataclasses import replace

    settings = replace(mail_settings, webhook_max_attempts=2)
    reseller, client = await _setup(sessions)
    await _endpoint(sessions, settings, reseller, receiver.url, ["payment.received"])
    receiver.statuses.extend([500, 500, 500])
    await _pay(sessions, client.id, "30")
    now = utcnow()
    await outbound.deliver_due(sessions, settings, now)
    await outbound.deliver_due(sessions, settings, now + timedelta(minutes=1))
    assert await outbound.deliver_due(sessions, settings, now + timedelta(days=1)) == 0
    async with sessions() as s:
        [delivery] = list(await s.scalars(select(WebhookDelivery)))
        count = await s.scalar(select(func.count()).select_from(WebhookAttempt))
    assert (delivery.status, delivery.attempts, count) == ("failed", 2, 2)
    # a retry by hand starts it over, and the receiver now takes it
    async with transaction(sessions) as s:
        await notifications.retry_delivery(s, SYSTEM, delivery.id)
    receiver.statuses.clear()
    assert await outbound.deliver_due(sessions, settings, utcnow()) == 1
    async with sessions() as s:
        delivery = await s.get(WebhookDelivery, delivery.id)
    assert delivery.status == "delivered"


async def test_endpoint_urls_and_types_are_checked(sessions, settings):
    reseller, _ = await _setup(sessions)
    bad = [
        ({"url": "ftp://x.test/h", "event_types": ["payment.received"]}, "url"),
        ({"url": "https://u:p@x.test/h", "event_types": ["payment.received"]}, "url"),
        ({"url": "https://x.test/h", "event_types": ["payment.sent"]}, "eventTypes"),
        ({"url": "https://x.test/h", "event_types": []}, "eventTypes"),
        ({"event_types": ["payment.received"]}, "url"),
    ]
    for data, field in bad:
        with pytest.raises((DomainError, DomainErrors)) as caught:
            async with transaction(sessions) as s:
                await notifications.create_endpoint(s, SYSTEM, reseller.id, data, settings=settings)
        errors = getattr(caught.value, "errors", [caught.value])
        assert [e.field for e in errors] == [field], data
    async with sessions() as s:
        from api.models import WebhookEndpoint

        assert await s.scalar(select(func.count()).select_from(WebhookEndpoint)) == 0


async def test_events_of_another_reseller_do_not_reach_an_endpoint(
    sessions, mail_settings, receiver
):
    reseller, _ = await _setup(sessions)
    await _endpoint(
        sessions, mail_settings, reseller, receiver.url, list(notifications.EVENT_TYPES)
    )
    async with transaction(sessions) as s:
        other = await f.make_reseller(s, name="Other")
        await f.fund_reseller(s, other, "10")
    assert await outbound.deliver_due(sessions, mail_settings, utcnow()) == 0
    assert receiver.hits == []
    assert [e.reseller_id for e in await _events(sessions, "payment.received")][-1] == other.id


async def test_call_ingestion_raises_the_clients_low_balance_alert_once(sessions):
    from api.domain import calls
    from tests.domain.test_ingest import call, markup_world, rows

    # given a client with 10 and a threshold just under it
    async with transaction(sessions) as s:
        _, client, _ = await markup_world(s)
        await accounts.update_client(s, SYSTEM, client.id, {"low_balance_threshold": "9.999"})
    alice = f"alice{client.id}"
    # when two batches of calls land (each sells 0.006)
    for call_id in ("n-1", "n-2"):
        async with transaction(sessions) as s:
            report = await calls.ingest(s, SYSTEM, rows(call(call_id, alice)))
            assert report.ingested == 1
    # then the first crossed the threshold and alerted, the second did not
    [alert] = await _events(sessions, "client.low_balance")
    assert alert.data["balance"]["amount"] == "9.994000"
    assert alert.client_id == client.id


async def test_call_ingestion_raises_the_resellers_low_balance_alert_once(sessions):
    from api.domain import calls
    from tests.domain.test_ingest import call, markup_world, rows

    # given a markup reseller with 100 and a threshold just under it
    async with transaction(sessions) as s:
        reseller, client, _ = await markup_world(s)
        await accounts.update_reseller(s, SYSTEM, reseller.id, {"low_balance_threshold": "99.995"})
    alice = f"alice{client.id}"
    # when two batches of calls land (each costs the reseller 0.01)
    for call_id in ("r-1", "r-2"):
        async with transaction(sessions) as s:
            assert (await calls.ingest(s, SYSTEM, rows(call(call_id, alice)))).ingested == 1
    # then the first took its balance below the threshold and alerted, the second did not
    [alert] = await _events(sessions, "reseller.low_balance")
    assert alert.data["balance"]["amount"] == "99.990000"
    assert alert.reseller_id == reseller.id


async def test_endpoints_on_private_networks_are_refused_unless_allowed(
    sessions, mail_settings, receiver
):
    from dataclasses import replace

    strict = replace(mail_settings, webhook_allow_private=False)
    reseller, client = await _setup(sessions)
    # registering a loopback, private, link-local or local name is refused
    for url in (
        "http://127.0.0.1:8080/h",
        "http://10.1.2.3/h",
        "http://169.254.169.254/latest",
        "http://[::1]/h",
        "http://[::ffff:192.168.0.1]/h",
        "http://localhost/h",
    ):
        with pytest.raises(DomainErrors) as caught:
            async with transaction(sessions) as s:
                await notifications.create_endpoint(
                    s,
                    SYSTEM,
                    reseller.id,
                    {"url": url, "event_types": ["payment.received"]},
                    settings=strict,
                )
        assert [e.field for e in caught.value.errors] == ["url"], url
    # and a name that resolves to one is refused when delivering (an attempt that failed)
    await _endpoint(
        sessions,
        mail_settings,
        reseller,
        receiver.url.replace("127.0.0.1", "localhost"),
        ["payment.received"],
    )
    await _pay(sessions, client.id, "3")
    await outbound.deliver_due(sessions, strict, utcnow())
    assert receiver.hits == []
    async with sessions() as s:
        [attempt] = list(await s.scalars(select(WebhookAttempt)))
    assert attempt.status_code is None
    assert attempt.error == "refused: localhost resolves to an address that is not public"
    # with private endpoints allowed (a test installation), it goes through
    assert notifications.public_address("93.184.216.34")
    await outbound.deliver_due(sessions, mail_settings, utcnow() + timedelta(minutes=1))
    assert len(receiver.hits) == 1


def test_the_mail_and_webhook_settings_are_read_from_the_environment():
    from api.settings import Settings

    default = Settings.from_env({})
    assert (default.smtp_host, default.smtp_port, default.smtp_starttls) == ("localhost", 25, False)
    assert (default.email_max_attempts, default.webhook_max_attempts) == (8, 10)
    assert default.webhook_allow_private is False
    settings = Settings.from_env(
        {
            "DIALTONE_SMTP_HOST": "smtp.example.test",
            "DIALTONE_SMTP_PORT": "587",
            "DIALTONE_SMTP_USERNAME": "mailer",
            "DIALTONE_SMTP_PASSWORD": "pw",
            "DIALTONE_SMTP_STARTTLS": "yes",
            "DIALTONE_SMTP_FROM": "billing@example.test",
            "DIALTONE_SMTP_TIMEOUT_SECONDS": "9",
            "DIALTONE_EMAIL_MAX_ATTEMPTS": "3",
            "DIALTONE_WEBHOOK_TIMEOUT_SECONDS": "4",
            "DIALTONE_WEBHOOK_MAX_ATTEMPTS": "5",
            "DIALTONE_WEBHOOK_ALLOW_PRIVATE": "1",
        }
    )
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_starttls) == (
        "smtp.example.test",
        587,
        True,
    )
    assert (settings.smtp_username, settings.smtp_password, settings.smtp_from) == (
        "mailer",
        "pw",
        "billing@example.test",
    )
    assert (settings.smtp_timeout_seconds, settings.email_max_attempts) == (9, 3)
    assert (settings.webhook_timeout_seconds, settings.webhook_max_attempts) == (4, 5)
    assert settings.webhook_allow_private is True
