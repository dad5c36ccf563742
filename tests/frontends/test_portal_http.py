"""The client portal over HTTP: brand hosts only, login and logout with CSRF, who may sign
in where, the language of a page, and the Home page's figures equal to the API's."""

from __future__ import annotations

from decimal import Decimal

from api.db import transaction
from api.domain import accounts, auth, brands, demo
from api.domain.actors import SYSTEM
from api.models import Client
from tests.factories import client_balance, operator_actor
from tests.frontends.conftest import ACME_HOST, GLOBEX_HOST


async def test_hosts_without_an_active_brand_serve_the_plain_404(browse, sessions, settings):
    async with transaction(sessions) as s:
        await brands.order_hostname(
            s, operator_actor(), 1, "pending.example.com", settings=settings
        )
    for host in ("unknown.example.com", "pending.example.com", "127.0.0.1"):
        for path in ("/", "/login"):
            page = await browse(host).http.get(path)
            assert page.status_code == 404, (host, path)
            assert "brand.css" not in page.text and "Acme" not in page.text
            assert "No portal is served at this address." in page.text


async def test_a_client_signs_in_sees_its_home_and_signs_out(browse, demo_world):
    browser = browse(ACME_HOST)
    page = await browser.http.get("/")
    assert page.status_code == 303 and page.headers["location"] == "/login"
    signed_in = await browser.login(demo.CLIENT_EMAIL)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"
    home = await browser.http.get("/")
    # the brand wears the page: its name, footer and support email, its stylesheet
    for text in ("Acme Voice", "1 Market Street", "support@acme.test", "/brand.css"):
        assert text in home.text
    assert 'lang="en" dir="ltr"' in home.text
    # the balance shown is the API's, written for reading
    api = await browser.http.post(
        "/graphql",
        json={"query": "{ viewer { client { balance { amount } } } }"},
        headers={"X-CSRF-Token": browser.http.cookies["dialtone_csrf"]},
    )
    amount = Decimal(api.json()["data"]["viewer"]["client"]["balance"]["amount"])
    assert f"${amount:,.2f}" in home.text
    assert home.text.count('<tr><th scope="row">') == 30  # the chart's table: 30 days
    # the balance panel alone, as htmx asks for it
    panel = await browser.http.get("/home/balance")
    assert panel.status_code == 200 and panel.text.lstrip().startswith("{#") is False
    assert 'id="balance"' in panel.text and "<html" not in panel.text
    # logging out ends the session: the next page asks to sign in again
    token = await browser.csrf("/")
    out = await browser.http.post("/logout", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert (await browser.http.get("/")).headers["location"] == "/login"


async def test_only_this_brands_clients_sign_in_here(browse, demo_world):
    # a wrong password, the reseller's owner and the operator are all told the same
    for email, password in (
        (demo.CLIENT_EMAIL, "wrong-password"),
        (demo.ACME_OWNER_EMAIL, demo.DEMO_PASSWORD),
        (demo.OPERATOR_EMAIL, demo.DEMO_PASSWORD),
    ):
        browser = browse(ACME_HOST)
        refused = await browser.login(email, password)
        assert refused.status_code == 400 and "Wrong email or password." in refused.text
        assert "dialtone_session" not in browser.http.cookies
    # Acme's client on Globex's host is refused too
    browser = browse(GLOBEX_HOST)
    refused = await browser.login(demo.CLIENT_EMAIL)
    assert refused.status_code == 400 and "dialtone_session" not in browser.http.cookies


async def test_a_form_without_its_csrf_token_changes_nothing(browse, demo_world):
    browser = browse(ACME_HOST)
    await browser.csrf()
    refused = await browser.http.post(
        "/login", data={"email": demo.CLIENT_EMAIL, "password": demo.DEMO_PASSWORD}
    )
    assert refused.status_code == 403 and "dialtone_session" not in browser.http.cookies
    await browser.login(demo.CLIENT_EMAIL)
    kept = await browser.http.post("/logout", data={"csrf_token": "forged"})
    assert kept.status_code == 303
    assert (await browser.http.get("/")).status_code == 200  # still signed in


async def test_the_page_speaks_the_picked_then_the_browsers_language(browse, demo_world):
    # Globex set no default language: its login page speaks the browser's first we speak
    french = await browse(GLOBEX_HOST).http.get(
        "/login", headers={"Accept-Language": "de, fr-CA;q=0.8"}
    )
    assert 'lang="fr" dir="ltr"' in french.text and "Se connecter" in french.text
    # Acme's brand speaks English by default; the language picked in the browser wins
    browser = browse(ACME_HOST)
    await browser.login(demo.CLIENT_EMAIL)
    token = await browser.csrf("/")
    picked = await browser.http.post("/language", data={"csrf_token": token, "lang": "he"})
    assert picked.status_code == 303
    home = await browser.http.get("/", headers={"Accept-Language": "fr"})
    assert 'lang="he" dir="rtl"' in home.text
    assert "דף הבית" in home.text and "התנתקות" in home.text


async def test_home_shows_credit_for_postpaid_and_warns_under_the_threshold(
    browse, demo_world, sessions
):
    # given Blue Harbor's threshold above its balance, and a portal login for Gotham (postpaid)
    blue, gotham = (demo_world.client_ids[n] for n in ("Blue Harbor Dental", "Gotham Legal LLP"))
    async with transaction(sessions) as s:
        await accounts.update_client(s, SYSTEM, blue, {"low_balance_threshold": "1000"})
        await auth.create_user(
            s,
            SYSTEM,
            email="gotham@acme.test",
            password="gotham-pass",
            role="client",
            client_id=gotham,
        )
        owed = -(await client_balance(s, gotham))
        limit = (await s.get(Client, gotham)).credit_limit
    # when each signs in, then Blue Harbor is warned, Gotham sees what it owes of its limit
    browser = browse(ACME_HOST)
    await browser.login(demo.CLIENT_EMAIL)
    home = (await browser.http.get("/")).text
    assert "Your balance is below $1,000.00. Top up to keep calling." in home
    browser = browse(ACME_HOST)
    await browser.login("gotham@acme.test", "gotham-pass")
    home = (await browser.http.get("/")).text
    assert "Credit used" in home and "Your balance is below" not in home
    assert f"${Decimal(max(owed, 0)) / 1_000_000:,.2f}" in home
    assert f"of a credit limit of ${Decimal(limit) / 1_000_000:,.2f}" in home


async def test_home_lists_the_next_fees_with_their_days_and_amounts(browse, demo_world):
    # given the demo client (its sub-account on the Office package, a number assigned)
    browser = browse(ACME_HOST)
    await browser.login(demo.CLIENT_EMAIL)
    # when it opens Home
    home = (await browser.http.get("/")).text
    # then the fees table lists the package's monthly fee and the number's
    table = home[home.index('id="fees-table"') : home.index("</table>", home.index("fees-table"))]
    assert "Sub-account" in table and "demo-blueharbordental" in table
    assert "$4.99" in table
    assert "Number" in table and table.count("<tr>") == 3  # the head and two fees
