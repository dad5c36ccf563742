"""A postpaid client from its calls to its paid invoice, end to end: calls ingested, the credit
limit reached and the client blocked, the drafted invoice edited and sent over GraphQL by the
logged-in reseller, its email received by a real SMTP server with the PDF read back, the invoice
paid by a PayPal IPN verified against a real local fake PayPal, and the client unblocked with a
raised credit limit."""

from __future__ import annotations

import dataclasses
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select

from api.app import create_app
from api.db import transaction
from api.domain import auth, authorize, invoices, mailer, paypal_ipn
from api.domain.actors import SYSTEM
from api.models import Brand, Client, Invoice, PaypalIpnMessage
from api.models.base import utcnow
from tests.api.conftest import GQL, PASSWORD, gid
from tests.factories import assert_ledger_consistent, client_balance
from tests.invoicing import U, call, ingest, pdf_text, postpaid_world
from tests.webhooks.paypal_server import IPN_PATH

pytestmark = pytest.mark.usefixtures("ledger_checked")

RECEIVER = "sales@acme.test"
ALICE = "alice@example.test"


def _ipn(settings, client_id: int, amount: str, txn_id: str) -> bytes:
    return urlencode(
        {
            "mc_gross": amount,
            "payment_status": "Completed",
            "charset": "UTF-8",
            "notify_version": "3.9",
            "custom": paypal_ipn.client_reference(settings.secret_key, client_id),
            "payer_status": "verified",
            "business": RECEIVER,
            "payer_email": ALICE,
            "txn_id": txn_id,
            "payment_type": "instant",
            "receiver_email": RECEIVER,
            "txn_type": "web_accept",
            "item_name": "Invoice",
            "mc_currency": "USD",
            "verify_sign": "AtkOfCXbDm2hu0ZELryHFjY-Vb7PAUvS6nMXgysbElEn9v-1XcmSoGtf",
        }
    ).encode("ascii")


async def test_calls_limit_blocked_invoice_edited_sent_paid_by_paypal_unblocked(
    sessions, mail_settings, smtp_inbox, paypal
):
    settings = dataclasses.replace(
        mail_settings,
        paypal_ipn_url=paypal.ipn_url,
        paypal_sandbox_ipn_url=paypal.sandbox_ipn_url,
    )
    # given Acme's postpaid client Alice with a credit limit of 1.00 (a paid invoice raises it
    # by 5.00) and Acme's brand with its PayPal receiver
    async with transaction(sessions) as s:
        world = await postpaid_world(s, credit_limit="1", step="5", email=ALICE)
        await auth.create_user(
            s,
            SYSTEM,
            email="owner@acme.test",
            password=PASSWORD,
            role="reseller_owner",
            reseller_id=world.reseller_id,
        )
        s.add(
            Brand(
                reseller_id=world.reseller_id,
                display_name="Acme Voice",
                title_background="#004488",
                paypal_receiver_email=RECEIVER,
                paypal_amounts=[10],
            )
        )

    # when her calls are ingested: 0.60 + 0.24 to the UK and France, then 0.18 to the UK
    async with transaction(sessions) as s:
        await ingest(s, call(world, "441234567", 3000), call(world, "33123456", 1200))
    async with sessions() as s:
        assert (await s.get(Client, world.client_id)).status == "active"
    async with transaction(sessions) as s:
        await ingest(s, call(world, "441234567", 900))

    # then the limit is reached: she is blocked from calling, and an invoice is drafted
    async with sessions() as s:
        alice = await s.get(Client, world.client_id)
        assert (alice.status, alice.status_reason) == ("blocked", "credit limit reached")
        assert await client_balance(s, alice) == -1_020_000
        verdict = await authorize.authorize(
            s, SYSTEM, sub_account_username=world.username, destination="441234567"
        )
        assert (verdict.allowed, verdict.reason) == (False, "CREDIT_LIMIT_REACHED")
        [draft] = list(await s.scalars(select(Invoice)))
        lines = (await invoices.lines_of(s, [draft.id]))[draft.id]
    assert [(x.description, x.amount) for x in lines] == [
        ("Calls to France", 240_000),
        ("Calls to United Kingdom", 780_000),
    ]

    # when the reseller, logged in, lowers the UK price to 0.0100/min (65 min: 0.65) and
    # sends it over GraphQL
    app = create_app(settings)
    try:
        gql = GQL(app)
        token = await gql.login("owner@acme.test")
        body = await gql(
            'mutation($l: ID!) { invoiceLineUpdate(input: {id: $l, unitPrice: "0.01"})'
            " { line { amount { amount } } errors { code message } } }",
            {"l": gid("InvoiceLine", lines[1].id)},
            token=token,
        )
        assert body["data"]["invoiceLineUpdate"] == {
            "line": {"amount": {"amount": "0.650000"}},
            "errors": [],
        }
        body = await gql(
            "mutation($i: ID!) { invoiceSend(input: {id: $i}) { invoice { number"
            " total { amount } } errors { code message } } }",
            {"i": gid("Invoice", draft.id)},
            token=token,
        )
        assert body["data"]["invoiceSend"] == {
            "invoice": {"number": "INV-000001", "total": {"amount": "0.890000"}},
            "errors": [],
        }
    finally:
        await app.state.engine.dispose()
    assert await mailer.send_due(sessions, settings, utcnow()) >= 1

    # then Alice receives it with its PDF, which reads as the invoice
    [message] = [m for m in smtp_inbox.to(ALICE) if "INV-000001" in m["Subject"]]
    assert message["Subject"] == "Invoice INV-000001 from Acme Voice: $0.89"
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "INV-000001.pdf"
    assert attachment.get_content_type() == "application/pdf"
    text = pdf_text(attachment.get_content())
    assert "Acme Voice" in text and "Invoice INV-000001" in text
    assert "CALL-33 Calls to France 20 min $0.012 0 $0.00 $0.24" in text
    assert "CALL-44 Calls to United Kingdom 65 min $0.01 0 $0.00 $0.65" in text
    assert "Total $0.89" in text
    async with sessions() as s:
        # the lower price was given back on the ledger: she owes what the invoice says
        assert await client_balance(s, world.client_id) == -890_000

    # when she pays it through PayPal, which tells us by IPN
    app = create_app(settings)
    try:
        transport = httpx.ASGITransport(app=app, client=("173.0.82.126", 443))
        async with httpx.AsyncClient(transport=transport, base_url="https://acme.test") as http:
            response = await http.post(
                "/webhooks/paypal/ipn",
                content=_ipn(settings, world.client_id, "0.89", "7TX00000000000001"),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        assert response.status_code == 200
    finally:
        await app.state.engine.dispose()

    # then the message was verified with PayPal and credited, the invoice is paid, and she is
    # unblocked with her limit raised by Acme's step
    assert len(paypal.received(IPN_PATH)) == 1
    async with sessions() as s:
        [ipn] = list(await s.scalars(select(PaypalIpnMessage)))
        assert ipn.status == "credited"
        invoice = await s.get(Invoice, draft.id)
        assert (invoice.status, invoice.paid) == ("paid", 890_000)
        alice = await s.get(Client, world.client_id)
        assert (alice.status, alice.credit_limit) == ("active", 6 * U)
        assert await client_balance(s, alice) == 0
        verdict = await authorize.authorize(
            s, SYSTEM, sub_account_username=world.username, destination="441234567"
        )
        assert (verdict.allowed, verdict.reason) == (True, "ACTIVE")
        await assert_ledger_consistent(s)
