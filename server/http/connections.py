"""What a connection may hold: uvicorn's HTTP protocol with a request deadline and a connection cap.

uvicorn closes a connection only when it idles after a response (`timeout_keep_alive`): one that
sends nothing, or half a request, is held for ever, and `limit_concurrency` answers requests over
the limit with 503 (/healthz too) but closes nothing. So, around uvicorn's httptools protocol:

- A request must arrive whole (headers and body) within `read_timeout` seconds of the connection
  opening, or of its first byte on a kept-alive connection; otherwise the connection is closed.
  Responses, however long, and WebSockets after their upgrade are not timed.
- A request's line and headers may hold `MAX_HEADER_BYTES` (431 beyond).
- At most `max_connections` are open (WebSockets included). A new connection over the cap closes
  the one that has waited longest for a request (idle or half-sent); when every one is busy,
  it is one of `PROBE_SLOTS` that may only ask /healthz or /readyz (anything else: 503), and past
  those it is answered 503 at once and closed.
"""

import asyncio
import functools
from collections import OrderedDict
from typing import Any, ClassVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

PROBE_PATHS = frozenset({"/healthz", "/readyz"})
# Connections over the cap that may still ask whether the process lives, each for this long.
PROBE_SLOTS = 16
PROBE_SECONDS = 2.0
# httptools buffers request lines and headers of any size; a request's headers may hold this much.
MAX_HEADER_BYTES = 64 * 1024
_REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
)
_TOO_LARGE = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


async def _probes_only(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """A connection over the cap: the health probes answer (then it closes), nothing else does."""

    async def closing(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
        await send(message)

    if scope["path"] in PROBE_PATHS:
        await app(scope, receive, closing)
        return
    await closing({"type": "http.response.start", "status": 503, "headers": [(b"retry-after", b"1")]})
    await closing({"type": "http.response.body", "body": b""})


class _GuardedHttp(HttpToolsProtocol):
    read_timeout: ClassVar[float]
    max_connections: ClassVar[int]
    # Connections waiting for a request (idle, or part-way through its headers), oldest first.
    waiting: ClassVar["OrderedDict[_GuardedHttp, None]"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._refused = False
        self._header_bytes: int | None = 0  # None once the request's headers are complete

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        probe = False
        if len(self.connections) >= self.max_connections:
            if self.waiting:
                oldest, _ = self.waiting.popitem(last=False)
                oldest.transport.close()
            elif len(self.connections) < self.max_connections + PROBE_SLOTS:
                probe = True
            else:
                self._refused = True
                transport.write(_REFUSED)
                transport.close()
                return
        super().connection_made(transport)
        if probe:
            self.app = functools.partial(_probes_only, self.app)
            self._arm(PROBE_SECONDS)
        else:
            self.waiting[self] = None
            self._arm(self.read_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.waiting.pop(self, None)
        if not self._refused:
            super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and (self.cycle is None or self.cycle.response_complete):
            self._arm(self.read_timeout)  # the first byte of the next request on a kept-alive connection
        super().data_received(data)
        if self._header_bytes is not None and not self.transport.is_closing():
            self._header_bytes += len(data)  # all of it: the headers are still not complete
            if self._header_bytes > MAX_HEADER_BYTES:
                self.transport.write(_TOO_LARGE)
                self.transport.close()

    def on_message_begin(self) -> None:
        self._header_bytes = 0
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._header_bytes = None
        self.waiting.pop(self, None)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._disarm()
        super().handle_websocket_upgrade()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.timeout_keep_alive_task is not None:  # kept alive: waiting for the next request
            self.waiting[self] = None

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def guarded_http(*, read_timeout: float, max_connections: int) -> type[HttpToolsProtocol]:
    """The protocol class for uvicorn's `http=`; one per server (it holds that server's waiting list)."""
    return type(
        "GuardedHttp",
        (_GuardedHttp,),
        {"read_timeout": read_timeout, "max_connections": max_connections, "waiting": OrderedDict()},
    )
