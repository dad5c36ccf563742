"""The tenancy walk over every client portal route (``frontends.client.routes()``, read at
run time, so a new page is walked without being listed): signed out, every page ends on the
login page; a session carried to another brand's host shows nothing of its client; and a
client posting another client's ids changes nothing of theirs."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from strawberry.relay import to_base64

from api.domain import demo
from api.models import Client, Did, SubAccount
from frontends.client import routes
from tests.frontends.conftest import ACME_HOST, GLOBEX_HOST

# what anyone may open (signing in, out, the language menu and the password pages)
PUBLIC = {"/login", "/logout", "/language", "/password/forgot", "/password/reset"}
# the forms that name something of the client's by id: (path, the form's other fields)
ID_FORMS = {
    "/numbers/forwarding": ("Did", {"mode": "forward", "forward_to": "14155550199"}),
    "/sub-accounts/caller-id": ("SubAccount", {"caller_id": "14155550100"}),
    "/sub-accounts/password": ("SubAccount", {}),
}
# the forms that name nothing but the signed-in client's own data
OWN_FORMS = {"/topup/checkout", "/profile", "/profile/password", "/impersonation/end"}


def walked(method: str) -> list[str]:
    paths = {r.path for r in routes() if method in r.methods and r.path not in PUBLIC}
    return sorted(paths)


def test_every_form_of_the_portal_is_in_the_walk():
    # a new form must say whether it names another object by id (then it is posted below)
    assert set(walked("POST")) == set(ID_FORMS) | OWN_FORMS


async def test_signed_out_every_page_and_form_sends_to_the_login_page(browse, demo_world):
    browser = browse(ACME_HOST)
    token = await browser.csrf()
    for path in walked("GET"):
        page = await browser.http.get(path, follow_redirects=True)
        assert page.url.path == "/login" and 'name="password"' in page.text, path
    for path in walked("POST"):
        answer = await browser.http.post(path, data={"csrf_token": token})
        assert answer.status_code in (303, 403), path
        if answer.status_code == 303:
            assert answer.headers["location"] == "/login", path
        assert "Blue Harbor" not in answer.text, path


async def test_a_session_taken_to_another_brands_host_shows_nothing(browse, demo_world):
    # given the demo client signed in on Acme's host
    acme = browse(ACME_HOST)
    assert (await acme.login(demo.CLIENT_EMAIL)).status_code == 303
    assert "Blue Harbor Dental" in (await acme.http.get("/")).text
    # when its session cookie is sent to Globex's host
    globex = browse(GLOBEX_HOST)
    for name, value in acme.http.cookies.items():
        globex.http.cookies.set(name, value, domain=GLOBEX_HOST)
    # then every page there sends to the login page and shows nothing of the client
    for path in walked("GET"):
        page = await globex.http.get(path, follow_redirects=True)
        assert page.url.path == "/login" and 'name="password"' in page.text, path
        assert "Blue Harbor" not in page.text and "Acme" not in page.text, path


@pytest.fixture
async def blue_harbor(sessions, demo_world):
    """The demo client's number and sub-account, as they are."""
    async with sessions() as s:
        client = await s.scalar(select(Client).where(Client.name == "Blue Harbor Dental"))
        did = await s.scalar(select(Did).where(Did.client_id == client.id))
        sub = await s.scalar(select(SubAccount).where(SubAccount.client_id == client.id))
    return {"Did": did, "SubAccount": sub}


async def _as_they_are(sessions, rows: dict) -> dict:
    async with sessions() as s:
        did = await s.get(Did, rows["Did"].id)
        sub = await s.get(SubAccount, rows["SubAccount"].id)
        return {
            "Did": (did.routing, did.forward_to, did.sub_account_id),
            "SubAccount": (sub.caller_id, sub.secret_encrypted, sub.status),
        }


async def test_another_clients_ids_change_nothing_of_theirs(browse, sessions, blue_harbor):
    before = await _as_they_are(sessions, blue_harbor)
    # given Gotham Legal, another client of the same brand, signed in
    gotham = browse(ACME_HOST)
    assert (await gotham.login(demo.POSTPAID_CLIENT_EMAIL)).status_code == 303
    token = await gotham.csrf("/")
    # when it posts each form with the demo client's number or sub-account
    for path, (type_name, fields) in ID_FORMS.items():
        target = to_base64(type_name, blue_harbor[type_name].id)
        answer = await gotham.http.post(path, data={"csrf_token": token, "id": target, **fields})
        # then it is refused on its own page, naming nothing of the other client
        assert answer.status_code in (400, 404), (path, answer.status_code)
        assert blue_harbor["SubAccount"].username not in answer.text, path
    # and nothing of the demo client changed
    assert await _as_they_are(sessions, blue_harbor) == before
