"""Topping up in Chromium through the local stand-in for PayPal (``tests.webhooks.paypal_server``):
the demo client picks an amount on the Top up page, the form goes to the stand-in's "PayPal",
which sends the browser back to the result page; the page waits, PayPal's IPN message lands
(verified by postback at the stand-in), and the balance on the page changes without a reload.
Then the payment history, and the pages in Hebrew. Screenshots: topup-*, topup-return-*,
payments-* in build/screenshots/portal/."""

from __future__ import annotations

import dataclasses
from urllib.parse import parse_qs, urlencode

import httpx
import pytest
from playwright.async_api import expect
from sqlalchemy import select, update

from api.db import transaction
from api.domain import brands, paypal_credentials, paypal_ipn
from api.domain.actors import SYSTEM
from api.models import Brand, Client
from tests.frontends.conftest import ACME_HOST, BROWSER, shot
from tests.webhooks import paypal_server
from tests.webhooks.paypal_certs import TestAuthority
from tests.webhooks.paypal_rest import FakeRest
from tests.webhooks.paypal_server import Reply

pytestmark = BROWSER

RECEIVER = "sales@acme.test"
FORM_PATH = "/webscr"
CLIENT = "Blue Harbor Dental"
APP = ("acme-app", "acme-secret-1", "WHACME1")


@pytest.fixture
def paypal():
    yield from paypal_server.running()


@pytest.fixture
def settings(settings, paypal):
    """The suite's settings, PayPal's form, postback and REST API at the stand-in."""
    return dataclasses.replace(
        settings,
        paypal_ipn_url=paypal.ipn_url,
        paypal_form_url=paypal.url + FORM_PATH,
        paypal_api_url=paypal.url,
        paypal_sandbox_api_url=paypal.url,
    )


@pytest.fixture(scope="session")
def authority() -> TestAuthority:
    return TestAuthority()


@pytest.fixture
async def checkout(sessions, settings, demo_world, paypal, authority, server):
    """Acme's PayPal app at the stand-in, whose approval page approves the order and sends
    the payer to the order's return address, as PayPal does."""
    rest = FakeRest(paypal, authority)
    rest.add_app(*APP[:2])
    async with transaction(sessions) as s:
        acme_id = await s.scalar(select(Client.reseller_id).where(Client.name == CLIENT))
        await paypal_credentials.set_credentials(
            s,
            SYSTEM,
            acme_id,
            {"client_id": APP[0], "client_secret": APP[1], "webhook_id": APP[2]},
            settings=settings,
        )

    def approve(request) -> Reply:
        order_id = parse_qs(request.query)["token"][0]
        rest.approve(order_id)
        back = rest.orders[order_id]["request"]["payment_source"]["paypal"]["experience_context"]
        return Reply(status=302, headers={"Location": f"{back['return_url']}?token={order_id}"})

    paypal.route("GET", "/checkoutnow", approve)
    return rest


@pytest.fixture
async def button(sessions, demo_world, paypal, server):
    """Acme offers 10, 25 and 50 by PayPal button; the stand-in plays PayPal's payment page:
    it keeps the form it is sent and sends the browser to the form's return address."""
    async with transaction(sessions) as s:
        client = await s.scalar(select(Client).where(Client.name == CLIENT))
        await s.execute(
            update(Brand)
            .where(Brand.reseller_id == client.reseller_id)
            .values(paypal_receiver_email=RECEIVER, paypal_amounts=[10, 25, 50])
        )
    posted: list[dict[str, str]] = []

    def pay(request) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        posted.append(form)
        return Reply(status=302, headers={"Location": form["return"]})

    paypal.route("POST", FORM_PATH, pay)
    return posted


@pytest.fixture(autouse=True)
def public_address(monkeypatch, server):
    """The app's public address (https://acme.localhost in its links to PayPal) is, in the
    test, the local server: http://acme.localhost:<port>."""

    async def base_url(session, reseller_id, *, settings):
        return f"http://{ACME_HOST}:{server}"

    monkeypatch.setattr(brands, "reseller_base_url", base_url)


async def test_a_paypal_top_up_shows_on_the_page_without_a_reload(
    client_page, button, server, settings, paypal
):
    page = client_page
    before = await page.locator("#balance .figure").inner_text()
    # the client opens Top up from the menu and sees the amounts as buttons
    await page.get_by_role("navigation").get_by_role("link", name="Top up").click()
    await page.wait_for_url("**/topup")
    buttons = page.locator("#paypal-form button")
    assert await buttons.all_inner_texts() == ["$10.00", "$25.00", "$50.00"]
    await shot(page, "topup-en")
    # picks $25.00: the form goes to PayPal, which sends the browser back to the result page
    await buttons.nth(1).click()
    await page.wait_for_url("**/topup/return?**")
    [form] = button
    assert form["amount"] == "25.00" and form["business"] == RECEIVER
    assert form["notify_url"] == f"http://{ACME_HOST}:{server}/webhooks/paypal/ipn"
    # the page waits for PayPal's word, and asks again by itself
    await expect(page.locator("#topup-outcome")).to_contain_text("Waiting for PayPal")
    assert await page.locator("#balance .figure").inner_text() == before
    await page.evaluate("window.notReloaded = true")
    # PayPal's IPN message lands (the app verifies it at the stand-in by postback)
    body = urlencode(
        {
            "mc_gross": form["amount"],
            "payment_status": "Completed",
            "charset": "utf-8",
            "custom": form["custom"],
            "business": RECEIVER,
            "receiver_email": RECEIVER,
            "txn_id": "9BR0WSER0000001",
            "txn_type": "web_accept",
            "item_name": form["item_name"],
            "mc_currency": form["currency_code"],
        }
    )
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server}") as http:
        answer = await http.post(
            "/webhooks/paypal/ipn",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded", "Host": ACME_HOST},
        )
    assert answer.status_code == 200
    # then, on the same page, the outcome and the balance change, and the asking stops
    outcome = page.locator("#topup-outcome")
    await expect(outcome).to_contain_text("Thank you! $25.00 has been added", timeout=15_000)
    after = await page.locator("#balance .figure").inner_text()
    assert after != before
    assert await page.evaluate("window.notReloaded === true")
    assert await page.locator("#topup-progress").get_attribute("hx-get") is None
    assert paypal.received(paypal_server.IPN_PATH)  # verified by postback
    await shot(page, "topup-return-en")
    # the history lists it first
    await page.get_by_role("navigation").get_by_role("link", name="Payments").click()
    first = page.locator("#payments-table tbody tr").first
    await expect(first).to_contain_text("$25.00")
    await expect(first).to_contain_text("PayPal")
    await expect(first).to_contain_text("Completed")
    await shot(page, "payments-en")
    # and in Hebrew: right to left, the amounts left to right
    await page.get_by_label("Language").select_option("he")
    await page.get_by_role("button", name="Change").click()
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    await expect(page.locator("#payments-title")).to_have_text("היסטוריית תשלומים")
    await shot(page, "payments-he")
    await page.goto("/topup")
    await expect(page.get_by_role("heading", name="תשלום באמצעות PayPal")).to_be_visible()
    await shot(page, "topup-he")
    await page.goto(f"/topup/return?{urlencode({'via': 'paypal', 'after': 'none'})}")
    await shot(page, "topup-return-he")
    assert paypal_ipn.read_client_reference(settings.secret_key, form["custom"]) is not None


async def test_a_card_top_up_by_checkout_comes_back_completed(client_page, checkout, server):
    page = client_page
    before = await page.locator("#balance .figure").inner_text()
    await page.goto("/topup")
    # the client types 12.50 and goes on to PayPal's page, which approves and sends it back
    await page.get_by_label("Amount (USD)").fill("12.50")
    await shot(page, "topup-checkout-en")
    await page.get_by_role("button", name="Continue to payment").click()
    await page.wait_for_url("**/topup/return?**")
    await expect(page.locator("#topup-outcome")).to_contain_text(
        "Thank you! $12.50 has been added to your balance."
    )
    assert await page.locator("#balance .figure").inner_text() != before
    [order] = checkout.orders.values()
    assert order["amount"] == {"currency_code": "USD", "value": "12.50"}
    assert order["status"] == "COMPLETED"
    # a wrong amount is refused on the page, with the message tied to the field
    await page.goto("/topup")
    await page.get_by_label("Amount (USD)").fill("12.345")
    await page.get_by_role("button", name="Continue to payment").click()
    await expect(page.locator("#checkout-error")).to_have_text(
        "Enter an amount such as 25 or 25.50."
    )
    assert await page.get_by_label("Amount (USD)").get_attribute("aria-invalid") == "true"
    await shot(page, "topup-checkout-error-en")
    assert len(checkout.orders) == 1
