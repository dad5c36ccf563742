"""PayPal IPN through GraphQL: the messages a reseller and the operator see, with status and
reason, and the client's top-up form, whose signed reference then credits the client."""

from __future__ import annotations

import dataclasses
from urllib.parse import urlencode

import pytest

from api.app import create_app
from api.db import transaction
from api.domain import auth, paypal_ipn
from api.domain.actors import SYSTEM
from api.models import Brand, Hostname
from api.models.base import utcnow
from tests.api.conftest import GQL, PASSWORD
from tests.factories import assert_ledger_consistent, client_balance, make_client, make_reseller
from tests.webhooks.test_paypal_ipn import OPERATOR_RECEIVER, RECEIVER, Shop

pytestmark = pytest.mark.usefixtures("ledger_checked")

MESSAGES = (
    "query($status: PaypalIpnStatus) { paypalIpnMessages(status: $status) { edges { node {"
    " status reason txnId amount { amount currency } client { name } } } } }"
)
FORM = (
    "{ paypalTopUpForm { actionUrl receiverEmail currency amounts { amount } custom notifyUrl"
    " returnUrl hiddenFields { name value } } }"
)


@dataclasses.dataclass
class Tenants:
    shop: Shop
    gql: GQL
    tokens: dict[str, str]
    commission_client: object


@pytest.fixture
async def tenants(sessions, settings, paypal) -> Tenants:
    """Acme (markup, PayPal on its active host portal.acme.test) with its client Alice, and
    Globex (commission 10 %) with Gina, whose clients pay the operator's PayPal (its default
    brand's)."""
    settings = dataclasses.replace(
        settings,
        paypal_ipn_url=paypal.ipn_url,
        platform_host="platform.test",
        paypal_form_url="https://paypal.test/cgi-bin/webscr",
    )
    async with transaction(sessions) as s:
        acme = await make_reseller(s, name="Acme")
        s.add(Brand(reseller_id=acme.id, paypal_receiver_email=RECEIVER, paypal_amounts=[10, 25]))
        s.add(Brand(reseller_id=None, paypal_receiver_email=OPERATOR_RECEIVER, paypal_amounts=[5]))
        s.add(
            Hostname(
                reseller_id=acme.id,
                host="portal.acme.test",
                status="active",
                activated_by="operator",
                activated_at=utcnow(),
            )
        )
        alice = await make_client(s, acme, name="Alice")
        globex = await make_reseller(s, "commission", commission_pct="10", name="Globex")
        gina = await make_client(s, globex, name="Gina")
        logins = {
            "operator": ("operator", {}),
            "acme": ("reseller_owner", {"reseller_id": acme.id}),
            "globex": ("reseller_owner", {"reseller_id": globex.id}),
            "alice": ("client", {"client_id": alice.id}),
            "gina": ("client", {"client_id": gina.id}),
        }
        for name, (role, owner) in logins.items():
            await auth.create_user(
                s, SYSTEM, email=f"{name}@ipn.test", password=PASSWORD, role=role, **owner
            )
    app = create_app(settings)
    gql = GQL(app)
    tokens = {name: await gql.login(f"{name}@ipn.test") for name in logins}
    yield Tenants(Shop(settings, app, acme, alice), gql, tokens, gina)
    await app.state.engine.dispose()


async def test_a_reseller_sees_its_own_messages_with_status_and_reason(tenants):
    shop, gql = tenants.shop, tenants.gql
    # given a credited payment, a payment to the wrong receiver, and an unsigned one
    await shop.post(shop.message())
    await shop.post(shop.message(txn_id="WRONG", receiver_email="thief@example.test"))
    await shop.post(shop.message(txn_id="UNSIGNED", custom="nobody"))
    # when Acme reads its messages
    body = await gql(MESSAGES, token=tenants.tokens["acme"])
    nodes = [e["node"] for e in body["data"]["paypalIpnMessages"]["edges"]]
    # then it sees the three, newest first, with what became of them: its client's two, and
    # the unsigned one paid to its own receiver email
    assert [(n["txnId"], n["status"]) for n in nodes] == [
        ("UNSIGNED", "FLAGGED"),
        ("WRONG", "FLAGGED"),
        ("61E67681CH3238416", "CREDITED"),
    ]
    assert "thief@example.test" in nodes[1]["reason"]
    assert nodes[2]["amount"] == {"amount": "10.000000", "currency": "USD"}
    assert nodes[2]["client"] == {"name": "Alice"}
    assert nodes[0]["client"] is None
    # and a filter by status works
    body = await gql(MESSAGES, {"status": "CREDITED"}, token=tenants.tokens["acme"])
    assert len(body["data"]["paypalIpnMessages"]["edges"]) == 1
    # the operator sees all three, Globex and Acme's client none
    body = await gql(MESSAGES, token=tenants.tokens["operator"])
    assert len(body["data"]["paypalIpnMessages"]["edges"]) == 3
    for viewer in ("globex", "alice"):
        body = await gql(MESSAGES, token=tenants.tokens[viewer])
        assert body["data"]["paypalIpnMessages"]["edges"] == [], viewer


async def test_a_markup_client_top_up_form_pays_the_reseller_on_its_own_host(tenants, sessions):
    shop, gql = tenants.shop, tenants.gql
    # when Alice reads her top-up form
    body = await gql(FORM, token=tenants.tokens["alice"])
    form = body["data"]["paypalTopUpForm"]
    # then it pays Acme's PayPal in USD, notifies Acme's own host, and names her
    assert form["actionUrl"] == "https://paypal.test/cgi-bin/webscr"
    assert form["receiverEmail"] == RECEIVER and form["currency"] == "USD"
    assert [a["amount"] for a in form["amounts"]] == ["10.000000", "25.000000"]
    assert form["notifyUrl"] == "https://portal.acme.test/webhooks/paypal/ipn"
    hidden = {f["name"]: f["value"] for f in form["hiddenFields"]}
    assert hidden["business"] == RECEIVER and hidden["custom"] == form["custom"]
    assert hidden["notify_url"] == form["notifyUrl"] and hidden["cmd"] == "_xclick"
    # and a payment PayPal reports with that form's fields credits her
    raw = urlencode(
        {
            "payment_status": "Completed",
            "txn_id": "FORM-TXN",
            "receiver_email": hidden["business"],
            "mc_currency": hidden["currency_code"],
            "mc_gross": "25.00",
            "custom": hidden["custom"],
            "charset": "windows-1252",
        }
    ).encode()
    await shop.post(raw)
    async with sessions() as s:
        assert await client_balance(s, shop.client) == 25_000_000
        await assert_ledger_consistent(s)


async def test_a_commission_client_top_up_form_pays_the_operator(tenants):
    body = await tenants.gql(FORM, token=tenants.tokens["gina"])
    form = body["data"]["paypalTopUpForm"]
    assert form["receiverEmail"] == OPERATOR_RECEIVER
    assert form["currency"] == "USD" and [a["amount"] for a in form["amounts"]] == ["5.000000"]
    assert form["notifyUrl"] == "https://platform.test/webhooks/paypal/ipn"


async def test_no_top_up_form_for_other_viewers_or_without_paypal(tenants, sessions):
    for viewer in ("acme", "operator"):
        body = await tenants.gql(FORM, token=tenants.tokens[viewer])
        assert body["data"]["paypalTopUpForm"] is None, viewer
    assert (await tenants.gql(FORM))["data"]["paypalTopUpForm"] is None
    # a client of a reseller without PayPal has no form
    async with transaction(sessions) as s:
        bare = await make_reseller(s)
        client = await make_client(s, bare)
        await auth.create_user(
            s, SYSTEM, email="bare@ipn.test", password=PASSWORD, role="client", client_id=client.id
        )
    token = await tenants.gql.login("bare@ipn.test")
    assert (await tenants.gql(FORM, token=token))["data"]["paypalTopUpForm"] is None


async def test_a_message_is_a_node_its_reseller_may_read(tenants, sessions):
    shop, gql = tenants.shop, tenants.gql
    await shop.post(shop.message())
    body = await gql(
        "{ paypalIpnMessages { edges { node { id } } } }", token=tenants.tokens["acme"]
    )
    [edge] = body["data"]["paypalIpnMessages"]["edges"]
    query = "query($id: ID!) { node(id: $id) { ... on PaypalIpnMessage { txnId status } } }"
    own = await gql(query, {"id": edge["node"]["id"]}, token=tenants.tokens["acme"])
    assert own["data"]["node"] == {"txnId": "61E67681CH3238416", "status": "CREDITED"}
    other = await gql(query, {"id": edge["node"]["id"]}, token=tenants.tokens["globex"])
    assert other["data"]["node"] is None


DECODED = (
    "{ paypalIpnMessages { edges { node { txnId status client { name } payerName payerEmail"
    " itemName amount { amount currency } currency txnType paymentStatus charset body"
    " fields { name value } } } } }"
)


async def _read(tenants: Tenants, viewer: str) -> list[dict]:
    body = await tenants.gql(DECODED, token=tenants.tokens[viewer])
    return [edge["node"] for edge in body["data"]["paypalIpnMessages"]["edges"]]


@pytest.mark.parametrize(
    ("charset", "encoded"),
    [("windows-1252", "M%FCller"), ("UTF-8", "M%C3%BCller")],
    ids=["windows-1252", "utf-8"],
)
async def test_a_reseller_sees_money_paid_to_its_email_without_our_reference(
    tenants, sessions, charset, encoded
):
    shop = tenants.shop
    gina = tenants.commission_client
    forged = paypal_ipn.client_reference(shop.settings.secret_key, gina.id)[:-2] + "xx"
    # given payments to Acme's PayPal email without a client reference, with a forged one
    # (naming Globex's client), and one to the operator's own email without one
    await shop.post(
        shop.message(txn_id="BARE", custom="", charset=charset, item_name="Crédit 10 €")
    )
    await shop.post(shop.message(txn_id="FORGED", custom=forged, charset=charset))
    await shop.post(
        shop.message(txn_id="PLATFORM", custom="", receiver_email=OPERATOR_RECEIVER.upper())
    )
    # when Acme reads its messages
    nodes = await _read(tenants, "acme")
    # then it sees the two paid to it, read in their charset, crediting nobody
    assert [(n["txnId"], n["status"], n["client"]) for n in nodes] == [
        ("FORGED", "FLAGGED", None),
        ("BARE", "FLAGGED", None),
    ]
    bare = nodes[1]
    assert bare["charset"] == {"windows-1252": "cp1252", "UTF-8": "utf-8"}[charset]
    assert (bare["payerName"], bare["payerEmail"]) == ("Jürgen Müller", "juergen@example.test")
    assert bare["itemName"] == "Crédit 10 €"
    assert bare["amount"] == {"amount": "10.000000", "currency": "USD"}
    assert (bare["txnType"], bare["paymentStatus"]) == ("web_accept", "Completed")
    assert f"last_name={encoded}" in bare["body"]
    assert {"name": "last_name", "value": "Müller"} in bare["fields"]
    async with sessions() as s:
        assert await client_balance(s, shop.client) == 0
        assert await client_balance(s, gina) == 0
    # Globex sees none of them (not even the one forged to name its client); the operator
    # sees all three, the one paid to its own email too
    assert await _read(tenants, "globex") == []
    assert [n["txnId"] for n in await _read(tenants, "operator")] == ["PLATFORM", "FORGED", "BARE"]
