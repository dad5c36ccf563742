"""The portal's Invoices page over HTTP, as the demo's postpaid client (Gotham Legal LLP, with a
paid invoice and one to pay): what it lists and how, overdue and paid marks, the PDF download
and who may read it, drafts never shown, a prepaid client's empty state, the page in Hebrew."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from strawberry.relay import to_base64

from api.db import transaction
from api.domain import demo
from api.models import Invoice
from api.models.base import utcnow
from tests.frontends.conftest import ACME_HOST, GLOBEX_HOST
from tests.invoicing import pdf_text

ROW = re.compile(r"<tr class=\"([^\"]*)\">(.*?)</tr>", re.S)


def _rows(html: str) -> dict[str, tuple[str, str]]:
    """The invoices table's rows by invoice number: (the row's classes, its text)."""
    out = {}
    for classes, row in ROW.findall(html):
        text = " ".join(re.sub(r"<[^>]+>", " ", row).split())
        number = re.search(r"(INV|CN)-\d{6}", text)
        if number:
            out[number.group(0)] = (classes, text)
    return out


async def _gotham(browse):
    browser = browse(ACME_HOST)
    signed = await browser.login(demo.POSTPAID_CLIENT_EMAIL)
    assert signed.status_code == 303
    return browser


async def _api(browser, query: str, variables: dict | None = None) -> dict:
    response = await browser.http.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"X-CSRF-Token": browser.http.cookies["dialtone_csrf"]},
    )
    return response.json()


async def test_the_postpaid_client_sees_its_invoices_paid_and_to_pay(browse, demo_world, sessions):
    paid_id, open_id = demo_world.invoice_ids
    async with sessions() as s:
        paid, to_pay = await s.get(Invoice, paid_id), await s.get(Invoice, open_id)
    browser = await _gotham(browse)
    page = await browser.http.get("/invoices")
    assert page.status_code == 200
    # the menu leads here, marked as the current page
    assert '<a href="/invoices" aria-current="page">Invoices</a>' in page.text
    rows = _rows(page.text)
    assert list(rows) == ["INV-000002", "INV-000001"]  # newest first
    # the paid one is marked paid, with its total and nothing still due
    classes, text = rows["INV-000001"]
    paid_total = f"${Decimal(paid.total) / 1_000_000:,.2f}"
    assert classes == "paid" and "✓ Paid" in text and paid_total in text
    assert text.count("$0.00") == 1
    # the open one is to pay: its total, all of it still due, issued today, due in 14 days
    classes, text = rows["INV-000002"]
    assert classes == "sent" and "To pay" in text and "Overdue" not in text
    assert text.count("$5.00") == 2
    issued = to_pay.issued_at.strftime("%b %-d, %Y")
    due = to_pay.due_at.strftime("%b %-d, %Y")
    assert f"{issued} {due}" in text and (to_pay.due_at - to_pay.issued_at).days == 14
    # each row links its PDF, downloaded as what was sent
    link = f"/invoices/{to_base64('Invoice', open_id)}.pdf"
    assert f'href="{link}" download="INV-000002.pdf"' in page.text
    pdf = await browser.http.get(link)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content)
    assert "Invoice INV-000002" in text and "Billed to: Gotham Legal LLP, Harvey Dent" in text
    assert "FEE-SETUP" in text and "Total $5.00" in text


async def test_an_invoice_past_its_due_date_is_marked_overdue(browse, demo_world, sessions):
    _, open_id = demo_world.invoice_ids
    async with transaction(sessions) as s:
        (await s.get(Invoice, open_id)).due_at = utcnow() - timedelta(days=3)
    browser = await _gotham(browse)
    classes, text = _rows((await browser.http.get("/invoices")).text)["INV-000002"]
    assert classes == "sent overdue" and "! Overdue" in text and "To pay" not in text
    # the mark is the API's rule, which any API client reads too
    body = await _api(browser, "{ invoices { nodes { number overdue status } } }")
    assert body["data"]["invoices"]["nodes"] == [
        {"number": "INV-000002", "overdue": True, "status": "SENT"},
        {"number": "INV-000001", "overdue": False, "status": "PAID"},
    ]


async def test_a_draft_is_never_shown_to_the_client(browse, demo_world, sessions):
    # given a draft of Gotham's (the reseller is preparing it)
    gotham_id = demo_world.client_ids["Gotham Legal LLP"]
    async with transaction(sessions) as s:
        draft = Invoice(
            reseller_id=demo_world.reseller_ids["Acme Telecom"],
            client_id=gotham_id,
            currency="USD",
            subtotal=7_000_000,
            total=7_000_000,
        )
        s.add(draft)
        await s.flush()
        draft_gid = to_base64("Invoice", draft.id)
    browser = await _gotham(browse)
    # then the page lists only the two sent ones
    assert list(_rows((await browser.http.get("/invoices")).text)) == ["INV-000002", "INV-000001"]
    # and the API gives the client no way to it: not listed, not even asked by status or id
    body = await _api(
        browser,
        "query($id: ID!) { invoices(status: DRAFT) { nodes { id } } node(id: $id) { id } }",
        {"id": draft_gid},
    )
    assert body["data"] is None or body["data"]["invoices"]["nodes"] == []
    assert body["data"] is None or body["data"]["node"] is None
    # nor its PDF
    assert (await browser.http.get(f"/invoices/{draft_gid}.pdf")).status_code == 404


async def test_another_client_reads_none_of_it(browse, demo_world):
    paid_id, open_id = demo_world.invoice_ids
    # Blue Harbor (prepaid, Acme's too) has no invoices: a word, no table, no menu link
    browser = browse(ACME_HOST)
    await browser.login(demo.CLIENT_EMAIL)
    home = await browser.http.get("/")
    assert 'href="/invoices"' not in home.text
    page = await browser.http.get("/invoices")
    assert page.status_code == 200 and 'id="invoices"' not in page.text
    assert "No invoices yet" in page.text
    assert "Your account is prepaid" in page.text
    # and Gotham's PDFs are not found for it
    for pk in (paid_id, open_id):
        pdf = await browser.http.get(f"/invoices/{to_base64('Invoice', pk)}.pdf")
        assert pdf.status_code == 404
    # nobody signed in is sent to the login page; Globex's host serves none of Acme's
    assert (await browse(ACME_HOST).http.get("/invoices")).headers["location"] == "/login"
    assert (await browse(GLOBEX_HOST).http.get("/invoices")).headers["location"] == "/login"


async def test_the_page_in_hebrew_and_a_cursor_that_is_not_one(browse, demo_world):
    browser = await _gotham(browse)
    token = await browser.csrf("/invoices")
    await browser.http.post(
        "/language", data={"csrf_token": token, "lang": "he", "next": "/invoices"}
    )
    page = await browser.http.get("/invoices")
    assert 'lang="he" dir="rtl"' in page.text
    assert "<title>חשבוניות · Acme Voice</title>" in page.text
    _, text = _rows(page.text)["INV-000001"]
    assert "שולמה" in text and "לתשלום" not in text  # paid
    assert "לתשלום" in _rows(page.text)["INV-000002"][1]  # to pay
    # numbers and amounts stay left to right
    assert '<bdi dir="ltr">INV-000002</bdi>' in page.text
    assert re.search(r'<bdi dir="ltr">[^<]*5\.00[^<]*</bdi>', page.text)
    # a made-up cursor takes the browser back to the first page
    back = await browser.http.get("/invoices", params={"after": "not-a-cursor"})
    assert back.status_code == 303 and back.headers["location"] == "/invoices"
