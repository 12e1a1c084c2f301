"""The one DB layer: SQLAlchemy 2 + Alembic, SQLite (WAL) by default, PostgreSQL by URL."""
from onestack.db.base import Base, TimestampMixin, new_id, utcnow  # noqa: F401
from onestack.db.session import init, read, write, engine  # noqa: F401
