"""One place for HTTP behaviour: bounded retries with backoff on 5xx, 429 (Retry-After honoured) and resets."""

from __future__ import annotations

import re
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from release.errors import ReleaseError

RETRY_STATUS = (429, 500, 502, 503, 504)


def session(retries: int = 5, backoff: float = 0.5) -> requests.Session:
    retry = Retry(
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
    adapter = HTTPAdapter(max_retries=retry)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    s.headers["User-Agent"] = "release (GitOps release tool)"
    return s


def reason(exc: Exception) -> str:
    """The cause under requests' wrapping: "Connection refused", not "Max retries exceeded with url ..."."""
    text = str(exc)
    for pattern in (r"\[Errno -?\d+\] ([^'\")]+)", r"(certificate verify failed[^'\")]*|timed out|Connection refused)"):
        match = re.search(pattern, text)
        if match:
            return match[1].strip()
    return type(exc).__name__


def send(session: requests.Session, method: str, url: str, *, what: str, hint: str, **kwargs: Any) -> requests.Response:
    """One request; a transport failure becomes one line naming `what` (never the URL's query or credentials)."""
    try:
        return session.request(method, url, **kwargs)
    except requests.exceptions.SSLError as exc:
        raise ReleaseError(
            f"TLS error talking to {what}: {reason(exc)}",
            "check its certificate (REQUESTS_CA_BUNDLE names a CA bundle)",
        ) from None
    except requests.exceptions.RequestException as exc:
        raise ReleaseError(f"cannot reach {what}: {reason(exc)}", hint) from None
