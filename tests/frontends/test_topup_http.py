"""The Top up page, its result page and the payment history over HTTP, against the local
stand-in for PayPal (``tests.webhooks.paypal_server``: the IPN postback and Orders v2), with
Acme's demo client: the amounts offered, the PayPal form's fields, a Checkout top-up from the
button to the balance, the IPN result page waiting for its message, and the history's pages."""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
from html import unescape
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from sqlalchemy import select, update

from api.app import create_app
from api.db import transaction
from api.domain import demo, paypal_credentials, paypal_ipn
from api.domain import payments as payments_domain
from api.domain.actors import SYSTEM
from api.models import Brand, Client, PaypalOrder
from tests.factories import assert_ledger_consistent, client_balance, reseller_actor
from tests.frontends.conftest import ACME_HOST, GLOBEX_HOST, Browser
from tests.webhooks import paypal_server
from tests.webhooks.paypal_certs import TestAuthority
from tests.webhooks.paypal_rest import FakeRest

U = 1_000_000
RECEIVER = "sales@acme.test"
APP = ("acme-app", "acme-secret-1", "WHACME1")
FIELD_RE = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@pytest.fixture(scope="session")
def authority() -> TestAuthority:
    return TestAuthority()


@pytest.fixture
def paypal():
    yield from paypal_server.running()


@dataclasses.dataclass
class Shop:
    app: object
    settings: object
    sessions: object
    rest: FakeRest
    paypal: object
    acme_id: int
    client: Client
    opened: list

    def browse(self, host: str = ACME_HOST) -> Browser:
        self.opened.append(Browser(self.app, host))
        return self.opened[-1]

    async def signed_in(self) -> Browser:
        browser = self.browse()
        assert (await browser.login(demo.CLIENT_EMAIL)).status_code == 303
        return browser

    async def balance(self) -> int:
        async with self.sessions() as s:
            await assert_ledger_consistent(s)
            return await client_balance(s, self.client)

    def ipn(self, txn_id: str, gross: str, **fields: str) -> bytes:
        body = {
            "mc_gross": gross,
            "payment_status": "Completed",
            "charset": "utf-8",
            "custom": paypal_ipn.client_reference(self.settings.secret_key, self.client.id),
            "business": RECEIVER,
            "receiver_email": RECEIVER,
            "txn_id": txn_id,
            "txn_type": "web_accept",
            "item_name": "Balance top-up",
            "mc_currency": "USD",
            "payer_email": "dana@example.test",
        }
        body.update(fields)
        return urlencode(body).encode()

    async def deliver_ipn(self, raw: bytes) -> None:
        transport = httpx.ASGITransport(app=self.app, client=("173.0.82.126", 443))
        async with httpx.AsyncClient(transport=transport, base_url=f"https://{ACME_HOST}") as h:
            answer = await h.post(
                "/webhooks/paypal/ipn",
                content=raw,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        assert answer.status_code == 200


async def _set_up(sessions, settings, *, button: bool, checkout: bool) -> tuple[int, Client]:
    async with transaction(sessions) as s:
        client = await s.scalar(select(Client).where(Client.name == "Blue Harbor Dental"))
        acme_id = client.reseller_id
        # the demo offers 10, 25 and 50 to sales@acme.test; without the button: nothing
        await s.execute(
            update(Brand)
            .where(Brand.reseller_id == acme_id)
            .values(
                paypal_receiver_email=RECEIVER if button else "",
                paypal_amounts=[10, 25, 50] if button else [],
            )
        )
        if checkout:
            await paypal_credentials.set_credentials(
                s,
                SYSTEM,
                acme_id,
                {"client_id": APP[0], "client_secret": APP[1], "webhook_id": APP[2]},
                settings=settings,
            )
    return acme_id, client


async def _shop(sessions, settings, paypal, authority, *, button=True, checkout=True):
    settings = dataclasses.replace(
        settings,
        paypal_ipn_url=paypal.ipn_url,
        paypal_sandbox_ipn_url=paypal.sandbox_ipn_url,
        paypal_api_url=paypal.url,
        paypal_sandbox_api_url=paypal.url,
        paypal_form_url=paypal.url + "/webscr",
    )
    rest = FakeRest(paypal, authority)
    rest.add_app(APP[0], APP[1])
    acme_id, client = await _set_up(sessions, settings, button=button, checkout=checkout)
    app = create_app(settings)
    return Shop(app, settings, sessions, rest, paypal, acme_id, client, [])


@pytest.fixture
async def shop(sessions, settings, paypal, authority, demo_world):
    made = await _shop(sessions, settings, paypal, authority)
    yield made
    for browser in made.opened:
        await browser.http.aclose()
    await made.app.state.engine.dispose()


def _money(micros: int) -> str:
    return f"${Decimal(micros) / U:,.2f}"


def _fields(html: str) -> dict[str, str]:
    return {name: unescape(value) for name, value in FIELD_RE.findall(html)}


def _polls(html: str) -> bool:
    return 'hx-get="/topup/progress' in html


# --- the Top up page --------------------------------------------------------------------------


async def test_the_page_offers_the_resellers_amounts_as_a_paypal_form(shop):
    browser = await shop.signed_in()
    page = await browser.http.get("/topup")
    assert page.status_code == 200
    # the balance is on the page, and the menu leads here
    assert _money(await shop.balance()) in page.text
    assert 'href="/topup" aria-current="page"' in page.text
    # one button per amount of the brand, each the amount PayPal is to charge
    form = page.text[page.text.index('id="paypal-form"') :]
    assert f'action="{shop.paypal.url}/webscr"' in page.text
    for value, shown in (("10.00", "$10.00"), ("25.00", "$25.00"), ("50.00", "$50.00")):
        assert f'name="amount" value="{value}"><bdi>{shown}</bdi>' in form
    # PayPal's fields: who is paid, in what, for whom (a reference we signed), and where to
    fields = _fields(form.split("</form>")[0])
    assert fields["cmd"] == "_xclick" and fields["business"] == RECEIVER and fields["rm"] == "1"
    assert fields["currency_code"] == "USD" and fields["item_name"] == "Balance top-up"
    named = paypal_ipn.read_client_reference(shop.settings.secret_key, fields["custom"])
    assert named == shop.client.id
    assert fields["notify_url"] == f"https://{ACME_HOST}/webhooks/paypal/ipn"
    back = urlsplit(fields["return"])
    assert (back.netloc, back.path) == (ACME_HOST, "/topup/return")
    assert parse_qs(back.query)["via"] == ["paypal"] and parse_qs(back.query)["after"]
    assert fields["cancel_return"] == f"https://{ACME_HOST}/topup/return?topup=canceled"
    # and Checkout, the reseller having set up its app
    assert 'action="/topup/checkout"' in page.text and 'id="checkout-amount"' in page.text


async def test_without_paypal_set_up_the_page_says_how_to_top_up(
    sessions, settings, paypal, authority, demo_world
):
    shop = await _shop(sessions, settings, paypal, authority, button=False, checkout=False)
    try:
        browser = await shop.signed_in()
        page = await browser.http.get("/topup")
        assert page.status_code == 200
        assert "Online payments are not available yet" in page.text
        assert "paypal-form" not in page.text and "/topup/checkout" not in page.text
    finally:
        await shop.app.state.engine.dispose()


async def test_pages_ask_to_sign_in_and_another_brand_shows_nothing(shop):
    for path in ("/topup", "/payments", "/topup/return?via=paypal", "/topup/progress?order=1"):
        page = await shop.browse().http.get(path)
        assert page.status_code == 303 and page.headers["location"] == "/login", path
    # Acme's client signed in on Globex's host is not let in
    globex = shop.browse(GLOBEX_HOST)
    assert (await globex.login(demo.CLIENT_EMAIL)).status_code == 400
    assert (await globex.http.get("/payments")).headers["location"] == "/login"


# --- Checkout ---------------------------------------------------------------------------------


async def test_a_checkout_top_up_lands_in_the_balance_and_the_history(shop):
    before = await shop.balance()
    browser = await shop.signed_in()
    token = await browser.csrf("/topup")
    # the payer asks for 25.50 and is sent to PayPal to approve it
    sent = await browser.http.post("/topup/checkout", data={"csrf_token": token, "amount": "25.50"})
    assert sent.status_code == 303
    assert sent.headers["location"].startswith(shop.paypal.url + "/checkoutnow?token=")
    paypal_id = parse_qs(urlsplit(sent.headers["location"]).query)["token"][0]
    assert shop.rest.orders[paypal_id]["amount"] == {"currency_code": "USD", "value": "25.50"}
    # approves, and PayPal sends them back: the order is captured and credited
    shop.rest.approve(paypal_id)
    back = await browser.http.get("/webhooks/paypal/return", params={"token": paypal_id})
    assert back.status_code == 303
    where = urlsplit(back.headers["location"])
    assert (where.netloc, where.path) == (ACME_HOST, "/topup/return")
    assert parse_qs(where.query)["topup"] == ["completed"]
    assert await shop.balance() == before + 25_500_000
    # the result page says so, with the new balance, and does not ask again
    result = await browser.http.get(f"{where.path}?{where.query}")
    assert "Thank you! $25.50 has been added to your balance." in result.text
    assert _money(before + 25_500_000) in result.text and not _polls(result.text)
    # the history lists it first, paid by card or PayPal account, completed
    history = await browser.http.get("/payments")
    first_row = history.text.split("<tbody>")[1].split("</tr>")[0]
    assert "$25.50" in first_row and "Card or PayPal account" in first_row
    assert "Completed" in first_row


async def test_a_pending_capture_waits_and_a_declined_one_says_so(shop):
    browser = await shop.signed_in()
    before = await shop.balance()
    for status, expected in (("PENDING", "Waiting for PayPal"), ("DECLINED", "was declined")):
        shop.rest.capture_status = status
        token = await browser.csrf("/topup")
        sent = await browser.http.post(
            "/topup/checkout", data={"csrf_token": token, "amount": "10"}
        )
        paypal_id = parse_qs(urlsplit(sent.headers["location"]).query)["token"][0]
        shop.rest.approve(paypal_id)
        back = await browser.http.get("/webhooks/paypal/return", params={"token": paypal_id})
        where = urlsplit(back.headers["location"])
        result = await browser.http.get(f"{where.path}?{where.query}")
        assert expected in result.text, status
        # only a pending one is asked about again
        assert _polls(result.text) == (status == "PENDING")
    assert await shop.balance() == before


async def test_a_canceled_checkout_and_someone_elses_order(shop):
    browser = await shop.signed_in()
    token = await browser.csrf("/topup")
    sent = await browser.http.post("/topup/checkout", data={"csrf_token": token, "amount": "10"})
    paypal_id = parse_qs(urlsplit(sent.headers["location"]).query)["token"][0]
    back = await browser.http.get("/webhooks/paypal/cancel", params={"token": paypal_id})
    where = urlsplit(back.headers["location"])
    result = await browser.http.get(f"{where.path}?{where.query}")
    assert "You canceled the payment. Nothing was charged." in result.text
    assert not _polls(result.text)
    # an order of another client (here: one that is not this client's) is not found
    async with transaction(shop.sessions) as s:
        other = await s.scalar(select(Client).where(Client.name != "Blue Harbor Dental"))
        row = await s.scalar(select(PaypalOrder).where(PaypalOrder.paypal_id == paypal_id))
        row.client_id = other.id
    result = await browser.http.get(f"/topup/return?order={row.id}&topup=completed")
    assert "This payment could not be found." in result.text and not _polls(result.text)
    for bad in ("abc", "0", "99999999999999999999999"):
        page = await browser.http.get(f"/topup/return?order={bad}")
        assert page.status_code == 200 and "could not be found" in page.text


async def test_a_wrong_amount_or_form_is_refused_with_a_message(shop):
    browser = await shop.signed_in()
    token = await browser.csrf("/topup")
    for amount in ("abc", "0", "-5", "10.123"):
        page = await browser.http.post(
            "/topup/checkout", data={"csrf_token": token, "amount": amount}
        )
        assert page.status_code == 400, amount
        assert "Enter an amount such as 25 or 25.50." in page.text
        assert f'value="{amount}"' in page.text  # what was typed is kept
    forged = await browser.http.post("/topup/checkout", data={"csrf_token": "x", "amount": "10"})
    assert forged.status_code == 403 and "This form has expired" in forged.text
    assert shop.rest.orders == {}


async def test_an_amount_is_read_in_the_pages_language(shop):
    browser = await shop.signed_in()
    browser.http.cookies.set("dialtone_lang", "fr", domain=ACME_HOST)
    token = await browser.csrf("/topup")
    sent = await browser.http.post("/topup/checkout", data={"csrf_token": token, "amount": "12,50"})
    assert sent.status_code == 303
    [order] = shop.rest.orders.values()
    assert order["amount"]["value"] == "12.50"


# --- the PayPal button (IPN) ------------------------------------------------------------------


async def test_the_result_page_waits_for_the_ipn_then_shows_the_new_balance(shop):
    browser = await shop.signed_in()
    page = await browser.http.get("/topup")
    back = urlsplit(_fields(page.text)["return"])
    before = await shop.balance()
    # the payer paid 25.00 at PayPal and is back before PayPal's message
    result = await browser.http.get(f"{back.path}?{back.query}")
    assert "Waiting for PayPal to confirm your payment." in result.text
    assert _money(before) in result.text and _polls(result.text)
    progress = unescape(re.search(r'hx-get="([^"]+)"', result.text).group(1))
    panel = await browser.http.get(progress)
    assert "Waiting for PayPal" in panel.text and "<html" not in panel.text
    # PayPal's message lands: the next time the panel asks, it shows the money, and stops
    await shop.deliver_ipn(shop.ipn("7TX11111AA2222222", "25.00"))
    assert await shop.balance() == before + 25 * U
    panel = await browser.http.get(progress)
    assert "Thank you! $25.00 has been added to your balance." in panel.text
    assert _money(before + 25 * U) in panel.text and not _polls(panel.text)
    history = await browser.http.get("/payments")
    first_row = history.text.split("<tbody>")[1].split("</tr>")[0]
    assert "$25.00" in first_row and "PayPal" in first_row and "Card" not in first_row


async def test_a_canceled_paypal_payment_and_a_wait_that_lasts(shop):
    browser = await shop.signed_in()
    result = await browser.http.get("/topup/return?topup=canceled")
    assert "You canceled the payment." in result.text and not _polls(result.text)
    # after a quarter of an hour without news the page stops asking and says so
    late = await browser.http.get("/topup/progress?via=paypal&after=none&started=1")
    assert "It can take a while" in late.text and not _polls(late.text)


# --- the payment history ----------------------------------------------------------------------


async def test_the_history_pages_and_shows_refunds(shop):
    owner = reseller_actor(shop.acme_id)
    async with transaction(shop.sessions) as s:
        for n in range(25):
            moved = await payments_domain.client_payment(
                s, owner, shop.client.id, f"{n + 1}", f"history-{n}", "cash"
            )
        last = moved.entry.id
        await payments_domain.client_refund(
            s, owner, shop.client.id, "10", "history-refund", "part", payment_id=last
        )
    browser = await shop.signed_in()
    first = await browser.http.get("/payments")
    rows = first.text.split("<tbody>")[1].split("</tbody>")[0].split("</tr>")[:-1]
    assert len(rows) == 20
    # the newest: 25.00 recorded by hand, 10.00 of it refunded
    assert "$25.00" in rows[0] and "Recorded by your provider" in rows[0]
    assert "Partly refunded" in rows[0] and "Refund" in rows[0] and "$10.00" in rows[0]
    assert "$24.00" in rows[1] and "Completed" in rows[1] and "None" in rows[1]
    older = re.search(r'href="(/payments\?after=[^"]+)" rel="next"', first.text).group(1)
    second = await browser.http.get(unescape(older))
    rows2 = second.text.split("<tbody>")[1].split("</tbody>")[0].split("</tr>")[:-1]
    assert "$5.00" in rows2[0] and 'href="/payments">Newest payments' in second.text
    # the demo's own payments follow the 25 (no payment shown twice)
    assert not set(rows) & set(rows2)
    # a cursor that is not ours shows the first page
    again = await browser.http.get("/payments?after=bm9wZQ")
    assert again.status_code == 200 and "$25.00" in again.text
