"""Log in as client from the reseller portal: the owner opens the client's portal as the
client, sees the banner, may not change the client's password, and comes back with its own
session still open; staff may not; a session that is over sends back to the reseller portal."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select, update
from strawberry.relay import to_base64

from api.domain import demo
from api.models import AuditEvent, Client, User, UserSession
from api.models.base import utcnow
from frontends.web import IMPERSONATION_COOKIE
from tests.frontends.conftest import ACME_HOST

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _client_id(sessions, name: str) -> str:
    async with sessions() as s:
        found = await s.scalar(select(Client.id).where(Client.name == name))
    return to_base64("Client", found)


async def _owner(browse):
    owner = browse(ACME_HOST)
    assert (await owner.login(demo.ACME_OWNER_EMAIL, path="/manage/login")).status_code == 303
    return owner


async def test_the_owner_acts_as_the_client_and_comes_back(browse, sessions):
    owner = await _owner(browse)
    blue_harbor = await _client_id(sessions, "Blue Harbor Dental")
    listed = await owner.http.get("/manage/clients")
    assert f'action="/manage/clients/{blue_harbor}/impersonate"' in listed.text
    token = CSRF.search(listed.text).group(1)
    # when the owner logs in as the client
    opened = await owner.http.post(
        f"/manage/clients/{blue_harbor}/impersonate", data={"csrf_token": token}
    )
    assert opened.status_code == 303 and opened.headers["location"] == "/"
    # then the client portal is the client's, with the banner
    home = await owner.http.get("/")
    assert home.status_code == 200 and "Blue Harbor Dental" in home.text
    assert 'id="impersonation-banner"' in home.text
    # and the client's password may not be changed from there
    profile = await owner.http.get("/profile")
    changed = await owner.http.post(
        "/profile/password",
        data={
            "csrf_token": CSRF.search(profile.text).group(1),
            "current_password": demo.DEMO_PASSWORD,
            "new_password": "another-password-1",
            "confirm_password": "another-password-1",
        },
    )
    assert changed.status_code == 400
    assert "Only the client changes its password" in changed.text
    client = browse(ACME_HOST)
    assert (await client.login(demo.CLIENT_EMAIL)).status_code == 303  # unchanged
    # and the session was opened in the owner's name
    async with sessions() as s:
        started = await s.scalar(
            select(AuditEvent).where(AuditEvent.action == "client.impersonation_started")
        )
    assert started.actor_label == demo.ACME_OWNER_EMAIL
    # when the owner goes back
    back = await owner.http.post(
        "/impersonation/end", data={"csrf_token": CSRF.search(home.text).group(1)}
    )
    assert back.status_code == 303 and back.headers["location"] == "/manage/clients"
    assert IMPERSONATION_COOKIE not in owner.http.cookies
    # then the client portal is no longer the client's, and the owner is still signed in
    assert (await owner.http.get("/")).headers["location"] == "/login"
    assert "Signed in as Alice Acme" in (await owner.http.get("/manage")).text
    async with sessions() as s:
        opened_sessions = list(
            await s.scalars(select(UserSession).where(UserSession.impersonator_id.is_not(None)))
        )
    assert [row.revoked_at is not None for row in opened_sessions] == [True]


async def test_staff_may_not_log_in_as_a_client(browse, sessions):
    staff = browse(ACME_HOST)
    assert (await staff.login(demo.ACME_STAFF_EMAIL, path="/manage/login")).status_code == 303
    listed = await staff.http.get("/manage/clients")
    assert "/impersonate" not in listed.text
    blue_harbor = await _client_id(sessions, "Blue Harbor Dental")
    refused = await staff.http.post(
        f"/manage/clients/{blue_harbor}/impersonate",
        data={"csrf_token": CSRF.search(listed.text).group(1)},
    )
    assert refused.status_code == 403
    assert IMPERSONATION_COOKIE not in staff.http.cookies


async def test_a_client_without_a_portal_login_is_refused_in_words(browse, sessions):
    owner = await _owner(browse)
    async with sessions() as s:
        without = await s.scalar(
            select(Client.id)
            .join(User, User.client_id == Client.id, isouter=True)
            .where(
                User.id.is_(None),
                Client.reseller_id
                == select(Client.reseller_id)
                .where(Client.name == "Blue Harbor Dental")
                .scalar_subquery(),
            )
            .limit(1)
        )
    listed = await owner.http.get("/manage/clients")
    refused = await owner.http.post(
        f"/manage/clients/{to_base64('Client', without)}/impersonate",
        data={"csrf_token": CSRF.search(listed.text).group(1)},
    )
    assert refused.status_code == 400
    assert "This client has no portal login yet" in refused.text


async def test_a_session_that_is_over_sends_back_to_the_reseller_portal(browse, sessions):
    owner = await _owner(browse)
    blue_harbor = await _client_id(sessions, "Blue Harbor Dental")
    listed = await owner.http.get("/manage/clients")
    await owner.http.post(
        f"/manage/clients/{blue_harbor}/impersonate",
        data={"csrf_token": CSRF.search(listed.text).group(1)},
    )
    async with sessions() as s, s.begin():
        await s.execute(
            update(UserSession)
            .where(UserSession.impersonator_id.is_not(None))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    home = await owner.http.get("/")
    assert home.status_code == 303 and home.headers["location"] == "/manage/clients"
    assert IMPERSONATION_COOKIE not in owner.http.cookies
