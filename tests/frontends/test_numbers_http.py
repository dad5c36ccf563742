"""The Numbers page over HTTP: the client's own numbers with their routing, forwarding changed
to an outside number, to a sub-account and to nowhere, refusals in the page's language, CSRF,
and another client's number out of reach."""

from __future__ import annotations

import re

from sqlalchemy import select

from api.db import transaction
from api.domain import callers, demo
from api.domain.actors import SYSTEM
from api.models import Client, Did
from tests.frontends.conftest import ACME_HOST

DEMO_DID = "14155550100"  # Blue Harbor Dental's number in the demo
OTHER_DID = "14155550101"  # ordered by Acme, then given to another client here


async def _signed_in(browse):
    browser = browse(ACME_HOST)
    await browser.login(demo.CLIENT_EMAIL)
    return browser


async def _did(sessions, number: str) -> Did:
    async with sessions() as s:
        return await s.scalar(select(Did).where(Did.number == number))


def _form(html: str, number: str) -> dict[str, str]:
    """The forwarding form of a number's card: its csrf token and id."""
    card = html[html.index(f'<span dir="ltr">+{number}</span></h2>') :]
    return {
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', card).group(1),
        "id": re.search(r'name="id" value="([^"]+)"', card).group(1),
    }


async def test_the_client_sees_its_numbers_and_forwards_one_outside(browse, sessions):
    browser = await _signed_in(browse)
    page = await browser.http.get("/numbers")
    assert page.status_code == 200 and 'href="/numbers" aria-current="page"' in page.text
    # its one number, its price, where its calls go; not Acme's other number, no cost
    assert f"+{DEMO_DID}" in page.text and f"+{OTHER_DID}" not in page.text
    assert "$3.00" in page.text and "Nowhere (not forwarded)" in page.text
    assert "cost" not in page.text.lower()
    # when it forwards the number to an outside number
    form = _form(page.text, DEMO_DID)
    done = await browser.http.post(
        "/numbers/forwarding", data={**form, "mode": "forward", "forward_to": "+1 212 555 0123"}
    )
    # then the page says so and shows the new routing, and the number routes there
    assert done.status_code == 303 and done.headers["location"] == f"/numbers?saved={DEMO_DID}"
    shown = await browser.http.get(done.headers["location"])
    assert f"Forwarding of +{DEMO_DID} saved." in shown.text
    assert 'Outside number: <span dir="ltr">+12125550123</span>' in shown.text
    did = await _did(sessions, DEMO_DID)
    assert (did.routing, did.forward_to) == ("forward", "12125550123")


async def test_the_client_sends_a_number_to_its_sub_account_then_nowhere(
    browse, sessions, settings
):
    async with sessions() as s:
        client = await s.scalar(select(Client).where(Client.name == "Blue Harbor Dental"))
    async with transaction(sessions) as s:
        sub, _ = await callers.create_sub_account(
            s, SYSTEM, client.id, {"username": "blue-front-desk"}, settings=settings
        )
    browser = await _signed_in(browse)
    page = await browser.http.get("/numbers")
    sub_gid = re.search(r'<option value="([^"]+)"\s*>blue-front-desk</option>', page.text).group(1)
    form = _form(page.text, DEMO_DID)
    done = await browser.http.post(
        "/numbers/forwarding", data={**form, "mode": "sub_account", "sub_account": sub_gid}
    )
    assert done.status_code == 303
    shown = await browser.http.get("/numbers")
    assert "Sub-account: blue-front-desk" in shown.text
    did = await _did(sessions, DEMO_DID)
    assert (did.routing, did.sub_account_id) == ("sub_account", sub.id)
    done = await browser.http.post("/numbers/forwarding", data={**form, "mode": "none"})
    assert done.status_code == 303
    did = await _did(sessions, DEMO_DID)
    assert (did.routing, did.sub_account_id, did.forward_to) == ("none", None, "")


async def test_refusals_are_clear_translated_and_change_nothing(browse, sessions):
    browser = await _signed_in(browse)
    page = await browser.http.get("/numbers")
    form = _form(page.text, DEMO_DID)
    bad = await browser.http.post(
        "/numbers/forwarding", data={**form, "mode": "forward", "forward_to": "call me"}
    )
    assert bad.status_code == 400
    assert "Enter the number to forward to with its country code" in bad.text
    assert 'value="call me"' in bad.text  # what was typed is kept
    itself = await browser.http.post(
        "/numbers/forwarding", data={**form, "mode": "forward", "forward_to": DEMO_DID}
    )
    assert "A number cannot forward to itself." in itself.text
    empty = await browser.http.post(
        "/numbers/forwarding", data={**form, "mode": "forward", "forward_to": ""}
    )
    assert "Enter the number to forward to." in empty.text
    # in French, the same refusal in French
    browser.http.cookies.set("dialtone_lang", "fr", domain=ACME_HOST)
    french = await browser.http.post(
        "/numbers/forwarding", data={**form, "mode": "forward", "forward_to": "call me"}
    )
    assert french.status_code == 400 and 'lang="fr"' in french.text
    assert "Enter the number to forward to with its country code" not in french.text
    # without the CSRF token nothing is done
    forged = await browser.http.post(
        "/numbers/forwarding",
        data={"id": form["id"], "mode": "forward", "forward_to": "12125550123"},
    )
    assert forged.status_code == 403
    did = await _did(sessions, DEMO_DID)
    assert (did.routing, did.forward_to) == ("none", "")


async def test_another_clients_number_cannot_be_forwarded(browse, sessions):
    other = await _did(sessions, OTHER_DID)
    async with sessions() as s:
        gotham = await s.scalar(select(Client).where(Client.name == "Gotham Legal LLP"))
    assert other.client_id == gotham.id  # the demo gives Gotham Acme's other number
    browser = await _signed_in(browse)
    page = await browser.http.get("/numbers")
    assert f"+{OTHER_DID}" not in page.text
    form = _form(page.text, DEMO_DID)
    from strawberry.relay import to_base64

    stolen = await browser.http.post(
        "/numbers/forwarding",
        data={
            **form,
            "id": to_base64("Did", other.id),
            "mode": "forward",
            "forward_to": "12125550123",
        },
    )
    assert stolen.status_code == 400 and "That number is not one of yours." in stolen.text
    assert (await _did(sessions, OTHER_DID)).routing == "none"
    # nobody signed in: to the login page
    anonymous = browse(ACME_HOST)
    assert (await anonymous.http.get("/numbers")).headers["location"] == "/login"
