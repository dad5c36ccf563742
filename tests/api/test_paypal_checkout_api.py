"""PayPal Checkout over GraphQL: apps with a write-only secret, and top-ups made and captured
against a real local HTTP server playing PayPal."""

from __future__ import annotations

import dataclasses
import json

import pytest
from sqlalchemy import select

from api.app import create_app
from api.models import AuditEvent, PaypalCredentials
from tests.api.conftest import GQL, gid
from tests.factories import assert_ledger_consistent, client_balance, reseller_balance
from tests.webhooks.conftest import paypal  # noqa: F401  (the fake PayPal fixture)
from tests.webhooks.paypal_certs import TestAuthority
from tests.webhooks.paypal_rest import FakeRest
from tests.webhooks.paypal_server import Reply

pytestmark = pytest.mark.usefixtures("ledger_checked")

U = 1_000_000
SECRET = "acme-very-secret-1"
PAYLOAD = "errors { code field message }"
SET = (
    "mutation($i: PaypalCredentialsSetInput!) { paypalCredentialsSet(input: $i) {"
    f" credentials {{ paypalClientId webhookId sandbox resellerId }} {PAYLOAD} }} }}"
)
READ = "query($r: ID) { paypalCredentials(resellerId: $r) { paypalClientId webhookId } }"
CREATE = (
    "mutation($i: PaypalOrderCreateInput!) { paypalOrderCreate(input: $i) {"
    f" order {{ id paypalOrderId status payee amount {{ amount currency }} approveUrl"
    f" client {{ name }} }} {PAYLOAD} }} }}"
)
CAPTURE = (
    "mutation($id: ID!) { paypalOrderCapture(input: {id: $id}) {"
    f" order {{ status captureId }} {PAYLOAD} }} }}"
)


@pytest.fixture
async def fake(paypal, settings):  # noqa: F811
    rest = FakeRest(paypal, TestAuthority())
    rest.add_app("acme-app", SECRET)
    rest.add_app("operator-app", "operator-secret")
    settings = dataclasses.replace(
        settings, paypal_api_url=paypal.url, paypal_sandbox_api_url=paypal.url
    )
    app = create_app(settings)
    yield rest, GQL(app)
    await app.state.engine.dispose()


async def test_an_app_secret_is_write_only(gql, world, sessions):
    # given Acme's owner sets its PayPal app
    app = {"paypalClientId": "acme-app", "paypalClientSecret": SECRET, "webhookId": "WHACME"}
    body = await gql(SET, {"i": app}, token=world.tokens["acme"])
    payload = body["data"]["paypalCredentialsSet"]
    assert payload["errors"] == []
    assert payload["credentials"] == {
        "paypalClientId": "acme-app",
        "webhookId": "WHACME",
        "sandbox": False,
        "resellerId": gid("Reseller", world.acme_id),
    }
    # then the secret is in no answer, no audit record, and not in the clear in the database
    read = await gql(READ, token=world.tokens["acme"])
    assert read["data"]["paypalCredentials"]["paypalClientId"] == "acme-app"
    async with sessions() as s:
        audits = list(await s.scalars(select(AuditEvent.after)))
        stored = await s.scalar(select(PaypalCredentials.secret_encrypted))
    assert SECRET not in json.dumps([body, read, audits]) and SECRET not in stored
    # and the schema has no field that could show it
    schema = (await gql('{ __type(name: "PaypalCredentials") { fields { name } } }'))["data"]
    assert all("secret" not in f["name"].lower() for f in schema["__type"]["fields"])


async def test_who_manages_which_app(gql, world):
    app = {"paypalClientId": "x", "paypalClientSecret": "y", "webhookId": "Z"}
    acme = gid("Reseller", world.acme_id)
    cases = {
        "acme_staff": ({"i": app}, "PERMISSION_DENIED"),
        "acme_client": ({"i": app}, "PERMISSION_DENIED"),
        "globex": ({"i": {**app, "resellerId": acme}}, "NOT_FOUND"),
    }
    for viewer, (variables, code) in cases.items():
        body = await gql(SET, variables, token=world.tokens[viewer])
        assert body["data"]["paypalCredentialsSet"]["errors"][0]["code"] == code, viewer
    # the operator sets its own app and, for support, a reseller's
    for reseller in (None, acme):
        body = await gql(
            SET, {"i": {**app, "resellerId": reseller}}, token=world.tokens["operator"]
        )
        assert body["data"]["paypalCredentialsSet"]["errors"] == []
    # a new app needs its secret, and a sandbox app is refused while sandbox is off
    body = await gql(
        SET, {"i": {"paypalClientId": "a", "webhookId": "b"}}, token=world.tokens["globex"]
    )
    assert body["data"]["paypalCredentialsSet"]["errors"][0]["field"] == "clientSecret"
    body = await gql(SET, {"i": {**app, "sandbox": True}}, token=world.tokens["globex"])
    assert body["data"]["paypalCredentialsSet"]["errors"][0]["field"] == "sandbox"


async def test_a_client_tops_up_and_its_reseller_tops_up_its_own_balance(fake, world, sessions):
    rest, gql = fake
    acme_app = {"paypalClientId": "acme-app", "paypalClientSecret": SECRET, "webhookId": "WHA"}
    operator_app = {
        **acme_app,
        "paypalClientId": "operator-app",
        "paypalClientSecret": "operator-secret",
    }
    await gql(SET, {"i": acme_app}, token=world.tokens["acme"])
    await gql(SET, {"i": operator_app}, token=world.tokens["operator"])
    # when Alice starts a top-up of 12.50 and approves it
    body = await gql(CREATE, {"i": {"amount": "12.50"}}, token=world.tokens["acme_client"])
    payload = body["data"]["paypalOrderCreate"]
    assert payload["errors"] == []
    order = payload["order"]
    assert order["status"] == "PAYER_ACTION_REQUIRED" and order["payee"] == "RESELLER"
    assert order["amount"] == {"amount": "12.500000", "currency": "USD"}
    assert order["client"] == {"name": "Alice"} and order["approveUrl"]
    # then capturing before she approves says so, and after credits her
    body = await gql(CAPTURE, {"id": order["id"]}, token=world.tokens["acme_client"])
    assert body["data"]["paypalOrderCapture"]["errors"][0]["code"] == "CONFLICT"
    rest.approve(order["paypalOrderId"])
    body = await gql(CAPTURE, {"id": order["id"]}, token=world.tokens["acme_client"])
    assert body["data"]["paypalOrderCapture"]["order"]["status"] == "COMPLETED"
    # and another tenant cannot see or capture it
    body = await gql(CAPTURE, {"id": order["id"]}, token=world.tokens["globex"])
    assert body["data"]["paypalOrderCapture"]["errors"][0]["code"] == "NOT_FOUND"
    # when Acme's owner tops up its own balance by card
    body = await gql(CREATE, {"i": {"amount": "100"}}, token=world.tokens["acme"])
    own = body["data"]["paypalOrderCreate"]["order"]
    assert own["payee"] == "OPERATOR" and own["client"] is None
    rest.approve(own["paypalOrderId"])
    await gql(CAPTURE, {"id": own["id"]}, token=world.tokens["acme"])
    async with sessions() as s:
        await assert_ledger_consistent(s)
        assert await client_balance(s, world.acme_client_id) == 50 * U + 12_500_000
        assert await reseller_balance(s, world.acme_id) == 1100 * U
    # and the operator may not start one for a reseller's balance
    body = await gql(CREATE, {"i": {"amount": "5"}}, token=world.tokens["operator"])
    assert body["data"]["paypalOrderCreate"]["errors"][0]["field"] == "clientId"


async def test_paypal_refusing_or_missing_apps_are_typed_errors(fake, world):
    rest, gql = fake
    body = await gql(CREATE, {"i": {"amount": "5"}}, token=world.tokens["acme_client"])
    error = body["data"]["paypalOrderCreate"]["errors"][0]
    assert error["code"] == "CONFLICT" and "has not set up PayPal Checkout" in error["message"]
    app = {"paypalClientId": "acme-app", "paypalClientSecret": "wrong", "webhookId": "WHA"}
    await gql(SET, {"i": app}, token=world.tokens["acme"])
    body = await gql(CREATE, {"i": {"amount": "5"}}, token=world.tokens["acme_client"])
    assert body["data"]["paypalOrderCreate"]["errors"][0]["code"] == "PROVIDER_REFUSED"
    rest.fake.route("POST", "/v1/oauth2/token", lambda _request: Reply(drop=True))  # PayPal is down
    app["paypalClientSecret"] = SECRET
    await gql(SET, {"i": app}, token=world.tokens["acme"])
    body = await gql(CREATE, {"i": {"amount": "5"}}, token=world.tokens["acme_client"])
    assert body["data"]["paypalOrderCreate"]["errors"][0]["code"] == "PROVIDER_UNAVAILABLE"
