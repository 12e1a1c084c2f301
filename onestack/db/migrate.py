"""Schema migrations: one Alembic tree (``db/migrations``), one branch label per service.

``upgrade()`` brings the database to every head; it is called by ``onestack up`` and is
cheap when nothing is pending.
"""
from __future__ import annotations

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


def _heads_on_disk() -> set[str]:
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
