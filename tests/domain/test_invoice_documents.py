# ruff: noqa: RUF001, RUF003 - Cyrillic and Hebrew on purpose
"""The invoice PDF and the emails a client gets, in the client's language: Hebrew (right to
left) and Cyrillic names printed as written, headings from the portal's catalogues, amounts and
dates written by Babel; the emails received by a real SMTP server in French."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from api.db import transaction
from api.domain import accounts, alerts, invoices, mailer, payments, settlement
from api.domain.actors import SYSTEM
from api.i18n import translations
from api.models import Client, Invoice, InvoiceDocument
from tests.factories import reseller_actor, unique_key
from tests.invoicing import call, ingest, pdf_text, postpaid_world

pytestmark = pytest.mark.usefixtures("ledger_checked")


async def _sent_invoice(sessions, *, language: str, name: str, company: str, contact: str):
    """A postpaid client speaking ``language`` whose calls (0.60 + 0.24 + 0.18, its limit of
    1.00 reached) are invoiced and sent: the world, the invoice and its PDF as sent."""
    async with transaction(sessions) as s:
        world = await postpaid_world(s)
        client = await s.get(Client, world.client_id)
        client.name, client.company, client.contact_name = name, company, contact
        client.language = language
    async with transaction(sessions) as s:
        await ingest(s, call(world, "441234567", 3000), call(world, "33123456", 1200))
    async with transaction(sessions) as s:
        await ingest(s, call(world, "441234567", 900))
    async with transaction(sessions) as s:
        [draft] = list(await s.scalars(select(Invoice).where(Invoice.client_id == client.id)))
        sent = await invoices.send(s, reseller_actor(world.reseller_id), draft.id)
    async with sessions() as s:
        document = await s.get(InvoiceDocument, sent.id)
        return world, sent, pdf_text(document.content)


async def test_a_hebrew_clients_invoice_prints_its_name_and_hebrew_headings(sessions):
    _, sent, text = await _sent_invoice(
        sessions,
        language="he",
        name="משה כהן",
        company="כהן ובניו בע״מ",
        contact="משה כהן",
    )
    # the name comes back as written, after the Hebrew "billed to"
    assert "לכבוד: כהן ובניו בע״מ, משה כהן" in text
    # the headings are the catalogue's Hebrew, not English
    for heading in ("חשבונית", "תיאור", "כמות", "סכום ביניים", "סה״כ", "תאריך הנפקה"):
        assert heading in text, heading
    for english in ("Invoice", "Billed to", "Subtotal", "Total"):
        assert english not in text
    # the call lines were described in Hebrew when drafted, their unit printed in Hebrew (the
    # text comes back run by run, left to right: the deck's English name before the Hebrew)
    assert "United Kingdom שיחות אל" in text and "דק׳65" in text
    # the number and the amounts stay left to right inside it
    assert sent.number == "INV-000001" and "INV-000001" in text
    assert "1.02" in text and "0.012" in text


async def test_a_russian_clients_invoice_prints_cyrillic_and_russian_formats(sessions):
    _, sent, text = await _sent_invoice(
        sessions,
        language="ru",
        name="Ромашка",
        company="ООО «Ромашка»",
        contact="Иван Петров",
    )
    assert "Счёт INV-000001" in text
    assert "Плательщик: ООО «Ромашка», Иван Петров" in text
    assert "Звонки: United Kingdom 65 мин" in text
    for heading in ("Описание", "Количество", "Промежуточный итог", "Итого", "Валюта: USD"):
        assert heading in text, heading
    # Babel's Russian: a decimal comma, the currency after the amount
    assert "1,02\xa0$" in text or "1,02 $" in text
    # the issue date is written the Russian way ("7 дек. 2026 г.")
    assert f"Дата выставления: {sent.issued_at.day} " in text and "\u202fг." in text


async def test_a_french_client_gets_its_invoice_and_alerts_by_email_in_french(
    sessions, mail_settings, smtp_inbox
):
    # given Alice, postpaid, speaking French, and Bob, prepaid, French, warned under 10.00
    alice_email, bob_email = "alice@exemple.test", "bob@exemple.test"
    async with transaction(sessions) as s:
        world = await postpaid_world(s, email=alice_email)
        (await s.get(Client, world.client_id)).language = "fr"
        [bob] = await accounts.create_clients(
            s,
            SYSTEM,
            world.reseller_id,
            [
                {
                    "name": "Bob",
                    "billing_mode": "prepaid_strict",
                    "email": bob_email,
                    "language": "fr",
                    "low_balance_threshold": "10",
                }
            ],
        )
    acme = reseller_actor(world.reseller_id)
    async with transaction(sessions) as s:
        await payments.client_payment(s, acme, bob.id, "20", unique_key())
    # when Alice's calls reach her limit (blocked), her invoice is sent and later overdue, and
    # Bob's balance falls under his threshold
    async with transaction(sessions) as s:
        await ingest(s, call(world, "441234567", 3000), call(world, "33123456", 1200))
    async with transaction(sessions) as s:
        await ingest(s, call(world, "441234567", 900))
    async with transaction(sessions) as s:
        [draft] = list(await s.scalars(select(Invoice)))
        sent = await invoices.send(s, acme, draft.id)
    await invoices.mark_overdue(sessions, mail_settings, sent.due_at + timedelta(days=1))
    async with transaction(sessions) as s:
        await payments.client_charge(s, acme, bob.id, "15", unique_key(), "Frais")
    assert await mailer.send_due(sessions, mail_settings, sent.due_at) >= 4

    # then each mail Alice and Bob receive is French, amounts and dates written the French way
    to_alice = {m["Subject"]: m for m in smtp_inbox.to(alice_email)}
    assert "Votre service est bloqué" in to_alice
    blocked = to_alice["Votre service est bloqué"].get_content()
    assert "Bonjour Alice," in blocked
    assert "Votre service est bloqué (limite de crédit atteinte)." in blocked
    # (a subject is one line of plain spaces)
    issued = to_alice["Facture INV-000001 de Acme Telecom : 1,02 $US"]
    body = issued.get_body(("plain",)).get_content()
    assert "Veuillez trouver ci-joint la facture INV-000001 d'un montant de 1,02\xa0$US" in body
    due_day = sent.due_at.day
    assert f"à régler au plus tard le {due_day} " in body
    [attachment] = list(issued.iter_attachments())
    pdf = pdf_text(attachment.get_content())
    assert "Facture INV-000001" in pdf and "Sous-total" in pdf and "Facturé à : Alice Ltd" in pdf
    overdue = to_alice["Facture INV-000001 en retard : 1,02 $US"].get_content()
    assert "il reste 1,02\xa0$US à payer." in overdue
    to_bob = {m["Subject"]: m.get_content() for m in smtp_inbox.to(bob_email)}
    assert "Paiement reçu : 20,00 $US" in to_bob
    assert (
        "Votre solde est maintenant de 5,00\xa0$US, sous le seuil de 10,00\xa0$US."
        in (to_bob["Votre solde est bas"])
    )


def test_the_reasons_the_platform_gives_are_the_ones_translated():
    assert set(alerts.SYSTEM_REASONS) == {
        accounts.AUTO_SUSPEND_REASON,
        accounts.AUTO_BLOCK_REASON,
        settlement.OVERDUE_BLOCK_REASON,
    }
    for lang in ("fr", "ru", "he"):
        for reason in alerts.SYSTEM_REASONS:
            assert translations(lang).gettext(reason) != reason, (lang, reason)
