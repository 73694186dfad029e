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

    Ways with a node missing from the extract are left out, as the importer leaves them out.
    """
    node_ids, coords = [], []
    for obj in osmium.FileProcessor(str(HELSINKI)).with_locations():
        if obj.is_way() and "highway" in obj.tags and is_walkable(obj.tags):
            nodes = list(obj.nodes)
            if all(node.location.valid() for node in nodes):
                node_ids.append([node.ref for node in nodes])
                coords.append(np.array([(node.lon, node.lat) for node in nodes]))
    return node_ids, coords


@cache
def walk_graph() -> WalkGraph:
    """The walk network of the extract, islands included."""
    return WalkGraph.from_ways(*walk_ways())
