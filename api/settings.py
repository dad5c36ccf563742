"""Every setting of the platform, read once from ``DIALTONE_*`` environment variables.

Defaults are safe for local use: an SQLite file in the working directory, debug off,
a development secret that production must override.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta

from api import money

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./dialtone.db"
DEV_SECRET = "dialtone-development-secret-change-me"
PAYPAL_CERT_ORIGINS = (
    "https://api.paypal.com",
    "https://api-m.paypal.com",
    "https://api.sandbox.paypal.com",
    "https://api-m.sandbox.paypal.com",
)


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    return default if raw in (None, "") else int(raw)


def _choice(env: dict[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (the first when unset); anything else stops the start, named."""
    raw = (env.get(name) or choices[0]).strip().lower()
    if raw not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return raw


def _list(value: str | None) -> tuple[str, ...]:
    return tuple(item.strip() for item in (value or "").split(",") if item.strip())


def _micros(value: str | None) -> int:
    return money.parse(value) if value else 0


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    debug: bool = False
    secret_key: str = DEV_SECRET
    host: str = "127.0.0.1"
    port: int = 8000
    session_ttl_seconds: int = 14 * 24 * 3600
    cookie_secure: bool = False
    # what a browser session (the session cookie, no Bearer token) may run on /graphql: "any"
    # query, or only the portals' "persisted" queries (their .graphql documents, by hash)
    cookie_queries: str = "any"
    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5000
    max_body_bytes: int = 16 * 1024 * 1024  # the longest request body of any route (413 above)
    max_query_string_bytes: int = 64 * 1024  # the longest query string (414 above)
    echo_sql: bool = False
    access_log: bool = True
    sip_realm: str = "dialtone"  # the SIP digest realm of sub-accounts' HA1
    sip_server: str = ""  # the SIP registrar clients configure (empty: the platform host)
    max_call_seconds: int = 14400  # the longest call an authorization ever allows
    switch_key: str = ""  # a platform-wide operator credential for switches; empty: disabled
    # PayPal IPN: where messages are verified (posted back) and where the top-up form posts;
    # sandbox messages (test_ipn=1) are accepted, and verified at the sandbox, only when on
    paypal_ipn_url: str = "https://ipnpb.paypal.com/cgi-bin/webscr"
    paypal_sandbox_ipn_url: str = "https://ipnpb.sandbox.paypal.com/cgi-bin/webscr"
    paypal_form_url: str = "https://www.paypal.com/cgi-bin/webscr"
    paypal_sandbox_form_url: str = "https://www.sandbox.paypal.com/cgi-bin/webscr"
    paypal_sandbox: bool = False
    paypal_ipn_timeout_seconds: int = 30
    paypal_ipn_max_attempts: int = 12  # verification attempts before a message is given up
    # a refund, reversal or canceled reversal told before what it corrects waits this long
    # (IPN and REST webhooks) for it, then is flagged by the worker; PayPal retries for days
    paypal_correction_wait_days: int = 4
    # PayPal REST (Checkout): the Orders v2 API, and where webhook signing certificates may
    # be fetched from (origins) and must chain to (a PEM bundle of roots; certifi's if empty)
    paypal_api_url: str = "https://api-m.paypal.com"
    paypal_sandbox_api_url: str = "https://api-m.sandbox.paypal.com"
    paypal_api_timeout_seconds: int = 20
    paypal_cert_origins: tuple[str, ...] = PAYPAL_CERT_ORIGINS
    paypal_cert_roots: str = ""
    worker_interval_seconds: int = 30  # how often `dialtone worker` looks for due work
    platform_host: str = "localhost"  # the operator's own host, served with its default brand
    platform_addresses: tuple[str, ...] = ()  # public IPs a custom hostname's A record names
    hostname_fee: int = 0  # micros, in the reseller's currency, charged once per hostname
    trusted_proxies: tuple[str, ...] = ()  # IPs or networks whose X-Forwarded-Host is believed
    logo_max_bytes: int = 256 * 1024
    logo_max_pixels: int = 2048  # the longest side of a logo
    # outgoing email: the outbox is sent over SMTP by `dialtone worker`
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_username: str = ""  # empty: no AUTH
    smtp_password: str = ""
    smtp_starttls: bool = False  # upgrade the connection with STARTTLS (port 587)
    smtp_tls: bool = False  # TLS from the first byte (port 465); wins over STARTTLS
    smtp_ca_file: str = ""  # the CA bundle the server's certificate is checked against
    smtp_from: str = "dialtone@localhost"  # the envelope and From address of every message
    smtp_timeout_seconds: int = 30
    email_max_attempts: int = 8  # sending attempts before a message is given up
    # outbound webhooks: each delivery is POSTed with this timeout, retried with backoff
    webhook_timeout_seconds: int = 10
    webhook_max_attempts: int = 10  # delivery attempts before a delivery is given up
    # endpoints on loopback, private, link-local... addresses are refused unless this is on
    webhook_allow_private: bool = False
    # login throttling (api.domain.throttle): where failures are counted (memory:// or
    # redis://host:port/db) and the windows per account and per client address
    login_throttle_storage: str = "memory://"
    login_limits_account: str = "3 per minute; 5 per 15 minutes; 10 per hour"
    login_limits_address: str = "10 per minute; 30 per 15 minutes; 100 per day"
    password_reset_ttl_seconds: int = 3600  # how long a password reset link works
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def paypal_correction_wait(self) -> timedelta:
        return timedelta(days=self.paypal_correction_wait_days)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        return cls(
            database_url=env.get("DIALTONE_DATABASE_URL") or DEFAULT_DATABASE_URL,
            debug=_bool(env.get("DIALTONE_DEBUG")),
            secret_key=env.get("DIALTONE_SECRET_KEY") or DEV_SECRET,
            host=env.get("DIALTONE_HOST") or "127.0.0.1",
            port=_int(env, "DIALTONE_PORT", 8000),
            session_ttl_seconds=_int(env, "DIALTONE_SESSION_TTL_SECONDS", 14 * 24 * 3600),
            cookie_secure=_bool(env.get("DIALTONE_COOKIE_SECURE")),
            cookie_queries=_choice(env, "DIALTONE_COOKIE_QUERIES", ("any", "persisted")),
            max_query_depth=_int(env, "DIALTONE_MAX_QUERY_DEPTH", 12),
            max_aliases=_int(env, "DIALTONE_MAX_ALIASES", 30),
            max_tokens=_int(env, "DIALTONE_MAX_TOKENS", 5000),
            max_body_bytes=_int(env, "DIALTONE_MAX_BODY_BYTES", 16 * 1024 * 1024),
            max_query_string_bytes=_int(env, "DIALTONE_MAX_QUERY_STRING_BYTES", 64 * 1024),
            echo_sql=_bool(env.get("DIALTONE_ECHO_SQL")),
            access_log=_bool(env.get("DIALTONE_ACCESS_LOG"), default=True),
            sip_realm=env.get("DIALTONE_SIP_REALM") or "dialtone",
            sip_server=env.get("DIALTONE_SIP_SERVER") or "",
            max_call_seconds=_int(env, "DIALTONE_MAX_CALL_SECONDS", 14400),
            switch_key=env.get("DIALTONE_SWITCH_KEY") or "",
            paypal_ipn_url=env.get("DIALTONE_PAYPAL_IPN_URL") or cls.paypal_ipn_url,
            paypal_sandbox_ipn_url=(
                env.get("DIALTONE_PAYPAL_SANDBOX_IPN_URL") or cls.paypal_sandbox_ipn_url
            ),
            paypal_form_url=env.get("DIALTONE_PAYPAL_FORM_URL") or cls.paypal_form_url,
            paypal_sandbox_form_url=(
                env.get("DIALTONE_PAYPAL_SANDBOX_FORM_URL") or cls.paypal_sandbox_form_url
            ),
            paypal_sandbox=_bool(env.get("DIALTONE_PAYPAL_SANDBOX")),
            paypal_ipn_timeout_seconds=_int(env, "DIALTONE_PAYPAL_IPN_TIMEOUT_SECONDS", 30),
            paypal_ipn_max_attempts=_int(env, "DIALTONE_PAYPAL_IPN_MAX_ATTEMPTS", 12),
            paypal_correction_wait_days=_int(env, "DIALTONE_PAYPAL_CORRECTION_WAIT_DAYS", 4),
            paypal_api_url=env.get("DIALTONE_PAYPAL_API_URL") or cls.paypal_api_url,
            paypal_sandbox_api_url=(
                env.get("DIALTONE_PAYPAL_SANDBOX_API_URL") or cls.paypal_sandbox_api_url
            ),
            paypal_api_timeout_seconds=_int(env, "DIALTONE_PAYPAL_API_TIMEOUT_SECONDS", 20),
            paypal_cert_origins=(
                _list(env.get("DIALTONE_PAYPAL_CERT_ORIGINS")) or PAYPAL_CERT_ORIGINS
            ),
            paypal_cert_roots=env.get("DIALTONE_PAYPAL_CERT_ROOTS") or "",
            worker_interval_seconds=_int(env, "DIALTONE_WORKER_INTERVAL_SECONDS", 30),
            platform_host=env.get("DIALTONE_PLATFORM_HOST") or "localhost",
            platform_addresses=_list(env.get("DIALTONE_PLATFORM_ADDRESSES")),
            hostname_fee=_micros(env.get("DIALTONE_HOSTNAME_FEE")),
            trusted_proxies=_list(env.get("DIALTONE_TRUSTED_PROXIES")),
            logo_max_bytes=_int(env, "DIALTONE_LOGO_MAX_BYTES", 256 * 1024),
            logo_max_pixels=_int(env, "DIALTONE_LOGO_MAX_PIXELS", 2048),
            smtp_host=env.get("DIALTONE_SMTP_HOST") or cls.smtp_host,
            smtp_port=_int(env, "DIALTONE_SMTP_PORT", 25),
            smtp_username=env.get("DIALTONE_SMTP_USERNAME") or "",
            smtp_password=env.get("DIALTONE_SMTP_PASSWORD") or "",
            smtp_starttls=_bool(env.get("DIALTONE_SMTP_STARTTLS")),
            smtp_tls=_bool(env.get("DIALTONE_SMTP_TLS")),
            smtp_ca_file=env.get("DIALTONE_SMTP_CA_FILE") or "",
            smtp_from=env.get("DIALTONE_SMTP_FROM") or cls.smtp_from,
            smtp_timeout_seconds=_int(env, "DIALTONE_SMTP_TIMEOUT_SECONDS", 30),
            email_max_attempts=_int(env, "DIALTONE_EMAIL_MAX_ATTEMPTS", 8),
            webhook_timeout_seconds=_int(env, "DIALTONE_WEBHOOK_TIMEOUT_SECONDS", 10),
            webhook_max_attempts=_int(env, "DIALTONE_WEBHOOK_MAX_ATTEMPTS", 10),
            webhook_allow_private=_bool(env.get("DIALTONE_WEBHOOK_ALLOW_PRIVATE")),
            login_throttle_storage=(
                env.get("DIALTONE_LOGIN_THROTTLE_STORAGE") or cls.login_throttle_storage
            ),
            login_limits_account=(
                env.get("DIALTONE_LOGIN_LIMITS_ACCOUNT") or cls.login_limits_account
            ),
            login_limits_address=(
                env.get("DIALTONE_LOGIN_LIMITS_ADDRESS") or cls.login_limits_address
            ),
            password_reset_ttl_seconds=_int(env, "DIALTONE_PASSWORD_RESET_TTL_SECONDS", 3600),
        )
