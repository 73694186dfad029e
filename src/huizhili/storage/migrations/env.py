"""Alembic environment: runs against the engine handed over by ``storage.engine.migrate``."""

from alembic import context

from huizhili.errors import ConfigurationError
from huizhili.storage.engine import include_name
from huizhili.storage.models import Base

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # A batch migration rebuilds a table by copying it and dropping the original; with keys
        # enforced, dropping ``users`` would delete every credential and orphan the access log.
        # The pragma only takes effect outside a transaction, so it comes first.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    try:
        with connection.begin():
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=sqlite,
                include_schemas=False,
                include_name=include_name,
            )
            context.run_migrations()
            if sqlite and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").first()):
                message = f"a migration left a row of {broken[0]} pointing to a missing row of {broken[2]}"
                raise ConfigurationError(message)
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
