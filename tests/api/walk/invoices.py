"""The walk's operations for invoices: Acme's postpaid Arnold has a draft with a line and a
sent invoice."""

from __future__ import annotations

from decimal import Decimal

from api.db import transaction
from api.models import Invoice, InvoiceLine, PriceList, PriceListItem
from api.models.base import utcnow
from tests.api.conftest import gid

SNAPSHOT_MODELS = (Invoice, PriceList, PriceListItem)


async def prepare(sessions, world):
    async with transaction(sessions) as s:
        draft = Invoice(
            reseller_id=world.acme_id,
            client_id=world.acme_client2_id,
            currency="USD",
            subtotal=7_770_000,
            total=7_770_000,
        )
        sent = Invoice(
            reseller_id=world.acme_id,
            client_id=world.acme_client2_id,
            currency="USD",
            status="sent",
            number="INV-WALK-1",
            subtotal=8_880_000,
            total=8_880_000,
            issued_at=utcnow(),
            due_at=utcnow(),
        )
        s.add_all([draft, sent])
        await s.flush()
        line = InvoiceLine(
            invoice_id=draft.id,
            kind="item",
            description="Walk line of Arnold",
            quantity=Decimal(1),
            unit_price=7_770_000,
            amount=7_770_000,
        )
        s.add(line)
        s.add(
            InvoiceLine(
                invoice_id=sent.id,
                kind="item",
                description="Walk sent line of Arnold",
                quantity=Decimal(1),
                unit_price=8_880_000,
                amount=8_880_000,
            )
        )
        price_list = PriceList(reseller_id=world.acme_id, name="Acme Walk List")
        s.add(price_list)
        await s.flush()
        item = PriceListItem(
            price_list_id=price_list.id,
            reseller_id=world.acme_id,
            article_number="WALK-ART-1",
            description="Walk article",
            unit_price=4_440_000,
        )
        s.add(item)
        await s.flush()
    variables = {
        "pl": gid("PriceList", price_list.id),
        "pi": gid("PriceListItem", item.id),
        "iv": gid("Invoice", draft.id),
        "is": gid("Invoice", sent.id),
        "il": gid("InvoiceLine", line.id),
    }
    markers = [
        "INV-WALK-1",
        "Walk line of Arnold",
        "Acme Walk List",
        "WALK-ART-1",
        "7.77",
        "8.88",
        "4.44",
        *variables.values(),
    ]
    return variables, markers


INVOICE = (
    "id number status kind total { amount } due { amount } pdfUrl"
    " lines { id description amount { amount } } client { name }"
)
PAYLOAD = "errors { code field message }"

QUERIES = {
    "invoices": (
        "query($c2: ID!, $iv: ID!, $il: ID!) {"
        f" all: invoices {{ edges {{ node {{ {INVOICE} }} }} }}"
        f" mine: invoices(clientId: $c2, status: SENT) {{ edges {{ node {{ id }} }} }}"
        " node(id: $iv) { id } line: node(id: $il) { id } }"
    ),
    "priceLists": (
        "query($r: ID!, $pl: ID!, $pi: ID!) {"
        " all: priceLists { edges { node { id name"
        " items { articleNumber unitPrice { amount } } } } }"
        " theirs: priceLists(resellerId: $r) { edges { node { id } } }"
        " node(id: $pl) { id } item: node(id: $pi) { id } }"
    ),
    "clientInvoiceTerms": (
        "query($c2: ID!) { clientInvoiceTerms(clientId: $c2) { dueDays discountPct"
        " taxRates { ratePct } } }"
    ),
}

MUTATIONS = {
    "invoiceDraft": (
        "mutation($c2: ID!) { invoiceDraft(input: {clientId: $c2})"
        f" {{ invoice {{ {INVOICE} }} {PAYLOAD} }} }}"
    ),
    "invoiceLineUpdate": (
        'mutation($il: ID!) { invoiceLineUpdate(input: {id: $il, unitPrice: "0"})'
        f" {{ invoice {{ {INVOICE} }} line {{ description }} {PAYLOAD} }} }}"
    ),
    "invoiceLineAdd": (
        'mutation($iv: ID!) { invoiceLineAdd(input: {invoiceId: $iv, description: "x",'
        f' unitPrice: "1"}}) {{ invoice {{ {INVOICE} }} {PAYLOAD} }} }}'
    ),
    "invoiceLineDelete": (
        "mutation($il: ID!) { invoiceLineDelete(input: {id: $il})"
        f" {{ invoice {{ {INVOICE} }} {PAYLOAD} }} }}"
    ),
    "invoiceSend": (
        f"mutation($iv: ID!) {{ invoiceSend(input: {{id: $iv}}) {{ invoice {{ id }} {PAYLOAD} }} }}"
    ),
    "invoiceVoid": (
        f"mutation($is: ID!) {{ invoiceVoid(input: {{id: $is}}) {{ invoice {{ id }} {PAYLOAD} }} }}"
    ),
    "creditNoteCreate": (
        'mutation($is: ID!) { creditNoteCreate(input: {invoiceId: $is, amount: "1",'
        ' reason: "walk", idempotencyKey: "walk-cn"}) { creditNote { id number }'
        f" replayed {PAYLOAD} }} }}"
    ),
    "invoiceSettingsUpdate": (
        'mutation($r: ID!) { invoiceSettingsUpdate(input: {resellerId: $r, taxRatePct: "5"})'
        f" {{ taxRatePct {PAYLOAD} }} }}"
    ),
    "clientInvoiceTermsUpdate": (
        "mutation($c2: ID!) { clientInvoiceTermsUpdate(input: {clientId: $c2, dueDays: 1})"
        f" {{ terms {{ dueDays }} {PAYLOAD} }} }}"
    ),
    "clientTaxRateAdd": (
        'mutation($c2: ID!) { clientTaxRateAdd(input: {clientId: $c2, ratePct: "1",'
        f' validFrom: "2026-01-01"}}) {{ terms {{ dueDays }} {PAYLOAD} }} }}'
    ),
    "priceListCreate": (
        'mutation($r: ID!) { priceListCreate(input: {resellerId: $r, name: "Walk"})'
        f" {{ priceList {{ id }} {PAYLOAD} }} }}"
    ),
    "priceListItemCreate": (
        'mutation($pl: ID!) { priceListItemCreate(input: {priceListId: $pl, articleNumber: "W2",'
        f' description: "w", unitPrice: "1"}}) {{ priceList {{ id name }} {PAYLOAD} }} }}'
    ),
    "priceListItemUpdate": (
        'mutation($pi: ID!) { priceListItemUpdate(input: {id: $pi, unitPrice: "0",'
        ' description: "w"}) { priceList { id name } item { articleNumber unitPrice { amount } }'
        f" {PAYLOAD} }} }}"
    ),
    "priceListItemDelete": (
        "mutation($pi: ID!) { priceListItemDelete(input: {id: $pi})"
        f" {{ priceList {{ id name items {{ articleNumber }} }} {PAYLOAD} }} }}"
    ),
}
