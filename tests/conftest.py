"""Shared fixtures: a fresh database per test on SQLite and, where configured, on PostgreSQL+PostGIS."""

import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import shapely
import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from huizhili.base.demo import load_xuhui
from huizhili.base.importers import import_osm
from huizhili.config import Settings, load_settings
from huizhili.storage.engine import create_engine, migrate, session_factory, transaction
from huizhili.web.app import create_app, server_options

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


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating every time is slow)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def engine(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[Engine]:
    """A migrated, empty database: an SQLite file, or a fresh schema in PostgreSQL+PostGIS."""
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite"
        shutil.copy(sqlite_template, path)
        engine = create_engine(f"sqlite:///{path}")
        yield engine
        engine.dispose()
        return
    if not PG_URL:
        pytest.skip("HUIZHILI_TEST_PG_URL is not set: the PostgreSQL+PostGIS run is skipped")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema},public"})
    migrate(engine)
    yield engine
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def row_counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    """Rows in every table of the platform: equal before and after means nothing was written."""
    from huizhili.storage.models import Base

    with sessions() as session:
        return {t.name: session.scalar(sa.select(sa.func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as session:
        yield session


@pytest.fixture
def xuhui(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """The database with the Xuhui demo loaded."""
    with transaction(sessions) as session:
        load_xuhui(session)
    return sessions


@pytest.fixture
def helsinki(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """The database with central Helsinki imported from OSM."""
    with transaction(sessions) as session:
        import_osm(session, HELSINKI)
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
    return load_settings(environment="test", data_dir=tmp_path / "var", page_size_max=50)


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """The API in-process, over the test database."""
    with TestClient(create_app(settings, engine)) as client:
        yield client


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
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        return app, f"127.0.0.1:{port}"

    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(10)


ROLE_USERS = {
    # role: (username, scope keyword arguments)
    "district_admin": ("admin", {}),
    "district_commander": ("commander", {}),
    "street_operator": ("xujiahui_operator", {"streets": ["310104014"]}),
    "department_handler": ("greening_handler", {"department": "绿化市容局"}),
    "grid_officer": ("grid_officer", {"grid_cells": ["310104014G01"]}),
    "analyst": ("analyst", {}),
    "citizen": ("citizen", {}),
    "service": ("dashboard_wall", {}),
}
"""One user per staff role, scoped inside the Xuhui demo."""


@pytest.fixture
def role_headers(xuhui) -> dict[str, dict[str, str]]:
    """Role → request headers with that role's API key (anonymous: no headers).

    Adds a grid cell inside 徐家汇街道, devices of two departments in two streets, and gives
    the health centres of 徐家汇 and 天平 to the health department (卫生健康委) and the metro
    station 徐家汇 to the greening department (绿化市容局), so scoping has something to hide.
    """
    from huizhili.base.areas import AreaSpec, upsert_areas
    from huizhili.identity.accounts import create_api_key, create_user
    from huizhili.storage.models import Device

    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    with transaction(xuhui) as session:
        upsert_areas(session, [AreaSpec(code="310104014G01", name="徐家汇网格01", level="grid", parent_code="310104014",
                                        geometry=shapely.box(121.430, 31.185, 121.445, 31.200))])
        for code, department, lon, lat in [("PM-XJH-1", "生态环境局", 121.437, 31.192), ("PM-XJH-2", "绿化市容局", 121.438, 31.196),
                                           ("PM-TP-1", "绿化市容局", 121.445, 31.207)]:
            session.add(Device(code=code, sensor_kind="pm25", owner_department=department, geometry=shapely.Point(lon, lat),
                               lon=lon, lat=lat, properties={}))
        session.flush()
        from huizhili.base.assign import assign_areas
        from huizhili.storage.models import Facility
        assign_areas(session)
        owners = [(Facility.kind == "health_centre", ("310104014", "310104003"), "卫生健康委"),
                  (Facility.name == "徐家汇", ("310104014",), "绿化市容局")]
        for which, streets, department in owners:
            session.execute(sa.update(Facility).where(which, Facility.street_code.in_(streets)).values(owner_department=department))
        for role, (username, scope) in ROLE_USERS.items():
            create_user(session, username, role, phone="13812345678", display_name=f"{username} 测试", **scope)
            headers[role] = {"X-API-Key": create_api_key(session, username, "tests")[1]}
    return headers
