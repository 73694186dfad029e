"""Life circle: walking metres from every origin to the nearest facility of each kind.

huizhili's ``node_distances`` / ``nearest_facility_distance`` against its peers, in one
process on the same graphs, cutoff 1,500 m:

- scipy: ``csgraph.dijkstra(adjacency, indices=facility nodes, min_only=True, limit=1500)`` on
  the very CSR matrix huizhili uses (``directed=True``, the matrix holds both directions);
  the reference time. Facilities sit on nodes there, so it is compared on nodes.
- networkx: ``multi_source_dijkstra_path_length(cutoff=1500)``; on Helsinki the facilities are
  hung on the graph as extra nodes splitting their edges, so the answer is the same exact one.
- pandana: ``set_pois`` + ``nearest_pois`` after its contraction-hierarchy build. pandana
  moves each facility to its nearest node, so it is compared with huizhili given those nodes.

Origins are all network nodes (every node's distance is computed), and in extra rows snapped
building points. Sections: (a) central Helsinki from the test extract, (b) a perturbed
1000 x 1000 grid (1,000,000 nodes, ~2,000,000 edges, 45 m blocks), (c) a Xuhui-sized grid
(~30,000 nodes, ~57,000 edges) with all 17 kinds. Seconds are the best of ``--repeat`` runs
for huizhili and scipy, one run for networkx and pandana.

Run: .venv/bin/python bench/bench_lifecircle.py [--sections a b c] [--repeat 3]
"""

import argparse
import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import osmium
import pandas as pd
import pyproj
import shapely
from scipy.sparse.csgraph import dijkstra

from huizhili.base.importers.osm import is_walkable
from huizhili.base.kinds import FACILITY_KINDS, kind_for_tags
from huizhili.network import Snapped, WalkGraph, nearest_facility_distance, node_distances

try:
    import pandana
except ImportError:  # the table says so
    pandana = None

HELSINKI = Path(__file__).parents[1] / "tests/data/osm/helsinki.osm.pbf"
CUTOFF = 1500.0
GEOD = pyproj.Geod(ellps="WGS84")
# fmt: off
XUHUI_SITES = {
    "bus_stop": 600, "sampling_point": 200, "pharmacy": 150, "toilet": 150, "market": 120,
    "sports": 100, "kindergarten": 90, "park": 80, "school": 80, "culture": 60,
    "elderly_canteen": 60, "elderly_care": 50, "health_centre": 30, "metro_station": 30,
    "hospital": 20, "community_service": 20, "police": 15,
}
# fmt: on
HZ, SP = "huizhili node_distances", "scipy dijkstra min_only"
NX, PD = "networkx multi_source_dijkstra", "pandana nearest_pois"
ROW = "{:<3} {:<18} {:>6} {:<34} {:>9} {:>8} {:>10}  {}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sections", nargs="+", default=["a", "b", "c"], choices=["a", "b", "c"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warm_up()
    print(ROW.format("", "kind", "sites", "method", "seconds", "x scipy", "max|d| m", "note"))
    for section in args.sections:
        {"a": helsinki, "b": million, "c": xuhui}[section](args.repeat)


def warm_up() -> None:
    """Compile the numba kernels (cached on disk afterwards) and say how long it took."""
    graph = grid_network(3, 3, seed=0)
    start = time.perf_counter()
    node_distances(graph, at_nodes(graph, np.array([0])), CUTOFF)
    print(f"numba kernels ready in {time.perf_counter() - start:.2f} s (compiled, or from cache)")


# --- the three sections ----------------------------------------------------------------------


def helsinki(repeat: int) -> None:
    """(a) Helsinki: real kinds and facilities, exact snapping, against all three peers."""
    ways, points, buildings = read_helsinki()
    build, graph = timed(lambda: WalkGraph.from_ways(*ways).largest_component())
    print(
        f"(a) Helsinki walk network: {graph.n_nodes:,} nodes, {graph.n_edges:,} edges "
        f"(largest component), built in {build:.3f} s"
    )
    reference = base_networkx(graph)
    network, pd_build = pandana_network(graph)
    totals: dict[str, float] = {}
    for kind, (lon, lat) in sorted(points.items()):
        facilities = graph.snap(lon, lat)
        ours, found = best_of(repeat, lambda f=facilities: node_distances(graph, f, CUTOFF))
        nodes = nearest_nodes(graph, lon, lat)
        scipy_s, expected = best_of(repeat, lambda n=nodes: scipy_nearest(graph, n))
        on_nodes = node_distances(graph, at_nodes(graph, nodes), CUTOFF)
        hung = hang_facilities(reference, graph, facilities)
        names = [("facility", i) for i in range(len(lon))]
        nx_s, by_node = timed(lambda h=hung, s=names: nx_nearest(h, s))
        nx_found = np.array([by_node.get(i, np.inf) for i in range(graph.n_nodes)])
        rows = [
            (HZ, ours, gap(found, nx_found), "vs networkx, exact snap"),
            (SP, scipy_s, gap(on_nodes, expected), "nearest nodes"),
            (NX, nx_s, gap(found, nx_found), "split edges"),
        ]
        if network is not None:
            pd_s, pd_found, pd_nodes = pandana_nearest(network, graph, lon, lat, kind)
            mine = node_distances(graph, at_nodes(graph, pd_nodes), CUTOFF)
            rows.append((PD, pd_s, gap(mine, pd_found), "its nearest nodes"))
        for method, seconds, difference, note in rows:
            totals[method] = totals.get(method, 0.0) + seconds
            show("a", kind, len(lon), method, seconds, scipy_s, difference, note)
    sites = sum(len(p[0]) for p in points.values())
    for method, seconds in totals.items():
        show("a", "all kinds", sites, method, seconds, totals[SP], None, "total")
    show("a", "pandana CH build", graph.n_nodes, "pandana Network()", pd_build, None, None, "once")
    origins = graph.snap(*buildings)
    whole, _ = best_of(
        repeat,
        lambda: [
            nearest_facility_distance(graph, origins, graph.snap(lon, lat), CUTOFF)
            for lon, lat in points.values()
        ],
    )
    note = f"{len(points)} kinds, snapping facilities included"
    show("a", "all kinds", len(buildings[0]), "huizhili, building origins", whole, None, None, note)


def million(repeat: int) -> None:
    """(b) 1,000,000 nodes, 8 kinds x 2,000 sites on nodes: against scipy, networkx (1 kind)."""
    build, graph = timed(lambda: grid_network(1000, 1000, seed=1, drop=0.01))
    describe("(b) perturbed grid", graph, build)
    rng = np.random.default_rng(8)
    kinds = [rng.choice(graph.n_nodes, 2000, replace=False) for _ in range(8)]
    ours_total = scipy_total = 0.0
    for k, nodes in enumerate(kinds):
        sites = at_nodes(graph, nodes)
        ours, found = best_of(repeat, lambda s=sites: node_distances(graph, s, CUTOFF))
        scipy_s, expected = best_of(repeat, lambda n=nodes: scipy_nearest(graph, n))
        ours_total, scipy_total = ours_total + ours, scipy_total + scipy_s
        show("b", f"kind {k + 1}", 2000, HZ, ours, scipy_s, gap(found, expected), "")
        show("b", f"kind {k + 1}", 2000, SP, scipy_s, scipy_s, 0.0, "reference")
    show("b", "8 kinds", 16000, HZ, ours_total, scipy_total, None, "total")
    show("b", "8 kinds", 16000, SP, scipy_total, scipy_total, None, "total")
    tree, _ = timed(lambda: graph.snap(graph.lon[:1], graph.lat[:1]))
    note = "once, first snap"
    show("b", "snap index", graph.n_edges, "huizhili STRtree build", tree, None, None, note)
    nx_build, reference = timed(lambda: base_networkx(graph))
    nx_s, by_node = timed(lambda: nx_nearest(reference, kinds[0].tolist()))
    nx_found = np.array([by_node.get(i, np.inf) for i in range(graph.n_nodes)])
    first = node_distances(graph, at_nodes(graph, kinds[0]), CUTOFF)
    note = f"graph built in {nx_build:.0f} s"
    show("b", "kind 1", 2000, NX, nx_s, None, gap(first, nx_found), note)
    pandana_tiles()


def xuhui(repeat: int) -> None:
    """(c) Xuhui-sized: the whole life circle, 17 kinds, all nodes and 20,000 building points."""
    build, graph = timed(lambda: grid_network(173, 173, seed=2, drop=0.046))
    describe("(c) Xuhui-sized grid", graph, build)
    rng = np.random.default_rng(17)
    sites = {
        kind: rng.choice(graph.n_nodes, XUHUI_SITES[kind], replace=False) for kind in FACILITY_KINDS
    }
    placed = [at_nodes(graph, nodes) for nodes in sites.values()]
    ours, found = best_of(repeat, lambda: [node_distances(graph, p, CUTOFF) for p in placed])
    scipy_s, expected = best_of(repeat, lambda: [scipy_nearest(graph, n) for n in sites.values()])
    worst = max(gap(a, b) for a, b in zip(found, expected, strict=True))
    total = sum(XUHUI_SITES.values())
    show("c", "17 kinds", total, HZ, ours, scipy_s, worst, "all nodes")
    show("c", "17 kinds", total, SP, scipy_s, scipy_s, 0.0, "reference")
    lon, lat = jitter(graph, rng, 20_000)
    points = {kind: jitter(graph, rng, len(n)) for kind, n in sites.items()}
    snap_s, origins = timed(lambda: graph.snap(lon, lat))
    whole, _ = best_of(
        repeat,
        lambda: [
            nearest_facility_distance(graph, origins, graph.snap(*p), CUTOFF)
            for p in points.values()
        ],
    )
    note = f"snapping facilities included; homes snapped once in {snap_s:.2f} s"
    show("c", "17 kinds", total, "huizhili life circle, 20k homes", whole, None, None, note)
    network, pd_build = pandana_network(graph)
    if network is not None:
        pd_total = sum(
            pandana_nearest(network, graph, graph.lon[n], graph.lat[n], kind)[0]
            for kind, n in sites.items()
        )
        show("c", "17 kinds", total, PD, pd_total, scipy_s, None, f"+ CH build {pd_build:.1f} s")


# --- networks and points ---------------------------------------------------------------------


def read_helsinki() -> tuple[tuple[list, list], dict[str, tuple], tuple[np.ndarray, np.ndarray]]:
    """Walk ways (runs of located nodes), facility points per kind and building anchor points."""
    ids: list[list[int]] = []
    coords: list[np.ndarray] = []
    points: dict[str, list[tuple[float, float]]] = {}
    buildings: list[tuple[float, float]] = []
    wkb = osmium.geom.WKBFactory()
    for obj in osmium.FileProcessor(str(HELSINKI)).with_locations().with_areas():
        if obj.is_node() and obj.tags and (kind := kind_for_tags(dict(obj.tags))):
            points.setdefault(kind, []).append((obj.location.lon, obj.location.lat))
        elif obj.is_way() and "highway" in obj.tags and is_walkable(obj.tags):
            run: list[Any] = []
            for node in [*obj.nodes, None]:
                if node is not None and node.location.valid():
                    run.append(node)
                    continue
                if len(run) >= 2:
                    ids.append([n.ref for n in run])
                    coords.append(np.array([(n.lon, n.lat) for n in run]))
                run = []
        elif obj.is_area():
            tags = dict(obj.tags)
            kind, is_building = kind_for_tags(tags), tags.get("building", "no") != "no"
            if kind or is_building:
                with contextlib.suppress(RuntimeError, osmium.InvalidLocationError):
                    anchor = shapely.from_wkb(wkb.create_multipolygon(obj)).point_on_surface()
                    if kind:
                        points.setdefault(kind, []).append((anchor.x, anchor.y))
                    if is_building:
                        buildings.append((anchor.x, anchor.y))
    by_kind = {kind: tuple(np.array(xy).T) for kind, xy in points.items()}
    return (ids, coords), by_kind, tuple(np.array(buildings).T)  # type: ignore[return-value]


def grid_network(
    nx_: int, ny: int, seed: int, drop: float = 0.0, spacing: float = 45.0
) -> WalkGraph:
    """A grid of streets around Xuhui, corners moved up to 10 m, a share of edges dropped."""
    rng = np.random.default_rng(seed)
    ids = np.arange(nx_ * ny).reshape(ny, nx_)
    gx, gy = np.meshgrid(np.arange(nx_) * spacing, np.arange(ny) * spacing)
    x = (gx - gx.mean() + rng.uniform(-10, 10, gx.shape)).ravel()
    y = (gy - gy.mean() + rng.uniform(-10, 10, gy.shape)).ravel()
    u = np.concatenate((ids[:, :-1].ravel(), ids[:-1, :].ravel()))
    v = np.concatenate((ids[:, 1:].ravel(), ids[1:, :].ravel()))
    keep = rng.random(len(u)) >= drop
    local = pyproj.CRS.from_proj4("+proj=aeqd +lat_0=31.18 +lon_0=121.44 +datum=WGS84 +units=m")
    lon, lat = pyproj.Transformer.from_crs(local, "EPSG:4326", always_xy=True).transform(x, y)
    _, _, length = GEOD.inv(lon[u[keep]], lat[u[keep]], lon[v[keep]], lat[v[keep]])
    return WalkGraph.from_arrays(lon, lat, u[keep], v[keep], length)


def at_nodes(graph: WalkGraph, nodes: np.ndarray) -> Snapped:
    """Points standing exactly on nodes: on one of each node's edges, at that end."""
    edge_of = np.zeros(graph.n_nodes, dtype=np.int64)
    edge_of[graph.edge_v] = np.arange(graph.n_edges)
    edge_of[graph.edge_u] = np.arange(graph.n_edges)
    edge = edge_of[nodes]
    offset = np.where(graph.edge_u[edge] == nodes, 0.0, graph.edge_length[edge])
    return Snapped(edge, offset, np.zeros(len(nodes)))


def nearest_nodes(graph: WalkGraph, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """The network node nearest to each point, in metres (what node-snapping tools use)."""
    x, y = graph.to_metres(lon, lat)
    nodes = shapely.STRtree(shapely.points(graph.x, graph.y))
    return nodes.query_nearest(shapely.points(x, y), all_matches=False)[1]


def jitter(graph: WalkGraph, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Random points within about 20 m of random nodes (homes, facility entrances)."""
    nodes = rng.choice(graph.n_nodes, count)
    return graph.lon[nodes] + rng.normal(0, 2e-4, count), graph.lat[nodes] + rng.normal(
        0, 2e-4, count
    )


# --- peers -----------------------------------------------------------------------------------


def scipy_nearest(graph: WalkGraph, nodes: np.ndarray) -> np.ndarray:
    """The reference: scipy's multi-source Dijkstra from the facility nodes."""
    return dijkstra(graph.adjacency, directed=True, indices=nodes, min_only=True, limit=CUTOFF)


def nx_nearest(network: nx.Graph, sources: list) -> dict:
    """networkx's multi-source Dijkstra from the facilities, with the cutoff."""
    return nx.multi_source_dijkstra_path_length(network, sources, cutoff=CUTOFF, weight="length")


def base_networkx(graph: WalkGraph) -> nx.Graph:
    """The same network as a networkx graph on node indexes."""
    network = nx.Graph()
    network.add_weighted_edges_from(
        zip(graph.edge_u.tolist(), graph.edge_v.tolist(), graph.edge_length.tolist(), strict=True),
        weight="length",
    )
    return network


def hang_facilities(base: nx.Graph, graph: WalkGraph, facilities: Snapped) -> nx.Graph:
    """A copy of ``base`` with each facility a node, its edge split at the facility's place."""
    network = base.copy()
    for edge in np.unique(facilities.edge):
        u, v, length = int(graph.edge_u[edge]), int(graph.edge_v[edge]), graph.edge_length[edge]
        on = np.flatnonzero(facilities.edge == edge)
        on = on[np.argsort(facilities.offset_m[on])]
        network.remove_edge(u, v)
        chain = [(u, 0.0)] + [(("on", int(i)), facilities.offset_m[i]) for i in on] + [(v, length)]
        for (a, at_a), (b, at_b) in zip(chain[:-1], chain[1:], strict=True):
            network.add_edge(a, b, length=at_b - at_a)
        for i in on:
            network.add_edge(("facility", int(i)), ("on", int(i)), length=facilities.snap_m[i])
    return network


def pandana_network(graph: WalkGraph) -> tuple[Any, float]:
    """pandana's network on the same nodes and edges, and its build (CH) time."""
    if pandana is None:
        return None, 0.0
    with quiet():
        columns = [pd.Series(a) for a in (graph.x, graph.y, graph.edge_u, graph.edge_v)]
        length = pd.DataFrame({"length": graph.edge_length})
        seconds, network = timed(lambda: pandana.Network(*columns, length))
    return network, seconds


def pandana_nearest(
    network: Any, graph: WalkGraph, lon: np.ndarray, lat: np.ndarray, kind: str
) -> tuple:
    """pandana's time for one kind, its distances (inf beyond the cutoff) and the nodes it used."""
    x, y = graph.to_metres(lon, lat)
    start = time.perf_counter()
    with quiet():
        network.set_pois(kind, CUTOFF, 1, pd.Series(x), pd.Series(y))
        found = network.nearest_pois(CUTOFF, kind, num_pois=1)[1].to_numpy()
    seconds = time.perf_counter() - start
    nodes = network.get_node_ids(pd.Series(x), pd.Series(y)).to_numpy()
    return seconds, np.where(found >= CUTOFF, np.inf, found), nodes


def pandana_tiles() -> None:
    """pandana on smaller grids, extrapolated to 1,000,000 nodes (its CH build is superlinear)."""
    if pandana is None:
        show("b", "8 kinds", 16000, "pandana", float("nan"), None, None, "not installed")
        return
    sizes, builds, queries = [], [], []
    for side in (100, 200):
        graph = grid_network(side, side, seed=1, drop=0.01)
        network, build = pandana_network(graph)
        sites = np.random.default_rng(3).choice(graph.n_nodes, 2000 * graph.n_nodes // 1_000_000)
        query = pandana_nearest(network, graph, graph.lon[sites], graph.lat[sites], "tile")[0]
        sizes.append(graph.n_nodes), builds.append(build), queries.append(query)
        note = f"CH build {build:.1f} s on {graph.n_nodes:,} nodes"
        show("b", f"tile {side}x{side}", len(sites), f"{PD} (measured)", query, None, None, note)
    growth = np.log(sizes[1] / sizes[0])
    build_power = np.log(builds[1] / builds[0]) / growth
    query_power = np.log(queries[1] / queries[0]) / growth
    build_1m = builds[1] * (1_000_000 / sizes[1]) ** build_power
    query_1m = 8 * queries[1] * 1_000_000 / sizes[1]
    note = (
        f"queries linear in nodes (fit: ~n^{query_power:.2f}); "
        f"CH build ~n^{build_power:.2f}: ~{build_1m / 60:.0f} min; not run"
    )
    show("b", "8 kinds", 16000, "pandana (EXTRAPOLATED, low bound)", query_1m, None, None, note)


# --- measuring and printing ------------------------------------------------------------------


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds one call takes, and its result."""
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def best_of(repeat: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest of ``repeat`` calls, and the result."""
    runs = [timed(work) for _ in range(repeat)]
    return min(seconds for seconds, _ in runs), runs[0][1]


def gap(found: np.ndarray, expected: np.ndarray) -> float:
    """Largest difference in metres; inf where one side reaches and the other does not."""
    if not np.array_equal(np.isinf(found), np.isinf(expected)):
        return float("inf")
    reached = np.isfinite(expected)
    return float(np.abs(found[reached] - expected[reached]).max()) if reached.any() else 0.0


def describe(title: str, graph: WalkGraph, build: float) -> None:
    """Print a section's heading: the network's size and build time."""
    print(f"{title}: {graph.n_nodes:,} nodes, {graph.n_edges:,} edges, built in {build:.2f} s")


def show(*row: Any) -> None:
    """Print one row: section, kind, sites, method, seconds, scipy's seconds, max |d|, note."""
    section, kind, sites, method, seconds, scipy_s, difference, note = row
    ratio = f"{seconds / scipy_s:.2f}" if scipy_s else ""
    worst = "" if difference is None else f"{difference:.1e}"
    print(
        ROW.format(section, kind, f"{sites:,}", method, f"{seconds:.4f}", ratio, worst, note),
        flush=True,
    )


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence pandana's C++ progress lines on stdout."""
    saved = os.dup(1)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


if __name__ == "__main__":
    main()
