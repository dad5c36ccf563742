"""Email over TLS: the outbox sent to a real local SMTP server (aiosmtpd) that speaks TLS from
the first byte (SMTPS) or upgrades with STARTTLS and requires AUTH, with a certificate of a
private CA that the mailer is told to trust (``DIALTONE_SMTP_CA_FILE``)."""

from __future__ import annotations

import ssl
from dataclasses import replace

import pytest
from sqlalchemy import select

from api.db import transaction
from api.domain import mailer, notifications
from api.models import OutboxEmail
from api.models.base import utcnow
from tests import factories as f
from tests.receivers import self_signed_certificate, smtp_server


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[str, str]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


async def _queue(sessions, to: str = "books@client.test") -> None:
    async with transaction(sessions) as s:
        reseller = await f.make_reseller(s, name="Acme Voice")
        await notifications.send_email(
            s,
            reseller_id=reseller.id,
            email=notifications.Email(to=to, subject="Invoice INV-000001", text="Attached."),
        )


async def _outbox(sessions) -> OutboxEmail:
    async with sessions() as s:
        return (await s.scalars(select(OutboxEmail))).one()


def _server_context(certificate: tuple[str, str]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def _sending_to(settings, inbox, **smtp):
    """The settings that send to the local server ``inbox``, with these ``smtp_*`` settings."""
    return replace(
        settings,
        smtp_host=inbox.host,
        smtp_port=inbox.port,
        smtp_timeout_seconds=5,
        **{f"smtp_{name}": value for name, value in smtp.items()},
    )


async def test_mail_goes_over_tls_from_the_first_byte(sessions, settings, certificate):
    with smtp_server(ssl_context=_server_context(certificate)) as inbox:
        mail = _sending_to(settings, inbox, tls=True, ca_file=certificate[0])
        await _queue(sessions)
        assert await mailer.send_due(sessions, mail, utcnow()) == 1
        [message] = inbox.to("books@client.test")
    assert message["Subject"] == "Invoice INV-000001"
    assert (await _outbox(sessions)).status == "sent"


async def test_starttls_then_auth_as_a_provider_on_port_587_wants(sessions, settings, certificate):
    logins: list[tuple[str, str]] = []
    with smtp_server(
        tls_context=_server_context(certificate), require_starttls=True, logins=logins
    ) as inbox:
        mail = _sending_to(
            settings,
            inbox,
            starttls=True,
            ca_file=certificate[0],
            username="mailer",
            password="s3cret-pass",
        )
        await _queue(sessions)
        assert await mailer.send_due(sessions, mail, utcnow()) == 1
        assert [m["Subject"] for m in inbox.to("books@client.test")] == ["Invoice INV-000001"]
    assert logins == [("mailer", "s3cret-pass")]


async def test_a_server_whose_certificate_is_not_trusted_gets_nothing(
    sessions, settings, certificate
):
    # the same TLS server, but the mailer checks it against the system's CAs only
    with smtp_server(ssl_context=_server_context(certificate)) as inbox:
        mail = _sending_to(settings, inbox, tls=True)
        await _queue(sessions)
        assert await mailer.send_due(sessions, mail, utcnow()) == 1
        assert inbox.messages == []
    row = await _outbox(sessions)
    assert (row.status, row.attempts) == ("pending", 1)  # tried again later, with backoff
    assert "certificate" in row.last_error.lower()


async def test_a_starttls_server_refuses_mail_sent_in_the_clear(sessions, settings, certificate):
    with smtp_server(tls_context=_server_context(certificate), require_starttls=True) as inbox:
        mail = _sending_to(settings, inbox)
        await _queue(sessions)
        await mailer.send_due(sessions, mail, utcnow())
        assert inbox.messages == []
    row = await _outbox(sessions)
    assert row.status in ("pending", "failed") and row.last_error


def test_the_tls_settings_are_read_from_the_environment():
    from api.settings import Settings

    default = Settings.from_env({})
    assert (default.smtp_tls, default.smtp_ca_file) == (False, "")
    given = Settings.from_env({"DIALTONE_SMTP_TLS": "1", "DIALTONE_SMTP_CA_FILE": "/etc/ca.pem"})
    assert (given.smtp_tls, given.smtp_ca_file) == (True, "/etc/ca.pem")
