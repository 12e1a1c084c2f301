"""Shared fixtures: one onestack server per test session (``cloud``), fresh ones on demand.

Database backends: every test runs on SQLite; the identity functional tests
(``tests/functional/identity``) and the crash test (``tests/functional/test_restart.py``)
run a second time on a real PostgreSQL server that the
harness initialises and starts itself (``--db=sqlite`` or ``--db=postgres`` runs only
one backend; ``ONESTACK_TEST_DB`` does the same). A machine that truly cannot run
PostgreSQL skips the PostgreSQL half with the reason.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from tests.harness import PostgresServer, PostgresUnavailable, RunningCloud

# Test directories whose cloud-using tests run once per database backend.
BOTH_DATABASES = ("tests/functional/identity/", "tests/functional/test_restart.py")
BACKENDS = ("sqlite", "postgres")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--db", choices=("both",) + BACKENDS,
                     default=os.environ.get("ONESTACK_TEST_DB", "both"),
                     help="database backends for the identity functional tests (default both)")


def _backends(config: pytest.Config) -> list[str]:
    choice = config.getoption("--db")
    return list(BACKENDS) if choice == "both" else [choice]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if not {"cloud", "fresh_cloud"} & set(metafunc.fixturenames):
        return
    path = Path(str(metafunc.definition.path)).as_posix()
    if any(d in path for d in BOTH_DATABASES):
        metafunc.parametrize("db_backend", _backends(metafunc.config), indirect=True,
                             scope="session")


@pytest.fixture(scope="session")
def db_backend(request: pytest.FixtureRequest) -> str:
    """'sqlite' unless a test is parametrized over backends (see pytest_generate_tests)."""
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    try:
        pg = PostgresServer.start(tmp_path_factory.mktemp("postgres"))
    except PostgresUnavailable as e:
        pytest.skip(f"PostgreSQL cannot run on this machine: {e}")
    yield pg
    pg.stop()


def _database_url(request: pytest.FixtureRequest, backend: str) -> str | None:
    if backend != "postgres":
        return None
    return request.getfixturevalue("postgres").create_database()


@pytest.fixture(scope="session")
def cloud(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          db_backend: str) -> Iterator[RunningCloud]:
    c = RunningCloud.start(tmp_path_factory.mktemp(f"cloud-{db_backend}") / "state",
                           database_url=_database_url(request, db_backend))
    c.db_backend = db_backend  # type: ignore[attr-defined]
    yield c
    c.stop()


@pytest.fixture
def fresh_cloud(request: pytest.FixtureRequest, tmp_path: Path, db_backend: str) -> Iterator[RunningCloud]:
    """A cloud of its own (for restart/crash tests that must not disturb the shared one)."""
    c = RunningCloud.start(tmp_path / "state", database_url=_database_url(request, db_backend))
    c.db_backend = db_backend  # type: ignore[attr-defined]
    yield c
    c.destroy()


@pytest.fixture
def admin(cloud: RunningCloud):
    return cloud.sdk()


@pytest.fixture
def uniq() -> str:
    return uuid.uuid4().hex[:8]
