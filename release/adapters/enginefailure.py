"""Why an engine endpoint did not answer, in words a user can act on.

`classify` reads the exception chain the docker SDK raised (requests → urllib3 → ssl/socket). When the chain
only says "connection reset" (a TLS 1.3 server rejects a client certificate after the handshake; a TLS server
hangs up on plain HTTP), one short probe of the same host and port with Python's ssl tells which it was.
Messages name files (paths), never their contents.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from urllib.parse import urlsplit

from release.adapters.enginehost import CERT_HINT, TLS_PORT, Endpoint, TLSFiles

HINT = "start Docker, or Podman's API (podman system service), and set DOCKER_HOST to its socket"
PROBE_TIMEOUT = 5.0
_PLAIN_PORT_HINT = f"unset DOCKER_TLS_VERIFY, or use the engine's TLS port (Docker's is {TLS_PORT})"
_TLS_PORT_HINT = (
    "set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH to the directory with ca.pem, cert.pem and key.pem "
    "(GitLab's dind: DOCKER_TLS_CERTDIR=/certs, DOCKER_CERT_PATH=/certs/client)"
)
_CLIENT_REJECTED = ("CERTIFICATE_REQUIRED", "UNKNOWN_CA", "BAD_CERTIFICATE", "CERTIFICATE_UNKNOWN", "ACCESS_DENIED")
_UNREADABLE = ("PEM", "NO_CERTIFICATE", "KEY_VALUES_MISMATCH", "X509", "ASN1", "NO_START_LINE")
_NOT_TLS = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL")


class EngineUnreachable(Exception):
    def __init__(self, reason: str, hint: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


def chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        reason = getattr(current, "reason", None)  # urllib3's MaxRetryError keeps the cause there
        current = current.__cause__ or current.__context__
        if current is None and isinstance(reason, BaseException):
            current = reason
    return seen


def classify(exc: BaseException, endpoint: Endpoint) -> EngineUnreachable:
    found = chain(exc)
    host, port = _host_port(endpoint)
    for error in found:
        if isinstance(error, ssl.SSLCertVerificationError):
            return _verify_failed(error, endpoint.tls, host)
    for error in found:
        if isinstance(error, ssl.SSLError) and (known := _ssl_error(error, endpoint.tls)):
            return known
    for error in found:
        if isinstance(error, socket.gaierror):
            return EngineUnreachable(
                f"DNS name {host} not found",
                "check the host name; in GitLab CI the docker:dind service must be under services: (alias docker)",
            )
        if isinstance(error, ConnectionRefusedError):
            return EngineUnreachable(
                f"connection refused by {host}:{port}: nothing listens there",
                f"start the engine, or check the port (Docker's are 2375 plain, {TLS_PORT} TLS)",
            )
        if isinstance(error, PermissionError):
            return EngineUnreachable(
                f"permission denied on {endpoint.url}",
                "run as a user allowed on the socket (the docker group), or use Podman's rootless socket",
            )
        if isinstance(error, FileNotFoundError):
            return EngineUnreachable(f"no such socket {urlsplit(endpoint.url).path}", HINT)
    if endpoint.scheme in ("tcp", "http", "https") and (probed := probe(endpoint, host, port)):
        return probed
    for error in found:
        if isinstance(error, TimeoutError | socket.timeout):
            return EngineUnreachable(f"no answer from {host}:{port} (timed out)", "check the engine and the network")
    root = found[-1]
    first = (str(root).splitlines() or [""])[0][:200]
    return EngineUnreachable(f"{type(root).__name__}: {first}" if first else type(root).__name__, HINT)


def _host_port(endpoint: Endpoint) -> tuple[str, int]:
    parts = urlsplit(endpoint.url)
    default = TLS_PORT if endpoint.tls else 2375
    return parts.hostname or "", parts.port or default


def _verify_failed(error: ssl.SSLCertVerificationError, files: TLSFiles | None, host: str) -> EngineUnreachable:
    detail = str(error.verify_message or error.reason or error)
    if "mismatch" in detail.lower():
        return EngineUnreachable(
            f"TLS certificate verify failed: the engine's certificate is not issued for {host} ({detail})",
            "connect by a name the engine's certificate lists (GitLab's dind: the service alias docker)",
        )
    signer = f"the CA in {files.ca}" if files and files.ca else "a CA this system trusts (no ca.pem was found)"
    return EngineUnreachable(
        f"TLS certificate verify failed: the engine's certificate is not signed by {signer} ({detail})",
        f"{CERT_HINT}; its ca.pem must be the CA that issued the engine's certificate",
    )


def _ssl_error(error: ssl.SSLError, files: TLSFiles | None) -> EngineUnreachable | None:
    reason = str(error.reason or error).upper()
    if any(mark in reason for mark in _NOT_TLS):
        return EngineUnreachable("TLS spoken to a port that does not speak TLS (plain HTTP there)", _PLAIN_PORT_HINT)
    if any(mark in reason for mark in _CLIENT_REJECTED):
        return client_rejected(files, reason)
    if files is not None and any(mark in reason for mark in _UNREADABLE):
        return EngineUnreachable(f"the TLS files in {files.origin} cannot be used ({reason.lower()})", CERT_HINT)
    return None


def client_rejected(files: TLSFiles | None, reason: str) -> EngineUnreachable:
    if files is None or files.cert is None:
        where = files.origin if files else "no TLS settings"
        return EngineUnreachable(
            f"the engine requires a client certificate and none was given (no cert.pem/key.pem: {where})",
            CERT_HINT,
        )
    return EngineUnreachable(
        f"client certificate {files.cert} rejected by the engine ({reason.lower()})",
        "use the cert.pem and key.pem the engine's CA issued (docker:dind writes them to $DOCKER_TLS_CERTDIR/client)",
    )


def probe(endpoint: Endpoint, host: str, port: int) -> EngineUnreachable | None:
    """One TLS handshake and request to host:port, to tell a rejected client certificate (TLS endpoint) or a TLS
    port (plain endpoint) from other resets. None when the probe shows nothing more."""
    files = endpoint.tls
    try:
        context = _probe_context(files)
        with (
            socket.create_connection((host, port), timeout=PROBE_TIMEOUT) as raw,
            context.wrap_socket(raw, server_hostname=host) as conn,
        ):
            if files is None:
                return EngineUnreachable("plain HTTP spoken to a port that speaks TLS", _TLS_PORT_HINT)
            return _after_handshake(conn, files)
    except ssl.SSLError as exc:
        return _ssl_error(exc, files) if files is not None else None
    except (OSError, http.client.HTTPException):
        return None


def _probe_context(files: TLSFiles | None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if files is None:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if files.ca:
        context.load_verify_locations(cafile=str(files.ca))
    else:
        context.load_default_certs()
    if files.cert and files.key:
        context.load_cert_chain(str(files.cert), str(files.key))
    return context


def _after_handshake(conn: ssl.SSLSocket, files: TLSFiles) -> EngineUnreachable | None:
    """Our certificate was sent and theirs verified; with TLS 1.3 the server judges ours only now."""
    try:
        conn.sendall(b"GET /_ping HTTP/1.0\r\nHost: engine\r\n\r\n")
        if conn.recv(1):
            return None
    except ssl.SSLError as exc:
        return _ssl_error(exc, files) or client_rejected(files, str(exc.reason or exc))
    except (ConnectionResetError, BrokenPipeError):
        pass
    return client_rejected(files, "the engine closed the connection after the handshake")
