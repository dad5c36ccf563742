"""The size limits of every request, applied before any route reads it (an ASGI layer).

A body longer than ``Settings.max_body_bytes`` is refused with 413, by its ``Content-Length``
before a byte is read, or, sent chunked, as soon as what has arrived passes the limit. A query
string longer than ``Settings.max_query_string_bytes`` is refused with 414. The answers are JSON
naming the limit, so an integrator knows what to send instead.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    """What arrived of a chunked body has passed the limit."""


def _refusal(status: int, message: str) -> tuple[dict, dict]:
    body = json.dumps({"error": message}).encode()
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    }
    return start, {"type": "http.response.body", "body": body}


class RequestSizeLimit:
    def __init__(self, app: ASGIApp, max_body_bytes: int, max_query_string_bytes: int) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.max_query = max_query_string_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = self._refused_up_front(scope)
        if refused:
            for message in _refusal(*refused):
                await send(message)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            for message in _refusal(413, self._body_message()):
                await send(message)

    def _body_message(self) -> str:
        return f"the request body is over the limit of {self.max_body} bytes"

    def _refused_up_front(self, scope: Scope) -> tuple[int, str] | None:
        if len(scope.get("query_string", b"")) > self.max_query:
            return 414, f"the query string is over the limit of {self.max_query} bytes"
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                if not value.isdigit():
                    return 400, "the Content-Length header is not a number"
                if int(value) > self.max_body:
                    return 413, self._body_message()
        return None
