"""Helsinki's walkable ways read straight from the test extract with pyosmium, no database.

A plain module rather than ``conftest.py``: a second ``conftest`` module would shadow the
root one for the ``from conftest import …`` of test modules collected after this folder.
"""

from functools import cache
from pathlib import Path

import networkx as nx
import numpy as np
import osmium
import pyproj
import shapely

from huizhili.base.importers.osm import is_walkable
from huizhili.network import WalkGraph

HELSINKI = Path(__file__).parents[1] / "data" / "osm" / "helsinki.osm.pbf"
GEOD = pyproj.Geod(ellps="WGS84")


@cache
def walk_ways() -> tuple[list[list[int]], list[np.ndarray]]:
    """Node ids and lon/lat of each walkable way, as the OSM importer keeps them.

    Where the extract cuts a way, each run of at least two nodes that have a location is
    kept as a way of its own, so no edge jumps across the missing part. A walkable
    multipolygon (a pedestrian square) gives each of its rings as a way.
    """
    node_ids, coords = [], []
    for obj in osmium.FileProcessor(str(HELSINKI)).with_locations().with_areas():
        if "highway" not in obj.tags or not is_walkable(obj.tags):
            continue
        if isinstance(obj, osmium.osm.Way):
            runs: list[list[osmium.osm.NodeRef]] = [[]]
            for node in obj.nodes:
                if node.location.valid():
                    runs[-1].append(node)
                elif runs[-1]:
                    runs.append([])
        elif isinstance(obj, osmium.osm.Area) and not obj.from_way():
            runs = [list(ring) for outer in obj.outer_rings() for ring in (outer, *obj.inner_rings(outer))]
        else:
            continue
        for run in runs:
            if len(run) >= 2:
                node_ids.append([node.ref for node in run])
                coords.append(np.array([(node.lon, node.lat) for node in run]))
    return node_ids, coords


@cache
def walk_graph() -> WalkGraph:
    """The walk network of the extract, islands included."""
    return WalkGraph.from_ways(*walk_ways())


def reference_distances(origins, facilities):
    """Walking metres by networkx on the main component, each point hung on its nearest segment."""
    position, graph = {}, nx.Graph()
    for ids, coords in zip(*walk_ways(), strict=True):
        position.update(zip(ids, map(tuple, coords), strict=True))
        for a, b in zip(ids, ids[1:], strict=False):
            if a != b:
                graph.add_edge(a, b, weight=GEOD.inv(*position[a], *position[b])[2])
    graph = graph.subgraph(max(nx.connected_components(graph), key=len)).copy()
    local = pyproj.Proj("+proj=aeqd +lat_0=60.17 +lon_0=24.945 +datum=WGS84")
    edges = list(graph.edges(data="weight"))
    segments = [shapely.LineString([local(*position[a]), local(*position[b])]) for a, b, _ in edges]
    tree = shapely.STRtree(segments)

    def hang(name, lon, lat):
        point = shapely.Point(local(lon, lat))
        index = int(tree.nearest(point))
        (a, b, length), segment = edges[index], segments[index]
        along = segment.project(point, normalized=True)
        snap = point.distance(segment.interpolate(along, normalized=True))
        graph.add_edge(name, a, weight=snap + along * length)
        graph.add_edge(name, b, weight=snap + (1 - along) * length)

    graph.add_node("source")
    for i, (lon, lat) in enumerate(facilities):
        hang(("facility", i), lon, lat)
        graph.add_edge("source", ("facility", i), weight=0.0)
    result = []
    for lon, lat in origins:
        hang("origin", lon, lat)
        result.append(nx.shortest_path_length(graph, "source", "origin", weight="weight"))
        graph.remove_node("origin")
    return np.array(result)
