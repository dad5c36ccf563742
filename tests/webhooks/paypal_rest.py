"""PayPal's REST side on the fake PayPal (``tests.webhooks.paypal_server``): OAuth tokens,
Orders v2 (create, capture, read), the certificate downloads of a test authority, and webhook
deliveries signed the way PayPal signs them.

The payer's part is played by :meth:`FakeRest.approve`; :meth:`FakeRest.capture` captures on
PayPal's side alone (as when our capture call's answer was lost).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from tests.webhooks.paypal_certs import TestAuthority
from tests.webhooks.paypal_server import FakePayPal, Received, Reply

CERT_PATH = "/v1/notifications/certs/"
ORDERS_PATH = "/v2/checkout/orders"


def _json(status: int, data: dict[str, Any]) -> Reply:
    return Reply(status=status, body=json.dumps(data).encode(), content_type="application/json")


def _issue(status: int, issue: str) -> Reply:
    return _json(status, {"name": "UNPROCESSABLE_ENTITY", "details": [{"issue": issue}]})


def _id(prefix: str) -> str:
    return prefix + secrets.token_hex(6).upper()


class FakeRest:
    def __init__(self, fake: FakePayPal, authority: TestAuthority) -> None:
        self.fake = fake
        self.ca = authority
        self.apps: dict[str, str] = {}  # client id -> secret
        self.tokens: dict[str, str] = {}  # access token -> client id
        self.orders: dict[str, dict[str, Any]] = {}
        self.replies: dict[str, Reply] = {}  # PayPal-Request-Id -> the first answer
        self.capture_status = "COMPLETED"  # what the next captures report
        self.capture_issue: str | None = None  # the next capture answers 422 with this
        self._lock = threading.RLock()
        fake.route("POST", "/v1/oauth2/token", self._token)
        fake.route("POST", ORDERS_PATH, self._create)
        for kind in authority.chains:
            fake.route("GET", CERT_PATH + kind, self._cert)

    # --- what tests do ------------------------------------------------------------------------

    def add_app(self, client_id: str, secret: str) -> None:
        self.apps[client_id] = secret

    def cert_url(self, kind: str = "good") -> str:
        return self.fake.url + CERT_PATH + kind

    def serve_certificate(self, name: str, kind: str = "good") -> None:
        """Serve the ``kind`` chain under another name, too."""
        chain = self.ca.chains[kind]
        self.fake.route(
            "GET",
            CERT_PATH + name,
            lambda _request: Reply(body=chain, content_type="application/x-pem-file"),
        )

    def approve(self, order_id: str) -> None:
        with self._lock:
            self.orders[order_id]["status"] = "APPROVED"

    def capture(self, order_id: str) -> dict[str, Any]:
        """Capture on PayPal's side only; the capture resource."""
        with self._lock:
            order = self.orders[order_id]
            order["status"] = "COMPLETED"
            order["capture"] = {
                "id": _id("CAP"),
                "status": self.capture_status,
                "amount": order["amount"],
                "custom_id": order["custom_id"],
                "final_capture": True,
                "supplementary_data": {"related_ids": {"order_id": order_id}},
                "links": [
                    {"rel": "up", "href": f"{self.fake.url}{ORDERS_PATH}/{order_id}"},
                ],
            }
            return order["capture"]

    def refund_resource(
        self, capture: dict[str, Any], value: str, refund_id: str | None = None
    ) -> dict[str, Any]:
        return {
            "id": refund_id or _id("REF"),
            "status": "COMPLETED",
            "amount": {"currency_code": capture["amount"]["currency_code"], "value": value},
            "links": [
                {"rel": "self", "href": f"{self.fake.url}/v2/payments/refunds/x"},
                {"rel": "up", "href": f"{self.fake.url}/v2/payments/captures/{capture['id']}"},
            ],
        }

    def delivery(
        self,
        event_type: str,
        resource: dict[str, Any],
        *,
        webhook_id: str,
        cert: str = "good",
        cert_url: str | None = None,
        resource_type: str = "capture",
    ) -> tuple[bytes, dict[str, str]]:
        """A webhook delivery as PayPal sends it: the JSON body and the signature headers."""
        body = json.dumps(
            {
                "id": _id("WH-"),
                "event_version": "1.0",
                "create_time": datetime.now(UTC).isoformat(),
                "resource_type": resource_type,
                "resource_version": "2.0",
                "event_type": event_type,
                "summary": f"{event_type} in a test",
                "resource": resource,
            }
        ).encode()
        transmission_id = str(uuid.uuid4())
        time = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        headers = {
            "Content-Type": "application/json",
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-TIME": time,
            "PAYPAL-TRANSMISSION-SIG": self.ca.sign(transmission_id, time, webhook_id, body),
            "PAYPAL-CERT-URL": cert_url or self.cert_url(cert),
            "PAYPAL-AUTH-ALGO": "SHA256withRSA",
        }
        return body, headers

    # --- routes -------------------------------------------------------------------------------

    def _cert(self, request: Received) -> Reply:
        kind = request.path.removeprefix(CERT_PATH)
        return Reply(body=self.ca.chains[kind], content_type="application/x-pem-file")

    def _token(self, request: Received) -> Reply:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        form = parse_qs(request.body.decode())
        if scheme != "Basic" or self.apps.get(client_id) != secret or not secret:
            return _json(401, {"error": "invalid_client"})
        if form.get("grant_type") != ["client_credentials"]:
            return _json(400, {"error": "unsupported_grant_type"})
        token = secrets.token_urlsafe(16)
        with self._lock:
            self.tokens[token] = client_id
        return _json(200, {"access_token": token, "token_type": "Bearer", "expires_in": 32400})

    def _authorized(self, request: Received) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return self.tokens.get(token) if scheme == "Bearer" else None

    def _once(self, request: Received, answer) -> Reply:
        """PayPal-Request-Id: the same id gets the first answer again."""
        request_id = request.headers.get("paypal-request-id")
        with self._lock:
            if request_id and request_id in self.replies:
                return self.replies[request_id]
            reply = answer()
            if request_id and reply.status < 400:
                self.replies[request_id] = reply
            return reply

    def _create(self, request: Received) -> Reply:
        app = self._authorized(request)
        if app is None:
            return _json(401, {"error": "invalid_token"})
        data = json.loads(request.body)
        [unit] = data["purchase_units"]
        Decimal(unit["amount"]["value"])  # a decimal string, as PayPal requires

        def answer() -> Reply:
            order_id = _id("ORD")
            self.orders[order_id] = {
                "app": app,
                "status": "PAYER_ACTION_REQUIRED",
                "amount": unit["amount"],
                "custom_id": unit["custom_id"],
                "request": data,
                "capture": None,
            }
            path = f"{ORDERS_PATH}/{order_id}"
            self.fake.route("POST", path + "/capture", self._capture)
            self.fake.route("GET", path, self._read)
            return _json(200, self._order(order_id))

        return self._once(request, answer)

    def _order(self, order_id: str) -> dict[str, Any]:
        order = self.orders[order_id]
        unit: dict[str, Any] = {"reference_id": order["custom_id"], "amount": order["amount"]}
        if order["capture"]:
            unit["payments"] = {"captures": [order["capture"]]}
        return {
            "id": order_id,
            "status": order["status"],
            "purchase_units": [unit],
            "links": [
                {"rel": "self", "href": f"{self.fake.url}{ORDERS_PATH}/{order_id}"},
                {
                    "rel": "payer-action",
                    "href": f"{self.fake.url}/checkoutnow?token={order_id}",
                },
            ],
        }

    def _capture(self, request: Received) -> Reply:
        app = self._authorized(request)
        order_id = request.path.split("/")[-2]
        if app is None or self.orders[order_id]["app"] != app:
            return _json(401, {"error": "invalid_token"})

        def answer() -> Reply:
            order = self.orders[order_id]
            if self.capture_issue:
                issue, self.capture_issue = self.capture_issue, None
                return _issue(422, issue)
            if order["status"] == "COMPLETED":
                return _issue(422, "ORDER_ALREADY_CAPTURED")
            if order["status"] != "APPROVED":
                return _issue(422, "ORDER_NOT_APPROVED")
            self.capture(order_id)
            return _json(201, self._order(order_id))

        return self._once(request, answer)

    def _read(self, request: Received) -> Reply:
        order_id = request.path.split("/")[-1]
        if self._authorized(request) != self.orders[order_id]["app"]:
            return _json(401, {"error": "invalid_token"})
        with self._lock:
            return _json(200, self._order(order_id))
