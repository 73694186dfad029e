"""Publisher concurrency on PostgreSQL: events per second with the old global lock and without it.

N threads, each on its own connection, change the status of a facility of their own and
publish the event, over and over, for a few seconds; a reader polls the feed meanwhile. Each
scheme runs in the same process on the same fresh database:

- ``global lock``: before publishing, the transaction takes the one advisory lock every
  publisher took until commit ``067d3bd`` (held to commit), and the reader pages by id;
- ``positions``: ``huizhili.events`` as it is — no lock; the reader stops at the horizon.

``work`` is time the transaction spends after publishing, before it commits (other statements
of a request): the old lock was held through it. Delivery is from the publisher's call (before
it waits for the lock, if any) to the reader seeing the event; ``exact`` means the reader saw
every committed event exactly once. The last
rows hold one unrelated write transaction open for ``--open`` seconds meanwhile: the price of
positions, which no reader may pass while it runs.

Run: .venv/bin/python bench/bench_publish.py [--url postgresql+psycopg://…/db] [--seconds 3]
(the URL's database is used only to create and drop a scratch database beside it).
"""

import argparse
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from huizhili.events import current_position, publish, read_events
from huizhili.policy import Scope
from huizhili.storage.engine import create_engine, migrate, session_factory
from huizhili.storage.models import Event, Facility, utcnow

OLD_PUBLISH_LOCK = 0x68757A68
"""The advisory lock key ``events.publish`` took before commit 067d3bd."""
READ_EVERY_S = 0.02


@dataclass
class Run:
    """What one configuration measured."""

    committed: dict[int, float] = field(default_factory=dict)  # event id → when it was published
    seen: dict[int, float] = field(default_factory=dict)
    repeats: int = 0
    seconds: float = 0.0


def publisher(sessions: sessionmaker[Session], facility_id: int, old_lock: bool, work_s: float,
              stop: threading.Event, run: Run) -> None:
    """Change one facility's queue level and publish it, one transaction at a time, until told to stop."""
    n = 0
    while not stop.is_set():
        with sessions() as session, session.begin():
            facility = session.get_one(Facility, facility_id)
            facility.queue_level = ("short", "long")[n % 2]
            facility.status_updated_at = utcnow()
            session.flush()
            publishing = time.perf_counter()
            if old_lock:
                session.execute(sa.select(sa.func.pg_advisory_xact_lock(OLD_PUBLISH_LOCK)))
            event = publish(session, "facility.status", facility, resource="facilities", record_id=facility_id,
                            permission="read:public", payload={"queue_level": facility.queue_level})
            if work_s:
                session.execute(sa.select(sa.func.pg_sleep(work_s)))
        run.committed[event.id] = publishing
        n += 1


def read_by_position(sessions: sessionmaker[Session]) -> Callable[[], list[int]]:
    """The reader of ``huizhili.events``, from now: pages after its cursor, up to the horizon."""
    with sessions() as session:
        cursor = current_position(session)

    def read() -> list[int]:
        nonlocal cursor
        with sessions() as session:
            page = read_events(session, Scope.system(), cursor, 10_000)
        cursor = page.cursor
        return [e["id"] for e in page.events]

    return read


def read_by_id(sessions: sessionmaker[Session]) -> Callable[[], list[int]]:
    """The reader before 067d3bd, from now: ids after its cursor, up to the newest (correct only under the lock)."""
    with sessions() as session:
        cursor = session.scalar(sa.select(sa.func.max(Event.id))) or 0

    def read() -> list[int]:
        nonlocal cursor
        with sessions() as session:
            newest = session.scalar(sa.select(sa.func.max(Event.id))) or 0
            ids = session.scalars(sa.select(Event.id).where(Event.id > cursor, Event.id <= newest).order_by(Event.id)).all()
        cursor = newest
        return list(ids)

    return read


def reader(read: Callable[[], list[int]], stop: threading.Event, run: Run) -> None:
    while not stop.is_set():
        for event_id in read():
            if event_id in run.seen:
                run.repeats += 1
            run.seen.setdefault(event_id, time.perf_counter())
        time.sleep(READ_EVERY_S)


def hold_open(sessions: sessionmaker[Session], facility_id: int, seconds: float, started: threading.Event) -> None:
    """An unrelated write transaction (an import, say) that stays open ``seconds``."""
    with sessions() as session, session.begin():
        session.execute(sa.update(Facility).where(Facility.id == facility_id).values(status_note="importing"))
        started.set()
        time.sleep(seconds)


def measure(sessions: sessionmaker[Session], facilities: list[int], old_lock: bool, work_s: float,
            seconds: float, open_s: float) -> Run:
    """Publish from ``facilities[1:]`` for ``seconds`` (``facilities[0]``: the open transaction's), then let the reader catch up."""
    run, publishing, reading = Run(), threading.Event(), threading.Event()
    read = read_by_id(sessions) if old_lock else read_by_position(sessions)
    threads = [threading.Thread(target=publisher, args=(sessions, f, old_lock, work_s, publishing, run)) for f in facilities[1:]]
    watching = threading.Thread(target=reader, args=(read, reading, run))
    watching.start()
    holding = None
    if open_s:
        started = threading.Event()
        holding = threading.Thread(target=hold_open, args=(sessions, facilities[0], open_s, started))
        holding.start()
        started.wait()
    begin = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    publishing.set()
    for thread in threads:
        thread.join()
    run.seconds = time.perf_counter() - begin
    deadline = time.perf_counter() + open_s + 10
    while set(run.committed) - set(run.seen) and time.perf_counter() < deadline:
        time.sleep(READ_EVERY_S)
    time.sleep(5 * READ_EVERY_S)  # a few more reads: any repeat would show
    reading.set()
    watching.join()
    if holding is not None:
        holding.join()
    return run


def scratch_database(url: str) -> tuple[str, Callable[[], None]]:
    """A fresh migrated database beside ``url``'s, and how to drop it."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"bench_publish_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    scratch = sa.make_url(url).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()

    return scratch, drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("HUIZHILI_TEST_PG_URL",
                                                         "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--seconds", type=float, default=3.0, help="How long each configuration publishes.")
    parser.add_argument("--threads", default="1,4,16", help="Publisher counts to compare.")
    parser.add_argument("--work-ms", default="0,5", help="Time in the transaction after publishing, milliseconds.")
    parser.add_argument("--open", type=float, default=2.0, help="Seconds the unrelated transaction stays open.")
    args = parser.parse_args()
    threads = [int(n) for n in args.threads.split(",")]
    url, drop = scratch_database(args.url)
    engine = create_engine(url, pool_size=max(threads) + 4, max_overflow=0)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
        migrate(engine)
        sessions = session_factory(engine)
        with sessions() as session, session.begin():
            places = [Facility(kind="health_centre", name=f"bench {n}", geometry=shapely.Point(121.43, 31.19),
                               lon=121.43, lat=31.19, properties={}) for n in range(max(threads) + 1)]
            session.add_all(places)
            session.flush()
            facilities = [f.id for f in places]
        print(f"\nPostgreSQL {engine.dialect.server_version_info}, {args.seconds:g} s per row, reader every {READ_EVERY_S * 1000:.0f} ms\n")
        print("| scheme | publishers | work after publish | open transaction | events/s | delivery p50 | delivery p99 | delivery max | exact |")
        print("|---|---|---|---|---|---|---|---|---|")
        configurations = [(n, float(w) / 1000, 0.0) for w in args.work_ms.split(",") for n in threads]
        configurations.append((4, 0.0, args.open))
        for publishers, work_s, open_s in configurations:
            for old_lock in (True, False):
                run = measure(sessions, facilities[: publishers + 1], old_lock, work_s, args.seconds, open_s)
                delays = np.array([run.seen[i] - at for i, at in run.committed.items() if i in run.seen]) * 1000
                exact = set(run.seen) == set(run.committed) and not run.repeats
                print(f"| {'global lock' if old_lock else 'positions'} | {publishers} | {work_s * 1000:g} ms | "
                      f"{f'{open_s:g} s' if open_s else 'none'} | {len(run.committed) / run.seconds:,.0f} | "
                      f"{np.percentile(delays, 50):,.0f} ms | {np.percentile(delays, 99):,.0f} ms | {delays.max():,.0f} ms | "
                      f"{'yes' if exact else 'NO'} |", flush=True)
    finally:
        engine.dispose()
        drop()


if __name__ == "__main__":
    main()
