"""Secrets kept at rest: sub-accounts' SIP secrets, clients' PINs, PayPal client secrets.

SIP secrets. A sub-account's secret is generated here (strong random) and shown once. It is kept
two ways so that a switch can be provisioned later either way:

* encrypted at rest (``SubAccount.secret_encrypted``) with Fernet (AES-128-CBC + HMAC-SHA256),
  under a key derived from ``settings.secret_key`` by HKDF/SHA-256 — a switch that needs the
  plain secret (a static SIP peer, a ``sip.conf``/``pjsip.conf`` export) gets it from the audited
  ``subAccountSecret`` read;
* as the SIP digest ``HA1 = md5(username:realm:secret)`` (``SubAccount.ha1``, realm from
  ``DIALTONE_SIP_REALM``) — a registrar that checks digests from a database (Kamailio's
  ``auth_db`` with ``calculate_ha1 = 0``, Asterisk realtime ``md5_cred``) uses it directly and never
  sees the secret.

Changing ``DIALTONE_SECRET_KEY`` makes the stored secrets unreadable (reset them); HA1 values keep
working.

PayPal REST apps' client secrets (``api.domain.paypal_credentials``) are encrypted the same way
and are never shown again.

PINs are stored only as ``HMAC-SHA256(secret_key, pin)``: a keyed digest, so a PIN can be looked
up by its digest (``Client.pin_digest`` is unique) but a database leak alone does not reveal it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SECRET_ALPHABET = string.ascii_letters + string.digits  # safe in every SIP config format
SECRET_LENGTH = 24  # ~142 bits


class SecretUnreadable(Exception):
    """The stored secret was encrypted under another key."""


@lru_cache(maxsize=8)
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"dialtone sip secrets v1"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def generate_secret() -> str:
    return "".join(secrets.choice(SECRET_ALPHABET) for _ in range(SECRET_LENGTH))


def encrypt(secret_key: str, plaintext: str) -> str:
    return _fernet(secret_key).encrypt(plaintext.encode()).decode()


def decrypt(secret_key: str, token: str) -> str:
    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("the secret was stored under another key") from None


def ha1(username: str, realm: str, secret: str) -> str:
    """The SIP digest HA1 (RFC 2617): md5 of ``username:realm:secret``, hex."""
    return hashlib.md5(f"{username}:{realm}:{secret}".encode(), usedforsecurity=False).hexdigest()


def pin_digest(secret_key: str, pin: str) -> str:
    return hmac.new(secret_key.encode(), b"pin:" + pin.encode(), hashlib.sha256).hexdigest()
