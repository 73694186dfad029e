"""Nearest-service finder latency: in process and over HTTP at a steady 200 requests per second.

Loads central Helsinki (the walk network and its pharmacies, health centres, …) into a fresh
embedded database, then measures p50/p99 of ``nearest_services`` in process beside a plain
networkx peer (Dijkstra from the nearest node, per query), and over HTTP against
``huizhili serve`` (one process) loaded by wrk, its connections paced so that together they send
about 200 requests per second (each waits 50 ms between requests; wrk's latency excludes the wait).

Run: .venv/bin/python bench/bench_finder.py [--rate 200] [--seconds 15]
"""

import argparse
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import networkx as nx
import numpy as np
import sqlalchemy as sa
from _serve import CLI, bench_env, served

from huizhili.network.finder import NetworkCache, nearest_services
from huizhili.storage.engine import create_engine, session_factory
from huizhili.storage.models import Facility

ROOT = Path(__file__).parents[1]
HELSINKI = ROOT / "tests/data/osm/helsinki.osm.pbf"
KINDS = ("pharmacy", "health_centre", "market", "school", "culture")


def percentiles(seconds: list[float]) -> tuple[float, float]:
    values = np.array(seconds) * 1000
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def query_points(graph, count: int, rng: np.random.Generator) -> np.ndarray:
    """Random points within 100 m of random network nodes."""
    nodes = rng.integers(0, graph.n_nodes, count)
    jitter = rng.normal(0, 0.0007, (count, 2))
    return np.column_stack((graph.lon[nodes], graph.lat[nodes])) + jitter * [2, 1]


def networkx_peer(graph, session, points, kinds):
    """Per query: nearest node, Dijkstra with a cutoff, nearest facility node of the kind."""
    network = nx.Graph()
    network.add_weighted_edges_from(zip(graph.edge_u.tolist(), graph.edge_v.tolist(), graph.edge_length.tolist(), strict=True))
    facility_nodes = {}
    for kind in kinds:
        rows = session.execute(sa.select(Facility.lon, Facility.lat).where(Facility.kind == kind)).all()
        facility_nodes[kind] = {int(np.argmin(np.hypot(graph.lon - lon, graph.lat - lat))) for lon, lat in rows}
    timings = []
    for i, (lon, lat) in enumerate(points):
        start = time.perf_counter()
        node = int(np.argmin(np.hypot(graph.lon - lon, graph.lat - lat)))
        reach = nx.single_source_dijkstra_path_length(network, node, cutoff=5000, weight="weight")
        sorted((reach[n], n) for n in facility_nodes[kinds[i % len(kinds)]] if n in reach)[:5]
        timings.append(time.perf_counter() - start)
    return timings


WRK_SCRIPT = """
local points = {}
math.randomseed(7)
for i = 1, 2000 do points[i] = {24.936 + math.random() * 0.017, 60.165 + math.random() * 0.014} end
local kinds = {"pharmacy", "health_centre", "market", "school", "culture"}
local n = 0
request = function()
  n = n + 1
  local p = points[(n % 2000) + 1]
  return wrk.format("GET", string.format("/api/services/nearest?lon=%.6f&lat=%.6f&kind=%s&k=5", p[1], p[2], kinds[(n % 5) + 1]))
end
delay = function() return DELAY end
"""


def http_load(url: str, rate: float, seconds: float, folder: Path, latency_ms: float = 5.0) -> dict[str, float]:
    """wrk paced to about ``rate`` requests/s: each connection waits 50 ms between its requests.

    ``latency_ms`` (the mean seen in a warm-up run) sets how many connections make up the rate.
    """
    delay_ms = 50
    connections = max(1, round(rate * (delay_ms + latency_ms) / 1000))
    script = folder / "nearest.lua"
    script.write_text(WRK_SCRIPT.replace("DELAY", str(delay_ms)))
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds:.0f}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout
    def milliseconds(label: str) -> float:
        value = re.search(rf"{label}\s+([0-9.]+)(us|ms|s)", output)
        number, unit = float(value.group(1)), value.group(2)
        return number / 1000 if unit == "us" else number * 1000 if unit == "s" else number
    return {
        "p50": milliseconds("50%"),
        "p99": milliseconds("99%"),
        "rate": float(re.search(r"Requests/sec:\s+([0-9.]+)", output).group(1)),
        "requests": float(re.search(r"([0-9]+) requests in", output).group(1)),
        "mean": milliseconds("Latency"),
        "errors": float(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: ([0-9]+)", output)) else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--queries", type=int, default=2000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-finder-"))
    env = bench_env(folder, anonymous_requests_per_minute=10_000_000)
    subprocess.run([*CLI, "import", "osm", str(HELSINKI)], env=env, check=True, capture_output=True)

    engine = create_engine(f"sqlite:///{folder / 'huizhili.sqlite'}")
    cache = NetworkCache(folder / "cache")
    rng = np.random.default_rng(11)
    with session_factory(engine)() as session:
        graph = cache.graph(session)
        points = query_points(graph, args.queries, rng)
        for kind in KINDS:
            nearest_services(session, cache, *points[0], kind, 5)  # warm the caches and the JIT
        ours = []
        for i, (lon, lat) in enumerate(points):
            start = time.perf_counter()
            nearest_services(session, cache, lon, lat, KINDS[i % len(KINDS)], 5)
            ours.append(time.perf_counter() - start)
        peer = networkx_peer(graph, session, points[:500], KINDS)

    with served(env) as (_, url):
        for kind in KINDS:
            httpx.get(f"{url}/api/services/nearest", params={"lon": points[0][0], "lat": points[0][1], "kind": kind})
        http = None
        if shutil.which("wrk"):
            warm = http_load(url, args.rate, 5, folder)  # warms every worker thread, measures latency
            http = http_load(url, args.rate, args.seconds, folder, warm["mean"])

    print(f"network: {graph.n_nodes:,} nodes, {graph.n_edges:,} edges (central Helsinki); k=5, kinds {', '.join(KINDS)}")
    print(f"{'measure':<48} {'queries':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for label, timings in (
        ("huizhili nearest_services, in process", ours),
        ("networkx Dijkstra per query (peer), in process", peer),
    ):
        p50, p99 = percentiles(timings)
        print(f"{label:<48} {len(timings):>8,} {p50:>8.2f} {p99:>8.2f}")
    if http is None:
        print("HTTP: skipped, wrk is not installed (apt-get install wrk)")
        return
    label = f"huizhili over HTTP, wrk at {http['rate']:.0f} req/s"
    print(f"{label:<48} {http['requests']:>8,.0f} {http['p50']:>8.2f} {http['p99']:>8.2f}")
    print(f"HTTP errors: {http['errors']:.0f}; server: huizhili serve, 1 process")


if __name__ == "__main__":
    main()
