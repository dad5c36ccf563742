"""A test certificate authority that plays PayPal's message signer.

``TestAuthority`` makes a root, an intermediate and an RSA leaf issued to PayPal's
message-verification name, plus the leaves a forger could present: one past its validity,
one chaining to a root we do not trust, and one issued to another name. ``sign`` signs a
webhook delivery the way PayPal does.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

SIGNER_NAME = "messageverificationcerts.paypal.com"
CA_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Dialtone Test PKI"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


@dataclass
class Issued:
    cert: x509.Certificate
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _issue(
    subject: str,
    key,
    issuer: Issued | None,
    *,
    ca: bool,
    not_before: datetime,
    not_after: datetime,
    serial: int,
) -> Issued:
    issuer_name = issuer.cert.subject if issuer else _name(subject)
    signing_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()),
            critical=False,
        )
    )
    if ca:
        builder = builder.add_extension(CA_USAGE, critical=True)
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False
        )
    return Issued(builder.sign(signing_key, hashes.SHA256()), key)


class TestAuthority:
    """Root → intermediate → leaf, made once per test session (RSA keys take a moment)."""

    __test__ = False  # not a test class

    def __init__(self) -> None:
        self.now = datetime.now(UTC)
        self.leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.root = self._ca("Dialtone Test Root", None, serial=1)
        self.intermediate = self._ca("Dialtone Test Signing CA", self.root, serial=2)
        self.foreign_root = self._ca("Somebody Else's Root", None, serial=3)
        self.foreign_intermediate = self._ca("Somebody Else's CA", self.foreign_root, serial=4)

    def _ca(self, name: str, issuer: Issued | None, *, serial: int) -> Issued:
        return _issue(
            name,
            ec.generate_private_key(ec.SECP256R1()),
            issuer,
            ca=True,
            not_before=self.now - timedelta(days=30),
            not_after=self.now + timedelta(days=3650),
            serial=serial,
        )

    def _leaf(self, issuer: Issued, *, name: str = SIGNER_NAME, expired: bool = False) -> Issued:
        end = self.now - timedelta(days=1) if expired else self.now + timedelta(days=365)
        return _issue(
            name,
            self.leaf_key,
            issuer,
            ca=False,
            not_before=self.now - timedelta(days=10),
            not_after=end,
            serial=x509.random_serial_number(),
        )

    @cached_property
    def chains(self) -> dict[str, bytes]:
        """PEM downloads by kind: good, expired, foreign (another root), misnamed."""
        leaves = {
            "good": (self._leaf(self.intermediate), self.intermediate),
            "expired": (self._leaf(self.intermediate, expired=True), self.intermediate),
            "foreign": (self._leaf(self.foreign_intermediate), self.foreign_intermediate),
            "misnamed": (self._leaf(self.intermediate, name="www.example.com"), self.intermediate),
        }
        return {kind: pem(leaf.cert, ca.cert) for kind, (leaf, ca) in leaves.items()}

    def roots_pem(self) -> bytes:
        return pem(self.root.cert)

    def sign(self, transmission_id: str, time: str, webhook_id: str, body: bytes) -> str:
        message = f"{transmission_id}|{time}|{webhook_id}|{zlib.crc32(body)}".encode()
        signature = self.leaf_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
