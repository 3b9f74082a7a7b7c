"""One place for HTTP behaviour: bounded retries with backoff on 5xx, 429 (Retry-After honoured) and resets."""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

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
