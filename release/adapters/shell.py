"""Run a user's shell command (the `tests:` of release.yaml): output streamed to our stderr, exit code returned.

No decisions here: the test stage decides what a failure means.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path


class TimedOut(Exception):
    pass


def run(command: str, cwd: Path, env: Mapping[str, str], timeout: float | None = None) -> int:
    """`sh -c command` in `cwd`; stdout goes to stderr so that our stdout stays the command's result."""
    # A process group of its own, so a timeout stops what the command started too (a test server, say).
    proc = subprocess.Popen(["sh", "-c", command], cwd=cwd, env=dict(env), stdout=2, stderr=2, start_new_session=True)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise TimedOut from None
    except BaseException:
        _kill_group(proc)
        raise


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
