"""The Sub-accounts page over HTTP: username, server and realm, caller ID chosen among the
numbers the client holds (any other refused with a clear message), and a password reset whose
new secret is shown once and works."""

from __future__ import annotations

import re

from sqlalchemy import select
from strawberry.relay import to_base64

from api.domain import demo, secrets
from api.models import Client, SubAccount
from tests.frontends.conftest import ACME_HOST

USERNAME = "demo-blueharbordental"  # Blue Harbor Dental's sub-account in the demo
DEMO_DID = "14155550100"


async def _signed_in(browse):
    browser = browse(ACME_HOST)
    await browser.login(demo.CLIENT_EMAIL)
    return browser


async def _sub(sessions, username: str = USERNAME) -> SubAccount:
    async with sessions() as s:
        return await s.scalar(select(SubAccount).where(SubAccount.username == username))


def _forms(html: str, action: str) -> dict[str, str]:
    form = html[html.index(f'action="{action}"') :]
    return {
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', form).group(1),
        "id": re.search(r'name="id" value="([^"]+)"', form).group(1),
    }


async def test_the_page_shows_each_sub_accounts_sip_settings(browse, settings):
    browser = await _signed_in(browse)
    page = await browser.http.get("/sub-accounts")
    assert page.status_code == 200 and 'href="/sub-accounts" aria-current="page"' in page.text
    assert f'<code dir="ltr">{USERNAME}</code>' in page.text
    assert f'<code dir="ltr">{settings.sip_server or settings.platform_host}</code>' in page.text
    assert f'<code dir="ltr">{settings.sip_realm}</code>' in page.text
    # the caller ID can be one of the client's numbers: its DID is offered
    assert f'<option value="{DEMO_DID}" dir="ltr" >+{DEMO_DID}</option>' in page.text
    # no secret is on the page before a reset
    assert 'id="new-secret"' not in page.text


async def test_the_caller_id_is_set_to_a_number_the_client_holds_only(browse, sessions):
    browser = await _signed_in(browse)
    page = await browser.http.get("/sub-accounts")
    form = _forms(page.text, "/sub-accounts/caller-id")
    done = await browser.http.post("/sub-accounts/caller-id", data={**form, "caller_id": DEMO_DID})
    assert done.status_code == 303
    shown = await browser.http.get(done.headers["location"])
    assert f"Caller ID of {USERNAME} saved." in shown.text
    assert f'<option value="{DEMO_DID}" dir="ltr" selected>' in shown.text
    assert (await _sub(sessions)).caller_id == DEMO_DID
    # a number it does not hold is refused, saying why, and nothing changes
    refused = await browser.http.post(
        "/sub-accounts/caller-id", data={**form, "caller_id": "+44 20 7946 0000"}
    )
    assert refused.status_code == 400
    assert (
        "+44 20 7946 0000 is not one of your numbers: the caller ID must be a number you hold."
        in refused.text
    )
    assert (await _sub(sessions)).caller_id == DEMO_DID
    # clearing it is allowed
    await browser.http.post("/sub-accounts/caller-id", data={**form, "caller_id": ""})
    assert (await _sub(sessions)).caller_id == ""


async def test_a_password_reset_shows_the_new_secret_once_and_it_works(browse, sessions, settings):
    before = (await _sub(sessions)).ha1
    browser = await _signed_in(browse)
    page = await browser.http.get("/sub-accounts")
    form = _forms(page.text, "/sub-accounts/password")
    done = await browser.http.post("/sub-accounts/password", data=form)
    assert done.status_code == 200 and done.headers["cache-control"] == "no-store"
    # the answer is the Sub-accounts page (the menu says so, the language menu comes back to it)
    assert 'href="/sub-accounts" aria-current="page"' in done.text
    assert 'name="next" value="/sub-accounts"' in done.text
    secret = re.search(r'<code id="new-secret-value">([^<]+)</code>', done.text).group(1)
    # the secret shown is the one the switch now checks (its digest stored), the old one is gone
    sub = await _sub(sessions)
    assert sub.ha1 != before
    assert secrets.ha1(USERNAME, settings.sip_realm, secret) == sub.ha1
    # shown once: the page afterwards does not have it
    again = await browser.http.get("/sub-accounts")
    assert secret not in again.text and 'id="new-secret"' not in again.text
    # without the CSRF token, no reset
    forged = await browser.http.post("/sub-accounts/password", data={"id": form["id"]})
    assert forged.status_code == 403 and (await _sub(sessions)).ha1 == sub.ha1


async def test_another_clients_sub_account_is_out_of_reach(browse, sessions):
    async with sessions() as s:
        other = await s.scalar(
            select(SubAccount)
            .join(Client, Client.id == SubAccount.client_id)
            .where(Client.name == "Gotham Legal LLP")
        )
    browser = await _signed_in(browse)
    page = await browser.http.get("/sub-accounts")
    assert other.username not in page.text
    form = _forms(page.text, "/sub-accounts/password")
    stolen = await browser.http.post(
        "/sub-accounts/password", data={**form, "id": to_base64("SubAccount", other.id)}
    )
    assert stolen.status_code == 400 and "That sub-account is not one of yours." in stolen.text
    assert 'id="new-secret"' not in stolen.text
    assert (await _sub(sessions, other.username)).ha1 == other.ha1
    anonymous = browse(ACME_HOST)
    assert (await anonymous.http.get("/sub-accounts")).headers["location"] == "/login"
