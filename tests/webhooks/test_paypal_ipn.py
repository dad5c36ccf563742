"""PayPal IPN end to end: messages posted to the real app, verified against a real local HTTP
server playing PayPal, and their money checked in the ledger after each."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from datetime import timedelta
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select

from api import worker
from api.app import create_app
from api.db import transaction
from api.domain import paypal_ipn
from api.models import Brand, Deposit, LedgerEntry, PaypalIpnMessage
from tests.factories import (
    assert_ledger_consistent,
    balance_of,
    client_balance,
    deposit_legs,
    make_client,
    make_reseller,
    reseller_balance,
)
from tests.webhooks.paypal_server import DROP, IPN_PATH, SANDBOX_IPN_PATH

pytestmark = pytest.mark.usefixtures("ledger_checked")

U = 1_000_000
RECEIVER = "sales@acme.test"
OPERATOR_RECEIVER = "billing@dialtone.test"


@dataclasses.dataclass
class Shop:
    """A reseller with PayPal set up, one client, and the app PayPal posts to."""

    settings: object
    app: object
    reseller: object
    client: object

    async def post(self, raw: bytes) -> httpx.Response:
        transport = httpx.ASGITransport(app=self.app, client=("173.0.82.126", 443))
        async with httpx.AsyncClient(transport=transport, base_url="https://acme.test") as http:
            return await http.post(
                "/webhooks/paypal/ipn",
                content=raw,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )

    def message(self, **fields: str) -> bytes:
        """An IPN body in windows-1252, as PayPal sends by default; fields override."""
        body = {
            "mc_gross": "10.00",
            "protection_eligibility": "Eligible",
            "payer_id": "LPLWNMTBWMFAY",
            "payment_date": "20:12:59 Jan 13, 2026 PST",
            "payment_status": "Completed",
            "charset": "windows-1252",
            "first_name": "Jürgen",
            "last_name": "Müller",
            "mc_fee": "0.59",
            "notify_version": "3.9",
            "custom": paypal_ipn.client_reference(self.settings.secret_key, self.client.id),
            "payer_status": "verified",
            "business": RECEIVER,
            "quantity": "1",
            "payer_email": "juergen@example.test",
            "txn_id": "61E67681CH3238416",
            "payment_type": "instant",
            "receiver_email": RECEIVER,
            "txn_type": "web_accept",
            "item_name": "Balance top-up",
            "mc_currency": "USD",
            "residence_country": "DE",
            "verify_sign": "AtkOfCXbDm2hu0ZELryHFjY-Vb7PAUvS6nMXgysbElEn9v-1XcmSoGtf",
        }
        body.update(fields)
        encoding = body["charset"] if body["charset"] else "windows-1252"
        return urlencode(body, encoding=encoding).encode("ascii")


@pytest.fixture
async def shop(sessions, settings, paypal):
    settings = dataclasses.replace(
        settings,
        paypal_ipn_url=paypal.ipn_url,
        paypal_sandbox_ipn_url=paypal.sandbox_ipn_url,
    )
    async with transaction(sessions) as s:
        reseller = await make_reseller(s)
        s.add(Brand(reseller_id=reseller.id, paypal_receiver_email=RECEIVER, paypal_amounts=[10]))
        client = await make_client(s, reseller)
    app = create_app(settings)
    yield Shop(settings, app, reseller, client)
    await app.state.engine.dispose()


async def _messages(sessions) -> list[PaypalIpnMessage]:
    async with sessions() as s:
        return list(await s.scalars(select(PaypalIpnMessage).order_by(PaypalIpnMessage.id)))


async def _only_message(sessions) -> PaypalIpnMessage:
    [message] = await _messages(sessions)
    return message


async def _balance(sessions, client) -> int:
    async with sessions() as s:
        await assert_ledger_consistent(s)
        return await client_balance(s, client)


# --- a payment ----------------------------------------------------------------------------------


async def test_a_verified_payment_is_credited_once_though_delivered_five_times(
    shop, sessions, paypal
):
    # given a valid payment message
    raw = shop.message()
    # when PayPal delivers it five times
    for _ in range(5):
        response = await shop.post(raw)
        assert response.status_code == 200
    # then every delivery was stored and verified with the exact bytes, and credited once
    messages = await _messages(sessions)
    assert [m.status for m in messages] == ["credited"] + ["duplicate"] * 4
    assert all(m.raw == raw for m in messages)
    postbacks = paypal.received(IPN_PATH)
    assert [p.body for p in postbacks] == [b"cmd=_notify-validate&" + raw] * 5
    assert await _balance(sessions, shop.client) == 10 * U
    async with sessions() as s:
        assert await balance_of(s, f"reseller:{shop.reseller.id}:receipts") == -10 * U
        assert await reseller_balance(s, shop.reseller) == 0


async def test_five_concurrent_deliveries_credit_once(shop, sessions, paypal):
    # given a valid payment message, and PayPal confirming the five postbacks of it only once
    # all five are in flight (so that the five go on to credit it at the same moment)
    raw = shop.message()
    paypal.hold(IPN_PATH, 5)
    # when it arrives five times at once
    responses = await asyncio.gather(*(shop.post(raw) for _ in range(5)))
    # then all were answered and verified together, and exactly one credited
    assert [r.status_code for r in responses] == [200] * 5
    statuses = sorted(m.status for m in await _messages(sessions))
    assert statuses == ["credited"] + ["duplicate"] * 4
    assert await _balance(sessions, shop.client) == 10 * U
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Deposit)) == 1
        assert await s.scalar(select(func.count()).select_from(LedgerEntry)) == 1


async def test_an_invalid_message_credits_nothing_and_is_recorded(shop, sessions, paypal):
    # given PayPal does not confirm the message (forged)
    paypal.answer_ipn("INVALID")
    # when it arrives
    response = await shop.post(shop.message(mc_gross="1000.00"))
    # then it was answered and stored as invalid, and nothing was credited
    assert response.status_code == 200
    message = await _only_message(sessions)
    assert message.status == "invalid" and "INVALID" in message.reason
    assert message.deposit_id is None
    assert await _balance(sessions, shop.client) == 0


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"receiver_email": "someone@else.test"}, "paid to 'someone@else.test'"),
        ({"mc_currency": "EUR"}, "paid in 'EUR', not in USD"),
        ({"custom": ""}, "not signed by us"),
        ({"mc_gross": "-10.00"}, "a payment of a negative amount"),
        ({"mc_gross": "ten"}, "is not an amount"),
    ],
    ids=["wrong-receiver", "wrong-currency", "no-custom", "negative", "not-an-amount"],
)
async def test_a_payment_that_does_not_check_out_is_flagged(shop, sessions, fields, reason):
    # when a verified payment to the wrong receiver / in the wrong currency / unsigned arrives
    await shop.post(shop.message(**fields))
    # then it is flagged with the reason, and nothing was credited
    message = await _only_message(sessions)
    assert message.status == "flagged"
    assert reason in message.reason
    assert await _balance(sessions, shop.client) == 0


async def test_a_tampered_client_reference_credits_nobody(shop, sessions):
    # given another client of the same reseller, and Alice's signed reference
    async with transaction(sessions) as s:
        other = await make_client(s, shop.reseller)
    signed = paypal_ipn.client_reference(shop.settings.secret_key, shop.client.id)
    tampered = f"c{other.id}." + signed.split(".", 1)[1]
    # when the payer edits the reference to name the other client
    await shop.post(shop.message(custom=tampered))
    # then it is flagged and neither is credited, and the reseller paid sees it
    message = await _only_message(sessions)
    assert message.status == "flagged" and "not signed by us" in message.reason
    assert (message.reseller_id, message.client_id) == (shop.reseller.id, None)
    assert await _balance(sessions, shop.client) == 0
    assert await _balance(sessions, other) == 0


async def test_a_windows_1252_message_is_kept_and_read_in_its_charset(shop, sessions, paypal):
    # given a message whose names are in windows-1252 (ü is the single byte 0xFC)
    raw = shop.message(last_name="Müller", address_street="Königstraße 5")
    assert b"last_name=M%FCller" in raw
    # when it arrives
    await shop.post(raw)
    # then the exact bytes were kept and posted back, and the names read right
    message = await _only_message(sessions)
    assert message.raw == raw and message.charset == "cp1252"
    fields = paypal_ipn.fields_of(message.raw, message.charset)
    assert fields["last_name"] == "Müller" and fields["address_street"] == "Königstraße 5"
    assert paypal.received(IPN_PATH)[0].body.endswith(raw)
    assert message.status == "credited"


async def test_a_utf8_message_is_read_in_utf8(shop, sessions):
    await shop.post(shop.message(charset="UTF-8", last_name="Müller"))
    message = await _only_message(sessions)
    assert message.charset == "utf-8"
    assert paypal_ipn.fields_of(message.raw, message.charset)["last_name"] == "Müller"
    assert message.status == "credited"


async def test_a_pending_payment_waits_then_its_completion_credits_it(shop, sessions):
    # when PayPal says the payment is pending (an eCheck)
    await shop.post(shop.message(payment_status="Pending", pending_reason="echeck"))
    # then nothing is credited yet
    assert [m.status for m in await _messages(sessions)] == ["pending"]
    assert await _balance(sessions, shop.client) == 0
    # when the same transaction completes
    await shop.post(shop.message())
    # then it is credited
    assert [m.status for m in await _messages(sessions)] == ["pending", "credited"]
    assert await _balance(sessions, shop.client) == 10 * U


# --- money going back ---------------------------------------------------------------------------


def _correction(shop: Shop, status: str, txn_id: str, gross: str) -> bytes:
    return shop.message(
        payment_status=status,
        txn_id=txn_id,
        parent_txn_id="61E67681CH3238416",
        mc_gross=gross,
        reason_code="refund" if status == "Refunded" else "chargeback",
    )


async def test_refunds_and_reversals_never_take_back_more_than_the_payment(shop, sessions):
    # given a credited payment of 10.00
    await shop.post(shop.message())
    # when 4.00 is refunded, then 7.00 reversed, then the 6.00 left reversed
    await shop.post(_correction(shop, "Refunded", "REFUND1", "-4.00"))
    await shop.post(_correction(shop, "Reversed", "REVERSE1", "-7.00"))
    await shop.post(_correction(shop, "Reversed", "REVERSE2", "-6.00"))
    # and the last one is delivered again
    await shop.post(_correction(shop, "Reversed", "REVERSE2", "-6.00"))
    # then the 7.00 was refused, and the client is back at zero
    messages = await _messages(sessions)
    assert [m.status for m in messages] == [
        "credited",
        "debited",
        "flagged",
        "debited",
        "duplicate",
    ]
    assert "only 6.00 of that payment is left" in messages[2].reason
    assert await _balance(sessions, shop.client) == 0


async def test_a_refund_told_before_its_payment_waits_and_is_taken_when_it_comes(shop, sessions):
    # when a refund of 4.00 arrives before anything of its payment
    await shop.post(_correction(shop, "Refunded", "REFUND1", "-4.00"))
    # then it waits, visible to the reseller, and nothing moved
    refund = await _only_message(sessions)
    assert refund.status == "pending" and refund.reseller_id == shop.reseller.id
    assert "waiting for the payment 61E67681CH3238416 to be credited" in refund.reason
    assert await _balance(sessions, shop.client) == 0
    # when the payment comes
    await shop.post(shop.message())
    # then the payment is credited and the refund taken from it at once, in that order
    refund, payment = await _messages(sessions)
    assert (payment.status, refund.status) == ("credited", "debited")
    assert await _balance(sessions, shop.client) == 6 * U
    async with sessions() as s:
        kinds = list(await s.scalars(select(Deposit.kind).order_by(Deposit.id)))
    assert kinds == ["credit", "refund"]


async def test_a_refund_told_before_its_payment_is_verified_waits_for_it(shop, sessions, paypal):
    # given a payment whose verification could not complete (PayPal answered 503)
    paypal.answer_ipn(503)
    await shop.post(shop.message())
    # when its refund of 4.00 arrives and is verified first
    await shop.post(_correction(shop, "Refunded", "REFUND1", "-4.00"))
    # then the refund waits, and nothing moved yet
    payment, refund = await _messages(sessions)
    assert (payment.status, refund.status) == ("retry", "pending")
    assert await _balance(sessions, shop.client) == 0
    # when the worker verifies the payment
    await worker.run_once(sessions, shop.settings, now=payment.next_attempt_at)
    # then the payment is credited and the refund taken from it
    payment, refund = await _messages(sessions)
    assert (payment.status, refund.status) == ("credited", "debited")
    assert await _balance(sessions, shop.client) == 6 * U


async def test_a_correction_whose_payment_never_comes_is_flagged_after_the_wait(
    shop, sessions, paypal
):
    # given a refund waiting for its payment, whose verification is given up
    settings = dataclasses.replace(shop.settings, paypal_ipn_max_attempts=1)
    paypal.answer_ipn(503, "VERIFIED")
    paypal.ipn_default = 503
    await shop.post(shop.message())
    await shop.post(_correction(shop, "Refunded", "REFUND1", "-4.00"))
    payment, refund = await _messages(sessions)
    assert (payment.status, refund.status) == ("retry", "pending")
    await worker.run_once(sessions, settings, now=payment.next_attempt_at)
    payment, refund = await _messages(sessions)
    assert (payment.status, refund.status) == ("failed", "pending")
    # when the worker runs just before the wait is over, it still waits
    wait = timedelta(days=settings.paypal_correction_wait_days)
    done = await worker.run_once(sessions, settings, now=refund.received_at + wait - timedelta(1))
    assert done["paypal-ipn"] == 0
    assert [m.status for m in await _messages(sessions)] == ["failed", "pending"]
    # when the wait is over, the worker flags it, and nothing moved
    done = await worker.run_once(sessions, settings, now=refund.received_at + wait)
    assert done["paypal-ipn"] == 1
    payment, refund = await _messages(sessions)
    assert (payment.status, refund.status) == ("failed", "flagged")
    assert refund.reason == (
        "still waiting for the payment 61E67681CH3238416 to be credited after 4 days"
    )
    assert await _balance(sessions, shop.client) == 0


async def test_a_canceled_reversal_told_before_its_reversal_waits_for_it(shop, sessions, paypal):
    # given a credited payment of 10.00, and its reversal, whose verification could not complete
    await shop.post(shop.message())
    paypal.answer_ipn(503)
    await shop.post(_correction(shop, "Reversed", "REVERSE1", "-10.00"))
    # when the reversal is canceled, and that is verified first
    await shop.post(_correction(shop, "Canceled_Reversal", "CANCEL1", "10.00"))
    # then the canceled reversal waits, and the client still has the 10.00
    _, reversal, canceled = await _messages(sessions)
    assert (reversal.status, canceled.status) == ("retry", "pending")
    assert canceled.reason == (
        "waiting for a reversal of the payment 61E67681CH3238416 of at least 10.00"
    )
    assert await _balance(sessions, shop.client) == 10 * U
    # when the worker verifies the reversal
    await worker.run_once(sessions, shop.settings, now=reversal.next_attempt_at)
    # then the reversal took the 10.00 and the canceled reversal gave it back
    statuses = [m.status for m in await _messages(sessions)]
    assert statuses == ["credited", "debited", "reinstated"]
    assert await _balance(sessions, shop.client) == 10 * U
    async with sessions() as s:
        kinds = list(await s.scalars(select(Deposit.kind).order_by(Deposit.id)))
    assert kinds == ["credit", "reversal", "reinstate"]


async def test_a_reversal_and_its_cancellation_both_told_before_the_payment(shop, sessions, paypal):
    # given a payment whose verification could not complete, then its cancellation of a
    # reversal and its reversal (in that order), both verified
    paypal.answer_ipn(503)
    await shop.post(shop.message())
    await shop.post(_correction(shop, "Canceled_Reversal", "CANCEL1", "10.00"))
    await shop.post(_correction(shop, "Reversed", "REVERSE1", "-10.00"))
    assert [m.status for m in await _messages(sessions)] == ["retry", "pending", "pending"]
    # when the worker verifies the payment
    payment = (await _messages(sessions))[0]
    await worker.run_once(sessions, shop.settings, now=payment.next_attempt_at)
    # then it is credited, then reversed, then reinstated
    assert [m.status for m in await _messages(sessions)] == ["credited", "reinstated", "debited"]
    async with sessions() as s:
        kinds = list(await s.scalars(select(Deposit.kind).order_by(Deposit.id)))
    assert kinds == ["credit", "reversal", "reinstate"]
    assert await _balance(sessions, shop.client) == 10 * U


async def test_a_canceled_reversal_credits_back_what_the_reversal_took(shop, sessions):
    # given a payment of 10.00 that was reversed (a chargeback), the client now at zero
    await shop.post(shop.message())
    await shop.post(_correction(shop, "Reversed", "REVERSE1", "-10.00"))
    assert await _balance(sessions, shop.client) == 0
    # when the reversal is canceled (the chargeback was won), told twice
    for _ in range(2):
        await shop.post(_correction(shop, "Canceled_Reversal", "CANCEL1", "10.00"))
    # then the 10.00 is back once
    statuses = [m.status for m in await _messages(sessions)]
    assert statuses == ["credited", "debited", "reinstated", "duplicate"]
    assert await _balance(sessions, shop.client) == 10 * U


# --- every order of a payment and its corrections ----------------------------------------------

# a payment of 10.00, a refund of 4.00, a reversal of the 6.00 left, and that reversal canceled
STORY = ("payment", "refund", "reversal", "canceled")
STORY_ORDERS = [
    order
    for size in (2, 3, 4)
    for told in itertools.combinations(STORY, size)
    for order in itertools.permutations(told)
]


def _story(shop: Shop, name: str) -> bytes:
    if name == "payment":
        return shop.message()
    status, txn_id, gross = {
        "refund": ("Refunded", "REFUND1", "-4.00"),
        "reversal": ("Reversed", "REVERSE1", "-6.00"),
        "canceled": ("Canceled_Reversal", "CANCEL1", "6.00"),
    }[name]
    return _correction(shop, status, txn_id, gross)


def _story_end(told) -> tuple[dict[str, str], int, list[str]]:
    """What every order of these messages ends with: each one's status, the client's balance,
    and the deposits' kinds; the same whatever the order."""
    paid = "payment" in told
    reversed_ = paid and "reversal" in told
    applied = {
        "payment": ("credited", "credit"),
        "refund": ("debited", "refund") if paid else ("pending", None),
        "reversal": ("debited", "reversal") if paid else ("pending", None),
        "canceled": ("reinstated", "reinstate") if reversed_ else ("pending", None),
    }
    statuses = {name: applied[name][0] for name in told}
    balance = 0
    if paid:
        balance = (
            10
            - 4 * ("refund" in told)
            - 6 * ("reversal" in told)
            + 6 * (reversed_ and "canceled" in told)
        )
    kinds = sorted(applied[name][1] for name in told if applied[name][1])
    return statuses, balance * U, kinds


async def _story_state(sessions, shop: Shop) -> tuple[dict[str, str], int, list[str]]:
    names = {"61E67681CH3238416": "payment", "REFUND1": "refund", "REVERSE1": "reversal"}
    names["CANCEL1"] = "canceled"
    statuses: dict[str, set[str]] = {}
    for message in await _messages(sessions):
        statuses.setdefault(names[message.txn_id], set()).add(message.status)
    async with sessions() as s:
        kinds = sorted(await s.scalars(select(Deposit.kind)))
        await assert_ledger_consistent(s)
        balance = await client_balance(s, shop.client)
    # each message's one status besides the duplicates of its retries
    firsts = {name: (found - {"duplicate"} or found).pop() for name, found in statuses.items()}
    return firsts, balance, kinds


@pytest.mark.parametrize("order", STORY_ORDERS, ids=["-".join(order) for order in STORY_ORDERS])
async def test_a_payment_and_its_corrections_end_the_same_in_every_order(shop, sessions, order):
    # when the messages arrive in this order, then PayPal retries each of them
    for name in order:
        await shop.post(_story(shop, name))
    end = await _story_state(sessions, shop)
    for name in order:
        await shop.post(_story(shop, name))
    # then each was applied once, as it would have been in PayPal's own order
    assert end == _story_end(order)
    assert await _story_state(sessions, shop) == end
    retried = [m.status for m in await _messages(sessions)][len(order) :]
    assert all(status in ("duplicate", "pending") for status in retried)


async def test_a_payment_and_its_corrections_told_five_times_at_once(shop, sessions, paypal):
    # given the four messages of a payment, each delivered five times, all verified at once
    posts = [_story(shop, name) for name in STORY for _ in range(5)]
    paypal.hold(IPN_PATH, len(posts), timeout=60)
    # when they all arrive at the same moment
    responses = await asyncio.gather(*(shop.post(raw) for raw in posts))
    # then each was applied once, and the end is PayPal's order's
    assert [r.status_code for r in responses] == [200] * len(posts)
    assert await _story_state(sessions, shop) == _story_end(STORY)
    statuses = sorted(m.status for m in await _messages(sessions))
    assert statuses == sorted(["credited", "debited", "debited", "reinstated"] + ["duplicate"] * 16)


FULL_ORDERS = list(itertools.permutations(STORY))


@pytest.mark.parametrize("order", FULL_ORDERS, ids=["-".join(order) for order in FULL_ORDERS])
async def test_a_commission_is_clawed_back_and_earned_again_the_same_in_every_order(
    shop, sessions, order
):
    # given a 10 % commission reseller's client, who pays the operator's PayPal
    async with transaction(sessions) as s:
        reseller = await make_reseller(s, "commission", commission_pct="10")
        client = await make_client(s, reseller)
        s.add(Brand(reseller_id=None, paypal_receiver_email=OPERATOR_RECEIVER))
    custom = paypal_ipn.client_reference(shop.settings.secret_key, client.id)
    # a payment of 10.00 (commission 1.00), a refund of 3.33, a reversal of the 6.67 left,
    # and that reversal canceled
    fields = {
        "payment": {"mc_gross": "10.00"},
        "refund": {"payment_status": "Refunded", "txn_id": "REFUND1", "mc_gross": "-3.33"},
        "reversal": {"payment_status": "Reversed", "txn_id": "REVERSE1", "mc_gross": "-6.67"},
        "canceled": {
            "payment_status": "Canceled_Reversal",
            "txn_id": "CANCEL1",
            "mc_gross": "6.67",
        },
    }
    # when they arrive in this order
    for name in order:
        parent = {} if name == "payment" else {"parent_txn_id": "61E67681CH3238416"}
        await shop.post(
            shop.message(custom=custom, receiver_email=OPERATOR_RECEIVER, **parent, **fields[name])
        )
    # then the client holds 6.67 and the reseller keeps the commission on it, 0.667
    assert await _balance(sessions, client) == 6_670_000
    async with sessions() as s:
        assert await reseller_balance(s, reseller) == 667_000
        assert await balance_of(s, "operator:commission:USD") == -667_000
    assert {m.status for m in await _messages(sessions)} == {"credited", "debited", "reinstated"}


# --- verification that could not complete -----------------------------------------------------


async def test_the_worker_retries_a_message_whose_verification_failed(shop, sessions, paypal):
    # given PayPal answers HTTP 503, then drops the connection, then confirms
    paypal.answer_ipn(503, DROP, "VERIFIED")
    response = await shop.post(shop.message())
    # then the message was still answered 200, and waits for a retry
    assert response.status_code == 200
    first = await _only_message(sessions)
    assert (first.status, first.attempts) == ("retry", 1)
    assert "HTTP 503" in first.reason
    assert first.next_attempt_at - first.received_at >= timedelta(seconds=59)
    # when the worker runs before it is due, nothing happens
    done = await worker.run_once(sessions, shop.settings, now=first.next_attempt_at - timedelta(1))
    assert done["paypal-ipn"] == 0
    # when it runs at the due time, the dropped connection postpones it again, longer
    await worker.run_once(sessions, shop.settings, now=first.next_attempt_at)
    second = await _only_message(sessions)
    assert (second.status, second.attempts) == ("retry", 2)
    assert second.next_attempt_at - first.next_attempt_at == timedelta(minutes=2)
    assert await _balance(sessions, shop.client) == 0
    # when it runs again when due, PayPal confirms and the payment is credited
    done = await worker.run_once(sessions, shop.settings, now=second.next_attempt_at)
    assert done["paypal-ipn"] == 1
    third = await _only_message(sessions)
    assert (third.status, third.attempts) == ("credited", 3)
    assert len(paypal.received(IPN_PATH)) == 3
    assert await _balance(sessions, shop.client) == 10 * U


async def test_the_worker_gives_up_after_the_last_attempt(shop, sessions, paypal):
    settings = dataclasses.replace(shop.settings, paypal_ipn_max_attempts=2)
    paypal.ipn_default = 500
    await shop.post(shop.message())
    message = await _only_message(sessions)
    await worker.run_once(sessions, settings, now=message.next_attempt_at)
    message = await _only_message(sessions)
    assert message.status == "failed" and "gave up after 2 attempts" in message.reason
    done = await worker.run_once(sessions, settings, now=message.received_at + timedelta(1))
    assert done["paypal-ipn"] == 0


async def test_the_worker_verifies_a_message_the_endpoint_never_got_to(shop, sessions, paypal):
    # given a stored message that was never verified (the process stopped)
    async with transaction(sessions) as s:
        message = await paypal_ipn.receive(s, shop.settings, shop.message())
    # when the worker runs a while later, then it verifies and credits it
    later = message.received_at + paypal_ipn.STALE_RECEIVED
    done = await worker.run_once(sessions, shop.settings, now=later)
    assert done["paypal-ipn"] == 1
    assert (await _only_message(sessions)).status == "credited"
    assert await _balance(sessions, shop.client) == 10 * U


# --- sandbox ------------------------------------------------------------------------------------


async def test_a_sandbox_message_is_refused_while_sandbox_is_off(shop, sessions, paypal):
    await shop.post(shop.message(test_ipn="1"))
    message = await _only_message(sessions)
    assert message.status == "refused" and "sandbox" in message.reason
    assert paypal.received() == []  # not even verified
    assert await _balance(sessions, shop.client) == 0


async def test_a_sandbox_message_is_verified_at_the_sandbox_when_it_is_on(shop, sessions, paypal):
    shop.app.state.settings = dataclasses.replace(shop.settings, paypal_sandbox=True)
    await shop.post(shop.message(test_ipn="1"))
    assert (await _only_message(sessions)).status == "credited"
    assert [r.path for r in paypal.received()] == [SANDBOX_IPN_PATH]


# --- the commission model -----------------------------------------------------------------------


async def test_a_commission_client_pays_the_operator_and_the_reseller_earns_commission(
    shop, sessions
):
    # given a 10 % commission reseller's client, and the operator's PayPal on its default brand
    async with transaction(sessions) as s:
        reseller = await make_reseller(s, "commission", commission_pct="10")
        client = await make_client(s, reseller)
        s.add(Brand(reseller_id=None, paypal_receiver_email=OPERATOR_RECEIVER))
    custom = paypal_ipn.client_reference(shop.settings.secret_key, client.id)
    # when the client pays 25.00 to the operator, and a second payment to the reseller arrives
    await shop.post(shop.message(custom=custom, mc_gross="25.00", receiver_email=OPERATOR_RECEIVER))
    await shop.post(shop.message(custom=custom, txn_id="SECOND", receiver_email=RECEIVER))
    # then the first credits the client and the reseller's commission in one entry
    first, second = await _messages(sessions)
    assert first.status == "credited" and first.reseller_id == reseller.id
    assert second.status == "flagged" and OPERATOR_RECEIVER in second.reason
    assert await _balance(sessions, client) == 25 * U
    async with sessions() as s:
        assert await reseller_balance(s, reseller) == 2_500_000
        assert await balance_of(s, "operator:client_payments:USD") == -25 * U
        assert await deposit_legs(s, first.deposit_id) == {
            f"client:{client.id}": 25 * U,
            "operator:client_payments:USD": -25 * U,
            f"reseller:{reseller.id}": 2_500_000,
            "operator:commission:USD": -2_500_000,
        }
    # and a refund of 5.00 claws back 0.50 of it
    await shop.post(
        shop.message(
            custom=custom,
            payment_status="Refunded",
            txn_id="REFUND1",
            parent_txn_id=first.txn_id,
            mc_gross="-5.00",
            receiver_email=OPERATOR_RECEIVER,
        )
    )
    assert await _balance(sessions, client) == 20 * U
    async with sessions() as s:
        assert await reseller_balance(s, reseller) == 2_000_000


# --- the endpoint itself ------------------------------------------------------------------------


async def test_the_endpoint_refuses_empty_and_oversized_bodies(shop, sessions, paypal):
    assert (await shop.post(b"")).status_code == 400
    too_big = b"x=" + b"a" * paypal_ipn.MAX_BODY_BYTES
    assert (await shop.post(too_big)).status_code == 413
    assert await _messages(sessions) == []
    assert paypal.received() == []
