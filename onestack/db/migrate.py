"""Schema migrations: one Alembic tree (``db/migrations``), one branch label per service.

``upgrade()`` brings the database to every head; it is called by ``onestack up`` and is
cheap when nothing is pending.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

from sqlalchemy import inspect, text

from onestack.db import session as db_session

HERE = Path(__file__).parent / "migrations"


def _config():
    from alembic.config import Config
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    return cfg


def _applied() -> set[str]:
    eng = db_session.engine()
    with eng.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return set()
        return {r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))}


_ASSIGN = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.M)


def scan_versions(directory: Path | None = None) -> dict[str, tuple[str, ...]]:
    """{revision: down_revisions} read from the migration files' headers, without
    importing Alembic or the scripts (start-up reads this on every boot)."""
    out: dict[str, tuple[str, ...]] = {}
    for path in sorted((directory or HERE / "versions").glob("*.py")):
        found = dict(m.groups() for m in _ASSIGN.finditer(path.read_text()))
        if "revision" not in found:
            continue
        rev = ast.literal_eval(found["revision"])
        down = ast.literal_eval(found.get("down_revision", "None"))
        downs = () if down is None else (down,) if isinstance(down, str) else tuple(down)
        out[rev] = downs
    return out


def _heads_on_disk() -> set[str]:
    """Revisions no other revision revises (what ``alembic heads`` prints)."""
    graph = scan_versions()
    revised = {d for downs in graph.values() for d in downs}
    return set(graph) - revised


def _heads_by_alembic() -> set[str]:
    from alembic.script import ScriptDirectory
    return set(ScriptDirectory.from_config(_config()).get_heads())


def upgrade() -> None:
    from alembic import command
    cfg = _config()
    with db_session.engine().begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")


def pending() -> bool:
    return _applied() != _heads_on_disk()
