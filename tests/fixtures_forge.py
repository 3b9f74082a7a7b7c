"""pytest fixtures for the fake forge in tests/fakes/forge.py (load with `pytest_plugins` in conftest.py).

One server for the whole session (`forge_server`); `forge` hands it to a test with its state reset: no requests
recorded, no uploads, default users (forge.user / forge.password, job token forge.job_token).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.forge import Forge


@pytest.fixture(scope="session")
def forge_server() -> Iterator[Forge]:
    with Forge.start() as server:
        yield server


@pytest.fixture
def forge(forge_server: Forge) -> Iterator[Forge]:
    """The fake forge on http://127.0.0.1:<port>, empty; fails the test if one of its handlers crashed."""
    forge_server.reset()
    yield forge_server
    assert not forge_server.errors, "the fake forge crashed:\n" + "\n".join(forge_server.errors)
