"""PayPal Checkout end to end: orders made at a real local HTTP server playing PayPal's REST
API, the payer's return to the real app, webhook deliveries signed by a test certificate
authority, and the money checked in the ledger after each."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select

from api import worker
from api.app import create_app
from api.db import transaction
from api.domain import accounts, paypal_checkout, paypal_credentials, paypal_ipn, secrets
from api.domain.actors import SYSTEM, Actor
from api.domain.errors import DomainError
from api.models import (
    Brand,
    Deposit,
    LedgerEntry,
    PaypalCredentials,
    PaypalEvent,
    PaypalIpnMessage,
    PaypalOrder,
)
from api.models.base import utcnow
from tests.factories import (
    assert_ledger_consistent,
    balance_of,
    client_actor,
    client_balance,
    deposit_legs,
    make_client,
    make_reseller,
    reseller_actor,
    reseller_balance,
)
from tests.webhooks.paypal_certs import TestAuthority
from tests.webhooks.paypal_rest import CERT_PATH, FakeRest

pytestmark = pytest.mark.usefixtures("ledger_checked")

U = 1_000_000
ACME_APP = ("acme-app", "acme-secret-1", "WHACME1")
OPERATOR_APP = ("operator-app", "operator-secret-1", "WHOPERATOR1")


@pytest.fixture(scope="session")
def authority() -> TestAuthority:
    return TestAuthority()


@dataclasses.dataclass
class Shop:
    """Acme (markup) with its PayPal app, Globex (commission 10 %) without one, the operator's
    app, a client of each, and the app PayPal talks to."""

    settings: Any
    app: Any
    rest: FakeRest
    sessions: Any
    acme: Any
    globex: Any
    alice: Any  # Acme's client
    gina: Any  # Globex's client

    def http(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app)
        return httpx.AsyncClient(transport=transport, base_url="https://acme.test")

    async def deliver(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        async with self.http() as http:
            return await http.post("/webhooks/paypal/events", content=body, headers=headers)

    async def event(self, event_type: str, resource: dict, **kw: Any) -> httpx.Response:
        webhook_id = kw.pop("webhook_id", ACME_APP[2])
        return await self.deliver(
            *self.rest.delivery(event_type, resource, webhook_id=webhook_id, **kw)
        )

    async def order(self, actor: Actor, amount: str = "25", **kw: Any) -> PaypalOrder:
        return await paypal_checkout.create_order(
            self.sessions, actor, self.settings, amount=amount, **kw
        )

    async def come_back(self, order: PaypalOrder) -> httpx.Response:
        """The payer approves at PayPal and is sent back to the return URL."""
        self.rest.approve(order.paypal_id)
        async with self.http() as http:
            return await http.get("/webhooks/paypal/return", params={"token": order.paypal_id})

    async def balances(self) -> dict[str, int]:
        async with self.sessions() as s:
            await assert_ledger_consistent(s)
            return {
                "alice": await client_balance(s, self.alice),
                "gina": await client_balance(s, self.gina),
                "acme": await reseller_balance(s, self.acme),
                "globex": await reseller_balance(s, self.globex),
                "receipts": await balance_of(s, f"reseller:{self.acme.id}:receipts"),
                "operator_deposits": await balance_of(s, "operator:deposits:USD"),
            }

    async def events(self) -> list[PaypalEvent]:
        async with self.sessions() as s:
            return list(await s.scalars(select(PaypalEvent).order_by(PaypalEvent.id)))

    async def reload(self, order: PaypalOrder) -> PaypalOrder:
        async with self.sessions() as s:
            found = await s.get(PaypalOrder, order.id)
            assert found is not None
            return found


@pytest.fixture
async def shop(sessions, settings, paypal, authority, tmp_path):
    roots = tmp_path / "roots.pem"
    roots.write_bytes(authority.roots_pem())
    settings = dataclasses.replace(
        settings,
        paypal_api_url=paypal.url,
        paypal_sandbox_api_url=paypal.url,
        paypal_cert_origins=(paypal.url,),
        paypal_cert_roots=str(roots),
    )
    rest = FakeRest(paypal, authority)
    for client_id, secret, _ in (ACME_APP, OPERATOR_APP):
        rest.add_app(client_id, secret)
    async with transaction(sessions) as s:
        acme = await make_reseller(s, name="Acme")
        globex = await make_reseller(s, "commission", commission_pct="10", name="Globex")
        alice = await make_client(s, acme, name="Alice")
        gina = await make_client(s, globex, name="Gina")
        for owner, (client_id, secret, webhook_id) in ((acme.id, ACME_APP), (None, OPERATOR_APP)):
            await paypal_credentials.set_credentials(
                s,
                SYSTEM,
                owner,
                {"client_id": client_id, "client_secret": secret, "webhook_id": webhook_id},
                settings=settings,
            )
    app = create_app(settings)
    yield Shop(settings, app, rest, sessions, acme, globex, alice, gina)
    await app.state.engine.dispose()


# --- a client tops up ---------------------------------------------------------------------------


async def test_a_client_pays_its_reseller_and_is_credited_on_return(shop):
    # given Alice asks for a 25.00 top-up
    order = await shop.order(client_actor(shop.alice))
    assert order.payee == f"reseller:{shop.acme.id}" and order.status == "PAYER_ACTION_REQUIRED"
    made = shop.rest.orders[order.paypal_id]
    assert made["app"] == ACME_APP[0] and made["amount"] == {
        "currency_code": "USD",
        "value": "25.00",
    }
    assert made["custom_id"] == order.reference and order.approve_url.endswith(order.paypal_id)
    context = made["request"]["payment_source"]["paypal"]["experience_context"]
    assert context["return_url"] == "https://localhost/webhooks/paypal/return"
    # when she approves and comes back
    response = await shop.come_back(order)
    # then the capture is credited to her in Acme's books and she is sent to her portal
    assert response.status_code == 303
    assert response.headers["location"] == (
        f"https://localhost/topup/return?order={order.id}&topup=completed"
    )
    order = await shop.reload(order)
    assert order.status == "COMPLETED" and order.capture_id
    balances = await shop.balances()
    assert balances["alice"] == 25 * U and balances["receipts"] == -25 * U
    assert balances["acme"] == 0
    # and the webhook of that capture, coming after, changes nothing
    capture = shop.rest.orders[order.paypal_id]["capture"]
    answer = await shop.event("PAYMENT.CAPTURE.COMPLETED", capture)
    assert answer.status_code == 200 and answer.text == "duplicate"
    assert await shop.balances() == balances


async def test_a_capture_delivered_five_times_at_once_is_credited_once(shop):
    # given an order PayPal captured while our own capture call's answer was lost
    order = await shop.order(client_actor(shop.alice), "40")
    shop.rest.approve(order.paypal_id)
    capture = shop.rest.capture(order.paypal_id)
    # when its webhook is delivered five times concurrently, the signing certificate (a name
    # not fetched before) served to the five only once all of them asked for it, so that the
    # five go on to credit it at the same moment
    name = f"race-{uuid.uuid4().hex}"
    shop.rest.serve_certificate(name)
    delivery = shop.rest.delivery(
        "PAYMENT.CAPTURE.COMPLETED",
        capture,
        webhook_id=ACME_APP[2],
        cert_url=shop.rest.cert_url(name),
    )
    shop.rest.fake.hold(CERT_PATH + name, 5)
    answers = await asyncio.gather(*(shop.deliver(*delivery) for _ in range(5)))
    # then every delivery is stored and answered 200, and the money lands once
    assert [a.status_code for a in answers] == [200] * 5
    statuses = sorted(e.status for e in await shop.events())
    assert statuses == ["duplicate"] * 4 + ["processed"]
    assert (await shop.balances())["alice"] == 40 * U
    assert len(shop.rest.fake.received(CERT_PATH + name)) == 5
    async with shop.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Deposit)) == 1
        assert await s.scalar(select(func.count()).select_from(LedgerEntry)) == 1
    # and the payer's late return finds the order settled
    response = await shop.come_back(order)
    assert response.headers["location"].endswith("topup=completed")
    assert (await shop.balances())["alice"] == 40 * U


async def test_a_commission_client_pays_the_operator_and_its_reseller_earns_commission(shop):
    # given Globex (commission 10 %) has no app of its own: its client pays the operator's
    order = await shop.order(client_actor(shop.gina), "100")
    assert order.payee == "operator"
    assert shop.rest.orders[order.paypal_id]["app"] == OPERATOR_APP[0]
    # when Gina pays
    await shop.come_back(order)
    # then she is credited and Globex earns 10.00 in the same entry
    balances = await shop.balances()
    assert balances["gina"] == 100 * U and balances["globex"] == 10 * U
    async with shop.sessions() as s:
        [deposit_id] = await s.scalars(select(Deposit.id))
        assert await deposit_legs(s, deposit_id) == {
            f"client:{shop.gina.id}": 100 * U,
            "operator:client_payments:USD": -100 * U,
            f"reseller:{shop.globex.id}": 10 * U,
            "operator:commission:USD": -10 * U,
        }
    # and a refund of half claws back half the commission
    capture = shop.rest.orders[order.paypal_id]["capture"]
    refund = shop.rest.refund_resource(capture, "50.00")
    answer = await shop.event(
        "PAYMENT.CAPTURE.REFUNDED", refund, webhook_id=OPERATOR_APP[2], resource_type="refund"
    )
    assert answer.text == "processed"
    balances = await shop.balances()
    assert balances["gina"] == 50 * U and balances["globex"] == 5 * U


async def test_a_reseller_tops_up_its_own_balance_by_card(shop):
    # given Acme's owner asks for 200.00 on its own balance
    order = await shop.order(reseller_actor(shop.acme), "200")
    assert order.client_id is None and order.payee == "operator"
    # when it pays by card at PayPal and comes back
    response = await shop.come_back(order)
    # then its balance with the operator grows, as an operator deposit
    assert response.headers["location"].endswith("topup=completed")
    balances = await shop.balances()
    assert balances["acme"] == 200 * U and balances["operator_deposits"] == -200 * U


# --- refunds, reversals, declines ---------------------------------------------------------------


async def _paid(shop, amount: str = "30") -> tuple[PaypalOrder, dict]:
    order = await shop.order(client_actor(shop.alice), amount)
    await shop.come_back(order)
    return order, shop.rest.orders[order.paypal_id]["capture"]


async def test_refunds_never_take_more_than_the_capture(shop):
    _, capture = await _paid(shop, "30")
    refund = shop.rest.refund_resource(capture, "10.00")
    answers = [
        await shop.event("PAYMENT.CAPTURE.REFUNDED", refund, resource_type="refund"),
        await shop.event("PAYMENT.CAPTURE.REFUNDED", refund, resource_type="refund"),
    ]
    assert [a.text for a in answers] == ["processed", "duplicate"]
    assert (await shop.balances())["alice"] == 20 * U
    # a refund beyond what is left is flagged and moves nothing
    too_much = shop.rest.refund_resource(capture, "25.00")
    answer = await shop.event("PAYMENT.CAPTURE.REFUNDED", too_much, resource_type="refund")
    assert answer.status_code == 200 and answer.text == "flagged"
    assert "only 20.00 of that payment is left" in (await shop.events())[-1].reason
    assert (await shop.balances())["alice"] == 20 * U
    # a reversal of the rest takes it all back
    reversal = shop.rest.refund_resource(capture, "20.00")
    answer = await shop.event("PAYMENT.CAPTURE.REVERSED", reversal, resource_type="refund")
    assert answer.text == "processed"
    balances = await shop.balances()
    assert balances["alice"] == 0 and balances["receipts"] == 0
    # and nothing is left for another one
    again = shop.rest.refund_resource(capture, "0.01")
    assert (await shop.event("PAYMENT.CAPTURE.REFUNDED", again, resource_type="refund")).text == (
        "flagged"
    )


async def test_a_capture_shaped_reversal_takes_back_the_capture(shop):
    _, capture = await _paid(shop, "30")
    answer = await shop.event("PAYMENT.CAPTURE.REVERSED", {**capture, "status": "REVERSED"})
    assert answer.text == "processed"
    assert (await shop.balances())["alice"] == 0
    async with shop.sessions() as s:
        external = await s.scalars(select(Deposit.external_id).order_by(Deposit.id))
        assert list(external) == [capture["id"], f"{capture['id']}-reversal"]


@pytest.mark.parametrize("event_type", ["PAYMENT.CAPTURE.DECLINED", "PAYMENT.CAPTURE.DENIED"])
async def test_declined_and_denied_captures_move_nothing(shop, event_type):
    # given a capture PayPal holds as pending when the payer comes back
    order = await shop.order(client_actor(shop.alice), "15")
    shop.rest.capture_status = "PENDING"
    response = await shop.come_back(order)
    assert response.headers["location"].endswith("topup=pending")
    assert (await shop.balances())["alice"] == 0
    # when PayPal declines (or denies) it
    capture = shop.rest.orders[order.paypal_id]["capture"]
    status = event_type.rsplit(".", 1)[1]
    answer = await shop.event(event_type, {**capture, "status": status})
    # then the order says so and no money moved
    assert answer.status_code == 200 and answer.text == "processed"
    assert (await shop.reload(order)).status == status
    assert (await shop.balances())["alice"] == 0
    # and a late COMPLETED of another capture id is not ours
    other = {**capture, "id": "CAPOTHER123", "status": "COMPLETED"}
    answer = await shop.event("PAYMENT.CAPTURE.COMPLETED", other)
    assert answer.text in ("ignored", "flagged")
    assert (await shop.balances())["alice"] == 0


async def test_a_pending_capture_is_credited_when_it_completes(shop):
    order = await shop.order(client_actor(shop.alice), "15")
    shop.rest.capture_status = "PENDING"
    await shop.come_back(order)
    capture = shop.rest.orders[order.paypal_id]["capture"]
    answer = await shop.event("PAYMENT.CAPTURE.COMPLETED", {**capture, "status": "COMPLETED"})
    assert answer.text == "processed"
    assert (await shop.reload(order)).status == "COMPLETED"
    assert (await shop.balances())["alice"] == 15 * U


async def _held(shop: Shop, amount: str = "15") -> dict:
    """A capture PayPal held as pending when the payer came back: nothing credited yet."""
    order = await shop.order(client_actor(shop.alice), amount)
    shop.rest.capture_status = "PENDING"
    await shop.come_back(order)
    return shop.rest.orders[order.paypal_id]["capture"]


async def test_a_refund_told_before_its_capture_completed_waits_for_it(shop):
    # given a capture PayPal held as pending when the payer came back
    capture = await _held(shop)
    # when its refund of 5.00 is delivered before its completion
    refund = shop.rest.refund_resource(capture, "5.00")
    answer = await shop.event("PAYMENT.CAPTURE.REFUNDED", refund, resource_type="refund")
    # then it is kept to wait (PayPal need not deliver it again), and nothing moved
    assert (answer.status_code, answer.text) == (200, "pending")
    [event] = await shop.events()
    assert event.reason == f"waiting for the capture {capture['id']} to be credited"
    assert (await shop.balances())["alice"] == 0
    # when the completion arrives
    completed = await shop.event("PAYMENT.CAPTURE.COMPLETED", {**capture, "status": "COMPLETED"})
    # then the refund is taken from the capture at once, in the same transaction
    assert completed.text == "processed"
    assert [e.status for e in await shop.events()] == ["processed", "processed"]
    assert (await shop.balances())["alice"] == 10 * U
    done = await worker.run_once(shop.sessions, shop.settings, now=utcnow())
    assert done["paypal-checkout"] == 0


async def test_a_refund_whose_capture_never_completes_is_flagged_after_the_wait(shop):
    capture = await _held(shop)
    refund = shop.rest.refund_resource(capture, "5.00")
    await shop.event("PAYMENT.CAPTURE.REFUNDED", refund, resource_type="refund")
    [event] = await shop.events()
    wait = timedelta(days=shop.settings.paypal_correction_wait_days)
    # the worker leaves it waiting until the wait is over
    done = await worker.run_once(shop.sessions, shop.settings, now=event.received_at + wait / 2)
    assert done["paypal-checkout"] == 0
    assert [e.status for e in await shop.events()] == ["pending"]
    done = await worker.run_once(shop.sessions, shop.settings, now=event.received_at + wait)
    assert done["paypal-checkout"] == 1
    [event] = await shop.events()
    assert event.status == "flagged"
    assert event.reason == (
        f"still waiting for the capture {capture['id']} to be credited after 4 days"
    )
    assert (await shop.balances())["alice"] == 0


async def test_a_refund_of_a_capture_whose_answer_was_lost_waits_until_it_is_known(shop):
    # given an order PayPal captured, whose capture's answer never reached us
    order = await shop.order(client_actor(shop.alice), "15")
    shop.rest.approve(order.paypal_id)
    capture = shop.rest.capture(order.paypal_id)
    # when its refund of 5.00 is delivered first, naming only the capture
    refund = shop.rest.refund_resource(capture, "5.00")
    answer = await shop.event("PAYMENT.CAPTURE.REFUNDED", refund, resource_type="refund")
    # then it waits (not verified yet: no order of ours is known for it)
    assert (answer.status_code, answer.text) == (200, "pending")
    [event] = await shop.events()
    assert event.order_id is None
    assert event.reason == f"waiting for the capture {capture['id']} to be known (unverified)"
    done = await worker.run_once(shop.sessions, shop.settings, now=utcnow())
    assert done["paypal-checkout"] == 0
    # when the capture's completion is told, then the worker verifies and applies the refund
    await shop.event("PAYMENT.CAPTURE.COMPLETED", capture)
    assert (await shop.balances())["alice"] == 15 * U
    done = await worker.run_once(shop.sessions, shop.settings, now=utcnow())
    assert done["paypal-checkout"] == 1
    refund_event, _ = await shop.events()
    assert (refund_event.status, refund_event.order_id) == ("processed", order.id)
    assert (await shop.balances())["alice"] == 10 * U


# a capture of 15.00, a refund of 5.00 and a reversal of the 10.00 left, in every order
REST_STORY = ("completed", "refund", "reversal")
REST_ORDERS = [
    order
    for size in (2, 3)
    for told in itertools.combinations(REST_STORY, size)
    for order in itertools.permutations(told)
]


def _rest_story(shop: Shop, capture: dict, ids: dict[str, str], name: str) -> tuple:
    if name == "completed":
        return "PAYMENT.CAPTURE.COMPLETED", {**capture, "status": "COMPLETED"}, {}
    event_type, value = {
        "refund": ("PAYMENT.CAPTURE.REFUNDED", "5.00"),
        "reversal": ("PAYMENT.CAPTURE.REVERSED", "10.00"),
    }[name]
    resource = shop.rest.refund_resource(capture, value, ids[name])
    return event_type, resource, {"resource_type": "refund"}


def _rest_end(told) -> tuple[list[str], int]:
    """The events' statuses (in the story's order) and Alice's balance at the end."""
    paid = "completed" in told
    taken = {"refund": 5, "reversal": 10}
    statuses = ["processed" if paid else "pending" for _ in told]
    return statuses, (15 - sum(taken.get(name, 0) for name in told)) * U if paid else 0


@pytest.mark.parametrize("order", REST_ORDERS, ids=["-".join(order) for order in REST_ORDERS])
async def test_a_capture_and_its_refund_and_reversal_end_the_same_in_every_order(shop, order):
    capture = await _held(shop)
    ids = {"refund": "REFUND1", "reversal": "REVERSAL1"}
    # when the events arrive in this order, then PayPal delivers each again
    for name in order:
        event_type, resource, kw = _rest_story(shop, capture, ids, name)
        await shop.event(event_type, resource, **kw)
    by_name = dict(zip(order, await shop.events(), strict=True))
    statuses = [by_name[name].status for name in REST_STORY if name in order]
    balance = (await shop.balances())["alice"]
    assert (statuses, balance) == _rest_end(order)
    for name in order:
        event_type, resource, kw = _rest_story(shop, capture, ids, name)
        again = await shop.event(event_type, resource, **kw)
        assert again.text in ("duplicate", "pending")
    # then each moved its money once
    assert (await shop.balances())["alice"] == balance
    async with shop.sessions() as s:
        kinds = sorted(await s.scalars(select(Deposit.kind)))
    moved = ["credit", *(n for n in order if n != "completed")] if "completed" in order else []
    assert kinds == sorted(moved)


async def test_a_capture_and_its_corrections_told_five_times_at_once(shop):
    capture = await _held(shop)
    ids = {"refund": "REFUND1", "reversal": "REVERSAL1"}
    deliveries = [
        shop.rest.delivery(event_type, resource, webhook_id=ACME_APP[2], **kw)
        for name in REST_STORY
        for event_type, resource, kw in [_rest_story(shop, capture, ids, name)]
        for _ in range(5)
    ]
    answers = await asyncio.gather(*(shop.deliver(*d) for d in deliveries))
    assert {a.status_code for a in answers} == {200}
    statuses = sorted(e.status for e in await shop.events())
    assert statuses == ["duplicate"] * 12 + ["processed"] * 3
    assert (await shop.balances())["alice"] == 0
    async with shop.sessions() as s:
        assert sorted(await s.scalars(select(Deposit.kind))) == ["credit", "refund", "reversal"]


async def test_an_approved_order_whose_payer_never_came_back_is_captured(shop):
    order = await shop.order(client_actor(shop.alice), "12")
    shop.rest.approve(order.paypal_id)
    resource = {"id": order.paypal_id, "status": "APPROVED", "intent": "CAPTURE"}
    answer = await shop.event("CHECKOUT.ORDER.APPROVED", resource, resource_type="checkout-order")
    assert answer.text == "processed"
    assert (await shop.reload(order)).status == "COMPLETED"
    assert (await shop.balances())["alice"] == 12 * U


# --- signatures -----------------------------------------------------------------------------------


async def _completed_delivery(shop, **kw: Any) -> tuple[bytes, dict[str, str]]:
    order = await shop.order(client_actor(shop.alice), "20")
    shop.rest.approve(order.paypal_id)
    capture = shop.rest.capture(order.paypal_id)
    kw.setdefault("webhook_id", ACME_APP[2])
    return shop.rest.delivery("PAYMENT.CAPTURE.COMPLETED", capture, **kw)


async def _refused(shop, response: httpx.Response, reason: str) -> None:
    assert response.status_code == 400 and response.text == "rejected"
    [event] = await shop.events()
    assert event.status == "rejected" and reason in event.reason, event.reason
    assert (await shop.balances())["alice"] == 0


async def test_a_tampered_body_is_refused(shop):
    body, headers = await _completed_delivery(shop)
    tampered = body.replace(b'"20.00"', b'"2000.00"')
    assert tampered != body
    await _refused(shop, await shop.deliver(tampered, headers), "the signature does not match")


async def test_an_event_signed_for_another_webhook_is_refused(shop):
    body, headers = await _completed_delivery(shop, webhook_id="WHSOMEBODYELSE")
    await _refused(shop, await shop.deliver(body, headers), "the signature does not match")


async def test_a_missing_signature_is_refused(shop):
    body, headers = await _completed_delivery(shop)
    del headers["PAYPAL-TRANSMISSION-SIG"]
    await _refused(shop, await shop.deliver(body, headers), "missing PAYPAL-TRANSMISSION-SIG")


async def test_a_certificate_from_a_foreign_host_is_never_fetched(shop):
    foreign = "http://127.0.0.2:9" + CERT_PATH + "good"
    body, headers = await _completed_delivery(shop, cert_url=foreign)
    await _refused(shop, await shop.deliver(body, headers), "is not PayPal's")
    off_path = shop.rest.fake.url + "/elsewhere/good.pem"
    body, headers = await _completed_delivery(shop, cert_url=off_path)
    answer = await shop.deliver(body, headers)
    assert answer.status_code == 400
    assert shop.rest.fake.received("/elsewhere/good.pem") == []


@pytest.mark.parametrize(
    ("cert", "reason"),
    [
        ("expired", "not valid at validation time"),
        ("foreign", "the certificate does not verify"),
        ("misnamed", "not issued to PayPal's message signer"),
    ],
)
async def test_a_certificate_that_does_not_verify_is_refused(shop, cert, reason):
    body, headers = await _completed_delivery(shop, cert=cert)
    await _refused(shop, await shop.deliver(body, headers), reason)


async def test_a_certificate_that_cannot_be_fetched_is_retried_by_the_worker(shop):
    # given a delivery whose certificate PayPal cannot serve right now
    missing = shop.rest.fake.url + CERT_PATH + "later"
    body, headers = await _completed_delivery(shop, cert_url=missing)
    answer = await shop.deliver(body, headers)
    assert answer.status_code == 503
    [event] = await shop.events()
    assert event.status == "retry" and (await shop.balances())["alice"] == 0
    # when it can, and the worker runs
    shop.rest.serve_certificate("later")
    done = await worker.run_once(shop.sessions, shop.settings, now=utcnow())
    # then the event is verified and credited
    assert done["paypal-checkout"] == 1
    [event] = await shop.events()
    assert event.status == "processed" and (await shop.balances())["alice"] == 20 * U


async def test_an_event_about_no_order_of_ours_is_kept_and_ignored(shop):
    capture = {"id": "CAPNOTOURS", "amount": {"currency_code": "USD", "value": "5.00"}}
    answer = await shop.event("PAYMENT.CAPTURE.COMPLETED", capture)
    assert answer.status_code == 200 and answer.text == "ignored"
    [event] = await shop.events()
    assert event.event_type == "PAYMENT.CAPTURE.COMPLETED" and event.body.startswith(b"{")


# --- orders and apps ------------------------------------------------------------------------------


async def test_orders_need_an_app_a_valid_amount_and_a_payer_in_scope(shop):
    async with transaction(shop.sessions) as s:
        await paypal_credentials.delete_credentials(s, SYSTEM, shop.acme.id)
    with pytest.raises(DomainError, match="has not set up PayPal Checkout"):
        await shop.order(client_actor(shop.alice))
    with pytest.raises(DomainError, match="2 decimal places"):
        await shop.order(client_actor(shop.gina), "10.001")
    with pytest.raises(DomainError, match="client not found"):
        await shop.order(reseller_actor(shop.acme), client_id=shop.gina.id)
    with pytest.raises(DomainError, match="client not found"):
        await shop.order(client_actor(shop.alice), client_id=shop.gina.id)
    assert shop.rest.orders == {}


async def test_paypal_refusing_the_app_is_reported(shop):
    shop.rest.apps[ACME_APP[0]] = "rotated-at-paypal"
    with pytest.raises(DomainError, match="refused the REST app") as caught:
        await shop.order(client_actor(shop.alice))
    assert caught.value.code.value == "PROVIDER_REFUSED"


async def test_a_capture_before_approval_changes_nothing(shop):
    order = await shop.order(client_actor(shop.alice))
    with pytest.raises(DomainError, match="not approved this order yet"):
        await paypal_checkout.capture(
            shop.sessions, client_actor(shop.alice), shop.settings, order.id
        )
    assert (await shop.reload(order)).status == "PAYER_ACTION_REQUIRED"
    with pytest.raises(DomainError, match="not found"):
        await paypal_checkout.capture(
            shop.sessions, client_actor(shop.gina), shop.settings, order.id
        )


async def test_the_client_secret_is_stored_encrypted(shop):
    async with shop.sessions() as s:
        row = await s.scalar(
            select(PaypalCredentials).where(PaypalCredentials.owner == f"reseller:{shop.acme.id}")
        )
    assert ACME_APP[1] not in row.secret_encrypted
    assert secrets.decrypt(shop.settings.secret_key, row.secret_encrypted) == ACME_APP[1]
    with pytest.raises(secrets.SecretUnreadable):  # the key is the installation's own
        secrets.decrypt("another-installation-key", row.secret_encrypted)
    # kept as it is when an update leaves it out
    async with transaction(shop.sessions) as s:
        await paypal_credentials.set_credentials(
            s,
            reseller_actor(shop.acme),
            None,
            {"client_id": "acme-app-2", "webhook_id": "WHACME2"},
            settings=shop.settings,
        )
        row = await paypal_credentials.find(s, f"reseller:{shop.acme.id}")
        assert paypal_credentials.rest_app(row, shop.settings).secret == ACME_APP[1]
    # and a sandbox app is refused while sandbox is off
    with pytest.raises(DomainError, match="sandbox"):
        async with transaction(shop.sessions) as s:
            await paypal_credentials.set_credentials(
                s,
                reseller_actor(shop.acme),
                None,
                {"client_id": "x", "webhook_id": "y", "sandbox": True},
                settings=shop.settings,
            )


async def test_a_capture_is_not_credited_against_an_app_that_was_not_paid(shop):
    # given Alice's order is paid into Acme's app, then Acme moves to the commission model
    order = await shop.order(client_actor(shop.alice), "10")
    async with transaction(shop.sessions) as s:
        await accounts.update_reseller(s, SYSTEM, shop.acme.id, {"billing_model": "commission"})
    # when she comes back, and the capture's webhook arrives
    response = await shop.come_back(order)
    capture = shop.rest.orders[order.paypal_id]["capture"]
    answer = await shop.event("PAYMENT.CAPTURE.COMPLETED", capture)
    # then nothing is credited and the event is flagged for a person
    assert response.headers["location"].endswith("topup=failed")
    assert answer.text == "flagged" and "billing model changed" in (await shop.events())[0].reason
    assert (await shop.balances())["alice"] == 0


async def test_resellers_read_the_deliveries_about_their_orders(shop):
    # given a flagged refund of Alice's payment, and a delivery about no order of ours
    _, capture = await _paid(shop, "10")
    too_much = shop.rest.refund_resource(capture, "11.00")
    await shop.event("PAYMENT.CAPTURE.REFUNDED", too_much, resource_type="refund")
    stray = {"id": "CAPNOTOURS", "amount": {"currency_code": "USD", "value": "5.00"}}
    await shop.event("PAYMENT.CAPTURE.COMPLETED", stray)
    # then Acme reads its flagged one, Globex and Alice none, the operator both
    async with shop.sessions() as s:

        async def seen(actor: Actor, status: str | None = None) -> list[str]:
            stmt = paypal_checkout.events_query(actor, status=status)
            return [e.status for e in await s.scalars(stmt.order_by(PaypalEvent.id))]

        assert await seen(reseller_actor(shop.acme), "flagged") == ["flagged"]
        assert await seen(reseller_actor(shop.globex)) == []
        assert await seen(client_actor(shop.alice)) == []
        assert await seen(SYSTEM) == ["flagged", "ignored"]


async def test_sandbox_orders_work_only_while_sandbox_is_on(shop):
    # given a sandbox installation where Acme uses a sandbox app
    on = dataclasses.replace(shop.settings, paypal_sandbox=True)
    async with transaction(shop.sessions) as s:
        await paypal_credentials.set_credentials(
            s,
            SYSTEM,
            shop.acme.id,
            {"client_id": ACME_APP[0], "webhook_id": ACME_APP[2], "sandbox": True},
            settings=on,
        )
    order = await paypal_checkout.create_order(
        shop.sessions, client_actor(shop.alice), on, amount="8"
    )
    assert order.sandbox
    shop.rest.approve(order.paypal_id)
    capture = shop.rest.capture(order.paypal_id)
    # when sandbox is turned off, its events and captures are refused
    answer = await shop.event("PAYMENT.CAPTURE.COMPLETED", capture)
    assert answer.status_code == 400 and "sandbox" in (await shop.events())[0].reason
    with pytest.raises(DomainError, match="sandbox"):
        await paypal_checkout.capture_order(shop.sessions, shop.settings, order)
    assert (await shop.balances())["alice"] == 0
    # and while it is on, they are credited
    await paypal_checkout.process_event(shop.sessions, on, (await shop.events())[0].id)
    assert (await shop.balances())["alice"] == 8 * U


# --- one deposit path for both channels ---------------------------------------------------------


async def test_a_capture_told_again_by_ipn_is_credited_once_and_its_ipn_refund_debits_it(
    shop, paypal
):
    # given Alice's 25.00 capture, credited on her return, and Acme's IPN receiver set
    order = await shop.order(client_actor(shop.alice), "25")
    await shop.come_back(order)
    capture_id = (await shop.reload(order)).capture_id
    async with transaction(shop.sessions) as s:
        s.add(Brand(reseller_id=shop.acme.id, paypal_receiver_email="sales@acme.test"))
    settings = dataclasses.replace(shop.settings, paypal_ipn_url=paypal.ipn_url)

    async def ipn(**fields: str) -> PaypalIpnMessage:
        body = {
            "payment_status": "Completed",
            "txn_id": capture_id,
            "receiver_email": "sales@acme.test",
            "mc_gross": "25.00",
            "mc_currency": "USD",
            "charset": "windows-1252",
            "custom": paypal_ipn.client_reference(settings.secret_key, shop.alice.id),
            **fields,
        }
        async with transaction(shop.sessions) as s:
            message = await paypal_ipn.receive(s, settings, urlencode(body).encode())
        await paypal_ipn.verify_and_process(shop.sessions, settings, message.id)
        async with shop.sessions() as s:
            found = await s.get(PaypalIpnMessage, message.id)
            assert found is not None
            return found

    # when PayPal also tells it by IPN (the capture id is its txn_id)
    told = await ipn()
    # then it is the same deposit, not a second one
    assert told.status == "duplicate"
    assert (await shop.balances())["alice"] == 25 * U
    # and a refund of 5.00 told by IPN takes back from that capture
    refund = await ipn(
        payment_status="Refunded", txn_id="IPNREFUND1", parent_txn_id=capture_id, mc_gross="-5.00"
    )
    assert refund.status == "debited"
    assert (await shop.balances())["alice"] == 20 * U
    async with shop.sessions() as s:
        kinds = list(await s.scalars(select(Deposit.kind).order_by(Deposit.id)))
    assert kinds == ["credit", "refund"]
