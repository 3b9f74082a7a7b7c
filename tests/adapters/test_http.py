"""Which failures are retried and which fail at once, seen from the outside: the real registry behind the fault
proxy (5xx, 429, resets: retried, counted by the proxy), and what no retry can fix (a closed port, a name that
does not resolve, a certificate nobody trusts: one attempt, one line naming the host and the cause)."""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from collections.abc import Iterator

import pytest
import trustme

from release.adapters import http
from release.adapters.credentials import Credentials
from release.adapters.registry import Registry
from release.errors import ReleaseError
from release.naming.imageref import Repository
from tests.faultproxy import FaultProxy, Rule
from tests.services import Registry as RegistryService

TAGS = r"/v2/fast/app/tags/list"


@pytest.fixture
def proxied(registry: RegistryService) -> Iterator[FaultProxy]:
    with FaultProxy("127.0.0.1", registry.port) as proxy:
        yield proxy


def client(host: str, registry: RegistryService | None = None) -> Registry:
    creds = Credentials(registry.user, registry.password) if registry else Credentials("u", "pw-for-tests")
    found = Registry(Repository.parse(f"{host}/fast/app"), creds)
    # keep the backoff, shrink its scale: the tests count attempts, they do not measure time
    found.session.adapters["http://"].max_retries.backoff_factor = 0.01  # type: ignore[attr-defined]
    found.session.adapters["https://"].max_retries.backoff_factor = 0.01  # type: ignore[attr-defined]
    return found


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again: nothing listens here


def retried(caplog: pytest.LogCaptureFixture) -> list[str]:
    """urllib3's "Retrying (...) after connection broken by ..." lines: one per retry of a broken connection."""
    return [r.getMessage() for r in caplog.records if "Retrying" in r.getMessage()]


@pytest.mark.parametrize(
    ("rule", "attempts"),
    [(Rule.fail(500, times=2), 3), (Rule.fail(503, times=2), 3), (Rule.throttle(1, times=1), 2)],
    ids=["500", "503", "429-retry-after"],
)
def test_server_errors_and_throttling_are_retried(proxied, registry, rule, attempts):
    proxied.add(rule)
    client(proxied.host, registry).check_access()
    faults = [e.fault for e in proxied.requests("GET", TAGS)]
    assert faults[:attempts] == [rule.label] * (attempts - 1) + [None]  # then the 401 challenge and the answer
    assert proxied.injected[rule.label] == attempts - 1


def test_connection_resets_are_retried(proxied, registry, caplog):
    caplog.set_level(logging.WARNING, logger="urllib3")
    proxied.add(Rule.reset(times=2, path=TAGS))
    client(proxied.host, registry).check_access()
    assert proxied.injected["reset request"] == 2
    assert len(retried(caplog)) >= 2


def test_a_long_retry_after_is_waited_within_bounds():
    retry = http.session().adapters["https://"].max_retries
    assert retry.parse_retry_after("3600") == http.RETRY_AFTER_MAX
    assert retry.parse_retry_after("2") == 2


def test_a_refused_connection_fails_at_once(caplog):
    caplog.set_level(logging.DEBUG, logger="urllib3")
    port = closed_port()
    with pytest.raises(ReleaseError) as err:
        client(f"127.0.0.1:{port}").check_access()
    assert f"cannot reach registry 127.0.0.1:{port}: Connection refused" in err.value.line()
    assert retried(caplog) == []
    assert "pw-for-tests" not in err.value.line()


def test_a_name_that_does_not_resolve_fails_at_once(caplog):
    caplog.set_level(logging.DEBUG, logger="urllib3")
    with pytest.raises(ReleaseError) as err:
        client("registry.invalid").check_access()
    line = err.value.line()
    assert "cannot reach registry registry.invalid:" in line
    assert "Name or service not known" in line or "resolution" in line
    assert retried(caplog) == []


def test_an_untrusted_certificate_fails_at_once(tmp_path, monkeypatch):
    """A TLS server whose CA we do not trust: one connection, one line; a retry could only fail the same way."""
    cert = trustme.CA().issue_cert("localhost")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    accepted: list[int] = []
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            accepted.append(1)
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass

    threading.Thread(target=serve, daemon=True).start()
    try:
        with http.session() as s, pytest.raises(ReleaseError) as err:
            http.send(s, "GET", f"https://localhost:{port}/v2/", what="registry localhost", hint="-", timeout=10)
    finally:
        server.close()
    assert "localhost" in err.value.line() and "certificate" in err.value.line()
    assert len(accepted) == 1
