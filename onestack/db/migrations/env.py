from alembic import context

import onestack.tasks.models  # noqa: F401  (every model must be imported for autogenerate)
from onestack import roles
from onestack.db.base import Base

roles.load(roles.SERVICES)

config = context.config
connection = config.attributes.get("connection")
_url = context.get_x_argument(as_dictionary=True).get("url")
if connection is None and _url:  # developers: alembic -x url=sqlite:////tmp/x.db revision ...
    from sqlalchemy import create_engine
    connection = create_engine(_url).connect()
if connection is None:
    from onestack.db import session as db_session
    connection = db_session.engine().connect()

context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
