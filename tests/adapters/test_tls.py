"""TLS against real servers: the registry (CNCF Distribution) and the smart-HTTP git server over HTTPS with a local CA
(trustme), certificates always verified, RELEASE_CA_BUNDLE for our HTTP clients and git, and plain HTTP only for
loopback hosts or those named in RELEASE_INSECURE_REGISTRIES.

A non-loopback host is this machine's own non-loopback address, forwarded to the loopback services (skipped when
the machine has none).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from release.adapters import http, tls
from release.adapters.gitclone import auth_env
from release.charts import helmrepo
from release.errors import ReleaseError
from tests.charts.test_gitbranch import configure as chart_branch_repo
from tests.charts.test_gitbranch import tree
from tests.charts.test_publish import chart_repo
from tests.conftest import Result
from tests.gitops.test_promote import INFRA_FILES, configure, git, make_infra, show
from tests.gitserver import GitHTTP
from tests.services import Registry

TOKEN = "glpat-tls-s3cr3t-token"
TRUST_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "GIT_SSL_CAINFO", "GIT_SSL_NO_VERIFY")


@pytest.fixture(autouse=True)
def no_ambient_trust(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's own CA settings must not decide these tests."""
    for name in TRUST_VARIABLES:
        monkeypatch.delenv(name, raising=False)


class Pki:
    """A local CA and a server certificate it issued for 127.0.0.1 and localhost, as PEM files."""

    def __init__(self, root: Path) -> None:
        self.ca = trustme.CA()
        self.cert = self.ca.issue_cert("127.0.0.1", "localhost")
        self.ca_pem = root / "ca.pem"
        self.chain_pem = root / "server-chain.pem"
        self.key_pem = root / "server-key.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_pem))
        self.cert.private_key_pem.write_to_path(str(self.key_pem))
        with self.chain_pem.open("wb") as out:
            for blob in self.cert.cert_chain_pems:
                out.write(blob.bytes())

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.cert.configure_cert(context)
        return context


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[Registry]:
    """CNCF Distribution serving HTTPS on 127.0.0.1 with the local CA's certificate."""
    with Registry.start(tmp_path_factory.mktemp("tls-registry"), tls=(pki.chain_pem, pki.key_pem), ca=pki.ca_pem) as r:
        yield r


def registry_env(registry: Registry, **extra: str) -> dict[str, str]:
    return {"RELEASE_REGISTRY_USER": registry.user, "RELEASE_REGISTRY_PASSWORD": registry.password, **extra}


def assert_one_line_error(result: Result, *needles: str) -> None:
    """Exit 1 with one `release: error:` line holding each needle, and no traceback. Progress lines that came before
    it (`packaged demo-1.0.1.tgz ...`) are allowed; conftest's helper is for commands that print nothing else."""
    assert result.code == 1, (result.out, result.err)
    assert "Traceback" not in result.err
    errors = [line for line in result.err.splitlines() if line.startswith("release: error:")]
    assert len(errors) == 1 and result.err.rstrip("\n").endswith(errors[0]), result.err
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])


def assert_secret_free(result: Result, *secrets: str) -> None:
    text = result.out + result.err
    for secret in secrets:
        assert secret not in text


# --- the registry over HTTPS ----------------------------------------------------------------------------------------


def test_publish_to_an_https_registry_with_the_ca_bundle(repo, release, tls_registry, pki):
    chart_repo(repo, tls_registry, name="demo-tls")
    result = release(repo, "chart", "--publish", env=registry_env(tls_registry, RELEASE_CA_BUNDLE=str(pki.ca_pem)))
    assert result.code == 0, result.err
    assert f"oci://{tls_registry.host}/charts/demo-tls:1.0.1@sha256:" in result.err + result.out
    manifest = tls_registry.manifest("charts/demo-tls", "1.0.1")
    assert manifest.status_code == 200
    assert manifest.json()["config"]["mediaType"] == "application/vnd.cncf.helm.config.v1+json"
    assert_secret_free(result, tls_registry.password)
    # the rerun finds it over HTTPS too
    again = release(repo, "chart", "--publish", env=registry_env(tls_registry, RELEASE_CA_BUNDLE=str(pki.ca_pem)))
    assert again.code == 0 and "skipped: already published" in again.err, again.err


def test_an_untrusted_registry_certificate_is_one_line_and_not_retried(repo, release, tls_registry):
    chart_repo(repo, tls_registry, name="demo-untrusted")
    started = time.monotonic()
    result = release(repo, "chart", "--publish", env=registry_env(tls_registry))
    elapsed = time.monotonic() - started
    assert_one_line_error(
        result,
        f"TLS certificate of {tls_registry.host} is not trusted (",
        "unable to get local issuer certificate",
        "set RELEASE_CA_BUNDLE to your CA's PEM file",
    )
    assert elapsed < 5, f"a certificate failure was retried with backoff ({elapsed:.1f}s)"
    assert_secret_free(result, tls_registry.password)
    assert tls_registry.manifest("charts/demo-untrusted", "1.0.1").status_code == 404


def test_a_bundle_from_another_ca_says_the_bundle_is_the_wrong_one(repo, release, tls_registry, tmp_path):
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    chart_repo(repo, tls_registry, name="demo-other-ca")
    result = release(repo, "chart", "--publish", env=registry_env(tls_registry, RELEASE_CA_BUNDLE=str(other)))
    assert_one_line_error(result, f"TLS certificate of {tls_registry.host} is not trusted", f"({other})")
    assert_secret_free(result, tls_registry.password)


def test_a_missing_ca_bundle_names_the_variable(repo, release, tls_registry, tmp_path):
    chart_repo(repo, tls_registry, name="demo-missing-ca")
    missing = tmp_path / "nowhere" / "ca.pem"
    result = release(repo, "chart", "--publish", env=registry_env(tls_registry, RELEASE_CA_BUNDLE=str(missing)))
    assert_one_line_error(result, "RELEASE_CA_BUNDLE", str(missing), "does not exist")
    assert_secret_free(result, tls_registry.password)


def test_a_ca_bundle_that_is_not_pem_names_the_variable(repo, release, tls_registry, tmp_path):
    chart_repo(repo, tls_registry, name="demo-not-pem")
    junk = tmp_path / "ca.pem"
    junk.write_text("not a certificate\n")
    result = release(repo, "chart", "--publish", env=registry_env(tls_registry, RELEASE_CA_BUNDLE=str(junk)))
    assert_one_line_error(result, "RELEASE_CA_BUNDLE", "holds no PEM certificate")


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
def test_the_standard_bundle_variables_are_honoured(repo, release, tls_registry, pki, variable):
    name = f"demo-{variable.lower().replace('_', '-')}"
    chart_repo(repo, tls_registry, name=name)
    result = release(repo, "chart", "--publish", env=registry_env(tls_registry, **{variable: str(pki.ca_pem)}))
    assert result.code == 0, result.err
    assert tls_registry.manifest(f"charts/{name}", "1.0.1").status_code == 200


def test_release_ca_bundle_wins_over_requests_ca_bundle(repo, release, tls_registry, pki, tmp_path):
    # requests on its own lets REQUESTS_CA_BUNDLE override a session's bundle; ours must not
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    chart_repo(repo, tls_registry, name="demo-precedence")
    env = registry_env(tls_registry, RELEASE_CA_BUNDLE=str(pki.ca_pem), REQUESTS_CA_BUNDLE=str(other))
    result = release(repo, "chart", "--publish", env=env)
    assert result.code == 0, result.err


def test_the_loopback_scheme_follows_the_server(tls_registry, registry):
    """Loopback may be plain HTTP: tried over HTTPS first, plain HTTP when the server does not speak TLS."""
    assert tls.registry_scheme(tls_registry.host, {}) == "https"  # untrusted, still HTTPS: never a downgrade
    assert tls.registry_scheme(tls_registry.host, {"RELEASE_CA_BUNDLE": str(tls_registry.ca)}) == "https"
    assert tls.registry_scheme(registry.host, {}) == "http"
    assert tls.registry_scheme("registry.example.invalid:5000", {}) == "https"  # no probe off loopback


# --- git over HTTPS (promote, chart branches) --------------------------------------------------------------------


@pytest.fixture
def infra(tmp_path: Path) -> Path:
    return make_infra(tmp_path, INFRA_FILES)


@pytest.fixture
def https_git(infra: Path, pki: Pki) -> Iterator[GitHTTP]:
    with GitHTTP(infra.parent, "deployer", TOKEN, tls=pki.server_context()) as server:
        yield server


GIT_ENV = {"RELEASE_GIT_USER": "deployer", "RELEASE_GIT_TOKEN": TOKEN}


def test_promote_over_https_with_the_ca_bundle(repo, release, infra, https_git, pki):
    assert https_git.url.startswith("https://127.0.0.1:")
    configure(repo, f"{https_git.url}/{infra.name}")
    env = {**GIT_ENV, "RELEASE_CA_BUNDLE": str(pki.ca_pem)}
    result = release(repo, "promote", "dev", "--version", "1.4.0", env=env)
    assert result.code == 0, result.err
    assert 'tag: "1.4.0"' in show(infra, "apps/dev/app/values.yaml")
    assert git(infra, "rev-list", "--count", "main") == "2"
    assert https_git.authorizations  # the token went over the TLS connection, as a header
    assert_secret_free(result, TOKEN)


def test_promote_to_an_untrusted_git_server_is_one_line(repo, release, infra, https_git):
    configure(repo, f"{https_git.url}/{infra.name}")
    host = https_git.url.removeprefix("https://")
    result = release(repo, "promote", "dev", "--version", "1.4.0", env=GIT_ENV)
    assert_one_line_error(result, f"TLS certificate of {host} is not trusted", "RELEASE_CA_BUNDLE")
    assert_secret_free(result, TOKEN)
    assert git(infra, "rev-list", "--count", "main") == "1"
    assert not https_git.authorizations  # the token never left before the certificate was trusted


def test_git_verification_cannot_be_switched_off_from_outside(repo, release, infra, https_git):
    """GIT_SSL_NO_VERIFY and a user's `http.sslVerify false` do not reach our clones."""
    configure(repo, f"{https_git.url}/{infra.name}")
    home = Path(os.environ["HOME"])
    (home / ".gitconfig").write_text("[http]\n\tsslVerify = false\n")
    result = release(repo, "promote", "dev", "--version", "1.4.0", env={**GIT_ENV, "GIT_SSL_NO_VERIFY": "1"})
    assert_one_line_error(result, "is not trusted")
    assert git(infra, "rev-list", "--count", "main") == "1"


def test_promote_with_a_missing_ca_bundle_names_the_variable(repo, release, infra, https_git, tmp_path):
    configure(repo, f"{https_git.url}/{infra.name}")
    missing = tmp_path / "missing.pem"
    result = release(repo, "promote", "dev", "--version", "1.4.0", env={**GIT_ENV, "RELEASE_CA_BUNDLE": str(missing)})
    assert_one_line_error(result, "RELEASE_CA_BUNDLE", str(missing))
    assert_secret_free(result, TOKEN)


def test_a_chart_branch_over_https_trusts_the_ca_bundle(repo, release, pki, tmp_path):
    bare = tmp_path / "pages.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    with GitHTTP(tmp_path, "publisher", TOKEN, tls=pki.server_context()) as server:
        chart_branch_repo(repo, f"git+{server.url}/{bare.name}#gh-pages")
        env = {"RELEASE_GIT_USER": "publisher", "RELEASE_GIT_TOKEN": TOKEN}
        untrusted = release(repo, "chart", "--publish", env=env)
        trusted = release(repo, "chart", "--publish", env={**env, "RELEASE_CA_BUNDLE": str(pki.ca_pem)})
    assert_one_line_error(untrusted, "is not trusted")
    assert trusted.code == 0, trusted.err
    assert "demo-1.0.1.tgz" in tree(bare)
    assert_secret_free(untrusted, TOKEN)
    assert_secret_free(trusted, TOKEN)


# --- plain HTTP off loopback: only on explicit opt-in ----------------------------------------------------------


def non_loopback_address() -> str | None:
    """This machine's address on its default route, if it has one that is not loopback and accepts connections."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the route
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    if ipaddress.ip_address(address).is_loopback or address == "0.0.0.0":
        return None
    try:
        with socket.create_server((address, 0)) as listener, socket.create_connection(listener.getsockname(), 2):
            return address
    except OSError:
        return None


@pytest.fixture(scope="module")
def outside() -> str:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to reach a local server by")
    return address


@contextlib.contextmanager
def forwarded(address: str, port: int) -> Iterator[str]:
    """address:<free port> → 127.0.0.1:port: a loopback server reached by a non-loopback address. Yields host:port."""
    listener = socket.create_server((address, 0))

    def pump(source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    def connection(client: socket.socket) -> None:
        with client, socket.create_connection(("127.0.0.1", port)) as upstream:
            back = threading.Thread(target=pump, args=(upstream, client), daemon=True)
            back.start()
            pump(client, upstream)
            back.join()

    def serve() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=connection, args=(client,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"{address}:{listener.getsockname()[1]}"
    finally:
        # shutdown wakes the thread blocked in accept(); close alone would leave it waiting on a file descriptor
        # number that the next socket may reuse
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()


def test_a_plain_http_registry_off_loopback_needs_the_opt_in(repo, release, registry, outside):
    with forwarded(outside, registry.port) as host:
        chart_repo(repo, name="demo-insecure", extra=f'    publish: ["oci://{host}/charts"]\n')
        started = time.monotonic()
        refused = release(repo, "chart", "--publish", env=registry_env(registry))
        elapsed = time.monotonic() - started
        allowed = release(repo, "chart", "--publish", env=registry_env(registry, RELEASE_INSECURE_REGISTRIES=host))
    # without the opt-in: HTTPS, which this server does not speak; said in one line, with the way to opt in
    assert_one_line_error(refused, f"TLS handshake with registry {host} failed", f"RELEASE_INSECURE_REGISTRIES={host}")
    assert elapsed < 5, f"a server that does not speak TLS was retried with backoff ({elapsed:.1f}s)"
    assert allowed.code == 0, allowed.err
    assert registry.manifest("charts/demo-insecure", "1.0.1").status_code == 200
    assert_secret_free(refused, registry.password)
    assert_secret_free(allowed, registry.password)


def test_a_plain_http_git_server_off_loopback_needs_the_opt_in(repo, release, infra, outside):
    with GitHTTP(infra.parent, "deployer", TOKEN) as server:
        port = int(server.url.rsplit(":", 1)[1])
        with forwarded(outside, port) as host:
            configure(repo, f"http://{host}/{infra.name}")
            refused = release(repo, "promote", "dev", "--version", "1.4.0", env=GIT_ENV)
            assert not server.authorizations  # refused before the token went anywhere
            allowed = release(
                repo, "promote", "dev", "--version", "1.4.0", env={**GIT_ENV, "RELEASE_INSECURE_REGISTRIES": host}
            )
    assert_one_line_error(refused, f"uses plain HTTP to {host}", f"RELEASE_INSECURE_REGISTRIES={host}")
    assert allowed.code == 0, allowed.err
    assert 'tag: "1.4.0"' in show(infra, "apps/dev/app/values.yaml")
    assert_secret_free(refused, TOKEN)
    assert_secret_free(allowed, TOKEN)


# --- the decisions themselves ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "listed", "expected"),
    [
        ("127.0.0.1:5000", "", True),
        ("127.8.9.10", "", True),
        ("[::1]:5000", "", True),
        ("localhost:5000", "", True),
        ("registry.example.com", "", False),
        ("registry.example.com:5000", "registry.example.com:5000", True),
        ("registry.example.com:5001", "registry.example.com:5000", False),
        ("registry.example.com:5001", "registry.example.com", True),  # no port: any port
        ("Registry.Example.com", "http://registry.example.com/", True),  # a scheme and a slash are forgiven
        ("10.1.2.3:5000", "other.example, 10.0.0.0/8", True),  # Docker's CIDR form
        ("192.168.1.2:5000", "10.0.0.0/8", False),
        ("[fd00::5]:5000", "fd00::/8", True),
        ("127.0.0.1.example.com", "", False),
    ],
)
def test_where_plain_http_is_allowed(host, listed, expected):
    assert tls.plain_http_allowed(host, {"RELEASE_INSECURE_REGISTRIES": listed}) is expected


def test_require_secure_refuses_plain_http_off_loopback_only():
    tls.require_secure("http://127.0.0.1:8080/x", "x", {})
    tls.require_secure("https://git.example.com/x", "x", {})
    tls.require_secure("file:///srv/infra.git", "x", {})
    with pytest.raises(ReleaseError) as err:
        tls.require_secure("http://user:pw-in-url@git.example.com/x.git", "git repository", {})
    assert "git.example.com" in err.value.line() and "RELEASE_INSECURE_REGISTRIES=git.example.com" in err.value.line()
    assert "pw-in-url" not in err.value.line()


def test_chartmuseum_plain_http_off_loopback_needs_the_opt_in():
    target = "chartmuseum+http://charts.internal:8080"
    with pytest.raises(ReleaseError) as err:
        helmrepo.parse_chartmuseum(target, {})
    assert "RELEASE_INSECURE_REGISTRIES=charts.internal:8080" in err.value.line()
    assert helmrepo.parse_chartmuseum(target, {"RELEASE_INSECURE_REGISTRIES": "charts.internal"}).scheme == "http"


def test_every_http_client_refuses_plain_http_off_loopback():
    with pytest.raises(ReleaseError, match=r"uses plain HTTP to api\.example\.com"):
        http.send(http.session(), "GET", "http://api.example.com/x", what="the API", hint="h")


def test_the_ca_bundle_is_added_to_the_default_cas(pki):
    combined = Path(str(tls.verify({"RELEASE_CA_BUNDLE": str(pki.ca_pem)})))
    text = combined.read_bytes()
    assert text.startswith(pki.ca_pem.read_bytes().rstrip(b"\n"))
    assert text.count(b"-----BEGIN CERTIFICATE-----") > 50  # and the public CAs: github.com stays reachable
    assert tls.git_env({"RELEASE_CA_BUNDLE": str(pki.ca_pem)}) == {"GIT_SSL_CAINFO": str(combined)}
    assert tls.verify({}) is True and tls.git_env({}) == {}


def test_git_env_drops_no_verify_and_carries_the_bundle(pki):
    env = auth_env(
        {"GIT_SSL_NO_VERIFY": "1", "RELEASE_CA_BUNDLE": str(pki.ca_pem), "RELEASE_GIT_TOKEN": TOKEN},
        "https://git.example.com/team/infra.git",
    )
    assert "GIT_SSL_NO_VERIFY" not in env
    assert Path(env["GIT_SSL_CAINFO"]).read_bytes().startswith(pki.ca_pem.read_bytes().rstrip(b"\n"))
    assert TOKEN not in " ".join(env.values())


@pytest.mark.parametrize(
    ("stderr", "reason"),
    [
        (
            "fatal: unable to access 'https://h:1/r.git/': server certificate verification failed. "
            "CAfile: /etc/ssl/certs/ca-certificates.crt CRLfile: none",
            "server certificate verification failed",
        ),
        (
            "fatal: unable to access 'https://h:1/r.git/': SSL certificate problem: unable to get local issuer "
            "certificate",
            "unable to get local issuer certificate",
        ),
        (
            "fatal: unable to access 'https://h:1/r.git/': SSL: no alternative certificate subject name matches "
            "target host name 'h'",
            "Hostname mismatch, certificate is not valid for 'h'",
        ),
    ],
)
def test_git_certificate_failures_are_recognised(stderr, reason):
    error = tls.git_certificate_error(stderr, "https://h:1/r.git", {})
    assert error is not None
    assert error.message == f"TLS certificate of h:1 is not trusted ({reason})"
    assert tls.git_certificate_error("fatal: repository not found", "https://h:1/r.git", {}) is None
