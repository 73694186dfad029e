"""The case flow under load: a 311 stream through intake and routing, KPIs over a million cases, Open311 reads.

1. **Replay.** The 1,000 NYC 311 requests of ``../shared/data/cases/311/`` (NYC Open Data), in
   their order, each posted as a hotline call (``POST /api/cases`` through FastAPI's TestClient,
   the app in this process, one request and transaction each): located, put in its areas, linked
   or filed, routed and dispatched. Their positions are moved, by one affine map of the sample's
   extent onto Xuhui's, into the district (those falling outside its streets are refused, and
   counted); their complaint types become our categories by the table below. Cases per second and
   p50/p99 latency.
2. **KPIs.** ``--kpi-cases`` synthetic historical cases (default 1,000,000) inserted in bulk over
   two years, every street, unit and category, 90 % closed; then ``evaluate`` district-wide over
   a year, by street and by department (goal < 2 s each).
3. **Open311.** ``GET /api/open311/v2/requests.json?status=open`` (the last 90 days of 20,000
   cases) with a page of 50 and with the spec's default cap of 1,000, sent over real HTTP at
   ``--rate`` requests per second (default 200) for ``--seconds``, each at its time whether or
   not the ones before were answered (an open loop, as from many callers), to a ``huizhili serve
   --workers`` (default 2) of its own; p50/p99 latency, the rate answered, and the server's CPU
   time per answer.

On PostgreSQL the bulk-loaded cases are vacuumed and analysed before they are read, as autovacuum
does within a minute of such a load; SQLite keeps no statistics, as the platform runs it.

Run: .venv/bin/python bench/bench_cases.py [--backends sqlite,postgresql] [--kpi-cases 1000000] [--rate 200] [--workers 2] [--calls CSV]
"""

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import sqlalchemy as sa
from fastapi.testclient import TestClient

from huizhili.cases.evaluation import Period, evaluate
from huizhili.cases.flow import case_flow
from huizhili.config import Settings
from huizhili.identity.accounts import create_api_key, create_user
from huizhili.policy import Scope
from huizhili.storage.engine import transaction
from huizhili.storage.models import Area, Case, Department
from huizhili.web.app import create_app

sys.path.insert(0, str(Path(__file__).parent))
from _sensing import cpu_seconds, free_port, percentile, platform  # noqa: E402

NYC = Path(__file__).parents[2] / "shared" / "data" / "cases" / "311" / "nyc311_sample_1000_multiagency_2014_2019.csv"
CATEGORY_BY_WORD = (("noise", "噪声扰民"), ("parking", "交通秩序"), ("driveway", "交通秩序"), ("vehicle", "交通秩序"),
                    ("traffic", "交通秩序"), ("street light", "道路设施"), ("street condition", "道路设施"),
                    ("sidewalk", "道路设施"), ("sewer", "积水内涝"), ("water", "积水内涝"), ("collection", "垃圾分类"),
                    ("sanitation", "垃圾分类"), ("dirty", "垃圾分类"), ("litter", "垃圾分类"), ("tree", "绿化养护"),
                    ("graffiti", "市容环境"), ("vending", "市容环境"), ("construction", "违法建筑"), ("building", "违法建筑"),
                    ("heat", "物业管理"), ("unsanitary", "物业管理"), ("plumbing", "物业管理"), ("door", "物业管理"),
                    ("paint", "物业管理"), ("elevator", "物业管理"))
"""A 311 complaint type's first matching word → our category; none: a policy question."""


def category_of(complaint: str) -> str:
    lowered = complaint.lower()
    return next((category for word, category in CATEGORY_BY_WORD if word in lowered), "政策咨询")


def replay(backend: str, path: Path) -> None:
    calls = pd.read_csv(path, dtype=str, keep_default_na=False)
    with platform(backend, 1, "air_quality") as p:
        with transaction(p.sessions) as session:
            create_user(session, "bench_hotline", "hotline_operator")
            key = create_api_key(session, "bench_hotline", "bench")[1]
            streets = [a.geometry for a in session.scalars(sa.select(Area).where(Area.level == "street")) if a.geometry]
        minx = min(g.bounds[0] for g in streets); miny = min(g.bounds[1] for g in streets)  # noqa: E702
        maxx = max(g.bounds[2] for g in streets); maxy = max(g.bounds[3] for g in streets)  # noqa: E702
        located = calls[(calls["Latitude"] != "") & (calls["Longitude"] != "")]
        lat, lon = located["Latitude"].astype(float), located["Longitude"].astype(float)
        to_lon = lambda x: minx + (x - lon.min()) / (lon.max() - lon.min()) * (maxx - minx)  # noqa: E731
        to_lat = lambda y: miny + (y - lat.min()) / (lat.max() - lat.min()) * (maxy - miny)  # noqa: E731
        client = TestClient(create_app(Settings(data_dir=p.folder), p.engine))
        headers = {"X-API-Key": key}
        latencies, outcomes = [], {"new": 0, "linked": 0, "outside": 0}
        began = time.perf_counter()
        for row in located.to_dict("records"):
            complaint = row["Complaint Type"]
            body = {"title": f"{complaint} — {row['Descriptor']}"[:200], "description": row["Resolution Description"][:2000],
                    "lon": to_lon(float(row["Longitude"])), "lat": to_lat(float(row["Latitude"])),
                    "category": category_of(complaint), "external_ref": row["Unique Key"]}
            start = time.perf_counter()
            response = client.post("/api/cases", json=body, headers=headers)
            latencies.append(time.perf_counter() - start)
            if response.status_code == 201:
                outcomes["linked" if response.json()["linked"] else "new"] += 1
            elif response.status_code == 422 and "outside every area" in response.text:
                outcomes["outside"] += 1
            else:
                raise SystemExit(f"unexpected {response.status_code}: {response.text}")
        elapsed = time.perf_counter() - began
    print(f"| replay | {backend} | {len(latencies)} calls | {len(latencies) / elapsed:.1f} cases/s | "
          f"p50 {percentile(latencies, 50) * 1000:.1f} ms | p99 {percentile(latencies, 99) * 1000:.1f} ms | "
          f"{outcomes['new']} new, {outcomes['linked']} linked, {outcomes['outside']} outside Xuhui |")


def synthetic_cases(p, count: int, now: datetime) -> None:
    """``count`` cases over two years in bulk: every street, unit and category; 90 % closed, a tenth of those late."""
    flow = case_flow(Settings())
    with p.sessions() as session:
        streets = session.scalars(sa.select(Area.code).where(Area.level == "street", Area.parent_code == "310104")).all()
        units = session.scalars(sa.select(Department.code)).all()
    categories = list(flow.categories.categories)
    rng = random.Random(3)
    batch = []
    for n in range(count):
        received = now - timedelta(seconds=rng.uniform(0, 2 * 365 * 86400))
        closed = received + timedelta(hours=rng.expovariate(1 / 60)) if rng.random() < 0.9 else None
        due = received + timedelta(days=7)
        batch.append({"number": f"B{n:010d}", "channel": "patrol" if rng.random() < 0.15 else "hotline",
                      "state": "closed" if closed else "dispatched", "category": rng.choice(categories), "title": "bench",
                      "description": "", "department": rng.choice(units), "received_at": received, "closed_at": closed,
                      "due_at": due, "due_estimated": False, "rework_count": int(rng.random() < 0.05),
                      "satisfaction": rng.choice((1, 2, 3, 3, 3)) if closed and rng.random() < 0.6 else None,
                      "created_by": "bench", "district_code": "310104", "street_code": rng.choice(streets),
                      "suggestions": [], "checkpoints": [], "attributes": {}})
        if len(batch) == 20_000:
            with transaction(p.sessions) as session:
                session.execute(sa.insert(Case), batch)
            batch = []
    if batch:
        with transaction(p.sessions) as session:
            session.execute(sa.insert(Case), batch)
    if p.backend == "postgresql":
        with p.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("VACUUM ANALYZE cases"))


def kpis(backend: str, count: int) -> None:
    now = datetime.now(UTC)
    with platform(backend, 1, "air_quality") as p:
        began = time.perf_counter()
        synthetic_cases(p, count, now)
        loaded = time.perf_counter() - began
        flow = case_flow(Settings(data_dir=p.folder))
        for by in ("street", "department", "month"):
            times = []
            for _ in range(3):
                start = time.perf_counter()
                with p.sessions() as session:
                    rows = evaluate(session, Scope.system(), flow, by, Period(now - timedelta(days=365), now))
                times.append(time.perf_counter() - start)
            print(f"| kpis | {backend} | {count:,} cases (loaded in {loaded:.0f} s) | by {by} over a year: "
                  f"{len(rows)} groups, {sum(r['cases'] for r in rows):,} cases | best {min(times):.2f} s | worst {max(times):.2f} s |")


def open311(backend: str, rate: float, seconds: float, workers: int) -> None:
    """Paced reads of the open requests from a server of ``workers`` processes: a page of 50, as apps page, and the spec's default of up to 1,000."""
    with platform(backend, 1, "air_quality") as p:
        synthetic_cases(p, 20_000, datetime.now(UTC))
        port = free_port()
        environment = {**os.environ, "HUIZHILI_DATABASE_URL": p.url, "HUIZHILI_DATA_DIR": str(p.folder),
                       "HUIZHILI_ANONYMOUS_REQUESTS_PER_MINUTE": str(10**6)}
        with (p.folder / "serve.log").open("wb") as log:
            server = subprocess.Popen([sys.executable, "-m", "huizhili", "serve", "--port", str(port), "--workers", str(workers)],
                                      env=environment, stdout=log, stderr=subprocess.STDOUT)
            try:
                url = f"http://127.0.0.1:{port}/api/open311/v2/requests.json"
                _wait_for(f"http://127.0.0.1:{port}/api/health", workers, server, p.folder / "serve.log")
                for page_size in (50, 1000):
                    began, cpu, mine = time.perf_counter(), _tree_cpu(server.pid), time.process_time()
                    latencies = paced(url, {"status": "open", "page_size": page_size}, rate, seconds)
                    elapsed, cpu, mine = time.perf_counter() - began, _tree_cpu(server.pid) - cpu, time.process_time() - mine
                    print(f"| open311 GET requests ({page_size} a page) | {backend} | {workers} server processes | asked {rate:.0f}/s "
                          f"for {seconds:.0f} s | answered {len(latencies)} in {elapsed:.1f} s: {len(latencies) / elapsed:.0f}/s | "
                          f"p50 {percentile(latencies, 50) * 1000:.1f} ms | p99 {percentile(latencies, 99) * 1000:.1f} ms | "
                          f"CPU an answer: server {cpu / len(latencies) * 1000:.1f} ms, client {mine / len(latencies) * 1000:.1f} ms | "
                          f"load average {os.getloadavg()[0]:.1f} |")
            finally:
                server.terminate()
                server.wait(30)


def _wait_for(health: str, workers: int, server: subprocess.Popen[bytes], log: Path) -> None:
    """Until every server process answers (each worker says so in the log once it has started)."""
    for _ in range(1200):
        assert server.poll() is None, log.read_text()
        if log.read_text().count("Application startup complete") >= workers:
            try:
                if httpx.get(health, timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
        time.sleep(0.1)
    raise SystemExit(f"the server did not start: {log.read_text()}")


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its children (uvicorn's workers; PostgreSQL's backends are not counted)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return cpu_seconds(pid) + sum(_tree_cpu(int(child)) for child in children)


def paced(url: str, params: dict[str, object], rate: float, seconds: float, connections: int = 32) -> list[float]:
    """Latencies of GETs due at ``rate`` per second for ``seconds``, each sent when due or, if all connections are busy, once one is free.

    An open loop over ``connections`` keep-alive connections: a slow answer holds back no
    later request beyond what the server makes wait, and each latency runs from when the
    request was due to its last byte, so waiting for a connection counts too. The client is
    a few lines of asyncio over plain sockets, costing the two cores little beside the server.
    """
    target = httpx.URL(url, params=params)
    request = (f"GET {target.raw_path.decode()} HTTP/1.1\r\nHost: {target.host}:{target.port}\r\n\r\n").encode()
    due = [n / rate for n in range(int(rate * seconds))]

    async def run() -> list[float]:
        latencies: list[float] = []
        began = time.perf_counter()
        pending = iter(due)

        async def connection() -> None:
            reader, writer = await asyncio.open_connection(target.host, target.port)
            for at in pending:
                await asyncio.sleep(max(0.0, began + at - time.perf_counter()))
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200"), head
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - (began + at))
            writer.close()

        await asyncio.gather(*(connection() for _ in range(connections)))
        return latencies

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--parts", default="replay,kpis,open311")
    parser.add_argument("--kpi-cases", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2, help="Server processes for the Open311 part (huizhili serve --workers).")
    parser.add_argument("--calls", type=Path, default=NYC, help="The 311 sample (default ../shared/data/cases/311/…).")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        if "replay" in args.parts:
            replay(backend, args.calls)
        if "kpis" in args.parts:
            kpis(backend, args.kpi_cases)
        if "open311" in args.parts:
            open311(backend, args.rate, args.seconds, args.workers)


if __name__ == "__main__":
    main()
