"""Helsinki's walkable ways read straight from the test extract with pyosmium, no database.

A plain module rather than ``conftest.py``: a second ``conftest`` module would shadow the
root one for the ``from conftest import …`` of test modules collected after this folder.
"""

from functools import cache
from pathlib import Path

import numpy as np
import osmium

from huizhili.base.importers.osm import is_walkable
from huizhili.network import WalkGraph

HELSINKI = Path(__file__).parents[1] / "data" / "osm" / "helsinki.osm.pbf"


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
