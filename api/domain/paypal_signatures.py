"""Offline verification of PayPal REST webhook signatures.

PayPal signs each webhook delivery with the private key of its message-verification
certificate. The signed message is::

    <PAYPAL-TRANSMISSION-ID>|<PAYPAL-TRANSMISSION-TIME>|<webhook id>|<CRC32 of the raw body>

with the CRC32 written as an unsigned decimal number, signed SHA256withRSA
(``PAYPAL-AUTH-ALGO``), the signature base64 in ``PAYPAL-TRANSMISSION-SIG``. The webhook id is
the receiver's own (from its REST app settings), so an event PayPal signed for somebody
else's webhook never verifies here.

The certificate is downloaded from ``PAYPAL-CERT-URL`` only when that URL is on an allowed
origin (``DIALTONE_PAYPAL_CERT_ORIGINS``; PayPal's API hosts by default) under PayPal's
certificate path, without following redirects. It must chain to a trusted root
(``DIALTONE_PAYPAL_CERT_ROOTS``, a PEM bundle; certifi's by default) with every certificate
in its validity period, and be issued to one of PayPal's message-verification names. Chains
are cached per URL; the validity period is checked again at every use.

We verify here rather than with PayPal's ``verify-webhook-signature`` call: no round trip per
event, and no second credential needed to accept money.
"""

from __future__ import annotations

import base64
import binascii
import warnings
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509 import verification
from cryptography.x509.oid import NameOID

CERT_PATH_PREFIX = "/v1/notifications/certs/"
SIGNER_NAMES = frozenset(
    {"messageverificationcerts.paypal.com", "messageverificationcerts.sandbox.paypal.com"}
)
SUPPORTED_ALGORITHM = "SHA256withRSA"
MAX_CERT_BYTES = 64 * 1024
CACHE_SIZE = 16

HEADERS = {
    "transmission_id": "paypal-transmission-id",
    "transmission_time": "paypal-transmission-time",
    "transmission_sig": "paypal-transmission-sig",
    "cert_url": "paypal-cert-url",
    "auth_algo": "paypal-auth-algo",
}


class SignatureInvalid(Exception):
    """The delivery is not PayPal's: refuse it."""


class CertificateUnavailable(Exception):
    """The certificate could not be fetched now; verifying again later may succeed."""


@dataclass(frozen=True)
class Transmission:
    """The signature headers of one webhook delivery."""

    transmission_id: str
    transmission_time: str
    transmission_sig: str
    cert_url: str
    auth_algo: str

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Transmission:
        lowered = {k.lower(): v for k, v in headers.items()}
        values = {field: lowered.get(header, "").strip() for field, header in HEADERS.items()}
        missing = [HEADERS[f].upper() for f, value in values.items() if not value]
        if missing:
            raise SignatureInvalid(f"missing {', '.join(missing)}")
        return cls(**values)


def signed_message(transmission: Transmission, webhook_id: str, body: bytes) -> bytes:
    """What PayPal signed: transmission id, time, webhook id and the body's CRC32 (decimal)."""
    return (
        f"{transmission.transmission_id}|{transmission.transmission_time}|{webhook_id}"
        f"|{zlib.crc32(body)}"
    ).encode()


@lru_cache(maxsize=4)
def trust_store(path: str) -> verification.Store:
    """The trusted roots of a PEM bundle; certifi's bundle when ``path`` is empty."""
    if not path:
        import certifi

        path = certifi.where()
    with warnings.catch_warnings():  # public bundles hold a few roots with odd serial numbers
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return verification.Store(x509.load_pem_x509_certificates(Path(path).read_bytes()))


def _leaf_names(cert: x509.Certificate) -> set[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        return {name.lower() for name in san.get_values_for_type(x509.DNSName)}
    except x509.ExtensionNotFound:
        return {
            str(a.value).lower() for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        }


class CertificateCache:
    """Fetches signing certificates from allowed origins and keeps verified chains."""

    def __init__(
        self,
        *,
        origins: tuple[str, ...],
        roots: str = "",
        timeout: float = 10.0,
    ) -> None:
        self.origins = frozenset(_origin(o) for o in origins)
        self.roots = roots  # a PEM bundle's path; certifi's when empty
        self.timeout = timeout
        self._chains: OrderedDict[str, list[x509.Certificate]] = OrderedDict()

    def check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if _origin(url) not in self.origins or not parts.path.startswith(CERT_PATH_PREFIX):
            raise SignatureInvalid(f"certificate URL {url[:200]!r} is not PayPal's")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise SignatureInvalid("certificate URL carries a query, fragment or credentials")

    async def signing_key(self, url: str, *, now: datetime | None = None) -> rsa.RSAPublicKey:
        """The public key of the verified certificate at ``url``."""
        self.check_url(url)
        chain = self._chains.get(url)
        if chain is None:
            chain = await self._fetch(url)
        else:
            self._chains.move_to_end(url)
        key = self._verify_chain(chain, now or datetime.now(UTC))
        self._chains[url] = chain
        while len(self._chains) > CACHE_SIZE:
            self._chains.popitem(last=False)
        return key

    async def _fetch(self, url: str) -> list[x509.Certificate]:
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as http:
                response = await http.get(url)
        except httpx.HTTPError as exc:
            raise CertificateUnavailable(f"fetching the certificate failed: {exc!r}") from None
        if response.status_code != 200:
            raise CertificateUnavailable(
                f"fetching the certificate answered {response.status_code}"
            )
        if len(response.content) > MAX_CERT_BYTES:
            raise SignatureInvalid("the certificate download is too large")
        try:
            chain = x509.load_pem_x509_certificates(response.content)
        except ValueError:
            raise SignatureInvalid("the certificate download is not PEM certificates") from None
        return chain

    def _verify_chain(self, chain: list[x509.Certificate], now: datetime) -> rsa.RSAPublicKey:
        leaf, *intermediates = chain
        verifier = (
            verification.PolicyBuilder()
            .store(trust_store(self.roots))
            .time(now)
            .extension_policies(
                ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
                ee_policy=verification.ExtensionPolicy.permit_all(),
            )
            .build_client_verifier()
        )
        try:
            verifier.verify(leaf, intermediates)
        except verification.VerificationError as exc:
            raise SignatureInvalid(f"the certificate does not verify: {exc}") from None
        if not _leaf_names(leaf) & SIGNER_NAMES:
            raise SignatureInvalid("the certificate is not issued to PayPal's message signer")
        key = leaf.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise SignatureInvalid("the certificate's key is not RSA")
        return key


def _origin(url: str) -> str:
    parts = urlsplit(url.strip())
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme, 0)
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}"


async def verify(
    certs: CertificateCache,
    transmission: Transmission,
    *,
    webhook_id: str,
    body: bytes,
    now: datetime | None = None,
) -> None:
    """Raise :class:`SignatureInvalid` unless PayPal signed this body for ``webhook_id``
    (:class:`CertificateUnavailable` when its certificate cannot be fetched now)."""
    if transmission.auth_algo != SUPPORTED_ALGORITHM:
        raise SignatureInvalid(f"unsupported signature algorithm {transmission.auth_algo[:40]!r}")
    if not webhook_id:
        raise SignatureInvalid("no webhook id is configured for this receiver")
    try:
        signature = base64.b64decode(transmission.transmission_sig, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureInvalid("the signature is not base64") from None
    key = await certs.signing_key(transmission.cert_url, now=now)
    try:
        key.verify(
            signature,
            signed_message(transmission, webhook_id, body),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except InvalidSignature:
        raise SignatureInvalid("the signature does not match") from None
