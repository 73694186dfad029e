"""The series API over a year of minute data: p50/p99 per span, and the points a chart gets.

One ``air_quality`` device (``interval_s`` 60, installed two years ago) in the Xuhui demo gets
a year of minute PM2.5 (525,600 observations, a random walk) through the ingest itself
(``huizhili.sensing.ingest.ingest``, one message of a day's points at a time, 10 per
transaction, rollups kept), then ``GET /api/devices/{code}/series?metric=pm25&since=…&until=…
&resolution=auto`` is asked ``--requests`` times per span — the year, its last month, week and
day — through FastAPI's TestClient (the app in this process, an API key of a district
commander). Peer: what a naive series endpoint does, a plain SQL ``SELECT`` of the raw minute
points over the same span (sqlite3 on the same file, or the same query on PostgreSQL).

Run: .venv/bin/python bench/bench_series.py [--backends sqlite,postgresql] [--requests 50]
"""

import argparse
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from huizhili.config import Settings
from huizhili.identity.accounts import create_api_key, create_user
from huizhili.sensing.ingest import Limits, Message, ingest
from huizhili.storage.engine import transaction
from huizhili.storage.models import Device
from huizhili.web.app import create_app

sys.path.insert(0, str(Path(__file__).parent))
from _sensing import TIMEZONE, percentile, platform  # noqa: E402

MINUTES = 525_600
SPANS = (("year", timedelta(days=365)), ("month", timedelta(days=30)), ("week", timedelta(days=7)), ("day", timedelta(days=1)))


def run(backend: str, requests: int) -> None:
    until = datetime.now(UTC).replace(second=0, microsecond=0)
    start = until - timedelta(minutes=MINUTES)
    installed = (until - timedelta(days=730)).date().isoformat()
    with platform(backend, 1, "air_quality", interval_s=60, installed_at=installed) as p:
        with p.sessions() as session:
            device = session.scalars(sa.select(Device)).one()
            code, device_id = device.code, device.id
        limits = Limits(max_bytes=10**7, future_s=300, max_age_days=800, no_data_intervals=3, timezone=TIMEZONE)
        rng = random.Random(7)
        value = 35.0
        messages = []
        for day in range(MINUTES // 1440):
            points = []
            for minute in range(1440):
                value = min(max(value + rng.gauss(0, 2), 1.0), 500.0)
                points.append({"ts": (start + timedelta(minutes=day * 1440 + minute)).timestamp(), "metric": "pm25",
                               "value": round(value, 1)})
            messages.append(Message("mqtt", json.dumps(points).encode(), topic=f"huizhili/devices/{code}/pm25"))
        began = time.perf_counter()
        stored = 0
        for first in range(0, len(messages), 10):
            with transaction(p.sessions) as session:
                stored += len(ingest(session, messages[first : first + 10], until, limits).stored)
        loading = time.perf_counter() - began
        print(f"\n[{backend}] {stored:,} minute observations ingested in {loading:.1f} s ({stored / loading:,.0f}/s, rollups included)")
        with transaction(p.sessions) as session:
            create_user(session, "bench_commander", "district_commander")
            headers = {"X-API-Key": create_api_key(session, "bench_commander", "bench")[1]}
        settings = Settings(data_dir=p.folder / "var", database_url=p.url, local_timezone=TIMEZONE)
        raw_sql = sa.text("SELECT observed_at, value FROM observations WHERE device_id = :d AND metric = 'pm25' "
                          "AND observed_at >= :s AND observed_at < :u ORDER BY observed_at")
        print(f"{'span':<6} {'method':<44} {'points':>8} {'p50 ms':>8} {'p99 ms':>8} {'resolution':>10}")
        with TestClient(create_app(settings, p.engine)) as client:
            for name, span in SPANS:
                since = until - span
                params = {"metric": "pm25", "since": since.isoformat(), "until": until.isoformat(), "resolution": "auto"}
                times, body = [], {}
                for _ in range(requests + 2):
                    t0 = time.perf_counter()
                    answer = client.get(f"/api/devices/{code}/series", params=params, headers=headers)
                    times.append((time.perf_counter() - t0) * 1000)
                    assert answer.status_code == 200, answer.text
                    body = answer.json()
                times = times[2:]  # the first two warm the app's caches
                print(f"{name:<6} {'huizhili GET /api/devices/{code}/series':<44} {len(body['points']):>8,} {percentile(times, 50):>8.1f} "
                      f"{percentile(times, 99):>8.1f} {body['resolution']:>10}", flush=True)
                peer_times, rows = [], []
                bind = {"d": device_id, "s": since, "u": until}
                if backend == "sqlite":  # the stored text form (huizhili.storage.timestamps)
                    bind = {"d": device_id, "s": since.strftime("%Y-%m-%d %H:%M:%S.%f"), "u": until.strftime("%Y-%m-%d %H:%M:%S.%f")}
                with p.engine.connect() as connection:
                    raw = connection.connection.dbapi_connection
                    assert raw is not None
                    for _ in range(max(requests // 5, 5) + 1):
                        t0 = time.perf_counter()
                        if backend == "sqlite":
                            cursor = raw.cursor()
                            rows = cursor.execute("SELECT observed_at, value FROM observations WHERE device_id = ? AND metric = 'pm25' "
                                                  "AND observed_at >= ? AND observed_at < ? ORDER BY observed_at",
                                                  (bind["d"], bind["s"], bind["u"])).fetchall()
                        else:
                            rows = connection.execute(raw_sql, bind).all()
                        peer_times.append((time.perf_counter() - t0) * 1000)
                peer_times = peer_times[1:]
                print(f"{name:<6} {'plain SELECT of the raw minute points (peer)':<44} {len(rows):>8,} {percentile(peer_times, 50):>8.1f} "
                      f"{percentile(peer_times, 99):>8.1f} {'raw':>10}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {args.requests} requests per span through TestClient (in process); "
          "the peer's query runs a fifth as often")
    for backend in args.backends.split(","):
        run(backend, args.requests)


if __name__ == "__main__":
    main()
