"""A fault-injecting proxy for tests, put between our tools and a real service (the registry, the git server).

Two modes, both on 127.0.0.1:<random port> (loopback, so our tools and Podman speak plain HTTP to it):

- `http`: one request per connection (the proxy asks both sides for `Connection: close`), matched against rules by
  method and path: answer a status N times (5xx, or 429 with Retry-After), reset the connection (a TCP RST, through
  SO_LINGER 0) after K bytes of the request or of the response, or stall S seconds after K bytes. `Location`
  headers that name the upstream (absolute blob-upload URLs) are rewritten to name the proxy. A connection that
  does not start with an HTTP request line (a TLS ClientHello probing for HTTPS) is reset, as a plain-HTTP server
  would drop it.
- `tcp`: bytes only; the rules (reset, stall after K bytes in either direction) apply to connections in order.

What it injected is counted (`injected`, by kind) and every request is logged (`log`). A rule with `times=None`
fires forever. `stalled` is set while a stall is under way (a test can kill a client then); `release()` ends
stalls early. Plain Python, no pytest: `with FaultProxy("127.0.0.1", port) as proxy: proxy.add(Rule.status(503))`.
"""

from __future__ import annotations

import collections
import contextlib
import re
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Direction = Literal["request", "response"]
_REQUEST_LINE = re.compile(rb"^[A-Z]+ \S+ HTTP/1\.[01]\r\n")
_MAX_HEAD = 64 * 1024
_CHUNK = 64 * 1024


@dataclass
class Rule:
    """One fault. Build with Rule.status / Rule.throttle / Rule.reset / Rule.stall."""

    kind: Literal["status", "reset", "stall"]
    method: str = ".*"  # regex, matched in full against the request method (http mode)
    path: str = ".*"  # regex, searched in the request target: path and query (http mode)
    times: int | None = 1  # how many requests (connections, in tcp mode) it applies to; None: all of them
    status: int = 503
    retry_after: int | None = None
    after: int = 0  # bytes of `direction` that pass before a reset or a stall
    direction: Direction = "request"
    body: bool = False  # http mode: `after` counts the body's bytes only, not the head's
    skip: int = 0  # let the first `skip` matching requests (connections, in tcp mode) pass untouched
    seconds: float = 0.0
    hits: int = 0

    seen: int = 0

    # Each constructor takes the matching options as keywords: times, method, path, skip (and body for the byte
    # faults): Rule.fail(503, times=2, method="PUT", path="/manifests/").

    @classmethod
    def fail(cls, status: int = 503, **match: Any) -> Rule:
        return cls("status", status=status, **match)

    @classmethod
    def throttle(cls, retry_after: int = 1, **match: Any) -> Rule:
        return cls("status", status=429, retry_after=retry_after, **match)

    @classmethod
    def reset(cls, after: int = 0, direction: Direction = "request", **match: Any) -> Rule:
        return cls("reset", after=after, direction=direction, **match)

    @classmethod
    def stall(cls, seconds: float, after: int = 0, direction: Direction = "request", **match: Any) -> Rule:
        return cls("stall", after=after, direction=direction, seconds=seconds, **match)

    @property
    def label(self) -> str:
        """The kind of fault, as counted: "503", "429", "reset request", "stall response" ..."""
        return str(self.status) if self.kind == "status" else f"{self.kind} {self.direction}"

    def take(self, method: str, target: str) -> bool:
        """Whether this request (connection) gets the fault; counts it either way."""
        if self.times is not None and self.hits >= self.times:
            return False
        if re.fullmatch(self.method, method) is None or re.search(self.path, target) is None:
            return False
        self.seen += 1
        if self.seen <= self.skip:
            return False
        self.hits += 1
        return True


@dataclass
class Entry:
    """One request (http mode) or connection (tcp mode) the proxy saw, and what it did to it."""

    method: str
    target: str
    fault: str | None  # Rule.label, or None when it passed untouched
    status: int | None = None  # the upstream's (or the injected) status, when one reached the client


class _Abort(Exception):
    """The connection is to be reset."""


def _rst(sock: socket.socket) -> None:
    """Close with a TCP RST instead of a FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


@dataclass
class _Meter:
    """Counts the bytes sent one way and fires the connection's rule when they reach its threshold."""

    proxy: FaultProxy
    rule: Rule | None
    sent: int = 0
    fired: bool = False

    def send(self, sock: socket.socket, data: bytes) -> None:
        rule = self.rule
        if rule is None or self.fired or self.sent + len(data) < rule.after:
            sock.sendall(data)
            self.sent += len(data)
            return
        cut = max(rule.after - self.sent, 0)
        sock.sendall(data[:cut])
        self.sent += cut
        self.fired = True
        self.proxy._count(rule.label)
        if rule.kind == "reset":
            raise _Abort
        if self.proxy._stall(rule.seconds):
            raise _Abort  # released with reset=True: the stalled connection is cut
        sock.sendall(data[cut:])
        self.sent += len(data) - cut


@dataclass
class FaultProxy:
    upstream_host: str
    upstream_port: int
    mode: Literal["http", "tcp"] = "http"
    rules: list[Rule] = field(default_factory=list)
    injected: collections.Counter[str] = field(default_factory=collections.Counter)
    log: list[Entry] = field(default_factory=list)
    stalled: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._reset_stalls = False
        self._closing = False
        self._active = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = int(self._listener.getsockname()[1])
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name=f"faultproxy-{self.port}", daemon=True)

    # --- the test's side ---------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        """host:port, as an image reference or a URL names it."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def upstream(self) -> str:
        return f"{self.upstream_host}:{self.upstream_port}"

    def add(self, *rules: Rule) -> FaultProxy:
        with self._lock:
            self.rules.extend(rules)
        return self

    def clear(self) -> None:
        """No rules, no counts, no log; stalls under way end now."""
        with self._lock:
            self.rules.clear()
            self.injected.clear()
            self.log.clear()
        self.release()
        self.stalled.clear()
        self._released.clear()
        self._reset_stalls = False

    def release(self, reset: bool = False) -> None:
        """End every stall under way (and any that starts before clear()): the stalled connections go on, or with
        `reset` they are reset (what was held back never reaches the other side)."""
        self._reset_stalls = reset
        self._released.set()

    def requests(self, method: str = ".*", path: str = ".*") -> list[Entry]:
        with self._lock:
            return [e for e in self.log if re.fullmatch(method, e.method) and re.search(path, e.target)]

    def start(self) -> FaultProxy:
        self._acceptor.start()
        return self

    def stop(self) -> None:
        self._closing = True
        self.release()
        self._acceptor.join(5)
        self._listener.close()
        for thread in list(self._threads):
            thread.join(5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- plumbing ----------------------------------------------------------------------------------------

    def _count(self, label: str) -> None:
        with self._lock:
            self.injected[label] += 1

    def _stall(self, seconds: float) -> bool:
        """Hold the connection for `seconds` or until released; True when it is to be reset."""
        self.stalled.set()
        released = self._released.wait(seconds)
        return released and self._reset_stalls

    def _take(self, method: str, target: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.take(method, target):
                    return rule
        return None

    def _unused(self, entry: Entry, rule: Rule | None, *meters: _Meter) -> None:
        """A byte fault whose threshold the exchange never reached was not used: it waits for the next one."""
        if rule is not None and not any(meter.fired for meter in meters):
            entry.fault = None
            with self._lock:
                rule.hits -= 1

    def record(self, entry: Entry) -> None:
        with self._lock:
            self.log.append(entry)

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            handler = self._http if self.mode == "http" else self._tcp
            thread = threading.Thread(target=self._serve, args=(handler, client), daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()

    def _serve(self, handler: Callable[[socket.socket, list[socket.socket]], None], client: socket.socket) -> None:
        upstream: list[socket.socket] = []
        with self._lock:
            self._active += 1
        try:
            handler(client, upstream)
        except _Abort:
            for sock in (client, *upstream):
                _rst(sock)
        except OSError:
            pass
        finally:
            for sock in (client, *upstream):
                with contextlib.suppress(OSError):
                    sock.close()
            with self._lock:
                self._active -= 1

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no connection is open through the proxy; False when one still is after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._active == 0:
                    return True
            time.sleep(0.05)
        return False

    def _connect(self, upstream: list[socket.socket]) -> socket.socket:
        sock = socket.create_connection((self.upstream_host, self.upstream_port), timeout=10)
        sock.settimeout(None)
        upstream.append(sock)
        return sock

    def _tcp(self, client: socket.socket, upstream: list[socket.socket]) -> None:
        rule = self._take("TCP", "")
        entry = Entry("TCP", "", rule.label if rule else None)
        self.record(entry)
        server = self._connect(upstream)
        to_server = _Meter(self, rule if rule and rule.direction == "request" else None)
        to_client = _Meter(self, rule if rule and rule.direction == "response" else None)
        try:
            self._pump(client, server, to_server, to_client, public=None)
        finally:  # also when the connection broke before the threshold: a client's TLS probe of a plain-HTTP
            self._unused(entry, rule, to_server, to_client)  # registry (a ClientHello, then a reset) is no exchange

    def _http(self, client: socket.socket, upstream: list[socket.socket]) -> None:
        head, rest = _read_head(client)
        if head is None:
            raise _Abort  # not HTTP (a TLS handshake), or nothing at all
        method, target = head.split(b" ", 2)[:2]
        entry = Entry(method.decode("latin-1"), target.decode("latin-1"), None)
        self.record(entry)
        rule = self._take(entry.method, entry.target)
        if rule is not None:
            entry.fault = rule.label
        if rule is not None and rule.kind == "status":
            self._count(rule.label)
            entry.status = rule.status
            self._answer(client, rule, expect_continue=b"\r\nexpect: 100-continue" in head.lower())
            return
        server = self._connect(upstream)
        to_server = _Meter(self, rule if rule and rule.direction == "request" else None)
        to_client = _Meter(self, rule if rule and rule.direction == "response" else None)
        head = _with_headers(head, {b"connection": b"close"})
        if rule is not None and rule.body:
            to_server.sent = -len(head)
        to_server.send(server, head + rest)
        host = re.search(rb"\r\nhost:[ \t]*([^\r]+)", head, re.IGNORECASE)
        public = host[1].strip().decode("latin-1") if host else self.host
        entry.status = self._pump(client, server, to_server, to_client, public=public)
        self._unused(entry, rule, to_server, to_client)

    def _answer(self, client: socket.socket, rule: Rule, expect_continue: bool) -> None:
        body = b'{"errors":[{"code":"UNAVAILABLE","message":"injected by the fault proxy"}]}'
        reason = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway"}.get(rule.status, "Error")
        if rule.status == 503:
            reason = "Service Unavailable"
        lines = [
            f"HTTP/1.1 {rule.status} {reason}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            "Connection: close",
        ]
        if rule.retry_after is not None:
            lines.append(f"Retry-After: {rule.retry_after}")
        client.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        if expect_continue:
            return
        # Read what the client still sends (its request body) so that closing does not reset the connection
        # before it has read the answer.
        client.shutdown(socket.SHUT_WR)
        client.settimeout(5)
        with contextlib.suppress(OSError):
            while client.recv(_CHUNK):
                pass

    def _pump(
        self,
        client: socket.socket,
        server: socket.socket,
        to_server: _Meter,
        to_client: _Meter,
        *,
        public: str | None,
    ) -> int | None:
        """Copy both ways until the server hangs up. In http mode (`public`: the host the client asked for) the
        response head is rewritten, and its status returned."""
        status: int | None = None
        response_head = bytearray()
        head_done = public is None
        with selectors.DefaultSelector() as selector:
            selector.register(client, selectors.EVENT_READ)
            selector.register(server, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select(timeout=1.0):
                    sock = key.fileobj
                    try:
                        data = sock.recv(_CHUNK)  # type: ignore[union-attr]
                    except ConnectionError:
                        raise _Abort from None
                    if sock is client:
                        if not data:
                            selector.unregister(client)
                            with contextlib.suppress(OSError):
                                server.shutdown(socket.SHUT_WR)
                            continue
                        to_server.send(server, data)
                        continue
                    if not data:
                        if response_head:
                            to_client.send(client, bytes(response_head))
                        return status
                    if head_done:
                        to_client.send(client, data)
                        continue
                    response_head += data
                    end = response_head.find(b"\r\n\r\n")
                    if end < 0 and len(response_head) < _MAX_HEAD:
                        continue
                    head, rest = bytes(response_head[: end + 4]), bytes(response_head[end + 4 :])
                    response_head.clear()
                    head_done = True
                    with contextlib.suppress(ValueError, IndexError):
                        status = int(head.split(b" ", 2)[1])
                    head = self._rewrite_response(head, str(public))
                    if to_client.rule is not None and to_client.rule.body:
                        to_client.sent = -len(head)
                    to_client.send(client, head + rest)
                if self._closing:
                    raise _Abort

    def _rewrite_response(self, head: bytes, public: str) -> bytes:
        """`Connection: close`, and a Location naming the upstream names what the client asked for instead."""
        upstream = f"//{self.upstream}".encode()
        mine = f"//{public}".encode()
        lines = head.split(b"\r\n")
        for index, line in enumerate(lines):
            if line.lower().startswith(b"location:"):
                lines[index] = line.replace(upstream, mine)
        return _with_headers(b"\r\n".join(lines), {b"connection": b"close"})


def _read_head(sock: socket.socket) -> tuple[bytes | None, bytes]:
    """(the head up to and including its blank line, what came after it), or (None, b"") when it is not HTTP."""
    data = b""
    deadline = time.monotonic() + 30
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(_CHUNK)
        if not chunk:
            return None, b""
        data += chunk
        first = data.split(b"\r\n", 1)[0] + b"\r\n"
        if not data[:1].isupper() or (b"\r\n" in data and not _REQUEST_LINE.match(first)):
            return None, b""
        if len(data) > _MAX_HEAD or time.monotonic() > deadline:
            return None, b""
    end = data.index(b"\r\n\r\n") + 4
    return data[:end], data[end:]


def _with_headers(head: bytes, replace: dict[bytes, bytes]) -> bytes:
    """The head with each named header (lower-case) set once to the given value; Keep-Alive headers dropped."""
    lines = head.rstrip(b"\r\n").split(b"\r\n")
    drop = {*replace, b"keep-alive", b"proxy-connection"}
    kept = [lines[0], *(line for line in lines[1:] if line.split(b":", 1)[0].strip().lower() not in drop)]
    kept += [name.title() + b": " + value for name, value in replace.items()]
    return b"\r\n".join(kept) + b"\r\n\r\n"
