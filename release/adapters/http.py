"""One place for HTTP behaviour: bounded retries with backoff on 5xx, 429 (Retry-After honoured up to
RETRY_AFTER_MAX seconds), resets and timeouts; a name that does not resolve, a refused connection and a TLS failure
are final at once (a retry cannot fix them, and they would cost the whole backoff, ~16 s, to say so)."""

from __future__ import annotations

import re
import socket
import time
from typing import Any, Self
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

from release.adapters import tls
from release.adapters.retry import backoff
from release.errors import ReleaseError

RETRY_STATUS = (429, 500, 502, 503, 504)
BODY_ATTEMPTS = 3  # an answer that broke off mid-body: urllib3's retries end once the headers are in
RETRY_AFTER_MAX = 30.0  # seconds: a longer Retry-After is waited this long (the retries stay bounded in time)


def is_final_connect_error(exc: BaseException | None) -> bool:
    """A name that does not resolve, or a host that refuses the connection: the same on every attempt."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, socket.gaierror | ConnectionRefusedError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class _Retry(Retry):
    """urllib3's Retry, except that an untrusted certificate, a server that does not speak TLS, a name that does
    not resolve and a refused connection are final, and Retry-After is honoured up to RETRY_AFTER_MAX."""

    def increment(self, *args: Any, **kwargs: Any) -> Self:
        error = kwargs.get("error", args[3] if len(args) > 3 else None)
        if isinstance(error, Exception) and tls.is_final_tls_error(error):
            raise error
        if isinstance(error, Exception) and is_final_connect_error(error):
            pool: Any = kwargs.get("_pool", args[4] if len(args) > 4 else None)
            url = kwargs.get("url", args[1] if len(args) > 1 else None)
            raise MaxRetryError(pool, url, error) from error  # what requests turns into a ConnectionError
        return super().increment(*args, **kwargs)

    def parse_retry_after(self, retry_after: str) -> float:
        return min(super().parse_retry_after(retry_after), RETRY_AFTER_MAX)


def session(retries: int = 5, backoff: float = 0.5) -> requests.Session:
    """A session with retries, verifying certificates against tls.verify() (RELEASE_CA_BUNDLE and the standard
    variables); a bundle variable naming a missing file is a ReleaseError here, before any request."""
    retry = _Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff,
        backoff_jitter=0.25,
        backoff_max=30,
        status_forcelist=RETRY_STATUS,
        respect_retry_after_header=True,
        allowed_methods=None,  # every call we make is idempotent (content-addressed or a GET/HEAD)
        raise_on_status=False,
    )
    s = requests.Session()
    s.verify = tls.verify()
    adapter = HTTPAdapter(max_retries=retry)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    s.headers["User-Agent"] = "release (GitOps release tool)"
    return s


def reason(exc: Exception) -> str:
    """The cause under requests' wrapping: "Connection refused", not "Max retries exceeded with url ..."."""
    text = str(exc)
    for pattern in (
        r"\[Errno -?\d+\] ([^'\")]+)",
        r"(certificate verify failed[^'\")]*|timed out|Connection refused)",
        r"\[SSL: \w+\] ([^'\"(]+)",  # wrong version number, tlsv1 alert ...
    ):
        match = re.search(pattern, text)
        if match:
            return match[1].strip()
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the connection broke off in the middle of the answer"
    return type(exc).__name__


def _request(session: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
    """session.request, asked again when the answer broke off mid-body (every call we make is idempotent)."""
    for attempt in range(1, BODY_ATTEMPTS):
        try:
            return session.request(method, url, **kwargs)
        except requests.exceptions.ChunkedEncodingError:
            time.sleep(backoff(attempt, 0.5))
    return session.request(method, url, **kwargs)


def send(session: requests.Session, method: str, url: str, *, what: str, hint: str, **kwargs: Any) -> requests.Response:
    """One request; a transport failure becomes one line naming `what` (never the URL's query or credentials).

    Plain HTTP only where tls.require_secure allows it. `verify` is passed explicitly: requests would otherwise let
    REQUESTS_CA_BUNDLE override the session's (RELEASE_CA_BUNDLE) bundle."""
    tls.require_secure(url, what)
    kwargs.setdefault("verify", session.verify)
    try:
        return _request(session, method, url, **kwargs)
    except requests.exceptions.SSLError as exc:
        host = urlsplit(url).netloc.rsplit("@", 1)[-1]
        if tls.is_certificate_error(exc):
            raise tls.certificate_error(host, tls.certificate_reason(str(exc))) from None
        plain = "" if tls.plain_http_allowed(host) else f"; if it serves plain HTTP, set {tls.INSECURE}={host}"
        raise ReleaseError(
            f"TLS handshake with {what} failed: {reason(exc)}", f"check that {host} speaks HTTPS{plain}"
        ) from None
    except requests.exceptions.RequestException as exc:
        raise ReleaseError(f"cannot reach {what}: {reason(exc)}", hint) from None
