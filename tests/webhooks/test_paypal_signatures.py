"""The offline check of PayPal webhook signatures, on its own: the signed message, the
certificate cache, and what is refused before any download."""

from __future__ import annotations

import zlib
from datetime import timedelta

import pytest

from api.domain import paypal_signatures as sig
from tests.webhooks.paypal_certs import TestAuthority
from tests.webhooks.paypal_rest import CERT_PATH, FakeRest

BODY = b'{"id": "WH-1", "event_type": "PAYMENT.CAPTURE.COMPLETED", "resource": {}}'


@pytest.fixture(scope="module")
def authority() -> TestAuthority:
    return TestAuthority()


@pytest.fixture
def certs(paypal, authority, tmp_path) -> tuple[sig.CertificateCache, FakeRest]:
    roots = tmp_path / "roots.pem"
    roots.write_bytes(authority.roots_pem())
    return sig.CertificateCache(origins=(paypal.url,), roots=str(roots)), FakeRest(
        paypal, authority
    )


def transmission(authority: TestAuthority, url: str, **kw: str) -> sig.Transmission:
    fields = {
        "transmission_id": "69cd13f0-d67a-11e5-baa3-778b53f4ae55",
        "transmission_time": "2026-02-18T20:01:35Z",
        "cert_url": url,
        "auth_algo": "SHA256withRSA",
    }
    fields.update(kw)
    signature = authority.sign(fields["transmission_id"], fields["transmission_time"], "WH42", BODY)
    return sig.Transmission(transmission_sig=fields.pop("sig", signature), **fields)


def test_the_signed_message_ends_with_the_unsigned_decimal_crc32_of_the_body():
    body = b"\xff" * 7  # a CRC32 above 2**31: never written as a negative number
    assert zlib.crc32(body) > 2**31
    t = sig.Transmission("tid", "2026-01-01T00:00:00Z", "x", "https://api.paypal.com/", "a")
    assert (
        sig.signed_message(t, "WH42", body)
        == f"tid|2026-01-01T00:00:00Z|WH42|{zlib.crc32(body)}".encode()
    )


async def test_a_certificate_is_downloaded_once_and_its_validity_checked_at_every_use(
    certs, authority
):
    cache, rest = certs
    t = transmission(authority, rest.cert_url())
    for _ in range(3):
        await sig.verify(cache, t, webhook_id="WH42", body=BODY)
    assert len(rest.fake.received(CERT_PATH + "good")) == 1
    # a year and a day later the cached certificate has expired
    later = authority.now + timedelta(days=366)
    with pytest.raises(sig.SignatureInvalid, match="not valid at validation time"):
        await sig.verify(cache, t, webhook_id="WH42", body=BODY, now=later)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"auth_algo": "SHA1withRSA"}, "unsupported signature algorithm"),
        ({"sig": "not base64!"}, "not base64"),
        ({"cert_url": "https://api.paypal.com.evil.test" + CERT_PATH + "good"}, "not PayPal's"),
        ({"cert_url": "URL" + CERT_PATH + "good?x=1"}, "query"),
    ],
)
async def test_what_is_refused_without_a_download(certs, authority, change, reason):
    cache, rest = certs
    if change.get("cert_url", "").startswith("URL"):
        change["cert_url"] = change["cert_url"].replace("URL", rest.fake.url)
    with pytest.raises(sig.SignatureInvalid, match=reason):
        await sig.verify(
            cache, transmission(authority, rest.cert_url(), **change), webhook_id="WH42", body=BODY
        )
    assert rest.fake.received() == []
