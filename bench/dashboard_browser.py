"""The operations dashboard in headless Chromium at district scale, beside the same data drawn by Leaflet (issue 19).

Loads the Xuhui demo into a fresh embedded database, serves it (``huizhili serve``, one process)
and opens the dashboard, signed in as a district commander, in Debian's Chromium with a software
WebGL (SwiftShader), cold (a new browser context) each time:

- load: from navigation to the first view drawn (the map's ``data-ready``: streets, devices and
  cases on the map, every tile rendered), median of 3, with the plain demo and after adding
  10,000 devices and 50,000 open cases in bulk, spread over Xuhui's streets by population and
  bunched around the demo's facilities;
- fps: ``requestAnimationFrame`` callbacks counted per second while a scripted pan and wheel
  zoom (the mouse, through Playwright) runs for about 10 s over the big data: the median second
  and the worst;
- the same for ``bench/leaflet_map.html``, the same streets, devices and cases from the same
  endpoints as Leaflet 1.9.4 circle markers (its default SVG renderer, and preferCanvas), in a
  map of the dashboard's map's size, in the same run; and for ``bench/maplibre_empty.html``,
  MapLibre with nothing but a background, the floor that the machine and its software GL set.

The load average (of the machine's other work too) is printed before and after.

Also the map endpoints' time and size on the wire (raw and as gzip would send it), and with
``--million`` the case map again after the table grows to a million cases (the rest closed),
with SQLite's query plan; with ``--postgis URL`` both map queries in process on PostgreSQL with
the same data, for a commander and a street operator.

Run: .venv/bin/python bench/dashboard_browser.py [--million] [--postgis postgresql+psycopg://…/postgres]
"""

import argparse
import gzip
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import shapely
import sqlalchemy as sa
from _serve import bench_env, served
from playwright.sync_api import Page, sync_playwright

from huizhili.base.demo import load_xuhui
from huizhili.cases.flow import case_flow
from huizhili.config import load_settings
from huizhili.identity.accounts import create_user
from huizhili.policy import Scope
from huizhili.sensing.catalogue import catalogue
from huizhili.storage.engine import create_engine, migrate, session_factory, transaction
from huizhili.storage.models import Alert, Area, Case, Device, Facility, Observation

BENCH = Path(__file__).parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
"""As the browser tests launch it (tests/conftest.py, tests/web/test_dashboard_browser.py)."""
PASSWORD = "Correct-horse-battery-9"
DEVICES, CASES = 10_000, 50_000
FPS_SECONDS = 10
LOADS = 3
COUNT_FRAMES = """() => {
  window.fps = []; let frames = 0, since = performance.now();
  const tick = (now) => { frames++; if (now - since >= 1000) { fps.push(frames * 1000 / (now - since)); frames = 0; since = now; }
                          if (!window.stopCounting) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
}"""


def demo_database(folder: Path) -> sa.Engine:
    """A migrated SQLite database in ``folder`` with the Xuhui demo and a commander signing in by password."""
    engine = create_engine(f"sqlite:///{folder / 'huizhili.sqlite'}")
    migrate(engine)
    with transaction(session_factory(engine)) as session:
        load_xuhui(session)
        create_user(session, "bench", "district_commander", password=PASSWORD)
    return engine


def places(session: sa.orm.Session, count: int, rng: np.random.Generator) -> list[tuple[float, float, str, str]]:
    """``count`` points inside Xuhui's streets (lon, lat, street code, district code): by population, half bunched near facilities."""
    streets = session.execute(sa.select(Area.code, Area.parent_code, Area.geometry, Area.population)
                              .where(Area.level == "street", Area.geometry.is_not(None))).all()
    weights = np.array([population or geometry.area * 1e7 for _, _, geometry, population in streets], dtype=float)
    facilities = np.array(session.execute(sa.select(Facility.lon, Facility.lat)).all())
    out: list[tuple[float, float, str, str]] = []
    while len(out) < count:
        batch = 20_000
        near = rng.random(batch) < 0.5
        centres = facilities[rng.integers(0, len(facilities), batch)]
        lon = np.where(near, centres[:, 0] + rng.normal(0, 0.0015, batch), rng.uniform(121.40, 121.48, batch))
        lat = np.where(near, centres[:, 1] + rng.normal(0, 0.0013, batch), rng.uniform(31.10, 31.23, batch))
        chosen = rng.choice(len(streets), batch, p=weights / weights.sum())
        for i, (code, parent, geometry, _) in enumerate(streets):
            mine = (chosen == i) & shapely.contains_xy(geometry, lon, lat)
            out += [(float(x), float(y), code, parent) for x, y in zip(lon[mine], lat[mine], strict=True)]
    random.Random(19).shuffle(out)
    return out[:count]


def add_big_data(engine: sa.Engine, devices: int, cases: int) -> None:
    """``devices`` devices (most heard from, some silent, some alerting) and ``cases`` open cases, inserted in bulk."""
    rng = np.random.default_rng(19)
    now = datetime.now(UTC)
    known = catalogue()
    kinds = list(known.kinds.values())
    flow = case_flow(load_settings(environment="test"))
    open_states = [s.id for s in flow.workflow.states.values() if s.open]
    categories = list(flow.categories.categories)
    with transaction(session_factory(engine)) as session:
        spots = places(session, devices + cases, rng)
        device_rows, heard, silent, alerting = [], [], [], []
        for i, (lon, lat, street, district) in enumerate(spots[:devices]):
            roll = rng.random()  # 3 % in maintenance, 1 % retired, 3 % never heard, 7 % silent now, 3 % alerting
            status = "maintenance" if roll < 0.03 else "retired" if roll < 0.04 else "active"
            seen = status == "active" and roll < 0.97
            device_rows.append({"code": f"BENCH-{i:05d}", "sensor_kind": kinds[i % len(kinds)].id, "lon": lon, "lat": lat,
                                "geometry": shapely.Point(lon, lat), "properties": {}, "metrics": {}, "status": status,
                                "last_seen_at": now - timedelta(minutes=float(rng.uniform(0, 60))) if seen else None,
                                "district_code": district, "street_code": street})
            if seen:
                heard.append(i)
            if seen and roll >= 0.90:
                silent.append(i)
            elif seen and roll < 0.07:
                alerting.append(i)
        session.execute(sa.insert(Device), device_rows)
        ids = dict(session.execute(sa.select(Device.code, Device.id).where(Device.code.like("BENCH-%"))).all())
        observations = []
        for i in heard:
            kind = kinds[i % len(kinds)]
            if kind.metrics:
                metric = known.metrics[kind.metrics[0]]
                observations.append({"device_id": ids[f"BENCH-{i:05d}"], "metric": metric.id,
                                     "observed_at": now - timedelta(minutes=5), "value": round(float(rng.uniform(0, min(metric.maximum, 200))), 1)})
        session.execute(sa.insert(Observation), observations)
        alerts = [{"rule": "device_silent", "subject": f"device:BENCH-{i:05d}/*", "device_id": ids[f"BENCH-{i:05d}"], "level": 2,
                   "opened_at": now, "title": {}, "evidence": {}, "district_code": device_rows[i]["district_code"],
                   "street_code": device_rows[i]["street_code"]} for i in silent]
        alerts += [{"rule": "bench_threshold", "subject": f"device:BENCH-{i:05d}/x", "device_id": ids[f"BENCH-{i:05d}"],
                    "level": int(rng.integers(1, 5)), "opened_at": now, "title": {}, "evidence": {},
                    "district_code": device_rows[i]["district_code"], "street_code": device_rows[i]["street_code"]} for i in alerting]
        session.execute(sa.insert(Alert), alerts)
        session.execute(sa.insert(Case), [_case(rng, now, open_states, categories, spot) for spot in spots[devices:]])


def _case(rng: np.random.Generator, now: datetime, states: list[str], categories: list[str],
          spot: tuple[float, float, str, str], state: str | None = None) -> dict[str, object]:
    """One case's row: received in the last week, due 1–5 days after (so some are late, some due soon)."""
    lon, lat, street, district = spot
    received = now - timedelta(hours=float(rng.uniform(0, 168)))
    return {"channel": "hotline", "state": state or states[int(rng.integers(0, len(states)))],
            "category": categories[int(rng.integers(0, len(categories)))], "title": "bench", "description": "", "lon": lon,
            "lat": lat, "received_at": received, "due_at": received + timedelta(hours=float(rng.uniform(24, 120))),
            "created_by": "bench", "suggestions": [], "attributes": {}, "checkpoints": [], "rework_count": 0, "reopen_count": 0,
            "due_estimated": False, "district_code": district, "street_code": street}


def grow_cases(engine: sa.Engine, total: int) -> None:
    """Closed cases added until the table holds ``total``."""
    rng = np.random.default_rng(20)
    now = datetime.now(UTC)
    flow = case_flow(load_settings(environment="test"))
    categories = list(flow.categories.categories)
    with transaction(session_factory(engine)) as session:
        have = session.scalar(sa.select(sa.func.count()).select_from(Case)) or 0
        spots = places(session, 20_000, rng)
        for start in range(have, total, 100_000):
            rows = [_case(rng, now - timedelta(days=30), [], categories, spots[i % len(spots)], "closed")
                    for i in range(start, min(total, start + 100_000))]
            session.execute(sa.insert(Case), rows)


def case_plan(engine: sa.Engine) -> list[str]:
    """SQLite's plan for the case map's query, as a commander asks it."""
    from huizhili.cases.layer import case_layer
    from huizhili.policy import Principal

    executed: list[tuple[str, object]] = []
    sa.event.listen(engine, "before_cursor_execute", lambda _c, _cur, statement, parameters, *_: executed.append((statement, parameters)))
    with session_factory(engine)() as session:
        case_layer(session, Scope(Principal(username="bench", role="district_commander")), case_flow(load_settings(environment="test")))
        statement, parameters = next((s, p) for s, p in executed if "FROM cases" in s)
        rows = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    return [row[-1] for row in rows]


def postgis_layers(server: str) -> list[str]:
    """The two map queries in process on a fresh PostGIS database of ``server`` (a SQLAlchemy URL) with the same data."""
    import uuid

    from huizhili.cases.layer import case_layer
    from huizhili.policy import Principal
    from huizhili.sensing.layer import device_layer

    admin = sa.create_engine(sa.make_url(server).set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    lines = []
    try:
        engine = create_engine(sa.make_url(server).set(database=name).render_as_string(hide_password=False))
        with engine.connect() as connection:
            connection.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
            connection.commit()
        migrate(engine)
        with transaction(session_factory(engine)) as session:
            load_xuhui(session)
        add_big_data(engine, DEVICES, CASES)
        with engine.connect() as connection:
            connection.execute(sa.text("ANALYZE"))
            connection.commit()
        flow = case_flow(load_settings(environment="test"))
        for who, principal in (("commander", Principal(username="bench", role="district_commander")),
                               ("street operator", Principal(username="bench", role="street_operator", streets=frozenset({"310104014"})))):
            cases, devices = [], []
            for _ in range(5):
                with session_factory(engine)() as session:
                    started = time.perf_counter()
                    case_text = case_layer(session, Scope(principal), flow)
                    cases.append((time.perf_counter() - started) * 1000)
                    started = time.perf_counter()
                    device_text = device_layer(session, Scope(principal), ["device_silent"])
                    devices.append((time.perf_counter() - started) * 1000)
            lines.append(f"PostGIS, {who}: case map {statistics.median(cases):.0f} ms ({len(case_text):,} bytes), "
                         f"device map {statistics.median(devices):.0f} ms ({len(device_text):,} bytes), median of 5")
        engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    return lines


def endpoints(url: str, token: str, repeat: int = 5) -> list[tuple[str, int, float, int, int]]:
    """Each map endpoint's records, median milliseconds, raw and gzipped bytes."""
    out = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
        for path in ("/api/devices/map", "/api/cases/map"):
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                answer = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                answer.raise_for_status()
            out.append((path, len(answer.json()["id"]), statistics.median(times), len(answer.content),
                        len(gzip.compress(answer.content, 6))))
    return out


def token(url: str) -> str:
    return httpx.post(f"{url}/api/auth/token", data={"username": "bench", "password": PASSWORD}).json()["access_token"]


def open_page(browser, url: str, access: str, page: str) -> tuple[Page, float]:
    """A cold page at ``page``, signed in; milliseconds from navigation to its data-ready."""
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    context.add_init_script(f"sessionStorage.setItem('huizhili.token', {access!r})")
    context.route(f"{url}/bench/**", lambda route: route.fulfill(path=BENCH / route.request.url.split("/bench/", 1)[1].split("?")[0]))
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(f"{url}{page}")
    tab.locator("[data-ready=true]").wait_for(timeout=600_000)
    if errors:
        raise SystemExit(f"{page}: {errors}")
    return tab, tab.evaluate("performance.getEntriesByName('dashboard-ready')[0].startTime")


def loads(browser, url: str, access: str, page: str) -> float:
    """Median seconds to data-ready over :data:`LOADS` cold loads."""
    times = []
    for _ in range(LOADS):
        tab, ms = open_page(browser, url, access, page)
        tab.context.close()
        times.append(ms / 1000)
    return statistics.median(times)


def pan_and_zoom(tab: Page, box: dict[str, float], seconds: float) -> list[float]:
    """Frames per second, each second, while the mouse pans and wheel-zooms the map for ``seconds``."""
    tab.evaluate(COUNT_FRAMES)
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    tab.mouse.move(x, y)
    ended = time.perf_counter() + seconds
    step = 0
    while time.perf_counter() < ended:
        direction = 1 if step % 2 == 0 else -1
        tab.mouse.down()
        tab.mouse.move(x + direction * 300, y + direction * 150, steps=30)
        tab.mouse.up()
        x, y = x + direction * 300, y + direction * 150
        for _ in range(3):
            tab.mouse.wheel(0, -direction * 240)
            tab.wait_for_timeout(120)
        step += 1
    tab.evaluate("window.stopCounting = true")
    return tab.evaluate("fps")


def fps(browser, url: str, access: str, page: str, selector: str) -> tuple[float, float, float, dict[str, float]]:
    """Load seconds, median and worst second's fps of the scripted pan and zoom on a cold page; and the map's box."""
    tab, ms = open_page(browser, url, access, page)
    box = tab.locator(selector).bounding_box()
    seconds = pan_and_zoom(tab, box, FPS_SECONDS)
    tab.context.close()
    return ms / 1000, statistics.median(seconds), min(seconds), box


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--million", action="store_true", help="Also time the case map over a million cases (the rest closed).")
    parser.add_argument("--postgis", metavar="URL", help="Also time both map queries in process on a fresh database of this PostgreSQL server.")
    arguments = parser.parse_args()
    before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        data_dir = Path(folder)
        engine = demo_database(data_dir)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        env = bench_env(data_dir)
        with served(env) as (_, url):
            plain = loads(browser, url, token(url), "/")
        started = time.perf_counter()
        add_big_data(engine, DEVICES, CASES)
        print(f"{DEVICES:,} devices and {CASES:,} open cases added in {time.perf_counter() - started:.1f} s")
        rows = []
        with served(env) as (_, url):
            access = token(url)
            wire = endpoints(url, access)
            big = loads(browser, url, access, "/")
            load, median, worst, box = fps(browser, url, access, "/", "#map")
            rows.append(("dashboard (MapLibre GL 5.24.1)", plain, big, median, worst))
            size = f"?width={round(box['width'])}&height={round(box['height'])}"
            for name, page in (("Leaflet 1.9.4, SVG (default)", f"/bench/leaflet_map.html{size}"),
                               ("Leaflet 1.9.4, preferCanvas", f"/bench/leaflet_map.html{size}&canvas=1"),
                               ("MapLibre, nothing to draw", f"/bench/maplibre_empty.html{size}")):
                load, median, worst, _ = fps(browser, url, access, page, "#map")
                rows.append((name, None, load, median, worst))
        browser.close()
        print(f"load average before {before}, after {' '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
        print(f"\nheadless Chromium (SwiftShader WebGL), viewport 1920×1080, map {box['width']:.0f}×{box['height']:.0f} px; "
              f"load: navigation to data-ready, cold, median of {LOADS} (Leaflet: the pan's own load); "
              f"fps: rAF per second over a {FPS_SECONDS} s mouse pan + wheel zoom")
        print(f"{'map':<32}{'load demo s':>12}{'load big s':>11}{'fps median':>11}{'fps worst':>10}")
        for name, demo_s, big_s, median, worst in rows:
            print(f"{name:<32}{'' if demo_s is None else f'{demo_s:.2f}':>12}{big_s:>11.2f}{median:>11.1f}{worst:>10.1f}")
        print(f"\n{'endpoint':<20}{'records':>9}{'ms':>8}{'bytes':>11}{'gzip':>10}")
        for path, count, ms, raw, packed in wire:
            print(f"{path:<20}{count:>9,}{ms:>8.0f}{raw:>11,}{packed:>10,}")
        if arguments.million:
            started = time.perf_counter()
            grow_cases(engine, 1_000_000)
            print(f"\ncases grown to 1,000,000 (the rest closed) in {time.perf_counter() - started:.0f} s")
            with served(env) as (_, url):
                for path, count, ms, raw, packed in endpoints(url, token(url))[1:]:
                    print(f"{path:<20}{count:>9,}{ms:>8.0f}{raw:>11,}{packed:>10,}")
            print("plan: " + " | ".join(case_plan(engine)))
        if arguments.postgis:
            print("\n" + "\n".join(postgis_layers(arguments.postgis)))


if __name__ == "__main__":
    main()
