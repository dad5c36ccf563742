"""A real HTTP server on a free loopback port that plays PayPal in tests.

It runs in a thread of its own, so the code under test talks to it over real sockets exactly as
it would talk to PayPal. Routes are ``(method, path) -> handler``; a handler gets the
:class:`Received` request and returns a :class:`Reply`. Every request is recorded in
``requests``. Other modules add their routes with :meth:`FakePayPal.route`.

The IPN postback route is built in (``IPN_PATH`` and ``SANDBOX_IPN_PATH``): it answers what
``ipn_answers`` holds next (then ``ipn_default``): ``"VERIFIED"``, ``"INVALID"``, an HTTP status
(``503``), or ``DROP`` (the connection is closed without an answer: a network error).

:meth:`FakePayPal.hold` makes the next requests to a path wait for each other, so that they are
answered at the same moment: deliveries that are really concurrent, not merely started
together. If they do not all arrive in time, each is answered 500.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

IPN_PATH = "/cgi-bin/webscr"
SANDBOX_IPN_PATH = "/sandbox/cgi-bin/webscr"
DROP = "drop"


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering


Handler = Callable[[Received], Reply]


class FakePayPal:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.requests: list[Received] = []
        self.ipn_answers: deque[str | int] = deque()
        self.ipn_default: str | int = "VERIFIED"
        self._lock = threading.Lock()
        self._holds: dict[str, threading.Barrier] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-paypal",
            daemon=True,
        )
        for path in (IPN_PATH, SANDBOX_IPN_PATH):
            self.route("POST", path, self._ipn)

    # --- life ---------------------------------------------------------------------------------

    def start(self) -> FakePayPal:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def ipn_url(self) -> str:
        return self.url + IPN_PATH

    @property
    def sandbox_ipn_url(self) -> str:
        return self.url + SANDBOX_IPN_PATH

    # --- routes ---------------------------------------------------------------------------------

    def route(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method.upper(), path)] = handler

    def received(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def hold(self, path: str, parties: int, timeout: float = 15.0) -> None:
        """Let the next ``parties`` requests to ``path`` through only once all of them
        arrived (once: later requests are answered at once)."""
        with self._lock:
            self._holds[path] = threading.Barrier(parties, timeout=timeout)

    def answer_ipn(self, *answers: str | int) -> None:
        """Queue the next postback answers."""
        self.ipn_answers.extend(answers)

    def _ipn(self, _request: Received) -> Reply:
        with self._lock:
            answer = self.ipn_answers.popleft() if self.ipn_answers else self.ipn_default
        if answer == DROP:
            return Reply(drop=True)
        if isinstance(answer, int):
            return Reply(status=answer, body=b"error")
        return Reply(body=answer.encode())

    def _dispatch(self, request: Received) -> Reply:
        with self._lock:
            self.requests.append(request)
            barrier = self._holds.get(request.path)
        if barrier is not None:
            try:
                if barrier.wait() == 0:
                    with self._lock:
                        if self._holds.get(request.path) is barrier:
                            del self._holds[request.path]
            except threading.BrokenBarrierError:
                return Reply(status=500, body=b"the held requests did not all arrive")
        handler = self.routes.get((request.method, request.path))
        if handler is None:
            return Reply(status=404, body=b"not found")
        return handler(request)


def _handler_class(fake: FakePayPal) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = Received(
                method=self.command,
                path=parts.path,
                query=parts.query,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            try:
                reply = fake._dispatch(request)
            except Exception as exc:  # a broken test handler: say so instead of hanging
                reply = Reply(status=500, body=f"fake PayPal handler failed: {exc!r}".encode())
            if reply.drop:
                self.close_connection = True
                return
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, *_args) -> None:  # quiet
            pass

    return _Handler


def running() -> Iterator[FakePayPal]:
    """Start a fake PayPal, yield it, stop it (the body of a pytest fixture)."""
    fake = FakePayPal().start()
    try:
        yield fake
    finally:
        fake.stop()
