"""Shared fixtures: a database of its own per test on SQLite and, where configured, on PostgreSQL+PostGIS.

Each is a copy of a template built once per worker process, empty or holding the contents the
test asks for (``CONTENTS``), so tests run in parallel and none sees another's writes.
"""

import os
import shutil
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import shapely
import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sensing_samples import DEVICES_CSV
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from waiting import until

from huizhili.base.demo import load_xuhui
from huizhili.base.importers import import_osm
from huizhili.config import Settings, load_settings
from huizhili.sensing.devices import Provisioned, provision
from huizhili.storage.engine import create_engine, migrate, session_factory, transaction
from huizhili.storage.models import Device
from huizhili.web.app import create_app, server_options
from huizhili.worker import run_worker

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).parents[1].parent / "shared" / "data"
HELSINKI = DATA / "osm" / "helsinki.osm.pbf"
PG_URL = os.environ.get("HUIZHILI_TEST_PG_URL")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("CI") and not PG_URL:
        raise pytest.UsageError("CI must set HUIZHILI_TEST_PG_URL so the suite also runs on PostGIS")


@dataclass(frozen=True)
class Database:
    """A test's own database: its engine, and what loading each of its contents returned."""

    engine: Engine
    loaded: dict[str, Any]


ROLE_USERS = {
    # role: (username, scope keyword arguments)
    "district_admin": ("admin", {}),
    "district_commander": ("commander", {}),
    "street_operator": ("xujiahui_operator", {"streets": ["310104014"]}),
    "department_handler": ("greening_handler", {"department": "绿化市容局"}),
    "hotline_operator": ("hotline", {}),
    "committee_worker": ("dongtang_worker", {"committees": ["310104014001"]}),
    "grid_officer": ("grid_officer", {"grid_cells": ["310104014G01"]}),
    "analyst": ("analyst", {}),
    "citizen": ("citizen", {}),
    "service": ("dashboard_wall", {}),
}
"""One user per staff role, scoped inside the Xuhui demo."""


def _add_roles(session: Session) -> dict[str, dict[str, str]]:
    """One user and API key per role, scoped inside the Xuhui demo (see ``role_headers``)."""
    from huizhili.base.areas import AreaSpec, upsert_areas
    from huizhili.base.assign import assign_areas
    from huizhili.identity.accounts import create_api_key, create_user
    from huizhili.storage.models import Device, Facility

    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    upsert_areas(session, [AreaSpec(code="310104014G01", name="徐家汇网格01", level="grid", parent_code="310104014",
                                    geometry=shapely.box(121.430, 31.185, 121.445, 31.200))])
    for code, department, lon, lat in [("PM-XJH-1", "生态环境局", 121.437, 31.192), ("PM-XJH-2", "绿化市容局", 121.438, 31.196),
                                       ("PM-TP-1", "绿化市容局", 121.445, 31.207)]:
        session.add(Device(code=code, sensor_kind="pm25", owner_department=department, geometry=shapely.Point(lon, lat),
                           lon=lon, lat=lat, properties={}))
    session.flush()
    assign_areas(session)
    owners = [(Facility.kind == "health_centre", ("310104014", "310104003"), "卫生健康委"),
              (Facility.name == "徐家汇", ("310104014",), "绿化市容局")]
    for which, streets, department in owners:
        session.execute(sa.update(Facility).where(which, Facility.street_code.in_(streets)).values(owner_department=department))
    for role, (username, scope) in ROLE_USERS.items():
        create_user(session, username, role, phone="13812345678", display_name=f"{username} 测试", **scope)
        headers[role] = {"X-API-Key": create_api_key(session, username, "tests")[1]}
    return headers


CONTENTS: dict[str, Callable[[Session], Any]] = {
    "xuhui": load_xuhui,
    "helsinki": lambda session: import_osm(session, HELSINKI),
    "role_headers": _add_roles,
}
"""Fixtures naming a database's contents → what loads them, in this order, into a template.

Loading the demo, users and keys takes seconds; copying a template takes milliseconds.
"""


def _contents(request: pytest.FixtureRequest) -> tuple[str, ...]:
    """The contents the test asks for, directly or through its fixtures: none for an empty database."""
    return tuple(name for name in CONTENTS if name in request.fixturenames)


def _load(engine: Engine, contents: tuple[str, ...]) -> dict[str, Any]:
    with transaction(session_factory(engine)) as session:
        return {name: CONTENTS[name](session) for name in contents}


Templates = Callable[[tuple[str, ...]], tuple[str, dict[str, Any]]]
"""``template(contents)``: where a migrated database holding ``contents`` is, and what loading returned."""


@pytest.fixture(scope="session")
def sqlite_templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    """Migrated SQLite files, one per set of contents, built when first asked for and copied per test."""
    folder = tmp_path_factory.mktemp("templates")
    built: dict[tuple[str, ...], tuple[str, dict[str, Any]]] = {}

    def template(contents: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
        if contents not in built:
            path = folder / f"{'+'.join(contents) or 'empty'}.sqlite"
            if contents:
                shutil.copy(template(())[0], path)
            engine = create_engine(f"sqlite:///{path}")
            if contents:
                loaded = _load(engine, contents)
            else:
                migrate(engine)
                loaded = {}
            engine.dispose()  # the last connection's close folds the WAL into the file
            built[contents] = (str(path), loaded)
        return built[contents]

    return template


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    """An autocommit connection to HUIZHILI_TEST_PG_URL's database, for creating and dropping databases."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    yield admin
    admin.dispose()


@pytest.fixture(scope="session")
def pg_templates(pg_admin: Engine) -> Iterator[Templates]:
    """Template databases, one per set of contents and worker, built when first asked for.

    ``CREATE DATABASE … TEMPLATE`` copies PostGIS, the schema, the rows and the sequences' positions
    in a tenth of a second, so each test gets a database of its own (with the default ``public``
    schema) and the ids it inserts follow the template's.
    """
    built: dict[tuple[str, ...], tuple[str, dict[str, Any]]] = {}

    def template(contents: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
        if contents not in built:
            name = f"template_{uuid.uuid4().hex[:12]}"
            with pg_admin.connect() as connection:
                source = f' TEMPLATE "{template(())[0]}"' if contents else ""
                connection.execute(sa.text(f'CREATE DATABASE "{name}"{source}'))
            engine = create_engine(_pg_url(name))
            if contents:
                loaded = _load(engine, contents)
            else:
                with engine.begin() as connection:
                    connection.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
                migrate(engine)
                loaded = {}
            engine.dispose()  # a template cannot be copied while anyone is connected to it
            built[contents] = (name, loaded)
        return built[contents]

    yield template
    with pg_admin.connect() as connection:
        for name, _ in reversed(built.values()):
            connection.execute(sa.text(f'DROP DATABASE "{name}"'))


def _pg_url(database: str) -> str:
    return sa.make_url(PG_URL).set(database=database).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated database of the test's own: an SQLite file, or a database in PostgreSQL+PostGIS.

    It is empty unless the test asks for contents (fixtures named in ``CONTENTS``, such as
    ``xuhui``), which are then already there: it is a copy of a template built once per worker,
    so no test sees another's writes.
    """
    contents = _contents(request)
    if request.param == "sqlite":
        template, loaded = request.getfixturevalue("sqlite_templates")(contents)
        path = tmp_path / "test.sqlite"
        shutil.copy(template, path)
        engine = create_engine(f"sqlite:///{path}")
        yield Database(engine, loaded)
        engine.dispose()
        return
    if not PG_URL:
        pytest.skip("HUIZHILI_TEST_PG_URL is not set: the PostgreSQL+PostGIS run is skipped")
    template, loaded = request.getfixturevalue("pg_templates")(contents)
    admin, name = request.getfixturevalue("pg_admin"), f"test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    engine = create_engine(_pg_url(name))
    yield Database(engine, loaded)
    engine.dispose()
    with admin.connect() as connection:  # FORCE: a server thread of the test may still hold a connection
        connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.fixture
def engine(database: Database) -> Engine:
    return database.engine


def row_counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    """Rows in every table of the platform but ``jobs``: equal before and after means nothing was written.

    A refused import over HTTP leaves its failed job — the record of the refusal — and nothing else.
    """
    from huizhili.storage.models import Base

    with sessions() as session:
        return {t.name: session.scalar(sa.select(sa.func.count()).select_from(t)) for t in Base.metadata.sorted_tables
                if t.name != "jobs"}


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as session:
        yield session


@pytest.fixture
def xuhui(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """The database with the Xuhui demo loaded (``engine`` copies it from a template)."""
    return sessions


@pytest.fixture
def helsinki(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """The database with central Helsinki imported from OSM (``engine`` copies it from a template)."""
    return sessions


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium through Playwright, one per test module; skipped where it is not installed."""
    if CHROMIUM is None:
        pytest.skip("Debian chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Test settings; no warm start, since nearly every test starts an app of its own (tests/web/test_network_api.py warms one)."""
    return load_settings(environment="test", data_dir=tmp_path / "var", page_size_max=50, warm_start=False)


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """The API in-process, over the test database."""
    with TestClient(create_app(settings, engine)) as client:
        yield client


@pytest.fixture
def worker(settings: Settings, engine: Engine) -> Iterator[threading.Thread]:
    """A job worker over the test database — the loop ``huizhili worker`` runs — in a thread, stopped after the test."""
    stop = threading.Event()
    thread = threading.Thread(target=run_worker, args=(session_factory(engine), settings, stop),
                              kwargs={"poll_seconds": 0.02}, daemon=True)
    thread.start()
    yield thread
    stop.set()
    thread.join(60)


@pytest.fixture
def serve(engine: Engine) -> Iterator[Callable[[Settings], tuple[FastAPI, str]]]:
    """Start the app over the test database under a real uvicorn on a free port.

    ``serve(settings)`` returns the app and its ``127.0.0.1:port``; servers stop after the test.
    """
    running: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(settings: Settings) -> tuple[FastAPI, str]:
        app = create_app(settings, engine)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **server_options(settings))
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        running.append((server, thread))
        until(lambda: server.started, "the server did not start", timeout=60)  # a warm start loads the walk network first
        return app, f"127.0.0.1:{port}"

    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def role_headers(database: Database, xuhui: sessionmaker[Session]) -> dict[str, dict[str, str]]:
    """Role → request headers with that role's API key (anonymous: no headers).

    Asking for ``xuhui`` puts the demo into the template first. The template also holds a grid
    cell inside 徐家汇街道, devices of two departments in two streets, the health centres of
    徐家汇 and 天平 owned by the health department (卫生健康委) and the metro station 徐家汇 by
    the greening department (绿化市容局), so scoping has something to hide. The committee
    worker is bound to 东塘居委会 (310104014001), which the demo gives no boundary.
    """
    return database.loaded["role_headers"]


@pytest.fixture
def provisioned(xuhui: sessionmaker[Session], tmp_path: Path) -> Provisioned:
    """The sample devices provisioned into the demo, with their broker credentials."""
    path = tmp_path / "devices.csv"
    path.write_text(DEVICES_CSV, encoding="utf-8")
    with transaction(xuhui) as session:
        return provision(session, path, broker_dir=tmp_path / "broker", local_timezone="Asia/Shanghai", no_data_intervals=3)


@pytest.fixture
def device_passwords(provisioned: Provisioned) -> dict[str, str]:
    """Device code → its broker password."""
    return {code: password for code, _, password in provisioned.credentials}


@pytest.fixture
def devices(xuhui: sessionmaker[Session], provisioned: Provisioned) -> dict[str, int]:
    """The sample devices: code → id."""
    with xuhui() as session:
        return dict(session.execute(sa.select(Device.code, Device.id).where(Device.source_ref.is_(None))).all())
