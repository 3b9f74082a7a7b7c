"""`git http-backend` (smart HTTP) behind Basic auth on loopback: the git server tests and benchmarks push to.

Python's `http.server --cgi` is not enough (as root it drops to nobody and ignores the CGI Status header), so
this handler runs `git http-backend` itself and passes the Git-Protocol header through (protocol v2, which
partial clones need along with `uploadpack.allowFilter` on the served repository). Plain HTTP unless given an
`ssl.SSLContext` (server side, with its certificate loaded): then HTTPS, each handshake in the request's thread.
"""

from __future__ import annotations

import base64
import http.server
import os
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Any


class GitHTTP:
    """`git http-backend` behind Basic auth on loopback, serving the bare repositories under `root`."""

    def __init__(self, root: Path, user: str, password: str, tls: ssl.SSLContext | None = None) -> None:
        self.root, self.user, self.password, self.tls = root, user, password, tls
        self.authorizations: list[str] = []
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.cgi()

            def do_POST(self) -> None:
                self.cgi()

            def cgi(self) -> None:
                auth = self.headers.get("Authorization")
                if auth:
                    outer.authorizations.append(auth)
                if auth != expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                path, _, query = self.path.partition("?")
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                env = {
                    "PATH": os.environ["PATH"],
                    "GIT_PROJECT_ROOT": str(outer.root),
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "REMOTE_USER": outer.user,  # lets http-backend accept pushes
                    "REQUEST_METHOD": self.command,
                    "PATH_INFO": path,
                    "QUERY_STRING": query,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)),
                    "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                    "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                }
                proc = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, check=False)
                header, _, content = proc.stdout.partition(b"\r\n\r\n")
                headers = [line.split(":", 1) for line in header.decode().split("\r\n") if ":" in line]
                status = next((int(v.split()[0]) for k, v in headers if k.lower() == "status"), 200)
                self.send_response(status)
                for key, value in headers:
                    if key.lower() != "status":
                        self.send_header(key, value.strip())
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

        class Server(http.server.ThreadingHTTPServer):
            def finish_request(self, request: Any, client_address: Any) -> None:
                if tls is None:
                    super().finish_request(request, client_address)
                    return
                try:
                    wrapped = tls.wrap_socket(request, server_side=True)  # detaches `request`
                except (ssl.SSLError, OSError):
                    return  # a client that does not trust us (or does not speak TLS) hangs up: not our error
                with wrapped:
                    super().finish_request(wrapped, client_address)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> GitHTTP:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
