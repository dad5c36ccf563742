"""Forgot password over HTTP, with a real SMTP server: the email in the client's language, its
link to this host, a new password set once and signed in with; a used, expired or forged link
refused; the same answer for any address; the portal's throttled login message."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

from sqlalchemy import select

from api.db import transaction
from api.domain import accounts, demo, mailer, passwords
from api.domain.actors import SYSTEM
from api.models import AuditEvent, OutboxEmail, User
from api.models.base import utcnow
from tests.frontends.conftest import ACME_HOST, CSRF_RE, GLOBEX_HOST

LINK_RE = re.compile(r"https?://\S+/password/reset\?token=\S+")
NEW_PASSWORD = "harbor-lights-42"


async def ask_reset(browser, email: str):
    token = await browser.csrf("/password/forgot")
    return await browser.http.post("/password/forgot", data={"csrf_token": token, "email": email})


async def set_password(browser, link: str, password: str, confirm: str | None = None):
    parts = urlsplit(link)
    form = await browser.http.get(f"{parts.path}?{parts.query}")
    assert form.status_code == 200
    token = CSRF_RE.search(form.text).group(1)
    reset_token = re.search(r'name="token" value="([^"]+)"', form.text).group(1)
    lang = re.search(r'name="lang" value="([^"]*)"', form.text).group(1)
    return await browser.http.post(
        "/password/reset",
        data={
            "csrf_token": token,
            "token": reset_token,
            "lang": lang,
            "password": password,
            "confirm": password if confirm is None else confirm,
        },
    )


async def sent_links(sessions, mail_settings, smtp_inbox, to: str) -> list:
    await mailer.send_due(sessions, mail_settings, utcnow())
    return [m for m in smtp_inbox.to(to) if "mot de passe" in m["Subject"]]


async def test_forgot_password_by_email_then_sign_in_with_the_new_one(
    browse, demo_world, sessions, mail_settings, smtp_inbox
):
    # given the demo client, who speaks French, and one of its sessions open elsewhere
    async with transaction(sessions) as s:
        await accounts.update_client(
            s, SYSTEM, demo_world.client_ids["Blue Harbor Dental"], {"language": "fr"}
        )
    elsewhere = browse(ACME_HOST)
    await elsewhere.login(demo.CLIENT_EMAIL)
    assert (await elsewhere.http.get("/")).status_code == 200
    # when it asks for a reset on Acme's host
    browser = browse(ACME_HOST)
    login = await browser.http.get("/login")
    assert 'href="/password/forgot"' in login.text
    answer = await ask_reset(browser, demo.CLIENT_EMAIL)
    # then the page says an email is on its way
    assert answer.status_code == 200
    assert "If the address is known, an email is on its way." in answer.text
    # and a French email came, from Acme's brand, with a link to Acme's host
    [message] = await sent_links(sessions, mail_settings, smtp_inbox, demo.CLIENT_EMAIL)
    assert message["Subject"] == "Choisissez un nouveau mot de passe"
    assert "Acme Voice" in message["From"]
    body = message.get_content()
    assert "dans les 60 minutes" in body
    [link] = LINK_RE.findall(body)
    assert urlsplit(link).netloc == ACME_HOST
    # and the link's page speaks French too
    page = await browser.http.get(link.replace(f"http://{ACME_HOST}", ""))
    assert 'lang="fr"' in page.text and "Nouveau mot de passe" in page.text
    # when the link sets a new password
    done = await set_password(browser, link, NEW_PASSWORD)
    assert done.status_code == 303 and done.headers["location"] == "/login?reset=1"
    notice = (await browser.http.get("/login?reset=1")).text
    assert "Your new password is set. Sign in with it." in notice
    # then the old password no longer signs in, the new one does
    assert (await browse(ACME_HOST).login(demo.CLIENT_EMAIL)).status_code == 400
    signed = await browse(ACME_HOST).login(demo.CLIENT_EMAIL, NEW_PASSWORD)
    assert signed.status_code == 303 and signed.headers["location"] == "/"
    # and the session open elsewhere was ended
    assert (await elsewhere.http.get("/")).headers["location"] == "/login"
    # and the link cannot be used a second time
    again = await set_password(browse(ACME_HOST), link, "another-password-9")
    assert again.status_code == 400
    assert "Ce lien ne fonctionne plus" in again.text
    assert (await browse(ACME_HOST).login(demo.CLIENT_EMAIL, NEW_PASSWORD)).status_code == 303
    # and the reset is audited
    async with sessions() as s:
        actions = list(
            await s.scalars(
                select(AuditEvent.action).where(AuditEvent.action.like("user.password%"))
            )
        )
    assert actions == ["user.password_reset_requested", "user.password_reset"]


async def test_the_answer_is_the_same_and_no_mail_goes_for_strangers(browse, demo_world, sessions):
    # an unknown address, a reseller owner, and Acme's client on Globex's host
    cases = [
        (ACME_HOST, "nobody@acme.test"),
        (ACME_HOST, demo.ACME_OWNER_EMAIL),
        (GLOBEX_HOST, demo.CLIENT_EMAIL),
    ]
    for host, email in cases:
        answer = await ask_reset(browse(host), email)
        assert answer.status_code == 200
        assert "If the address is known, an email is on its way." in answer.text
    async with sessions() as s:
        subjects = list(await s.scalars(select(OutboxEmail.subject)))
    assert subjects and "Choose a new password" not in subjects  # the demo's own mail only


async def test_an_expired_or_forged_link_is_refused(browse, demo_world, sessions, settings):
    async with sessions() as s:
        user = await s.scalar(select(User).where(User.email == demo.CLIENT_EMAIL))
    expired = passwords.reset_token(settings.secret_key, user, utcnow() - timedelta(seconds=1))
    forged = passwords.reset_token("not-the-secret", user, utcnow() + timedelta(hours=1))
    for token in (expired, forged, "1.2.3", "garbage"):
        refused = await set_password(
            browse(ACME_HOST), f"http://{ACME_HOST}/password/reset?token={token}", NEW_PASSWORD
        )
        assert refused.status_code == 400, token
        assert "This link does not work any more" in refused.text
        assert 'href="/password/forgot"' in refused.text
    # and the password did not change
    assert (await browse(ACME_HOST).login(demo.CLIENT_EMAIL)).status_code == 303


async def test_a_link_stops_working_once_the_password_changed_another_way(
    browse, demo_world, sessions, settings
):
    # given a valid link
    async with sessions() as s:
        user = await s.scalar(select(User).where(User.email == demo.CLIENT_EMAIL))
    token = passwords.reset_token(settings.secret_key, user, utcnow() + timedelta(hours=1))
    link = f"http://{ACME_HOST}/password/reset?token={token}"
    # when the password is changed on the Profile page
    browser = browse(ACME_HOST)
    await browser.login(demo.CLIENT_EMAIL)
    csrf = await browser.csrf("/profile")
    changed = await browser.http.post(
        "/profile/password",
        data={
            "csrf_token": csrf,
            "current_password": demo.DEMO_PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert changed.status_code == 303
    # then the link is refused
    refused = await set_password(browse(ACME_HOST), link, "another-password-9")
    assert refused.status_code == 400
    assert (await browse(ACME_HOST).login(demo.CLIENT_EMAIL, NEW_PASSWORD)).status_code == 303


async def test_a_short_or_mismatched_new_password_keeps_the_link(
    browse, demo_world, sessions, settings
):
    async with sessions() as s:
        user = await s.scalar(select(User).where(User.email == demo.CLIENT_EMAIL))
    token = passwords.reset_token(settings.secret_key, user, utcnow() + timedelta(hours=1))
    link = f"http://{ACME_HOST}/password/reset?token={token}"
    short = await set_password(browse(ACME_HOST), link, "short")
    assert short.status_code == 400
    assert "Choose a password of at least 8 characters." in short.text
    assert f'value="{token}"' in short.text  # the form stays usable
    mismatch = await set_password(browse(ACME_HOST), link, NEW_PASSWORD, "something-else")
    assert "The two passwords are not the same." in mismatch.text
    # and the link still works afterwards
    assert (await set_password(browse(ACME_HOST), link, NEW_PASSWORD)).status_code == 303


async def test_five_wrong_passwords_show_the_throttled_message(browse, demo_world, sessions):
    browser = browse(ACME_HOST)
    answers = [await browser.login(demo.CLIENT_EMAIL, f"wrong-{i}-xxxx") for i in range(5)]
    assert [a.status_code for a in answers] == [400, 400, 400, 429, 429]
    assert "Wrong email or password." in answers[0].text
    assert "Too many attempts. Try again in 1 minute." in answers[4].text
    assert 0 < int(answers[4].headers["retry-after"]) <= 60
    # even the right password waits
    right = await browser.login(demo.CLIENT_EMAIL)
    assert right.status_code == 429
    # in Hebrew too
    browser.http.cookies.set("dialtone_lang", "he", domain=ACME_HOST)
    hebrew = await browser.login(demo.CLIENT_EMAIL, "x" * 9)
    assert hebrew.status_code == 429 and 'dir="rtl"' in hebrew.text
    assert "ניסיונות" in hebrew.text and "Too many attempts" not in hebrew.text
