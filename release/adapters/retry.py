"""Bounded retries with jittered exponential backoff, for calls that are safe to repeat."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def backoff(attempt: int, base: float, jitter: tuple[float, float] = (0.5, 1.5)) -> float:
    """Seconds to wait after failed attempt `attempt` (from 1): `base`, doubling, scaled by a random jitter so
    concurrent jobs that collided do not collide again."""
    low, high = jitter
    return float(base * 2 ** (attempt - 1) * random.uniform(low, high))


def retrying(
    call: Callable[[], T],
    *,
    attempts: int = 3,
    base: float = 1.0,
    retry_on: Callable[[Exception], bool],
    notify: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Exception as exc:
            if attempt == attempts or not retry_on(exc):
                raise
            delay = backoff(attempt, base, (1.0, 1.25))
            if notify:
                notify(f"attempt {attempt} failed ({exc}); retrying in {delay:.1f}s")
            sleep(delay)
    raise AssertionError("unreachable")
