"""A TLS front for a unix-socket service, on loopback: what GitLab's `docker:dind` service is to a job.

`TLSProxy.start(upstream_socket, server_context)` listens on 127.0.0.1:<random port>, completes a TLS handshake
with each client (the context decides whether a client certificate is required and which CA verifies it), then
pumps bytes both ways to the unix socket. `PlainProxy` does the same without TLS (a plain-HTTP engine port).

`engine_certs(dir)` makes a trustme CA, a server certificate for 127.0.0.1 and a client certificate, and writes the
client side the way docker:dind writes it for a job (ca.pem, cert.pem, key.pem in <dir>/client).

Plain Python threads; stop() closes the listener and every open connection.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass
class EngineCerts:
    ca: trustme.CA
    client_dir: Path  # ca.pem, cert.pem, key.pem: what DOCKER_CERT_PATH points at
    server: ssl.SSLContext  # requires and verifies the client certificate against `ca`


def engine_certs(root: Path) -> EngineCerts:
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    client_cert = ca.issue_cert("release-test-client")
    client = root / "client"
    client.mkdir(parents=True, exist_ok=True)
    ca.cert_pem.write_to_path(str(client / "ca.pem"))
    (client / "cert.pem").write_bytes(b"".join(blob.bytes() for blob in client_cert.cert_chain_pems))
    client_cert.private_key_pem.write_to_path(str(client / "key.pem"))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_cert.configure_cert(server)
    ca.configure_trust(server)
    server.verify_mode = ssl.CERT_REQUIRED
    return EngineCerts(ca, client, server)


class PlainProxy:
    """127.0.0.1:<port> → unix socket, bytes as they come."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(32)
        self.port = int(self._listener.getsockname()[1])
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self.handshake_errors: list[str] = []
        self.served = 0  # connections past the handshake, handed to the upstream

    @classmethod
    def start(cls, upstream: str | Path) -> PlainProxy:
        proxy = cls(str(upstream))
        threading.Thread(target=proxy._serve, daemon=True).start()
        return proxy

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def wrap(self, conn: socket.socket) -> socket.socket:
        return conn

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        try:
            client = self.wrap(conn)
        except (OSError, ssl.SSLError) as exc:
            self.handshake_errors.append(str(exc))
            conn.close()
            return
        client.settimeout(None)
        self.served += 1
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(self.upstream)
        except OSError:
            client.close()
            return
        with self._lock:
            self._open += [client, upstream]
        threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
        _pump(client, upstream)

    def stop(self) -> None:
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.close()

    def __enter__(self) -> PlainProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class TLSProxy(PlainProxy):
    """127.0.0.1:<port> speaking TLS with `context`, → unix socket."""

    def __init__(self, upstream: str, context: ssl.SSLContext) -> None:
        super().__init__(upstream)
        self.context = context

    @classmethod
    def start_tls(cls, upstream: str | Path, context: ssl.SSLContext) -> TLSProxy:
        proxy = cls(str(upstream), context)
        threading.Thread(target=proxy._serve, daemon=True).start()
        return proxy

    def wrap(self, conn: socket.socket) -> socket.socket:
        return self.context.wrap_socket(conn, server_side=True)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        # One direction ended: end the other too (HTTP/1.1 keeps no half-open connections worth keeping).
        for sock in (sink, source):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
