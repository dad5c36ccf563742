"""The client card of the reseller portal over HTTP: its overview shows the client's own
data, its Details change what the API then reads (and bad input changes nothing), its
status form suspends and reactivates, its deletion is confirmed and refused while something
is left, and its history says who changed what (owners only)."""

from __future__ import annotations

import re

from sqlalchemy import select
from strawberry.relay import to_base64

from api import money
from api.db import transaction
from api.domain import accounts, demo
from api.domain.actors import SYSTEM
from api.models import AuditEvent, Client, Reseller
from frontends.i18n import Formatter
from tests.frontends.conftest import ACME_HOST

BLUE = "Blue Harbor Dental"


async def _client(sessions, name: str = BLUE) -> Client:
    async with sessions() as s:
        return await s.scalar(select(Client).where(Client.name == name))


async def _card(sessions, name: str = BLUE) -> str:
    client = await _client(sessions, name)
    return f"/manage/clients/{to_base64('Client', client.id)}"


async def _owner(browse):
    browser = browse(ACME_HOST)
    assert (await browser.login(demo.ACME_OWNER_EMAIL, path="/manage/login")).status_code == 303
    return browser


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_the_overview_shows_the_clients_own_data(browse, sessions):
    # given Acme's owner signed in, and the demo client's balance as the ledger has it
    browser = await _owner(browse)
    client = await _client(sessions)
    async with sessions() as s:
        balance = await accounts.client_balance(s, client)
    # when the owner opens its card
    page = await browser.http.get(await _card(sessions))
    # then it shows its balance, contact, sub-account, number, package, calls and fees
    assert page.status_code == 200
    text = _text(page.text)
    shown = Formatter("en").money(money.format_amount(balance), "USD")
    assert re.search(rf'id="client-balance"[^>]*>{re.escape(shown)}<', page.text)
    assert "frontdesk@blueharbor.test" in text and "Dana Reyes" in text
    assert "demo-blueharbordental" in text and "+14155550100" in text
    assert "Office" in text and "Prepaid (strict)" in text and "14 days" in text
    assert text.count("demo-blueharbordental") >= 10  # its last 10 calls, each by it
    assert "monthly fee of number 14155550100" in text
    assert 'href="/manage/reports/calls?client=' in page.text
    # and a place is kept for the card's heading actions
    assert 'class="card-actions"' in page.text


async def test_another_resellers_client_or_no_client_is_not_found(browse, sessions):
    browser = await _owner(browse)
    async with sessions() as s:
        globex = await s.scalar(select(Reseller.id).where(Reseller.name == "Globex Communications"))
        theirs = await s.scalar(select(Client).where(Client.reseller_id == globex).limit(1))
    for path in (
        f"/manage/clients/{to_base64('Client', theirs.id)}",
        f"/manage/clients/{to_base64('Client', theirs.id)}/history",
        "/manage/clients/nonsense/edit",
        f"/manage/clients/{to_base64('Package', 1)}",
    ):
        page = await browser.http.get(path)
        assert page.status_code == 404, path
        assert theirs.name not in page.text
        assert "There is nothing here" in page.text


async def _details(browser, card: str, **changes: str):
    """The Details form as the page fills it, with ``changes``, posted."""
    page = await browser.http.get(card + "/edit")
    fields = dict(
        re.findall(r'<input id="f-(\w+)" name="\w+" type="[a-z]+" value="([^"]*)"', page.text)
    )
    fields.update(
        {
            name: value
            for name, value in re.findall(
                r'<select id="f-(\w+)"[^>]*>.*?<option value="([^"]*)" selected', page.text, re.S
            )
        }
    )
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    detail_fields = [
        "name",
        "company",
        "contact_name",
        "email",
        "phone",
        "country",
        "language",
        "notes",
        "label",
        "characteristic",
        "billing_mode",
        "credit_limit",
        "low_balance_threshold",
    ]
    data = {name: fields.get(name, "") for name in detail_fields}
    data.update(changes, csrf_token=token, section="details")
    return await browser.http.post(card + "/edit", data=data)


async def test_editing_the_details_changes_what_the_api_reads(browse, sessions):
    browser = await _owner(browse)
    card = await _card(sessions)
    # when the owner gives it a label, a credit limit and a threshold
    answer = await _details(
        browser,
        card,
        label="vip",
        credit_limit="25",
        low_balance_threshold="7.50",
        notes="Calls after 6pm",
        characteristic="CONFLICT",
    )
    assert answer.status_code == 303 and answer.headers["location"] == card + "/edit?done=saved"
    # then the client has them, and the card shows them
    client = await _client(sessions)
    assert (client.label, client.notes, client.characteristic) == (
        "vip",
        "Calls after 6pm",
        "conflict",
    )
    assert (client.credit_limit, client.low_balance_threshold) == (25_000_000, 7_500_000)
    text = _text((await browser.http.get(card)).text)
    assert "vip" in text and "$25.00" in text and "$7.50" in text and "Conflict" in text
    assert "The changes are saved." in (await browser.http.get(card + "/edit?done=saved")).text


async def test_bad_details_are_refused_beside_their_field_and_change_nothing(browse, sessions):
    browser = await _owner(browse)
    card = await _card(sessions)
    before = await _client(sessions)
    # a bad email (the API refuses it) and an amount that is no number (the page refuses it)
    for field, value, message in (
        ("email", "not-an-email", "Enter a valid email address."),
        ("credit_limit", "lots", "Enter an amount of zero or more."),
        ("low_balance_threshold", "-5", "Enter an amount of zero or more."),
    ):
        answer = await _details(browser, card, label="changed", **{field: value})
        assert answer.status_code == 400, field
        error = re.search(rf'id="f-{field}-error">([^<]+)<', answer.text)
        assert error and error.group(1) == message, field
        assert f'value="{value}"' in answer.text  # what was typed stays in the form
    after = await _client(sessions)
    assert (after.label, after.email, after.credit_limit) == (
        before.label,
        before.email,
        before.credit_limit,
    )


async def test_invoicing_terms_tax_rate_and_package_are_set(browse, sessions):
    browser = await _owner(browse)
    card = await _card(sessions)
    token = await browser.csrf(card + "/edit")
    post = browser.http.post
    # payment terms and discount
    answer = await post(
        card + "/edit",
        data={
            "csrf_token": token,
            "section": "terms",
            "due_days": "30",
            "block_after_days_overdue": "10",
            "discount_pct": "5",
            "price_list_id": "",
        },
    )
    assert answer.status_code == 303
    # a tax rate of its own
    answer = await post(
        card + "/edit",
        data={
            "csrf_token": token,
            "section": "tax",
            "rate_pct": "8.25",
            "valid_from": "2026-01-01",
            "valid_to": "",
        },
    )
    assert answer.status_code == 303
    # no package
    answer = await post(card + "/edit", data={"csrf_token": token, "section": "package"})
    assert answer.status_code == 303
    text = _text((await browser.http.get(card)).text)
    assert "30 days" in text and "10 days" in text and "5.00 %" in text
    assert "8.25 % from Jan 1, 2026" in text and "None (sold at cost)" in text
    assert (await _client(sessions)).package_id is None


async def test_bad_terms_are_refused_beside_their_field(browse, sessions):
    browser = await _owner(browse)
    card = await _card(sessions)
    token = await browser.csrf(card + "/edit")
    answer = await browser.http.post(
        card + "/edit",
        data={"csrf_token": token, "section": "terms", "due_days": "999", "discount_pct": "5"},
    )
    assert answer.status_code == 400
    assert "Enter a whole number of days from 0 to 366." in answer.text
    assert 'id="f-due_days-error"' in answer.text
    # nothing changed: the terms are still the demo's 14 days, no discount
    text = _text((await browser.http.get(card)).text)
    assert "14 days" in text and "0.00 %" in text
    answer = await browser.http.post(
        card + "/edit",
        data={"csrf_token": token, "section": "tax", "rate_pct": "8", "valid_from": "soon"},
    )
    assert answer.status_code == 400 and 'id="f-valid_from-error">Enter a date.<' in answer.text


async def test_suspend_with_a_reason_then_reactivate(browse, sessions):
    browser = await _owner(browse)
    card = await _card(sessions)
    token = await browser.csrf(card)
    # without a reason it is refused beside the field, and nothing changes
    answer = await browser.http.post(
        card + "/status", data={"csrf_token": token, "status": "SUSPENDED", "reason": " "}
    )
    assert answer.status_code == 400
    assert 'id="status-error">Say why the client is suspended.<' in answer.text
    assert (await _client(sessions)).status == "active"
    # with one it is suspended, and says why
    answer = await browser.http.post(
        card + "/status",
        data={"csrf_token": token, "status": "SUSPENDED", "reason": "Unpaid setup"},
    )
    assert answer.status_code == 303 and answer.headers["location"] == card + "?done=suspended"
    client = await _client(sessions)
    assert (client.status, client.status_reason) == ("suspended", "Unpaid setup")
    text = _text((await browser.http.get(answer.headers["location"])).text)
    assert "The client is suspended." in text and "Suspended — Unpaid setup" in text
    # and its own portal sees it suspended
    portal = browse(ACME_HOST)
    assert (await portal.login(demo.CLIENT_EMAIL)).status_code == 303
    home = _text((await portal.http.get("/")).text)
    assert "Status: Suspended (Unpaid setup)" in home
    # reactivated, it is active with no reason
    answer = await browser.http.post(
        card + "/status", data={"csrf_token": token, "status": "ACTIVE"}
    )
    assert answer.headers["location"] == card + "?done=reactivated"
    client = await _client(sessions)
    assert (client.status, client.status_reason) == ("active", "")
    async with sessions() as s:
        actions = list(
            await s.scalars(
                select(AuditEvent.after).where(
                    AuditEvent.client_id == client.id, AuditEvent.action == "client.updated"
                )
            )
        )
    assert {"status": "suspended", "status_reason": "Unpaid setup"} in actions


async def test_delete_is_confirmed_and_refused_naming_what_is_left(browse, sessions):
    browser = await _owner(browse)
    card = await _card(sessions)
    client = await _client(sessions)
    async with sessions() as s:
        balance = money.format_amount(await accounts.client_balance(s, client))
    # the card's link opens a confirmation first
    confirm = await browser.http.get(card + "/delete")
    assert confirm.status_code == 200 and "Delete this client?" in confirm.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', confirm.text).group(1)
    # deleting the demo client is refused: its balance, sub-account and number are left
    answer = await browser.http.post(card + "/delete", data={"csrf_token": token})
    assert answer.status_code == 409
    refusal = _text(re.search(r'id="delete-refused">(.*?)</div>', answer.text, re.S).group(1))
    shown = Formatter("en").money(balance, "USD")
    assert f"Its balance is {shown}: refund or charge it to zero first." in refusal
    assert "It has 1 sub-account: delete it first." in refusal
    assert "It holds 1 number (14155550100): unassign it first." in refusal
    assert (await _client(sessions)).deleted_at is None


async def test_a_client_with_nothing_left_is_deleted(browse, sessions):
    async with transaction(sessions) as s:
        acme = await s.scalar(select(Reseller.id).where(Reseller.name == "Acme Telecom"))
        (empty,) = await accounts.create_clients(s, SYSTEM, acme, [{"name": "Empty Shell"}])
    browser = await _owner(browse)
    card = f"/manage/clients/{to_base64('Client', empty.id)}"
    token = await browser.csrf(card + "/delete")
    answer = await browser.http.post(card + "/delete", data={"csrf_token": token})
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/manage/clients?deleted=")
    assert (await _client(sessions, "Empty Shell")).deleted_at is not None
    assert (await browser.http.get(card)).status_code == 404


async def test_the_history_says_who_changed_what_before_and_after(browse, sessions):
    browser = await _owner(browse)
    card = await _card(sessions)
    await _details(browser, card, credit_limit="25", label="vip")
    page = await browser.http.get(card + "/history")
    assert page.status_code == 200
    rows = re.findall(r"<tr>(.*?)</tr>", page.text, re.S)
    newest = _text(rows[1])  # after the heading row
    assert "owner@acme.test" in newest and "client.updated" in newest
    assert "credit_limit : $0.00 → $25.00" in newest
    assert "label : healthcare → vip" in newest
    # a money movement's amount shows with its currency
    assert "amount : — → $50.00" in _text(page.text)


async def test_the_history_is_paged(browse, sessions):
    client = await _client(sessions)
    async with transaction(sessions) as s:
        for n in range(30):
            await accounts.update_client(s, SYSTEM, client.id, {"label": f"label-{n}"})
    browser = await _owner(browse)
    card = await _card(sessions)
    first = await browser.http.get(card + "/history")
    assert "label-29" in first.text and "label-3 " not in _text(first.text)
    older = re.search(r'href="([^"]+)" id="older"', first.text).group(1).replace("&amp;", "&")
    second = await browser.http.get(older)
    assert second.status_code == 200 and "label-3" in second.text
    assert "label-29" not in second.text


async def test_staff_open_the_card_but_not_its_history(browse, sessions):
    staff = browse(ACME_HOST)
    assert (await staff.login(demo.ACME_STAFF_EMAIL, path="/manage/login")).status_code == 303
    card = await _card(sessions)
    assert (await staff.http.get(card)).status_code == 200
    assert (await staff.http.get(card + "/edit")).status_code == 200
    history = await staff.http.get(card + "/history")
    assert history.status_code == 403
    assert "Your role does not allow this page" in history.text
