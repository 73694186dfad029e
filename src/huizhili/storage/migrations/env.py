"""Alembic environment: runs against the engine handed over by ``storage.engine.migrate``."""

from alembic import context

from huizhili.storage.engine import include_name
from huizhili.storage.models import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_schemas=False,
        include_name=include_name,
    )
    context.run_migrations()
