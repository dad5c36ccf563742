"""The tenancy walk over every route of the staff portals (``frontends.manage.routes()`` and
``frontends.operator.routes()``, read at run time, so a new page is walked without being
listed here, and a new form must say what it names):

- signed out, every page ends on its console's login page, and every form changes nothing;
- a client's session, another reseller's owner's session carried to Acme's host, and a
  reseller's session on the platform host see nothing: the login page;
- staff open every page their role allows, and the owner-only ones answer 403;
- Acme's owner naming another reseller's objects (in a path or a form) is answered "not
  found", naming nothing of theirs.

A route's path parameters are named after the type of the object they name
(``{client_id}`` is a Client): :data:`OBJECTS` finds another reseller's one of each type.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from strawberry.relay import to_base64

from api.domain import demo
from api.models import Client, Reseller
from frontends import manage, operator
from tests.frontends.conftest import ACME_HOST, GLOBEX_HOST, PLATFORM_HOST

CONSOLES = {
    "/manage": (manage.routes, ACME_HOST),
    "/operator": (operator.routes, PLATFORM_HOST),
}
PUBLIC = {"/manage/login", "/manage/logout", "/operator/login", "/operator/logout"}
# the forms that name an object by id (the form's ``id``): path -> (its type, other fields)
ID_FORMS: dict[str, tuple[str, dict[str, str]]] = {
    "/manage/clients/{client_id}/impersonate": ("Client", {}),
    "/manage/clients/{client_id}/edit": ("Client", {"section": "details", "name": "Taken"}),
    "/manage/clients/{client_id}/status": ("Client", {"status": "SUSPENDED", "reason": "x"}),
    "/manage/clients/{client_id}/delete": ("Client", {}),
}
# the forms that name nothing but the signed-in user's own reseller (or the platform's)
OWN_FORMS: set[str] = {
    "/manage/clients/new",
    "/manage/clients/new/rows",
    "/manage/clients/new/csv",
    # the operator console's: the operator sees every reseller, so they name the platform's own
    "/operator/resellers",
    "/operator/resellers/{reseller_id}/deposit",
    "/operator/resellers/{reseller_id}/adjust",
    "/operator/resellers/{reseller_id}/status",
    "/operator/resellers/{reseller_id}/base-deck",
}
# the pages (GET) a reseller's staff may not open: their role lacks the API's permission
OWNER_ONLY: set[str] = set()
# a path parameter -> the model of the object it names (its global id's type is the model's)
OBJECTS = {"client_id": Client, "reseller_id": Reseller}
PARAM = re.compile(r"\{(\w+)\}")


def walked(prefix: str, method: str) -> list[str]:
    routes, _host = CONSOLES[prefix]
    return sorted({r.path for r in routes() if method in r.methods and r.path not in PUBLIC})


async def _globex_id(sessions, param: str) -> str:
    """The global id of one of Globex's objects of the type ``param`` names."""
    model = OBJECTS[param]
    async with sessions() as s:
        globex = await s.scalar(select(Reseller.id).where(Reseller.name == "Globex Communications"))
        column = model.id if model is Reseller else model.reseller_id
        found = await s.scalar(select(model.id).where(column == globex).limit(1))
    assert found is not None, param
    return to_base64(model.__name__, found)


async def _filled(sessions, path: str) -> str:
    """``path`` with each parameter naming one of Globex's objects."""
    for param in PARAM.findall(path):
        path = path.replace("{" + param + "}", await _globex_id(sessions, param))
    return path


def test_every_path_parameter_names_a_known_type():
    for prefix in CONSOLES:
        for method in ("GET", "POST"):
            for path in walked(prefix, method):
                assert set(PARAM.findall(path)) <= set(OBJECTS), path


def test_every_form_of_the_consoles_is_in_the_walk():
    posted = {p for prefix in CONSOLES for p in walked(prefix, "POST")}
    assert posted == set(ID_FORMS) | OWN_FORMS


@pytest.mark.parametrize("prefix", list(CONSOLES))
async def test_signed_out_every_page_and_form_sends_to_the_login_page(
    browse, sessions, demo_world, prefix
):
    _routes, host = CONSOLES[prefix]
    browser = browse(host)
    token = await browser.csrf(f"{prefix}/login")
    for path in walked(prefix, "GET"):
        page = await browser.http.get(await _filled(sessions, path), follow_redirects=True)
        assert page.url.path == f"{prefix}/login" and 'name="password"' in page.text, path
    for path in walked(prefix, "POST"):
        answer = await browser.http.post(await _filled(sessions, path), data={"csrf_token": token})
        assert answer.status_code in (303, 403), path
        if answer.status_code == 303:
            assert answer.headers["location"] == f"{prefix}/login", path


async def _walk_shows_only_the_login_page(browser, sessions, prefix: str) -> None:
    for path in walked(prefix, "GET"):
        page = await browser.http.get(await _filled(sessions, path), follow_redirects=True)
        assert page.url.path == f"{prefix}/login" and 'name="password"' in page.text, path
        assert "Signed in as" not in page.text, path


async def test_a_clients_session_sees_nothing_of_the_reseller_portal(browse, sessions):
    acme = browse(ACME_HOST)
    assert (await acme.login(demo.CLIENT_EMAIL)).status_code == 303
    await _walk_shows_only_the_login_page(acme, sessions, "/manage")


async def _carried(browse, email: str, signed_in_on: str, to: str):
    """A browser on host ``to`` holding the cookies of ``email``'s reseller-portal session
    opened on host ``signed_in_on``."""
    source = browse(signed_in_on)
    assert (await source.login(email, path="/manage/login")).status_code == 303
    target = browse(to)
    for name, value in source.http.cookies.items():
        target.http.cookies.set(name, value, domain=to)
    return target


async def test_another_resellers_session_carried_to_acmes_host_sees_nothing(browse, sessions):
    acme = await _carried(browse, demo.GLOBEX_OWNER_EMAIL, GLOBEX_HOST, ACME_HOST)
    await _walk_shows_only_the_login_page(acme, sessions, "/manage")


async def test_a_resellers_session_on_the_platform_host_sees_nothing(browse, sessions):
    platform = await _carried(browse, demo.ACME_OWNER_EMAIL, ACME_HOST, PLATFORM_HOST)
    await _walk_shows_only_the_login_page(platform, sessions, "/operator")


async def test_staff_open_what_their_role_allows_and_are_refused_the_rest(browse, sessions):
    acme = browse(ACME_HOST)
    assert (await acme.login(demo.ACME_STAFF_EMAIL, path="/manage/login")).status_code == 303
    owner = browse(ACME_HOST)
    assert (await owner.login(demo.ACME_OWNER_EMAIL, path="/manage/login")).status_code == 303
    for path in walked("/manage", "GET"):
        if PARAM.search(path):
            continue  # opened with Acme's own objects by the pages' own tests
        page = await acme.http.get(path)
        expected = 403 if path in OWNER_ONLY else 200
        assert page.status_code == expected, (path, page.status_code)
        if expected == 403:
            assert "Your role does not allow this page" in page.text, path
            assert (await owner.http.get(path)).status_code == 200, path


async def test_acmes_owner_naming_another_resellers_objects_finds_nothing(browse, sessions):
    acme = browse(ACME_HOST)
    assert (await acme.login(demo.ACME_OWNER_EMAIL, path="/manage/login")).status_code == 303
    async with sessions() as s:
        globex_names = list(
            await s.scalars(
                select(Client.name).join(Reseller).where(Reseller.name == "Globex Communications")
            )
        )
    for path in walked("/manage", "GET"):
        if not PARAM.search(path):
            continue
        page = await acme.http.get(await _filled(sessions, path))
        assert page.status_code == 404, (path, page.status_code)
        assert not any(name in page.text for name in globex_names), path
    token = await acme.csrf("/manage")
    for path, (type_name, fields) in ID_FORMS.items():
        model = next(m for m in OBJECTS.values() if m.__name__ == type_name)
        param = next(p for p, m in OBJECTS.items() if m is model)
        target = await _globex_id(sessions, param)
        answer = await acme.http.post(
            await _filled(sessions, path), data={"csrf_token": token, "id": target, **fields}
        )
        assert answer.status_code in (400, 404), (path, answer.status_code)
        assert not any(name in answer.text for name in globex_names), path
