"""Invoices over GraphQL and HTTP: drafted, edited and sent by the reseller with typed errors,
seen by each viewer as it may, the PDF downloaded, voids and credit notes moving money back
on the ledger, and the CSV export of sent invoices."""

from __future__ import annotations

import csv
import io

import pytest

from api.db import transaction
from api.domain import auth
from api.domain.actors import SYSTEM
from tests.api.conftest import PASSWORD, gid
from tests.factories import assert_ledger_consistent, client_balance
from tests.invoicing import call, ingest, pdf_text, postpaid_world

pytestmark = pytest.mark.usefixtures("ledger_checked")

INVOICE = (
    "id number status kind reason subtotal { amount currency } tax { amount } total { amount }"
    " paid { amount } due { amount } pdfUrl client { name }"
    " lines { id kind articleNumber description unit quantity unitPrice { amount }"
    " amount { amount } taxPct tax { amount } }"
)
ERRORS = "errors { code field message }"
DRAFT = (
    "mutation($c: ID!) { invoiceDraft(input: {clientId: $c})"
    f" {{ invoice {{ {INVOICE} }} {ERRORS} }} }}"
)
SEND = (
    f"mutation($i: ID!) {{ invoiceSend(input: {{id: $i}}) {{ invoice {{ {INVOICE} }} {ERRORS} }} }}"
)
UPDATE = (
    "mutation($l: ID!, $p: Decimal, $q: Decimal) { invoiceLineUpdate(input: {id: $l,"
    f" unitPrice: $p, quantity: $q}}) {{ invoice {{ {INVOICE} }} line {{ amount {{ amount }} }}"
    f" {ERRORS} }} }}"
)
ADD = (
    'mutation($i: ID!) { invoiceLineAdd(input: {invoiceId: $i, articleNumber: "SRV-1",'
    ' description: "Installation", unitPrice: "2.50", quantity: "2"})'
    f" {{ invoice {{ {INVOICE} }} {ERRORS} }} }}"
)
DELETE = (
    "mutation($l: ID!) { invoiceLineDelete(input: {id: $l})"
    f" {{ invoice {{ {INVOICE} }} {ERRORS} }} }}"
)
VOID = (
    f"mutation($i: ID!) {{ invoiceVoid(input: {{id: $i}}) {{ invoice {{ {INVOICE} }} {ERRORS} }} }}"
)
CREDIT = (
    "mutation($i: ID!, $a: Decimal!, $k: String!) { creditNoteCreate(input: {invoiceId: $i,"
    ' amount: $a, reason: "Goodwill", idempotencyKey: $k})'
    f" {{ creditNote {{ {INVOICE} }} replayed {ERRORS} }} }}"
)
LIST = f"{{ invoices {{ edges {{ node {{ {INVOICE} }} }} }} }}"


async def _basic_list_gid(sessions, reseller_id: int) -> str:
    """The reseller's basic list (made here if it was never used) as a global id."""
    from api.domain import price_lists

    async with transaction(sessions) as s:
        pk = (await price_lists.basic_list(s, reseller_id)).id
    return gid("PriceList", pk)


async def _setup(sessions, gql):
    """Acme's postpaid Alice (limit 100) made calls: 0.24 to France and 0.60 to the UK; Acme's
    owner, Alice and another reseller's owner are logged in."""
    async with transaction(sessions) as s:
        world = await postpaid_world(s, credit_limit="100")
        other = await postpaid_world(s, credit_limit="100", email="bob@example.test")
        await auth.create_user(
            s,
            SYSTEM,
            email="owner@acme.test",
            password=PASSWORD,
            role="reseller_owner",
            reseller_id=world.reseller_id,
        )
        await auth.create_user(
            s,
            SYSTEM,
            email="owner@other.test",
            password=PASSWORD,
            role="reseller_owner",
            reseller_id=other.reseller_id,
        )
        await auth.create_user(
            s,
            SYSTEM,
            email="alice@portal.test",
            password=PASSWORD,
            role="client",
            client_id=world.client_id,
        )
        await ingest(s, call(world, "33123456", 1200), call(world, "441234567", 3000))
    tokens = {
        who: await gql.login(email)
        for who, email in (
            ("acme", "owner@acme.test"),
            ("other", "owner@other.test"),
            ("alice", "alice@portal.test"),
        )
    }
    return world, tokens


async def test_a_reseller_drafts_edits_and_sends_and_each_viewer_sees_what_it_may(
    sessions, gql, app
):
    world, tokens = await _setup(sessions, gql)
    client = gid("Client", world.client_id)
    # when Acme drafts Alice's invoice now
    body = await gql(DRAFT, {"c": client}, token=tokens["acme"])
    payload = body["data"]["invoiceDraft"]
    assert payload["errors"] == []
    invoice = payload["invoice"]
    assert (invoice["status"], invoice["number"], invoice["reason"]) == ("DRAFT", None, "manual")
    assert invoice["total"]["amount"] == "0.840000"
    france, uk = invoice["lines"]
    assert (uk["articleNumber"], uk["quantity"], uk["unitPrice"]["amount"]) == (
        "CALL-44",
        "50",
        "0.012000",
    )
    # a second draft is refused, and so is another reseller
    body = await gql(DRAFT, {"c": client}, token=tokens["acme"])
    assert body["data"]["invoiceDraft"]["errors"][0]["code"] == "CONFLICT"
    body = await gql(DRAFT, {"c": client}, token=tokens["other"])
    assert body["data"]["invoiceDraft"]["errors"][0]["code"] == "NOT_FOUND"
    # Alice does not see the draft
    body = await gql(LIST, token=tokens["alice"])
    assert body["data"]["invoices"]["edges"] == []

    # when Acme lowers the UK price, adds two installations, and removes France
    body = await gql(UPDATE, {"l": uk["id"], "p": "0.01"}, token=tokens["acme"])
    assert body["data"]["invoiceLineUpdate"]["line"]["amount"]["amount"] == "0.500000"
    body = await gql(UPDATE, {"l": uk["id"], "q": "-1"}, token=tokens["acme"])
    assert body["data"]["invoiceLineUpdate"]["errors"] == [
        {
            "code": "VALIDATION",
            "field": "quantity",
            "message": "a quantity is a number from 0 up to a trillion",
        }
    ]
    body = await gql(ADD, {"i": invoice["id"]}, token=tokens["acme"])
    assert body["data"]["invoiceLineAdd"]["invoice"]["total"]["amount"] == "5.740000"
    body = await gql(DELETE, {"l": france["id"]}, token=tokens["acme"])
    edited = body["data"]["invoiceLineDelete"]["invoice"]
    assert [x["description"] for x in edited["lines"]] == [
        "Calls to United Kingdom",
        "Installation",
    ]
    assert edited["total"]["amount"] == "5.500000"

    # when it sends it
    body = await gql(SEND, {"i": invoice["id"]}, token=tokens["acme"])
    sent = body["data"]["invoiceSend"]["invoice"]
    assert (sent["status"], sent["number"], sent["due"]["amount"]) == (
        "SENT",
        "INV-000001",
        "5.500000",
    )
    async with sessions() as s:
        # she owes what the invoice says: 0.84 of calls, then 4.66 more for the edits
        assert await client_balance(s, world.client_id) == -5_500_000
        await assert_ledger_consistent(s)
    # then it is never edited again
    body = await gql(UPDATE, {"l": uk["id"], "p": "0"}, token=tokens["acme"])
    assert body["data"]["invoiceLineUpdate"]["errors"][0]["code"] == "CONFLICT"
    body = await gql(SEND, {"i": invoice["id"]}, token=tokens["acme"])
    assert body["data"]["invoiceSend"]["errors"][0]["code"] == "CONFLICT"
    # Alice sees it now; the other reseller does not
    body = await gql(LIST, token=tokens["alice"])
    assert [e["node"]["number"] for e in body["data"]["invoices"]["edges"]] == ["INV-000001"]
    body = await gql(LIST, token=tokens["other"])
    assert body["data"]["invoices"]["edges"] == []

    # and its PDF is downloaded by Acme and by Alice, by nobody else
    async with gql.client() as http:
        for who in ("acme", "alice"):
            response = await http.get(
                sent["pdfUrl"], headers={"Authorization": f"Bearer {tokens[who]}"}
            )
            assert response.status_code == 200, response.text
            assert response.headers["content-type"] == "application/pdf"
            text = pdf_text(response.content)
            assert "INV-000001" in text and "Installation" in text and "$5.50" in text
        response = await http.get(
            f"/invoices/{sent['id']}.pdf", headers={"Authorization": f"Bearer {tokens['other']}"}
        )
        assert response.status_code == 404
        assert (await http.get(f"/invoices/{sent['id']}.pdf")).status_code == 401

    # and the export for bookkeeping has its lines and totals
    async with gql.client() as http:
        response = await http.get(
            "/exports/invoices.csv", headers={"Authorization": f"Bearer {tokens['acme']}"}
        )
        assert response.status_code == 200
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [(r["invoice_number"], r["description"], r["amount"]) for r in rows] == [
            ("INV-000001", "Calls to United Kingdom", "0.50"),
            ("INV-000001", "Installation", "5.00"),
        ]
        assert {r["invoice_total"] for r in rows} == {"5.50"}
        assert sum(int(float(r["amount"]) * 100) for r in rows) == 550
        response = await http.get(
            "/exports/invoices.csv", headers={"Authorization": f"Bearer {tokens['other']}"}
        )
        assert list(csv.DictReader(io.StringIO(response.text))) == []
        response = await http.get(
            "/exports/invoices.csv", headers={"Authorization": f"Bearer {tokens['alice']}"}
        )
        assert response.status_code == 403


async def test_a_credit_note_and_a_void_give_money_back_on_the_ledger(sessions, gql):
    world, tokens = await _setup(sessions, gql)
    body = await gql(DRAFT, {"c": gid("Client", world.client_id)}, token=tokens["acme"])
    invoice_id = body["data"]["invoiceDraft"]["invoice"]["id"]
    await gql(SEND, {"i": invoice_id}, token=tokens["acme"])
    # a credit note of more than is due is refused, with nothing changed
    body = await gql(CREDIT, {"i": invoice_id, "a": "0.85", "k": "cn-1"}, token=tokens["acme"])
    assert body["data"]["creditNoteCreate"]["errors"][0]["field"] == "amount"
    # a credit note of 0.34: a numbered document, the money back, that much of it settled
    for replay in (False, True):
        body = await gql(CREDIT, {"i": invoice_id, "a": "0.34", "k": "cn-1"}, token=tokens["acme"])
        payload = body["data"]["creditNoteCreate"]
        assert payload["errors"] == [] and payload["replayed"] is replay
        note = payload["creditNote"]
        assert (note["kind"], note["number"], note["total"]["amount"]) == (
            "CREDIT_NOTE",
            "CN-000002",
            "-0.340000",
        )
    async with sessions() as s:
        assert await client_balance(s, world.client_id) == -500_000
    body = await gql(LIST, token=tokens["acme"])
    by_kind = {e["node"]["kind"]: e["node"] for e in body["data"]["invoices"]["edges"]}
    assert by_kind["INVOICE"]["due"]["amount"] == "0.500000"
    # an invoice with something settled on it is not voided
    body = await gql(VOID, {"i": invoice_id}, token=tokens["acme"])
    assert body["data"]["invoiceVoid"]["errors"][0]["code"] == "CONFLICT"

    # a new call, invoiced and voided: its total goes back to her
    async with transaction(sessions) as s:
        await ingest(s, call(world, "441234567", 100))
    body = await gql(DRAFT, {"c": gid("Client", world.client_id)}, token=tokens["acme"])
    second = body["data"]["invoiceDraft"]["invoice"]["id"]
    await gql(SEND, {"i": second}, token=tokens["acme"])
    body = await gql(VOID, {"i": second}, token=tokens["other"])
    assert body["data"]["invoiceVoid"]["errors"][0]["code"] == "NOT_FOUND"
    body = await gql(VOID, {"i": second}, token=tokens["acme"])
    assert body["data"]["invoiceVoid"]["invoice"]["status"] == "VOID"
    async with sessions() as s:
        assert await client_balance(s, world.client_id) == -500_000
        await assert_ledger_consistent(s)
    body = await gql(VOID, {"i": second}, token=tokens["acme"])
    assert body["data"]["invoiceVoid"]["errors"][0]["code"] == "CONFLICT"


async def test_settings_terms_tax_rates_and_price_lists_over_graphql(sessions, gql):
    world, tokens = await _setup(sessions, gql)
    client = gid("Client", world.client_id)
    acme = tokens["acme"]
    basic = await _basic_list_gid(sessions, world.reseller_id)
    body = await gql(
        'mutation { invoiceSettingsUpdate(input: {taxRatePct: "10", creditLimitStep: "25"})'
        " { taxRatePct creditLimitStep { amount } errors { code } } }",
        token=acme,
    )
    assert body["data"]["invoiceSettingsUpdate"] == {
        "taxRatePct": "10.0000",
        "creditLimitStep": {"amount": "25.000000"},
        "errors": [],
    }
    body = await gql(
        "mutation($c: ID!) { clientInvoiceTermsUpdate(input: {clientId: $c, dueDays: 30,"
        ' blockAfterDaysOverdue: 7, discountPct: "10"}) { terms { dueDays'
        " blockAfterDaysOverdue discountPct priceListId } errors { code field } } }",
        {"c": client},
        token=acme,
    )
    assert body["data"]["clientInvoiceTermsUpdate"]["terms"] == {
        "dueDays": 30,
        "blockAfterDaysOverdue": 7,
        "discountPct": "10.0000",
        "priceListId": basic,
    }
    body = await gql(
        "mutation($c: ID!) { clientInvoiceTermsUpdate(input: {clientId: $c, dueDays: 999})"
        " { terms { dueDays } errors { code field } } }",
        {"c": client},
        token=acme,
    )
    assert body["data"]["clientInvoiceTermsUpdate"]["errors"] == [
        {"code": "VALIDATION", "field": "dueDays"}
    ]
    body = await gql(
        'mutation($c: ID!) { clientTaxRateAdd(input: {clientId: $c, ratePct: "20",'
        ' validFrom: "2000-01-01"}) { terms { taxRates { ratePct validFrom validTo } }'
        " errors { code } } }",
        {"c": client},
        token=acme,
    )
    assert body["data"]["clientTaxRateAdd"]["terms"]["taxRates"] == [
        {"ratePct": "20.0000", "validFrom": "2000-01-01", "validTo": None}
    ]
    body = await gql(
        'mutation { priceListItemCreate(input: {articleNumber: "SRV-9", description: "Router",'
        ' unitPrice: "50"}) { priceList { id name isBasic items { articleNumber } }'
        " item { id unitPrice { amount } } errors { code } } }",
        token=acme,
    )
    created = body["data"]["priceListItemCreate"]
    assert created["priceList"]["name"] == "Basic" and created["priceList"]["isBasic"]
    # the client's own rate (20 %) applies, and its discount on the article
    body = await gql(DRAFT, {"c": client}, token=acme)
    draft = body["data"]["invoiceDraft"]["invoice"]
    assert {x["taxPct"] for x in draft["lines"]} == {"20.0000"}
    body = await gql(
        "mutation($i: ID!, $p: ID!) { invoiceLineAdd(input: {invoiceId: $i,"
        f" priceListItemId: $p}}) {{ invoice {{ {INVOICE} }} {ERRORS} }} }}",
        {"i": draft["id"], "p": created["item"]["id"]},
        token=acme,
    )
    line = body["data"]["invoiceLineAdd"]["invoice"]["lines"][-1]
    assert (line["articleNumber"], line["unitPrice"]["amount"], line["tax"]["amount"]) == (
        "SRV-9",
        "45.000000",
        "9.000000",
    )
    # a client reads its terms, cannot change them; another reseller finds nothing
    body = await gql(
        "query($c: ID!) { clientInvoiceTerms(clientId: $c) { dueDays } }",
        {"c": client},
        token=tokens["alice"],
    )
    assert body["data"]["clientInvoiceTerms"] == {"dueDays": 30}
    body = await gql(
        "query($c: ID!) { clientInvoiceTerms(clientId: $c) { dueDays } }",
        {"c": client},
        token=tokens["other"],
    )
    assert body["data"]["clientInvoiceTerms"] is None
    body = await gql(
        "mutation($c: ID!) { clientInvoiceTermsUpdate(input: {clientId: $c, dueDays: 1})"
        " { errors { code } } }",
        {"c": client},
        token=tokens["alice"],
    )
    assert body["data"]["clientInvoiceTermsUpdate"]["errors"][0]["code"] == "PERMISSION_DENIED"


async def test_an_invoice_list_runs_as_many_statements_for_15_as_for_3(sessions, gql, app):
    from sqlalchemy import event

    world, tokens = await _setup(sessions, gql)
    from api.domain import invoices as invoices_domain
    from tests.factories import reseller_actor

    acme = reseller_actor(world.reseller_id)
    for _ in range(15):
        async with transaction(sessions) as s:
            await ingest(s, call(world, "441234567", 60), call(world, "33123456", 60))
        async with transaction(sessions) as s:
            invoice = await invoices_domain.draft_for_client(s, acme, world.client_id)
            await invoices_domain.send(s, acme, invoice.id)
    query = (
        "query($n: Int!) { invoices(first: $n) { edges { node {"
        f" {INVOICE} reseller {{ name }} }} }} }} }}"
    )
    counts = []
    for n in (3, 15):
        seen: list[str] = []

        def count(_conn, _cursor, statement, *_args, seen=seen):
            seen.append(statement)

        event.listen(app.state.engine.sync_engine, "before_cursor_execute", count)
        try:
            body = await gql(query, {"n": n}, token=tokens["acme"])
        finally:
            event.remove(app.state.engine.sync_engine, "before_cursor_execute", count)
        edges = body["data"]["invoices"]["edges"]
        assert len(edges) == n and all(len(e["node"]["lines"]) == 2 for e in edges)
        counts.append(len(seen))
    assert counts[0] == counts[1], counts


ITEM = "item { id articleNumber description unit unitPrice { amount } }"
LIST_ITEMS = "priceList { name items { articleNumber description unit unitPrice { amount } } }"


async def test_a_reseller_changes_and_removes_price_list_articles(sessions, gql):
    world, tokens = await _setup(sessions, gql)
    acme = tokens["acme"]

    async def item_change(doc, variables, token=acme, name="priceListItemUpdate"):
        return (await gql(doc, variables, token=token))["data"][name]

    # given two articles on Acme's basic list, one of them on Alice's draft
    ids = {}
    for number, price in (("SRV-1", "10"), ("SRV-2", "20")):
        created = await item_change(
            "mutation($n: String!, $p: Decimal!) { priceListItemCreate(input: {articleNumber:"
            f' $n, description: "Router", unitPrice: $p}}) {{ {ITEM} {ERRORS} }} }}',
            {"n": number, "p": price},
            name="priceListItemCreate",
        )
        ids[number] = created["item"]["id"]
    draft = (await gql(DRAFT, {"c": gid("Client", world.client_id)}, token=acme))["data"][
        "invoiceDraft"
    ]["invoice"]
    add_article = (
        "mutation($i: ID!, $p: ID!) { invoiceLineAdd(input: {invoiceId: $i,"
        f" priceListItemId: $p}}) {{ invoice {{ {INVOICE} }} {ERRORS} }} }}"
    )
    await gql(add_article, {"i": draft["id"], "p": ids["SRV-1"]}, token=acme)

    # when the reseller changes the first article's price, description and unit
    update = (
        "mutation($i: ID!, $n: String, $d: String, $u: String, $p: Decimal) {"
        " priceListItemUpdate(input: {id: $i, articleNumber: $n, description: $d, unit: $u,"
        f" unitPrice: $p}}) {{ {LIST_ITEMS} {ITEM} {ERRORS} }} }}"
    )
    changed = await item_change(
        update, {"i": ids["SRV-1"], "d": "Router X", "u": "h", "p": "12.50"}
    )
    # then the article is changed, the list shows it
    assert changed["errors"] == []
    assert changed["item"] == {
        "id": ids["SRV-1"],
        "articleNumber": "SRV-1",
        "description": "Router X",
        "unit": "h",
        "unitPrice": {"amount": "12.500000"},
    }
    assert [
        (x["articleNumber"], x["unitPrice"]["amount"]) for x in changed["priceList"]["items"]
    ] == [
        ("SRV-1", "12.500000"),
        ("SRV-2", "20.000000"),
    ]
    # and a number taken by the other article, a negative price, another reseller and a client
    # change nothing
    taken = await item_change(update, {"i": ids["SRV-1"], "n": "SRV-2"})
    assert (taken["item"], taken["errors"][0]["code"], taken["errors"][0]["field"]) == (
        None,
        "CONFLICT",
        "articleNumber",
    )
    negative = await item_change(update, {"i": ids["SRV-1"], "p": "-1"})
    assert [(e["code"], e["field"]) for e in negative["errors"]] == [("VALIDATION", "unitPrice")]
    for who in ("other", "alice"):
        refused = await item_change(update, {"i": ids["SRV-1"], "p": "1"}, token=tokens[who])
        assert refused["item"] is None and refused["errors"][0]["code"] in (
            "NOT_FOUND",
            "PERMISSION_DENIED",
        )
        delete = (
            "mutation($i: ID!) { priceListItemDelete(input: {id: $i})"
            f" {{ {LIST_ITEMS} {ERRORS} }} }}"
        )
        refused = await item_change(
            delete, {"i": ids["SRV-2"]}, token=tokens[who], name="priceListItemDelete"
        )
        assert refused["priceList"] is None and refused["errors"]

    # when the reseller removes the second article
    removed = await item_change(delete, {"i": ids["SRV-2"]}, name="priceListItemDelete")
    # then the list holds the first only, and removing it again finds nothing
    assert removed["errors"] == []
    assert [x["articleNumber"] for x in removed["priceList"]["items"]] == ["SRV-1"]
    again = await item_change(delete, {"i": ids["SRV-2"]}, name="priceListItemDelete")
    assert [(e["code"], e["field"]) for e in again["errors"]] == [("NOT_FOUND", "id")]
    # and the line taken before keeps its price, while a new one takes the changed article's
    body = await gql(add_article, {"i": draft["id"], "p": ids["SRV-1"]}, token=acme)
    lines = body["data"]["invoiceLineAdd"]["invoice"]["lines"]
    assert [
        (x["articleNumber"], x["description"], x["unit"], x["unitPrice"]["amount"])
        for x in lines
        if x["kind"] == "ITEM"
    ] == [
        ("SRV-1", "Router", "pcs", "10.000000"),
        ("SRV-1", "Router X", "h", "12.500000"),
    ]
