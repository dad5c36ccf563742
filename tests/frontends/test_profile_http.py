"""The Profile page over HTTP: the client's details shown and saved through
clientProfileUpdate (the portal then speaks its language), its portal users, and the
signed-in user's password change (current one required, other sessions ended)."""

from __future__ import annotations

from sqlalchemy import select

from api.db import transaction
from api.domain import auth, demo
from api.domain.actors import SYSTEM
from api.models import AuditEvent, Client
from tests.frontends.conftest import ACME_HOST


async def signed_in(browse):
    browser = browse(ACME_HOST)
    assert (await browser.login(demo.CLIENT_EMAIL)).status_code == 303
    return browser


async def test_the_profile_shows_the_clients_details_and_users(browse, demo_world, sessions):
    # given a second portal user for Blue Harbor
    blue = demo_world.client_ids["Blue Harbor Dental"]
    async with transaction(sessions) as s:
        await auth.create_user(
            s,
            SYSTEM,
            email="billing@blueharbor.test",
            password="harbor-pass-1",
            role="client",
            name="Billing desk",
            client_id=blue,
        )
    browser = await signed_in(browse)
    # when its user opens the Profile page from the menu
    home = (await browser.http.get("/")).text
    assert 'href="/profile"' in home
    page = await browser.http.get("/profile")
    # then it sees its contact details, language and threshold
    assert page.status_code == 200
    text = page.text
    assert 'value="Dana Reyes"' in text
    assert 'value="frontdesk@blueharbor.test"' in text
    assert 'value="+1 415 555 0134"' in text
    assert 'name="low_balance_threshold" type="number"' in text and 'value="10.00"' in text
    assert "Warn me when my balance is under (USD)" in text
    # and both portal users, itself marked
    assert "billing@blueharbor.test" in text and "Billing desk" in text
    assert f"{demo.CLIENT_EMAIL}</bdi> <span" in text and "(you)" in text


async def test_the_client_saves_its_details_and_the_portal_speaks_its_language(
    browse, demo_world, sessions
):
    browser = await signed_in(browse)
    csrf = await browser.csrf("/profile")
    # when it saves new details, Hebrew and a threshold of 25.50
    saved = await browser.http.post(
        "/profile",
        data={
            "csrf_token": csrf,
            "contact_name": "Dana R.",
            "email": "Dana@BlueHarbor.test",
            "phone": "+1 415 555 0199",
            "language": "he",
            "low_balance_threshold": "25.50",
        },
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/profile?done=saved"
    # then the client holds them
    async with sessions() as s:
        client = await s.get(Client, demo_world.client_ids["Blue Harbor Dental"])
        event = await s.scalar(
            select(AuditEvent)
            .where(AuditEvent.action == "client.updated", AuditEvent.client_id == client.id)
            .order_by(AuditEvent.id.desc())
        )
    assert (client.contact_name, client.email, client.phone, client.language) == (
        "Dana R.",
        "dana@blueharbor.test",
        "+1 415 555 0199",
        "he",
    )
    assert client.low_balance_threshold == 25_500_000
    assert event.actor_type == "user" and event.after["language"] == "he"
    # and the portal now speaks Hebrew, right to left
    page = await browser.http.get("/profile?done=saved")
    assert 'lang="he" dir="rtl"' in page.text
    assert "הפרטים שלך נשמרו." in page.text
    assert 'value="25.50"' in page.text


async def test_a_wrong_detail_is_refused_and_nothing_changes(browse, demo_world, sessions):
    browser = await signed_in(browse)
    for field, value, message in [
        ("email", "not-an-email", "Enter a valid email address."),
        ("low_balance_threshold", "-5", "Enter an amount of zero or more."),
        ("low_balance_threshold", "lots", "Enter an amount of zero or more."),
    ]:
        data = {
            "csrf_token": await browser.csrf("/profile"),
            "contact_name": "Dana Reyes",
            "email": "frontdesk@blueharbor.test",
            "phone": "",
            "language": "en",
            "low_balance_threshold": "10",
        }
        data[field] = value
        refused = await browser.http.post("/profile", data=data)
        assert refused.status_code == 400, field
        assert message in refused.text
        assert f'value="{value}"' in refused.text  # what was typed stays in the form
    async with sessions() as s:
        client = await s.get(Client, demo_world.client_ids["Blue Harbor Dental"])
    assert (client.email, client.low_balance_threshold) == ("frontdesk@blueharbor.test", 10_000_000)


async def test_a_form_without_its_csrf_token_saves_nothing(browse, demo_world, sessions):
    browser = await signed_in(browse)
    refused = await browser.http.post(
        "/profile", data={"contact_name": "Mallory", "language": "en", "low_balance_threshold": "0"}
    )
    assert refused.status_code == 403
    async with sessions() as s:
        client = await s.get(Client, demo_world.client_ids["Blue Harbor Dental"])
    assert client.contact_name == "Dana Reyes"


async def test_the_user_changes_its_password_and_its_other_sessions_end(browse, demo_world):
    elsewhere = await signed_in(browse)
    browser = await signed_in(browse)

    async def change(current, new, confirm=None):
        return await browser.http.post(
            "/profile/password",
            data={
                "csrf_token": await browser.csrf("/profile"),
                "current_password": current,
                "new_password": new,
                "confirm_password": new if confirm is None else confirm,
            },
        )

    # a wrong current password, a short one, two that differ, the same one: refused
    wrong = await change("not-my-password", "fresh-password-1")
    assert wrong.status_code == 400 and "The current password is wrong." in wrong.text
    short = await change(demo.DEMO_PASSWORD, "short")
    assert "Choose a password of at least 8 characters." in short.text
    differ = await change(demo.DEMO_PASSWORD, "fresh-password-1", "fresh-password-2")
    assert "The two passwords are not the same." in differ.text
    same = await change(demo.DEMO_PASSWORD, demo.DEMO_PASSWORD)
    assert "The new password is the same as the current one." in same.text
    # when it gives the current password and a good new one
    done = await change(demo.DEMO_PASSWORD, "fresh-password-1")
    assert done.status_code == 303 and done.headers["location"] == "/profile?done=password"
    # then this session goes on, the other one ended
    page = await browser.http.get("/profile?done=password")
    assert "Your password is changed. Your other sessions are signed out." in page.text
    assert (await elsewhere.http.get("/profile")).headers["location"] == "/login"
    # and only the new password signs in
    assert (await browse(ACME_HOST).login(demo.CLIENT_EMAIL)).status_code == 400
    assert (await browse(ACME_HOST).login(demo.CLIENT_EMAIL, "fresh-password-1")).status_code == 303


async def test_the_profile_needs_a_client_of_this_host(browse, demo_world):
    assert (await browse(ACME_HOST).http.get("/profile")).headers["location"] == "/login"
    posted = await browse(ACME_HOST).http.post("/profile/password", data={})
    assert posted.headers["location"] == "/login"
