"""The operator's resellers over HTTP: the list, creating a commission reseller with its
owner (who then signs in), deposits moving money once however often the form is posted,
adjustments, suspension with a reason and the base deck."""

from __future__ import annotations

import re

from api.domain import demo
from tests.frontends.conftest import CSRF_RE, PLATFORM_HOST

RESELLER_LINK = re.compile(r'href="/operator/resellers/([^"]+)">([^<]+)<')
KEY_RE = re.compile(r'name="idempotency_key" value="(d-[^"]+)"')


async def operator(browse):
    platform = browse(PLATFORM_HOST)
    assert (await platform.login(demo.OPERATOR_EMAIL, path="/operator/login")).status_code == 303
    return platform


def reseller_ids(html: str) -> dict[str, str]:
    return {name: rid for rid, name in RESELLER_LINK.findall(html)}


async def test_the_list_shows_every_reseller_with_its_model_and_balance(browse):
    platform = await operator(browse)
    page = await platform.http.get("/operator/resellers")
    assert page.status_code == 200
    assert {"Acme Telecom", "Globex Communications"} <= set(reseller_ids(page.text))
    assert "Commission 15" in page.text or "Commission" in page.text
    assert "Standard USD" in page.text  # Acme's base deck


async def api_as(browse, email: str, password: str, query: str) -> dict:
    """``query``'s data, asked of the API by ``email`` logged in with a Bearer token."""
    api = browse(PLATFORM_HOST).http
    login = await api.post(
        "/graphql",
        json={
            "query": "mutation($e: String!, $p: String!) { login(email: $e, password: $p)"
            " { token errors { code } } }",
            "variables": {"e": email, "p": password},
        },
    )
    token = login.json()["data"]["login"]["token"]
    answer = await api.post(
        "/graphql", json={"query": query}, headers={"authorization": f"Bearer {token}"}
    )
    return answer.json()["data"]


async def test_creating_a_commission_reseller_with_its_owner(browse):
    platform = await operator(browse)
    token = await platform.csrf("/operator/resellers")
    answer = await platform.http.post(
        "/operator/resellers",
        data={
            "csrf_token": token,
            "name": "Initech Voice",
            "currency": "eur",
            "billing_model": "COMMISSION",
            "commission_pct": "12.5",
            "timezone": "Europe/Berlin",
            "home_country": "de",
            "owner_name": "Peter Gibbons",
            "owner_email": "peter@initech.test",
            "owner_password": "tps-report-1",
        },
    )
    assert answer.status_code == 303, answer.text
    page = await platform.http.get(answer.headers["location"])
    assert "The reseller is created" in page.text
    assert "Commission 12.5" in page.text and "Europe/Berlin" in page.text
    assert "peter@initech.test" in page.text and "(owner)" in page.text
    # a new reseller has no hostname yet: its owner signs in through the API
    viewer = await api_as(
        browse,
        "peter@initech.test",
        "tps-report-1",
        "{ viewer { kind reseller { name billingModel commissionPct currency homeCountry } } }",
    )
    assert viewer["viewer"] == {
        "kind": "reseller_user",
        "reseller": {
            "name": "Initech Voice",
            "billingModel": "COMMISSION",
            "commissionPct": "12.5000",
            "currency": "EUR",
            "homeCountry": "DE",
        },
    }


async def test_a_refused_reseller_says_why_and_creates_nothing(browse):
    platform = await operator(browse)
    token = await platform.csrf("/operator/resellers")
    base = {
        "csrf_token": token,
        "name": "Bad One",
        "currency": "USD",
        "billing_model": "MARKUP",
        "owner_email": "bad@one.test",
        "owner_password": "long-enough-1",
    }
    for change, message in [
        ({"commission_pct": "lots"}, "A commission is a percent from 0 to 100."),
        ({"owner_email": "not-an-email"}, "Enter a valid email address for the owner."),
        ({"owner_password": "short"}, "Choose a password of at least 8 characters."),
        ({"owner_email": demo.ACME_OWNER_EMAIL}, "That name or owner email is taken."),
        ({"currency": "DOLLARS"}, "A currency is a three-letter code, e.g. USD."),
    ]:
        answer = await platform.http.post("/operator/resellers", data={**base, **change})
        assert answer.status_code == 400, (change, answer.status_code)
        assert message in answer.text, change
        assert 'value="Bad One"' in answer.text  # the form keeps what was typed
    page = await platform.http.get("/operator/resellers")
    assert "Bad One" not in page.text


async def _acme(platform) -> tuple[str, str]:
    ids = reseller_ids((await platform.http.get("/operator/resellers")).text)
    path = f"/operator/resellers/{ids['Acme Telecom']}"
    return path, (await platform.http.get(path)).text


def balance(html: str) -> str:
    return re.search(r'id="reseller-balance"><bdi dir="ltr">([^<]+)<', html).group(1)


async def test_a_deposit_posted_twice_moves_the_balance_once(browse):
    platform = await operator(browse)
    path, html = await _acme(platform)
    before = balance(html)
    key = KEY_RE.search(html).group(1)
    token = CSRF_RE.search(html).group(1)
    form = {"csrf_token": token, "idempotency_key": key, "amount": "250", "memo": "Wire 42"}
    for _ in range(2):
        answer = await platform.http.post(path + "/deposit", data=form)
        assert answer.status_code == 303 and answer.headers["location"] == path + "?done=deposit"
    after = (await platform.http.get(path)).text
    assert (
        "The deposit is on the reseller" in (await platform.http.get(path + "?done=deposit")).text
    )
    to_number = lambda text: float(re.sub(r"[^\d.\-]", "", text))  # noqa: E731
    assert round(to_number(balance(after)) - to_number(before), 2) == 250
    assert after.count("Wire 42") == 1


async def test_bad_amounts_and_adjustments_change_nothing(browse):
    platform = await operator(browse)
    path, html = await _acme(platform)
    token = CSRF_RE.search(html).group(1)
    answer = await platform.http.post(
        path + "/deposit", data={"csrf_token": token, "amount": "ten", "idempotency_key": "k1"}
    )
    assert answer.status_code == 400 and "Enter an amount, e.g. 100.00." in answer.text
    answer = await platform.http.post(
        path + "/adjust",
        data={"csrf_token": token, "amount": "-5", "memo": "", "idempotency_key": "k2"},
    )
    assert answer.status_code == 400 and "Say why" in answer.text
    answer = await platform.http.post(
        path + "/adjust",
        data={
            "csrf_token": token,
            "amount": "-99999999",
            "memo": "too much",
            "idempotency_key": "k3",
        },
    )
    assert answer.status_code == 400 and "below zero" in answer.text
    assert balance((await platform.http.get(path)).text) == balance(html)
    answer = await platform.http.post(
        path + "/adjust",
        data={
            "csrf_token": token,
            "amount": "-5",
            "memo": "Goodwill back",
            "idempotency_key": "k4",
        },
    )
    assert answer.status_code == 303
    assert "Goodwill back" in (await platform.http.get(path)).text


async def test_suspend_with_a_reason_reactivate_and_set_the_base_deck(browse):
    platform = await operator(browse)
    path, html = await _acme(platform)
    token = CSRF_RE.search(html).group(1)
    refused = await platform.http.post(
        path + "/status", data={"csrf_token": token, "status": "SUSPENDED", "reason": ""}
    )
    assert refused.status_code == 400 and "Say why it is suspended." in refused.text
    await platform.http.post(
        path + "/status",
        data={"csrf_token": token, "status": "SUSPENDED", "reason": "Unpaid invoice"},
    )
    page = (await platform.http.get(path)).text
    assert "Suspended: Unpaid invoice" in page
    await platform.http.post(path + "/status", data={"csrf_token": token, "status": "ACTIVE"})
    assert 'id="reseller-status">Active' in (await platform.http.get(path)).text
    answer = await platform.http.post(
        path + "/base-deck", data={"csrf_token": token, "deck_id": ""}
    )
    assert answer.status_code == 303
    listing = (await platform.http.get("/operator/resellers")).text
    acme_row = listing.split("Acme Telecom", 1)[1].split("</tr>", 1)[0]
    assert "Standard USD" not in acme_row


async def test_an_unknown_reseller_is_not_found(browse):
    platform = await operator(browse)
    assert (await platform.http.get("/operator/resellers/nonsense")).status_code == 404
