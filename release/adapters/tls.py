"""TLS for our own HTTP clients and for git: what is trusted, and where plain HTTP is allowed. One place decides.

- Certificates are always verified. Trust comes from RELEASE_CA_BUNDLE (a PEM file, added to the default CAs, for
  our HTTP clients and for git's clones and pushes); without it, from the standard REQUESTS_CA_BUNDLE,
  CURL_CA_BUNDLE or SSL_CERT_FILE (which replace the defaults, as they do everywhere); else requests' defaults
  (certifi). git keeps its own settings (GIT_SSL_CAINFO, http.sslCAInfo) unless RELEASE_CA_BUNDLE is set.
- Plain HTTP is allowed for loopback hosts (127.0.0.0/8, ::1, localhost) and for the hosts named in
  RELEASE_INSECURE_REGISTRIES (Docker's insecure-registries: `host`, `host:port` or a CIDR, comma-separated).
  An `http://` URL to any other host is refused with a hint saying how to opt in.
- An OCI registry (a bare host, no scheme) that may use plain HTTP is tried over HTTPS first and falls back to
  plain HTTP when the server does not speak TLS, as Docker does for insecure registries; a certificate that fails
  verification is an error, never a reason to fall back.

Pure decisions plus small file reads: no network here except `registry_scheme`'s one probe.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import os
import re
import ssl
import tempfile
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from release.errors import ReleaseError

CA_BUNDLE = "RELEASE_CA_BUNDLE"
INSECURE = "RELEASE_INSECURE_REGISTRIES"
# What requests (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE) and OpenSSL (SSL_CERT_FILE) users already set.
STANDARD_BUNDLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")
CA_HINT = f"set {CA_BUNDLE} to your CA's PEM file"
PROBE_TIMEOUT = 5.0

_PEM = b"-----BEGIN CERTIFICATE-----"
_combined: dict[tuple[str, int, int], str] = {}


def _environ(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


# --- hosts ---------------------------------------------------------------------------------------


def split_host(host: str) -> tuple[str, int | None]:
    """`host[:port]` (IPv6 in brackets, or bare) → (lower-case name without brackets, port or None)."""
    host = host.rsplit("@", 1)[-1].strip().lower()
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port = rest.removeprefix(":")
        return name, int(port) if port.isdigit() else None
    if host.count(":") == 1:
        name, _, port = host.partition(":")
        return name, int(port) if port.isdigit() else None
    return host, None  # a bare name, or a bare IPv6 address


def is_loopback(host: str) -> bool:
    name, _ = split_host(host)
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def insecure_entries(env: Mapping[str, str] | None = None) -> list[str]:
    """RELEASE_INSECURE_REGISTRIES as a list; a scheme or a trailing slash on an entry is forgiven."""
    raw = _environ(env).get(INSECURE, "")
    entries = [re.sub(r"^[a-z]+://", "", e.strip().lower()).rstrip("/") for e in re.split(r"[,\s]+", raw)]
    return [e for e in entries if e]


def _listed(host: str, entries: list[str]) -> bool:
    name, port = split_host(host)
    for entry in entries:
        if "/" in entry:  # a CIDR, like Docker's insecure-registries
            try:
                if ipaddress.ip_address(name) in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        their_name, their_port = split_host(entry)
        if their_name == name and (their_port is None or their_port == port):
            return True
    return False


def plain_http_allowed(host: str, env: Mapping[str, str] | None = None, *, opted_in: bool = False) -> bool:
    """Loopback, listed in RELEASE_INSECURE_REGISTRIES, or `opted_in` by the caller."""
    return opted_in or is_loopback(host) or _listed(host, insecure_entries(env))


def require_secure(url: str, what: str, env: Mapping[str, str] | None = None) -> None:
    """Refuse an `http://` URL to a host where plain HTTP is not allowed; anything else passes."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "http" or not parts.netloc:
        return
    host = parts.netloc.rsplit("@", 1)[-1]
    if plain_http_allowed(host, env):
        return
    raise ReleaseError(
        f"{what} uses plain HTTP to {host}, which is not a loopback host",
        f"use https://, or allow plain HTTP to it with {INSECURE}={host}",
    )


# --- trust ---------------------------------------------------------------------------------------


def _bundle_file(variable: str, value: str, *, directory_ok: bool = False) -> Path:
    path = Path(value).expanduser()
    if directory_ok and path.is_dir():
        return path
    if not path.exists():
        raise ReleaseError(f"{variable} names {value}, which does not exist", f"point {variable} at a CA's PEM file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReleaseError(
            f"{variable} names {value}, which cannot be read ({exc.strerror or type(exc).__name__})",
            f"point {variable} at a readable CA PEM file",
        ) from None
    if _PEM not in data:
        raise ReleaseError(
            f"{variable} names {value}, which holds no PEM certificate",
            f"point {variable} at a file with -----BEGIN CERTIFICATE----- blocks",
        )
    return path


def _defaults() -> list[Path]:
    """The CA files a verifying client trusts without configuration: requests' (certifi) and the system's."""
    found: list[Path] = []
    with contextlib.suppress(ImportError):
        import certifi

        found.append(Path(certifi.where()))
    paths = ssl.get_default_verify_paths()
    for name in (paths.cafile, paths.openssl_cafile):
        if name and Path(name).is_file():
            found.append(Path(name))
    unique: dict[Path, None] = {}
    for path in found:
        with contextlib.suppress(OSError):
            unique.setdefault(path.resolve(), None)
    return list(unique)


def _with_defaults(bundle: Path) -> str:
    """A PEM file holding `bundle` and the default CAs (written once per process, removed at exit): a private CA
    is trusted as well as, not instead of, the public ones (an internal registry, an infra repo on github.com)."""
    stat = bundle.stat()
    key = (str(bundle.resolve()), stat.st_mtime_ns, stat.st_size)
    if key in _combined and Path(_combined[key]).is_file():
        return _combined[key]
    parts = [bundle.read_bytes()]
    for path in _defaults():
        with contextlib.suppress(OSError):
            parts.append(path.read_bytes())
    fd, name = tempfile.mkstemp(prefix="release-ca-", suffix=".pem")
    with os.fdopen(fd, "wb") as out:
        out.write(b"\n".join(p.rstrip(b"\n") for p in parts) + b"\n")
    atexit.register(_remove, name)
    _combined[key] = name
    return name


def _remove(name: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name)


def verify(env: Mapping[str, str] | None = None) -> str | bool:
    """What our HTTP clients pass as requests' `verify`: a CA file (or directory), or True for the defaults.

    Never False. A variable naming a missing, unreadable or empty file is a ReleaseError naming the variable."""
    environ = _environ(env)
    bundle = environ.get(CA_BUNDLE)
    if bundle:
        return _with_defaults(_bundle_file(CA_BUNDLE, bundle))
    for variable in STANDARD_BUNDLES:
        value = environ.get(variable)
        if value:
            return str(_bundle_file(variable, value, directory_ok=variable != "SSL_CERT_FILE"))
    return True


def git_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Variables for git over https: RELEASE_CA_BUNDLE (with the default CAs) as GIT_SSL_CAINFO, when it is set."""
    bundle = _environ(env).get(CA_BUNDLE)
    if not bundle:
        return {}
    return {"GIT_SSL_CAINFO": _with_defaults(_bundle_file(CA_BUNDLE, bundle))}


# --- failures ------------------------------------------------------------------------------------


def is_certificate_error(exc: BaseException | None) -> bool:
    """A certificate that failed verification, anywhere in requests'/urllib3's wrapping of the cause."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(exc):
            return True
        inner = getattr(exc, "reason", None)
        if not isinstance(inner, BaseException):
            inner = next((a for a in exc.args if isinstance(a, BaseException)), None)
        exc = inner or exc.__cause__ or exc.__context__
    return False


def is_final_tls_error(exc: BaseException | None) -> bool:
    """A TLS failure that a retry cannot fix: a certificate failing verification, or a handshake the server does not
    speak (plain HTTP on that port). A connection dropped mid-handshake (EOF) is transient and is retried."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(exc):
            return True
        if isinstance(exc, ssl.SSLError):
            return not isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError) and "EOF" not in str(exc)
        inner = getattr(exc, "reason", None)
        if not isinstance(inner, BaseException):
            inner = next((a for a in exc.args if isinstance(a, BaseException)), None)
        exc = inner or exc.__cause__ or exc.__context__
    return False


def certificate_reason(text: str) -> str:
    """The verifier's own words: "unable to get local issuer certificate", "Hostname mismatch, ..."."""
    match = re.search(r"certificate verify failed: ([^'\"()]+?)\s*(?:\(_ssl\.c:\d+\)|['\")]|$)", text)
    if match:
        return match[1].strip()
    match = re.search(r"SSL certificate problem: ([^'\"\n]+)", text)  # git/curl with OpenSSL
    if match:
        return match[1].strip()
    match = re.search(r"server certificate verification failed[^'\"\n]*", text)  # git/curl with GnuTLS
    if match:
        return re.sub(r"\.\s*CAfile:.*", "", match[0]).strip()
    return "certificate verify failed"


def certificate_error(host: str, reason: str, env: Mapping[str, str] | None = None) -> ReleaseError:
    """The one line for a certificate that is not trusted."""
    bundle = _environ(env).get(CA_BUNDLE)
    hint = CA_HINT
    if "hostname mismatch" in reason.lower() or "doesn't match" in reason.lower():
        hint = f"the certificate does not name {split_host(host)[0]}: reissue it, or use the name it was issued for"
    elif bundle:
        hint = f"{CA_BUNDLE} is set ({bundle}): check that it holds the CA that issued {host}'s certificate"
    return ReleaseError(f"TLS certificate of {host} is not trusted ({reason})", hint)


_GIT_CERTIFICATE = re.compile(
    r"SSL certificate problem|server certificate verification failed|certificate verify failed|"
    r"no alternative certificate subject name matches|SSL: certificate subject name"
)


def git_certificate_error(stderr: str, url: str, env: Mapping[str, str] | None = None) -> ReleaseError | None:
    """A git fetch/push that failed on the server's certificate, as one line; None for any other failure."""
    if not _GIT_CERTIFICATE.search(stderr):
        return None
    host = urlsplit(url).netloc.rsplit("@", 1)[-1] or url
    subject = re.search(r"no alternative certificate subject name matches target host name '([^']+)'", stderr)
    reason = f"Hostname mismatch, certificate is not valid for {subject[1]!r}" if subject else None
    return certificate_error(host, reason or certificate_reason(stderr), env)


# --- the scheme of an OCI registry ---------------------------------------------------------------


def registry_scheme(host: str, env: Mapping[str, str] | None = None, *, opted_in: bool = False) -> str:
    """The scheme to use: https, or http for a host that may use plain HTTP and whose server does not speak TLS.

    The probe is one HTTPS request to /v2/ without retries. An answer, or a certificate that fails verification,
    means HTTPS (the request that follows reports the certificate); a handshake the server does not understand,
    a refused or reset connection, or no answer means plain HTTP (the request that follows reports the rest)."""
    if not plain_http_allowed(host, env, opted_in=opted_in):
        return "https"
    import requests  # here, not at the top: git's TLS settings (gitclone, every plan) need no HTTP client

    with requests.Session() as probe:
        try:
            probe.get(f"https://{host}/v2/", verify=verify(env), timeout=PROBE_TIMEOUT, allow_redirects=False)
        except requests.exceptions.SSLError as exc:
            return "https" if is_certificate_error(exc) else "http"
        except requests.exceptions.RequestException:
            return "http"
    return "https"
