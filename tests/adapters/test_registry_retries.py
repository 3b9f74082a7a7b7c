"""The registry adapter against a loopback server that fails on purpose: 5xx, 429 + Retry-After, resets."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from release.adapters.credentials import Credentials
from release.adapters.registry import Registry
from release.adapters.retry import retrying
from release.errors import ReleaseError
from release.naming.imageref import Repository

MANIFEST = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": {}}


class Flaky:
    """Answers the first `failures` requests with `status` (or a reset), then a manifest."""

    def __init__(self, failures: int, status: int | None, retry_after: str | None = None) -> None:
        self.failures, self.status, self.retry_after = failures, status, retry_after
        self.requests = 0


@pytest.fixture
def server() -> Iterator[tuple[Flaky, list[Flaky]]]:
    current: list[Flaky] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            flaky = current[0]
            flaky.requests += 1
            if flaky.requests <= flaky.failures:
                if flaky.status is None:  # a connection reset: close without answering
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    self.connection.close()
                    return
                self.send_response(flaky.status)
                if flaky.retry_after:
                    self.send_header("Retry-After", flaky.retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = json.dumps(MANIFEST).encode()
            self.send_response(200)
            self.send_header("Content-Type", MANIFEST["mediaType"])
            self.send_header("Docker-Content-Digest", "sha256:" + "a" * 64)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], current  # type: ignore[misc]
    httpd.shutdown()


def registry_at(port: int) -> Registry:
    registry = Registry(Repository.parse(f"127.0.0.1:{port}/team/app"), Credentials("u", "pw-for-tests"))
    # keep the backoff, shrink its scale: the tests count attempts, they do not measure time
    registry.session.adapters["http://"].max_retries.backoff_factor = 0.01  # type: ignore[attr-defined]
    return registry


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried(server, status):
    port, current = server
    current.append(Flaky(failures=2, status=status))
    manifest = registry_at(port).manifest("1.0.0")
    assert manifest is not None and manifest.digest == "sha256:" + "a" * 64
    assert current[0].requests == 3


def test_429_honours_retry_after(server):
    port, current = server
    current.append(Flaky(failures=1, status=429, retry_after="1"))
    assert registry_at(port).manifest("1.0.0") is not None
    assert current[0].requests == 2


def test_connection_resets_are_retried(server):
    port, current = server
    current.append(Flaky(failures=2, status=None))
    assert registry_at(port).manifest("1.0.0") is not None
    assert current[0].requests == 3


def test_retries_are_bounded_and_end_in_one_clear_line(server):
    port, current = server
    current.append(Flaky(failures=1000, status=503))
    registry = registry_at(port)
    with pytest.raises(ReleaseError) as err:
        registry.manifest("1.0.0")
    assert current[0].requests == 6  # the first try and five retries
    assert "503" in err.value.message and "\n" not in err.value.line()
    assert "pw-for-tests" not in err.value.line()


def test_refused_connection_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens here
    registry = registry_at(port)
    with pytest.raises(ReleaseError, match=f"cannot reach registry 127.0.0.1:{port}"):
        registry.manifest("1.0.0")


def test_retrying_stops_on_what_is_not_transient():
    calls = []

    def fail() -> None:
        calls.append(1)
        raise ReleaseError("push failed: unauthorized")

    with pytest.raises(ReleaseError):
        retrying(fail, attempts=3, retry_on=lambda e: "unauthorized" not in str(e), sleep=lambda s: None)
    assert len(calls) == 1


def test_retrying_retries_transient_then_succeeds():
    calls, waits = [], []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ReleaseError("push failed: 502 Bad Gateway")
        return "ok"

    assert retrying(flaky, attempts=3, base=1.0, retry_on=lambda e: True, sleep=waits.append) == "ok"
    assert len(calls) == 3
    assert len(waits) == 2 and waits[1] > waits[0]  # exponential backoff
