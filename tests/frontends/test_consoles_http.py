"""The staff portals' doors (frontends.consoles): the reseller portal under /manage of a
reseller's host admits its owner and staff only; the operator console under /operator of the
platform host admits the operator only; each host serves only its own console."""

from __future__ import annotations

import pytest

from api.domain import demo
from tests.frontends.conftest import ACME_HOST, GLOBEX_HOST, PLATFORM_HOST


async def test_the_reseller_owner_signs_in_and_sees_the_dashboard(browse):
    acme = browse(ACME_HOST)
    answer = await acme.login(demo.ACME_OWNER_EMAIL, path="/manage/login")
    assert answer.status_code == 303 and answer.headers["location"] == "/manage"
    page = await acme.http.get("/manage")
    assert page.status_code == 200
    assert "Your balance with the operator" in page.text
    assert "Signed in as Alice Acme" in page.text
    for entry in ("/manage/clients", "/manage/packages", "/manage/reports", "/manage/brand"):
        assert f'href="{entry}"' in page.text, entry
    # and logging out ends the session
    token = await acme.csrf("/manage")
    out = await acme.http.post("/manage/logout", data={"csrf_token": token})
    assert out.headers["location"] == "/manage/login"
    again = await acme.http.get("/manage")
    assert again.status_code == 303 and again.headers["location"] == "/manage/login"


async def test_staff_sign_in_and_the_menu_shows_what_their_role_allows(browse):
    acme = browse(ACME_HOST)
    assert (await acme.login(demo.ACME_STAFF_EMAIL, path="/manage/login")).status_code == 303
    page = await acme.http.get("/manage")
    assert page.status_code == 200 and "Signed in as Sam Staff" in page.text
    assert 'href="/manage/clients"' in page.text


@pytest.mark.parametrize(
    "email",
    [demo.CLIENT_EMAIL, demo.GLOBEX_OWNER_EMAIL, demo.OPERATOR_EMAIL],
    ids=["a client", "another reseller's owner", "the operator"],
)
async def test_only_the_hosts_reseller_users_may_sign_in_to_manage(browse, email):
    acme = browse(ACME_HOST)
    answer = await acme.login(email, path="/manage/login")
    assert answer.status_code == 400 and "Wrong email or password." in answer.text
    # and the session the login made was closed: nothing is signed in
    assert (await acme.http.get("/manage")).headers["location"] == "/manage/login"


@pytest.mark.parametrize(
    "email", [demo.ACME_OWNER_EMAIL, demo.CLIENT_EMAIL], ids=["a reseller owner", "a client"]
)
async def test_only_the_operator_may_sign_in_to_the_console(browse, email):
    platform = browse(PLATFORM_HOST)
    answer = await platform.login(email, path="/operator/login")
    assert answer.status_code == 400 and "Wrong email or password." in answer.text


async def test_the_operator_signs_in_on_the_platform_host(browse):
    platform = browse(PLATFORM_HOST)
    answer = await platform.login(demo.OPERATOR_EMAIL, path="/operator/login")
    assert answer.status_code == 303 and answer.headers["location"] == "/operator"
    page = await platform.http.get("/operator")
    assert "Acme Telecom" in page.text and "Globex Communications" in page.text


async def test_each_host_serves_only_its_own_console(browse):
    assert (await browse(PLATFORM_HOST).http.get("/manage/login")).status_code == 404
    assert (await browse(ACME_HOST).http.get("/operator/login")).status_code == 404
    assert (await browse(GLOBEX_HOST).http.get("/operator")).status_code == 404
