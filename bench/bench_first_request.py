"""The first finder request after a server start, against the hundredth (issue 16, warm start).

Imports central Helsinki into a fresh embedded database, then starts ``huizhili serve`` (one
process) and times 100 requests to ``GET /api/services/nearest`` one after another, each from
another point near the network and on a connection of its own, as each citizen's phone opens one. Each setting of ``HUIZHILI_WARM_START`` is started twice: a
first start (no walk-graph cache file yet) and a restart (the cache file of the first start).
numba's on-disk cache of the compiled searches is filled beforehand in this process, as any
earlier run on the machine would have. ``ready s`` is from starting the process until
``/api/health`` answers (every 0.1 s).

Run: .venv/bin/python bench/bench_first_request.py [--warm-start true false]
To time code without the setting (it is then ignored), put its ``src`` first on PYTHONPATH.
"""

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from _serve import CLI, bench_env, served

from huizhili.network.finder import NetworkCache, nearest_services
from huizhili.storage.engine import create_engine, session_factory

ROOT = Path(__file__).parents[1]
HELSINKI = ROOT / "tests/data/osm/helsinki.osm.pbf"
REQUESTS = 100


def query_points(data_dir: Path, count: int) -> np.ndarray:
    """Points within about 100 m of random network nodes; answering one also fills numba's disk cache."""
    engine = create_engine(f"sqlite:///{data_dir / 'huizhili.sqlite'}")
    with session_factory(engine)() as session:
        cache = NetworkCache(data_dir / "primer-cache")
        graph = cache.graph(session)
        nearest_services(session, cache, float(graph.lon[0]), float(graph.lat[0]), "pharmacy")
    engine.dispose()
    shutil.rmtree(data_dir / "primer-cache")
    rng = np.random.default_rng(16)
    nodes = rng.integers(0, graph.n_nodes, count)
    return np.column_stack((graph.lon[nodes], graph.lat[nodes])) + rng.normal(0, 0.0007, (count, 2)) * [2, 1]


def timed_start(env: dict[str, str], points: np.ndarray) -> tuple[float, list[float]]:
    """Seconds until the server answers, then milliseconds of each finder request in turn."""
    started = time.perf_counter()
    # Connection: close, so each request opens a connection of its own, in one client (making a
    # client costs more than the request).
    with served(env) as (_, url), httpx.Client(base_url=url, headers={"Connection": "close"}, timeout=30) as client:
        ready = time.perf_counter() - started
        timings = []
        for lon, lat in points:
            before = time.perf_counter()
            answer = client.get("/api/services/nearest", params={"lon": lon, "lat": lat, "kind": "pharmacy", "k": 5})
            timings.append((time.perf_counter() - before) * 1000)
            answer.raise_for_status()
            if answer.json()["method"] != "network":
                raise SystemExit(f"not walked: {answer.text[:200]}")
    return ready, timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm-start", nargs="+", default=["false", "true"], choices=["false", "true"])
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder) / "base"
        subprocess.run([*CLI, "import", "osm", str(HELSINKI)], env=bench_env(base), check=True, capture_output=True)
        points = query_points(base, REQUESTS)
        print(f"central Helsinki, {REQUESTS} requests GET /api/services/nearest kind=pharmacy k=5, one after another, each on a new connection")
        print(f"{'warm_start':<11}{'start':<26}{'ready s':>8}{'1st ms':>9}{'2nd ms':>9}{'p50 2-100':>10}{'max 2-100':>10}{'100th ms':>9}")
        for warm in arguments.warm_start:
            data_dir = Path(folder) / f"warm-{warm}"
            shutil.copytree(base, data_dir)
            for start in ("first start (no cache file)", "restart"):
                ready, ms = timed_start(bench_env(data_dir, warm_start=warm), points)
                rest = np.array(ms[1:])
                print(f"{warm:<11}{start:<26}{ready:>8.2f}{ms[0]:>9.1f}{ms[1]:>9.1f}{np.median(rest):>10.1f}{rest.max():>10.1f}{ms[-1]:>9.1f}")


if __name__ == "__main__":
    main()
