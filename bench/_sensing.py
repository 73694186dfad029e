"""What the sensing benchmarks share: a fresh database on either backend with the Xuhui demo,
devices provisioned from a CSV as a deployment does, the ingest's service account, and a
Mosquitto of our own configured from the files the platform generates.
"""

import getpass
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from huizhili.base.demo import load_xuhui
from huizhili.identity.accounts import create_user
from huizhili.identity.broker import issue_service_password, write_broker_files
from huizhili.sensing.devices import provision
from huizhili.storage.engine import create_engine, migrate, session_factory, transaction
from huizhili.storage.models import Area

PG_ADMIN_URL = os.environ.get("HUIZHILI_BENCH_PG_URL", "postgresql+psycopg://postgres:postgres@127.0.0.1:5432/postgres")
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
BROKER_CONFIG = "max_queued_messages 1000000\nmax_inflight_messages 0\n"
"""As the MQTT ingest test runs it: the broker holds everything the ingest has not acknowledged."""
TIMEZONE = "Asia/Shanghai"


@dataclass
class Platform:
    """A fresh database with the demo and the bench's devices, and where its files are."""

    backend: str
    url: str
    engine: Engine
    sessions: sessionmaker[Session]
    folder: Path
    passwords: dict[str, str]
    """Device code → its broker password."""
    ingest_password: str
    broker_files: tuple[Path, Path]


def devices_csv(path: Path, sessions: sessionmaker[Session], count: int, kind: str, *, capacity: float | None = None,
                interval_s: int | None = None, installed_at: str = "2024-01-01", seed: int = 17, prefix: str = "B") -> list[str]:
    """Write a provisioning CSV of ``count`` devices at random points inside Xuhui's streets; their codes."""
    with sessions() as session:
        streets = [a.geometry for a in session.scalars(sa.select(Area).where(Area.level == "street")) if a.geometry is not None]
    rng = random.Random(seed)
    codes, lines = [], ["code,kind,name,lon,lat,installed_at,capacity,interval_s"]
    for n in range(count):
        street = streets[n % len(streets)]
        minx, miny, maxx, maxy = street.bounds
        while True:
            point = shapely.Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
            if street.contains(point):
                break
        code = f"{prefix}{n:05d}"
        codes.append(code)
        lines.append(f"{code},{kind},bench {n},{point.x:.6f},{point.y:.6f},{installed_at},"
                     f"{'' if capacity is None else capacity},{'' if interval_s is None else interval_s}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return codes


@contextmanager
def platform(backend: str, devices: int, kind: str, **csv_options: object) -> Iterator[Platform]:
    """A fresh embedded (SQLite file) or PostgreSQL+PostGIS database with the demo and ``devices`` devices of ``kind``."""
    folder = Path(tempfile.mkdtemp(prefix=f"huizhili-bench-{backend}-"))
    drop: Callable[[], None] = lambda: None  # noqa: E731
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'huizhili.sqlite'}"
    else:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        name = f"huizhili_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

        def drop() -> None:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            admin.dispose()

    engine = create_engine(url)
    try:
        if backend != "sqlite":
            with engine.begin() as connection:
                connection.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
        migrate(engine)
        sessions = session_factory(engine)
        with transaction(sessions) as session:
            load_xuhui(session)
        path = folder / "devices.csv"
        devices_csv(path, sessions, devices, kind, **csv_options)  # type: ignore[arg-type]
        with transaction(sessions) as session:
            result = provision(session, path, broker_dir=folder / "broker", local_timezone=TIMEZONE, no_data_intervals=3)
            assert not result.rejected, result.rejected[:3]
            create_user(session, "ingest", "service")
            ingest_password = issue_service_password(session, "ingest")
            files = write_broker_files(session, folder / "broker")
        passwords = {code: password for code, _, password in result.credentials}
        yield Platform(backend, url, engine, sessions, folder, passwords, ingest_password, files)
    finally:
        engine.dispose()
        drop()
        shutil.rmtree(folder, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def mosquitto(folder: Path, files: tuple[Path, Path], extra: str = BROKER_CONFIG) -> Iterator[tuple[int, subprocess.Popen]]:
    """Mosquitto on a free port with the platform's ``passwd`` and ``acl``; yields its port and process."""
    port = free_port()
    config = folder / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {files[0]}\nacl_file {files[1]}\n"
                      f"user {getpass.getuser()}\npersistence false\nlog_dest stderr\n{extra}")
    with (folder / "mosquitto.log").open("wb") as log:
        process = subprocess.Popen([MOSQUITTO, "-c", str(config)], stderr=log)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            assert process.poll() is None, (folder / "mosquitto.log").read_text()
            yield port, process
        finally:
            process.terminate()
            process.wait(timeout=10)


def rss_kib(pid: int) -> int:
    """A process's resident set size in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank, linear) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
