"""Area assignment rate: huizhili's PolygonLocator against a plain shapely loop, in one run.

Points are drawn uniformly over Xuhui's extent (about a third fall outside every street, as
real city-wide feeds do). Two polygon sets: the 12 real street boundaries, and a 250 m grid of
cells clipped to them (the finest level of the hierarchy). The plain loop tests each point
against each prepared polygon in turn; being slow, it runs on a sample, and its answers are
compared with the locator's on that sample. Shapely's vectorised STRtree query is shown too.

Run: .venv/bin/python bench/bench_assign.py [--points 1000000] [--sample 20000]
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import shape

from huizhili.base.assign import PolygonLocator

STREETS = Path(__file__).parents[1] / "src/huizhili/base/demo/xuhui/streets.geojson"


def grid_cells(streets: list, size_m: float) -> list:
    """Square cells of ``size_m`` clipped to the streets (WGS84)."""
    union = shapely.union_all(streets)
    x0, y0, x1, y1 = union.bounds
    lat = (y0 + y1) / 2
    dx = size_m / (111_320 * np.cos(np.radians(lat)))
    dy = size_m / 110_574
    xs, ys = np.meshgrid(np.arange(x0, x1, dx), np.arange(y0, y1, dy))
    boxes = shapely.box(xs.ravel(), ys.ravel(), xs.ravel() + dx, ys.ravel() + dy)
    cells = shapely.intersection(boxes, union)
    return [c for c in cells if not c.is_empty and c.area > 0]


def plain_loop(polygons: list, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The peer: for each point, the first prepared polygon that intersects it."""
    for polygon in polygons:
        shapely.prepare(polygon)
    found = np.full(len(x), -1)
    for i, (px, py) in enumerate(zip(x, y, strict=True)):
        point = shapely.Point(px, py)
        for j, polygon in enumerate(polygons):
            if polygon.intersects(point):
                found[i] = j
                break
    return found


def strtree_query(polygons: list, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Shapely's own bulk answer: STRtree of polygons queried with all points at once."""
    tree = shapely.STRtree(polygons)
    point_index, polygon_index = tree.query(shapely.points(x, y), predicate="intersects")
    found = np.full(len(x), -1)
    # Keep the lowest polygon index per point, as the loop does.
    order = np.lexsort((-polygon_index, point_index))
    found[point_index[order]] = polygon_index[order]
    return found


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    streets = [shape(f["geometry"]) for f in json.loads(STREETS.read_text())["features"]]
    sets = {"12 streets": streets, "250 m grid cells": grid_cells(streets, 250)}
    x0, y0, x1, y1 = shapely.total_bounds(np.array(streets))
    rng = np.random.default_rng(args.seed)
    x = rng.uniform(x0, x1, args.points)
    y = rng.uniform(y0, y1, args.points)

    rows = []
    for label, polygons in sets.items():
        locator, build = timed(PolygonLocator, polygons)
        found, seconds = timed(locator.locate, x, y)
        tree_found, tree_seconds = timed(strtree_query, polygons, x, y)
        loop_found, loop_seconds = timed(plain_loop, polygons, x[: args.sample], y[: args.sample])
        agree = np.array_equal(loop_found, found[: args.sample]) and np.array_equal(tree_found, found)
        rows.append((label, len(polygons), "huizhili PolygonLocator", args.points, seconds, build, agree))
        rows.append((label, len(polygons), "shapely STRtree.query (bulk)", args.points, tree_seconds, 0.0, agree))
        rows.append((label, len(polygons), "plain shapely loop (peer)", args.sample, loop_seconds, 0.0, agree))

    print(f"{'polygons':<18} {'n':>5} {'method':<30} {'points':>9} {'seconds':>8} {'points/s':>12} {'build s':>8} same")
    for label, count, method, points, seconds, build, agree in rows:
        print(f"{label:<18} {count:>5} {method:<30} {points:>9,} {seconds:>8.3f} {points / seconds:>12,.0f} {build:>8.3f} {agree}")


if __name__ == "__main__":
    main()
