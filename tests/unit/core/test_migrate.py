"""Start-up skips Alembic when the database is at the heads: the cheap scan of the
migration files must agree with Alembic itself."""
from __future__ import annotations

import pytest

from onestack import db
from onestack.db import migrate


def test_scan_agrees_with_alembic():
    assert migrate._heads_on_disk() == migrate._heads_by_alembic()
    graph = migrate.scan_versions()
    assert "core_0001" in graph and graph["core_0001"] == ()


def test_scan_reads_merges_and_branches(tmp_path):
    (tmp_path / "a.py").write_text('revision = "a1"\ndown_revision = None\n')
    (tmp_path / "b.py").write_text("revision = 'b1'\ndown_revision = 'a1'\n")
    (tmp_path / "c.py").write_text('revision: str = "c1"\ndown_revision: str | None = "a1"\n')
    (tmp_path / "m.py").write_text('revision = "m1"\ndown_revision = ("b1", "c1")\n')
    (tmp_path / "x.py").write_text('revision = "x1"\ndown_revision = None\n')
    (tmp_path / "notes.py").write_text("# no revision here\n")
    graph = migrate.scan_versions(tmp_path)
    assert graph == {"a1": (), "b1": ("a1",), "c1": ("a1",), "m1": ("b1", "c1"), "x1": ()}


@pytest.mark.slow
def test_pending_until_upgraded(tmp_path):
    db.init(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        assert migrate.pending()
        migrate.upgrade()
        assert not migrate.pending()
        assert migrate._applied() == migrate._heads_on_disk()
    finally:
        db.engine().dispose()
