"""Engines, sessions and schema migrations for both backends."""

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from huizhili.errors import ConfigurationError, MissingDependencyError
from huizhili.storage.versions import track_versions

MIGRATIONS = Path(__file__).with_name("migrations")
POSTGIS_TABLES = frozenset({"spatial_ref_sys", "geometry_columns", "geography_columns"})
_MIGRATION_LOCK = 0x687A6D67  # "hzmg": with the schema's hash, the advisory lock key of migrations


def create_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for a SQLite or PostgreSQL URL, with the pragmas the platform relies on.

    Parameters
    ----------
    url
        ``sqlite:///path`` (embedded mode) or ``postgresql+psycopg://…`` (server mode, PostGIS).
    **kwargs
        Passed to :func:`sqlalchemy.create_engine`.

    Returns
    -------
    Engine
        SQLite engines enforce foreign keys and use WAL so the server and the CLI can share a file.

    Raises
    ------
    MissingDependencyError
        If a PostgreSQL URL is given without the ``postgis`` extra installed.
    """
    if url.startswith("postgresql"):
        try:
            import psycopg  # noqa: F401
        except ImportError as error:
            message = "PostgreSQL needs the postgis extra: pip install 'huizhili[postgis]'"
            raise MissingDependencyError(message) from error
        return sa.create_engine(url, pool_pre_ping=True, **kwargs)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, **kwargs)
    sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Enforce foreign keys; WAL lets readers and one writer work at once."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def is_postgis(engine_or_session: Engine | Session) -> bool:
    """Whether spatial work can be pushed down to PostGIS."""
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else engine_or_session
    return bind.dialect.name == "postgresql"


def include_name(name: str | None, kind: str, _parents: Any) -> bool:
    """Leave PostGIS's own tables out of Alembic's comparisons of database and models."""
    return not (kind == "table" and name in POSTGIS_TABLES)


def alembic_config(engine: Engine) -> Config:
    """An Alembic configuration bound to ``engine`` (no ``alembic.ini`` needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema to ``revision`` (default: the newest), one process at a time.

    Every command and the server migrate as they start, so workers starting together would
    otherwise create the same tables at once and all but one fail; under
    :func:`migration_lock` the later ones wait, then find the schema current.

    Raises
    ------
    ConfigurationError
        If the database cannot be reached or migrated, or the lock file cannot be opened.
    """
    try:
        with migration_lock(engine):
            command.upgrade(alembic_config(engine), revision)
    except sa.exc.OperationalError as error:
        message = f"cannot migrate the database at {engine.url!r}: {error.orig}"
        raise ConfigurationError(message) from error
    except OSError as error:  # the lock file beside an SQLite database could not be opened
        message = f"cannot take the migration lock for {engine.url!r}: {error}"
        raise ConfigurationError(message) from error


@contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """Hold the lock that lets one process at a time migrate the database of ``engine``.

    PostgreSQL: a session-level advisory lock for the current schema, on a connection of its
    own, so it holds across Alembic's transaction and goes if the process dies. SQLite: an
    exclusive ``flock`` on ``<database>.migrate.lock`` beside the file, which stays there;
    SQLite's own locks would not do, as Alembic's DDL there commits statement by statement.
    An in-memory database has a single user and needs no lock.
    """
    if engine.dialect.name == "postgresql":
        key = {"namespace": _MIGRATION_LOCK}
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.execute(sa.text("SELECT pg_advisory_lock(:namespace, hashtext(current_schema()))"), key)
            try:
                yield
            finally:
                connection.execute(sa.text("SELECT pg_advisory_unlock(:namespace, hashtext(current_schema()))"), key)
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    with Path(f"{database}.migrate.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose objects stay readable after commit, and whose writes bump data versions."""
    factory = sessionmaker(engine, expire_on_commit=False)
    track_versions(factory)
    return factory


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back everything on any error."""
    with factory() as session, session.begin():
        yield session
