"""PayPal's REST API over plain httpx: an OAuth 2.0 client-credentials token, then Orders v2
(create an order, capture it, read it). No SDK: these are three documented JSON calls.

Tokens are kept per REST app until shortly before they expire. Every write carries a
``PayPal-Request-Id`` so that a retried create or capture is answered with the first result
instead of being done twice.

Amounts: PayPal takes a decimal string with the currency's minor units (two places, none for
HUF, JPY and TWD); an amount finer than that is refused before any call.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import httpx

from api import money

ZERO_DECIMAL_CURRENCIES = frozenset({"HUF", "JPY", "TWD"})
TOKEN_MARGIN_SECONDS = 120


@dataclass(frozen=True)
class RestApp:
    """A REST app's credentials, in the clear: built from the stored row only to make calls."""

    client_id: str
    secret: str
    sandbox: bool

    def __repr__(self) -> str:  # never print the secret
        return f"RestApp(client_id={self.client_id!r}, sandbox={self.sandbox})"


class PaypalError(Exception):
    """A call that did not do what was asked. ``retryable``: trying again later may work."""

    def __init__(self, message: str, *, status: int | None = None, issue: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.issue = issue

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status >= 500 or self.status == 429


@dataclass(frozen=True)
class Capture:
    id: str
    status: str  # COMPLETED, PENDING, DECLINED, ...
    amount: int  # micros
    currency: str


@dataclass(frozen=True)
class Order:
    id: str
    status: str  # CREATED, PAYER_ACTION_REQUIRED, APPROVED, COMPLETED, VOIDED
    approve_url: str
    captures: tuple[Capture, ...]


def minor_digits(currency: str) -> int:
    return 0 if currency in ZERO_DECIMAL_CURRENCIES else 2


def amount_value(micros: int, currency: str) -> str:
    """``micros`` as PayPal's value string; ValueError when the currency cannot express it."""
    digits = minor_digits(currency)
    step = 10 ** (6 - digits)
    if micros <= 0 or micros % step:
        raise ValueError(f"{currency} amounts take {digits} decimal places at most")
    return f"{money.to_decimal(micros):.{digits}f}"


def parse_amount(data: dict[str, Any] | None) -> tuple[int, str]:
    """PayPal's ``{currency_code, value}`` as (micros, currency)."""
    data = data or {}
    return money.parse(str(data.get("value", "0"))), str(data.get("currency_code", ""))


def parse_order(data: dict[str, Any]) -> Order:
    """An Orders v2 answer: its id, status, approval link and captures."""
    try:
        links = {link.get("rel"): link.get("href", "") for link in data.get("links") or ()}
        captures = tuple(
            Capture(
                str(capture["id"]),
                str(capture.get("status", "")),
                *parse_amount(capture.get("amount")),
            )
            for unit in data.get("purchase_units") or ()
            for capture in (unit.get("payments") or {}).get("captures") or ()
        )
        return Order(
            id=str(data["id"]),
            status=str(data.get("status", "")),
            approve_url=links.get("payer-action") or links.get("approve") or "",
            captures=captures,
        )
    except (KeyError, TypeError, AttributeError, ValueError):
        raise PaypalError("PayPal answered an order this code cannot read", status=200) from None


class PaypalRest:
    """The calls, against PayPal's live or sandbox API base as the app says."""

    def __init__(
        self,
        *,
        live_url: str,
        sandbox_url: str,
        timeout: float = 20.0,
    ) -> None:
        self.live_url = live_url.rstrip("/")
        self.sandbox_url = sandbox_url.rstrip("/")
        self.timeout = timeout
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}

    def base_url(self, app: RestApp) -> str:
        return self.sandbox_url if app.sandbox else self.live_url

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.timeout)

    async def _token(self, http: httpx.AsyncClient, app: RestApp, *, fresh: bool = False) -> str:
        key = (self.base_url(app), app.client_id, hashlib.sha256(app.secret.encode()).hexdigest())
        cached = self._tokens.get(key)
        if cached and not fresh and cached[1] > time.monotonic():
            return cached[0]
        response = await self._send(
            http,
            "POST",
            f"{key[0]}/v1/oauth2/token",
            auth=(app.client_id, app.secret),
            data={"grant_type": "client_credentials"},
            headers={"Accept": "application/json"},
        )
        if response.status_code == 401:
            raise PaypalError("PayPal refused the REST app's client id and secret", status=401)
        body = _json(response)
        token = body.get("access_token")
        if not token:
            raise PaypalError("PayPal gave no access token", status=response.status_code)
        lifetime = max(int(body.get("expires_in", 0)) - TOKEN_MARGIN_SECONDS, 0)
        self._tokens[key] = (token, time.monotonic() + lifetime)
        return token

    async def _send(
        self, http: httpx.AsyncClient, method: str, url: str, **kwargs
    ) -> httpx.Response:
        try:
            return await http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise PaypalError(f"PayPal could not be reached: {exc!r}") from None

    async def _call(
        self,
        app: RestApp,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", "Prefer": "return=representation"}
        if request_id:
            headers["PayPal-Request-Id"] = request_id
        async with self._client() as http:
            for fresh in (False, True):  # an expired token is renewed once
                token = await self._token(http, app, fresh=fresh)
                response = await self._send(
                    http,
                    method,
                    f"{self.base_url(app)}{path}",
                    json=body,
                    headers={**headers, "Authorization": f"Bearer {token}"},
                )
                if response.status_code != 401:
                    break
        if response.status_code >= 400:
            raise _error(response)
        return _json(response)

    async def create_order(
        self,
        app: RestApp,
        *,
        amount: int,
        currency: str,
        reference: str,
        description: str,
        return_url: str,
        cancel_url: str,
        request_id: str,
    ) -> Order:
        body = {
            "intent": "CAPTURE",
            "purchase_units": [
                {
                    "reference_id": reference,
                    "custom_id": reference,
                    "description": description[:127],
                    "amount": {"currency_code": currency, "value": amount_value(amount, currency)},
                }
            ],
            "payment_source": {
                "paypal": {
                    "experience_context": {
                        "return_url": return_url,
                        "cancel_url": cancel_url,
                        "user_action": "PAY_NOW",
                        "shipping_preference": "NO_SHIPPING",
                    }
                }
            },
        }
        return parse_order(
            await self._call(app, "POST", "/v2/checkout/orders", body=body, request_id=request_id)
        )

    async def capture_order(self, app: RestApp, order_id: str, *, request_id: str) -> Order:
        path = f"/v2/checkout/orders/{_segment(order_id)}/capture"
        return parse_order(await self._call(app, "POST", path, body={}, request_id=request_id))

    async def get_order(self, app: RestApp, order_id: str) -> Order:
        return parse_order(
            await self._call(app, "GET", f"/v2/checkout/orders/{_segment(order_id)}")
        )


def _segment(value: str) -> str:
    if not (value.isascii() and value.isalnum()):
        raise PaypalError(f"not a PayPal id: {value[:40]!r}")
    return value


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        raise PaypalError(
            "PayPal answered something that is not JSON", status=response.status_code
        ) from None
    if not isinstance(data, dict):
        raise PaypalError("PayPal answered an unexpected shape", status=response.status_code)
    return data


def _error(response: httpx.Response) -> PaypalError:
    """PayPal's error body: ``{name, details: [{issue, …}]}``; its first issue names it."""
    try:
        data = response.json()
    except ValueError:
        data = None
    data = data if isinstance(data, dict) else {}
    details = data.get("details")
    first = details[0] if isinstance(details, list) and details else None
    issue = str(first.get("issue", "")) if isinstance(first, dict) else ""
    message = issue or str(data.get("name", "")) or f"HTTP {response.status_code}"
    return PaypalError(f"PayPal refused: {message}", status=response.status_code, issue=issue)
