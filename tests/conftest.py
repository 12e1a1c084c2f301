"""Shared fixtures: one onestack server per test session (``cloud``), fresh ones on demand."""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Iterator

import pytest

from tests.harness import RunningCloud


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    c = RunningCloud.start(tmp_path_factory.mktemp("cloud") / "state")
    yield c
    c.stop()


@pytest.fixture
def fresh_cloud(tmp_path: Path) -> Iterator[RunningCloud]:
    """A cloud of its own (for restart/crash tests that must not disturb the shared one)."""
    c = RunningCloud.start(tmp_path / "state")
    yield c
    c.destroy()


@pytest.fixture
def admin(cloud: RunningCloud):
    return cloud.sdk()


@pytest.fixture
def uniq() -> str:
    return uuid.uuid4().hex[:8]
