"""Migrations: one process at a time, ids and references 64-bit, rows stored before a revision kept."""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path

import pytest
import shapely
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import huizhili
from huizhili.errors import ConfigurationError
from huizhili.storage.engine import MIGRATIONS, create_engine, migrate, migration_lock
from huizhili.storage.models import (
    AccessLog,
    Credential,
    Department,
    Device,
    Event,
    Facility,
    Job,
    LifeCircleCoverage,
    LifeCircleRun,
    User,
    utcnow,
)

HEAD = ScriptDirectory(str(MIGRATIONS)).get_current_head()
BEYOND_32_BITS = 2**40

MIGRATOR = """
import sys, time
from huizhili.storage.engine import create_engine, migrate
url, schema, start = sys.argv[1:]
engine = create_engine(url, **({"connect_args": {"options": f"-csearch_path={schema},public"}} if schema else {}))
time.sleep(max(0.0, float(start) - time.time()))
print("migrating", flush=True)
migrate(engine)
"""
"""Migrate the database at argv's URL (and PostgreSQL schema) from ``start`` (a Unix time) on."""


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """URL and schema ('' on SQLite) of an empty database that nothing has migrated."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite'}", ""
        return
    url = os.environ.get("HUIZHILI_TEST_PG_URL")
    if not url:
        pytest.skip("HUIZHILI_TEST_PG_URL is not set: the PostgreSQL+PostGIS run is skipped")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    yield url, schema
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def connect(url: str, schema: str) -> sa.Engine:
    return create_engine(url, **({"connect_args": {"options": f"-csearch_path={schema},public"}} if schema else {}))


def migrator(url: str, schema: str, start: float) -> subprocess.Popen[str]:
    """A separate process that migrates the database from ``start`` on."""
    environment = {**os.environ, "PYTHONPATH": str(Path(huizhili.__file__).parents[1])}
    return subprocess.Popen([sys.executable, "-c", MIGRATOR, url, schema, str(start)], env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(worker: subprocess.Popen[str]) -> tuple[int, str]:
    """The worker's exit status and error output, once it has ended."""
    _, errors = worker.communicate(timeout=120)
    return worker.returncode, errors


def revision(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_two_workers_migrating_a_fresh_database_at_once_both_succeed(fresh):
    start = time.time() + 3  # both have imported everything by then
    workers = [migrator(*fresh, start) for _ in range(2)]
    assert [finished(worker) for worker in workers] == [(0, ""), (0, "")]
    engine = connect(*fresh)
    assert revision(engine) == HEAD
    engine.dispose()


def test_a_worker_waits_while_another_holds_the_migration_lock(fresh):
    engine = connect(*fresh)
    with migration_lock(engine):
        worker = migrator(*fresh, time.time())
        assert worker.stdout.readline() == "migrating\n"
        with pytest.raises(subprocess.TimeoutExpired):
            worker.wait(2)
        assert revision(engine) is None, "nothing may migrate while the lock is held"
    assert finished(worker) == (0, "")
    assert revision(engine) == HEAD
    engine.dispose()


def test_a_lock_file_that_cannot_be_opened_is_a_configuration_error(tmp_path):
    (tmp_path / "db.sqlite.migrate.lock").mkdir()
    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with pytest.raises(ConfigurationError, match="cannot take the migration lock"):
        migrate(engine)
    engine.dispose()


def test_accounts_closed_before_0006_keep_their_closing_time(fresh):
    """0004 closed accounts with CURRENT_TIMESTAMP, text without a fraction on SQLite: 0006 pads it."""
    engine = connect(*fresh)
    migrate(engine, "0005")
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO users (username, role, streets, grid_cells, active, closed_at, created_at) "
                                   "VALUES ('gone', 'citizen', '[]', '[]', false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
    migrate(engine)
    with engine.connect() as connection:
        closed_at = connection.scalar(sa.select(User.closed_at))
        stored = connection.scalar(sa.text("SELECT closed_at FROM users"))
    engine.dispose()
    assert closed_at.tzinfo is UTC and abs(closed_at - utcnow()) < timedelta(minutes=1)
    if fresh[1] == "":
        assert len(stored) == len("2026-03-01 00:00:00.000000")


def test_departments_named_before_0010_become_records_and_no_account_loses_its_keys(fresh):
    """0010 rebuilds users on SQLite to add its key; credentials, access log and jobs point to users."""
    engine = connect(*fresh)
    migrate(engine, "0009")
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO users (id, username, role, streets, grid_cells, active, created_at, department) "
                                   "VALUES (1, 'li', 'department_handler', '[]', '[]', true, CURRENT_TIMESTAMP, '绿化市容局'), "
                                   "(2, 'wu', 'analyst', '[]', '[]', true, CURRENT_TIMESTAMP, '')"))
        connection.execute(sa.insert(Credential).values(user_id=1, kind="api_key", secret_sha256="0" * 64))
        connection.execute(sa.insert(AccessLog).values(user_id=1, username="li", action="list", resource="users"))
        connection.execute(sa.insert(Job).values(user_id=1, kind="import", state="queued", created_by="li", system=False,
                                                 parameters={}))
        for model, department in [(Facility, "卫生健康委"), (Device, "生态环境局"), (Device, "绿化市容局")]:
            extra = {"code": f"PM-{department}", "sensor_kind": "pm25"} if model is Device else {"kind": "park"}
            # The model's columns that the table had at 0009: later ones would be given their defaults.
            existing = {c["name"] for c in sa.inspect(connection).get_columns(model.__tablename__)}
            table = sa.Table(model.__tablename__, sa.MetaData(), *(c._copy() for c in model.__table__.c if c.name in existing))
            connection.execute(sa.insert(table).values(owner_department=department, geometry=shapely.Point(121.43, 31.19),
                                                       lon=121.43, lat=31.19, properties={}, **extra))
    migrate(engine)
    with engine.connect() as connection:
        departments = sorted(connection.execute(sa.select(Department.code, Department.name)).all())
        users = connection.execute(sa.select(User.username, User.department, User.committees).order_by(User.id)).all()
        kept = [connection.scalars(sa.select(m.user_id)).all() for m in (Credential, AccessLog, Job)]
        devices = sorted(connection.scalars(sa.select(Device.owner_department)).all())
    engine.dispose()
    assert departments == sorted([("卫生健康委", "卫生健康委"), ("生态环境局", "生态环境局"), ("绿化市容局", "绿化市容局")])
    assert users == [("li", "绿化市容局", []), ("wu", None, [])], "a blank department meant none"
    assert kept == [[1], [1], [1]]
    assert devices == sorted(["生态环境局", "绿化市容局"])


def test_ids_and_references_beyond_32_bits_are_kept(session):
    big = BEYOND_32_BITS
    session.add(User(id=big, username="many", role="citizen"))
    session.add(LifeCircleRun(id=big, created_by="many", distance_method="network"))
    session.flush()
    session.add_all([
        Credential(id=big, user_id=big, kind="api_key", secret_sha256="0" * 64),
        AccessLog(id=big, user_id=big, username="many", action="list", resource="users"),
        Event(id=big, kind="facility.status", permission="read:public", resource="facilities"),
        LifeCircleCoverage(id=big, run_id=big, area_code="310104", kind="park", threshold_m=300.0,
                           population=1.0, covered_population=1.0),
    ])
    session.commit()
    rows = [(Credential.id, Credential.user_id), (AccessLog.id, AccessLog.user_id), (Event.id, Event.id),
            (LifeCircleCoverage.id, LifeCircleCoverage.run_id)]
    assert [tuple(session.execute(sa.select(*columns)).one()) for columns in rows] == [(big, big)] * 4


def test_postgresql_id_sequences_count_past_32_bits(engine, session):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's rowids are 64-bit already")
    types = session.execute(sa.text("SELECT DISTINCT data_type FROM pg_sequences WHERE schemaname = current_schema()"))
    assert types.scalars().all() == ["bigint"]
    session.execute(sa.text("SELECT setval(pg_get_serial_sequence('events', 'id'), :big)"), {"big": BEYOND_32_BITS})
    session.add(Event(kind="facility.status", permission="read:public", resource="facilities"))
    session.commit()
    assert session.scalar(sa.select(Event.id)) == BEYOND_32_BITS + 1
