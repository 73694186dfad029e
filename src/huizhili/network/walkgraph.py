"""The walk network: walkable OSM ways as an undirected graph in dense indexes, metres.

Outside ids (OSM node ids) are mapped to dense internal indexes once, at construction; all
arrays are indexed by those (``node_id[i]`` gives the OSM id back). Edges are the straight
segments between consecutive nodes of a way, weighted by their geodesic length on the WGS84
ellipsoid. Points (homes, facilities, a citizen) are placed on the nearest edge, not the
nearest node, so a facility in the middle of a long block is reached from both ends.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Self

import numpy as np
import pyproj
import scipy.sparse as sp
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy.sparse.csgraph import connected_components

from huizhili.base.geodesy import lonlat_from_metres, xy_to_metres
from huizhili.errors import ValidationError

log = logging.getLogger(__name__)

_GEOD = pyproj.Geod(ellps="WGS84")
_CACHE_FORMAT = 1
_SAVED = ("node_id", "lon", "lat", "edge_u", "edge_v", "edge_length")


@dataclass(frozen=True)
class Snapped:
    """Points placed on the walk network, each on one edge at a distance along it.

    Every network distance to or from such a point includes ``snap_m``: the straight walk
    between the point (a door, a facility's anchor) and its place on the edge.

    Parameters
    ----------
    edge
        Index of the edge each point lies on.
    offset_m
        Metres along the edge from its ``u`` end (``0 <= offset_m <= edge_length``).
    snap_m
        Metres from the point to its place on the edge.
    """

    edge: NDArray[np.int64]
    offset_m: NDArray[np.float64]
    snap_m: NDArray[np.float64]

    def __post_init__(self) -> None:
        object.__setattr__(self, "edge", np.asarray(self.edge, dtype=np.int64).reshape(-1))
        object.__setattr__(
            self, "offset_m", np.asarray(self.offset_m, dtype=np.float64).reshape(-1)
        )
        object.__setattr__(self, "snap_m", np.asarray(self.snap_m, dtype=np.float64).reshape(-1))
        if not len(self.edge) == len(self.offset_m) == len(self.snap_m):
            message = "Snapped: edge, offset_m and snap_m must have the same length"
            raise ValidationError(message)

    def __len__(self) -> int:
        return len(self.edge)

    def take(self, index: NDArray[np.integer] | NDArray[np.bool_] | list[int]) -> "Snapped":
        """The points at ``index``: positions or a boolean mask."""
        return Snapped(self.edge[index], self.offset_m[index], self.snap_m[index])


class WalkGraph:
    """An undirected walk network with edge lengths in metres, ready for shortest paths.

    Build it with :meth:`from_ways` (OSM ways) or :meth:`from_arrays` (clean arrays, e.g.
    synthetic networks); the constructor takes arrays already free of self loops and
    parallel edges.

    Parameters
    ----------
    node_id
        Outside id of each node (OSM node id).
    lon, lat
        Node coordinates, WGS84 degrees.
    edge_u, edge_v
        Node indexes of each edge's two ends.
    edge_length
        Length of each edge, metres.

    Attributes
    ----------
    centre
        Longitude and latitude (WGS84) of the centre of the network's extent, to 0.001°.
    x, y
        Node coordinates in metres, in an azimuthal equidistant projection about ``centre``
        (``base.geodesy``; distances hold to < 0.1 % within 50 km of it).
    adjacency
        Symmetric CSR matrix of edge lengths (both directions of every edge).
    """

    def __init__(
        self,
        node_id: NDArray[np.int64],
        lon: NDArray[np.float64],
        lat: NDArray[np.float64],
        edge_u: NDArray[np.int64],
        edge_v: NDArray[np.int64],
        edge_length: NDArray[np.float64],
    ) -> None:
        self.node_id = node_id
        self.lon, self.lat = lon, lat
        self.edge_u, self.edge_v, self.edge_length = edge_u, edge_v, edge_length
        if len(lon):
            self.centre = (
                round(float(lon.min() + lon.max()) / 2, 3),
                round(float(lat.min() + lat.max()) / 2, 3),
            )
        else:
            self.centre = (0.0, 0.0)
        self.x, self.y = xy_to_metres(lon, lat, *self.centre)
        self.adjacency = _symmetric_csr(len(lon), edge_u, edge_v, edge_length)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_id)

    @property
    def n_edges(self) -> int:
        """Number of (undirected) edges."""
        return len(self.edge_u)

    @classmethod
    def from_ways(cls, node_ids: Sequence[Sequence[int]], coords: Sequence[ArrayLike]) -> Self:
        """Build the network from ways given as node ids and their coordinates.

        Ways sharing a node id are joined there. Consecutive nodes of a way become an edge
        weighted by its geodesic length; repeated nodes (zero-length self loops) are dropped
        and of parallel edges the shortest is kept.

        Parameters
        ----------
        node_ids
            For each way, its OSM node ids in order (``WalkWay.node_ids``).
        coords
            For each way, an ``(n, 2)`` array of lon/lat (WGS84) matching its node ids one to
            one (``WalkWay.geometry.coords``).

        Returns
        -------
        WalkGraph
            Nodes are the distinct node ids, in increasing id order.

        Raises
        ------
        ValidationError
            If a way's ids and coordinates differ in number.
        """
        sizes = np.array([len(ids) for ids in node_ids], dtype=np.int64)
        points = [np.asarray(xy, dtype=np.float64).reshape(-1, 2) for xy in coords]
        for way, (size, xy) in enumerate(zip(sizes, points, strict=True)):
            if len(xy) != size:
                message = f"way {way}: {size} node ids but {len(xy)} coordinates"
                raise ValidationError(message)
        ids = np.fromiter(
            (i for way in node_ids for i in way), dtype=np.int64, count=int(sizes.sum())
        )
        xy = np.concatenate(points) if points else np.empty((0, 2))
        unique, first, index = np.unique(ids, return_index=True, return_inverse=True)
        # An edge joins each node to the next one in the same way (not across way ends).
        not_last = np.ones(len(ids), dtype=bool)
        not_last[np.cumsum(sizes)[sizes > 0] - 1] = False
        u, v = index[:-1][not_last[:-1]], index[1:][not_last[:-1]]
        lon, lat = xy[first, 0], xy[first, 1]
        _, _, length = _GEOD.inv(lon[u], lat[u], lon[v], lat[v])
        return cls.from_arrays(lon, lat, u, v, np.asarray(length), node_id=unique)

    @classmethod
    def from_arrays(
        cls,
        node_lon: ArrayLike,
        node_lat: ArrayLike,
        edge_u: ArrayLike,
        edge_v: ArrayLike,
        edge_length: ArrayLike,
        node_id: ArrayLike | None = None,
    ) -> Self:
        """Build the network from node and edge arrays (synthetic or preprocessed networks).

        Parameters
        ----------
        node_lon, node_lat
            Node coordinates, WGS84 degrees.
        edge_u, edge_v
            Node indexes (positions in ``node_lon``) of each edge's ends.
        edge_length
            Edge lengths in metres; straight segments are assumed, so they should match the
            geodesic distance between the ends for snapping to be exact.
        node_id
            Outside id of each node; defaults to its position.

        Returns
        -------
        WalkGraph
            Node ``i`` is the input's node ``i``; self loops are dropped and of parallel
            edges the shortest kept.

        Raises
        ------
        ValidationError
            If arrays differ in length, an edge names a missing node, or a length is
            negative or not finite.
        """
        lon, lat = np.asarray(node_lon, dtype=np.float64), np.asarray(node_lat, dtype=np.float64)
        u, v = np.asarray(edge_u, dtype=np.int64), np.asarray(edge_v, dtype=np.int64)
        length = np.asarray(edge_length, dtype=np.float64)
        ids = (
            np.arange(len(lon), dtype=np.int64)
            if node_id is None
            else np.asarray(node_id, dtype=np.int64)
        )
        if not (len(lon) == len(lat) == len(ids) and len(u) == len(v) == len(length)):
            message = "node arrays, and edge arrays, must each have one length"
            raise ValidationError(message)
        if len(u) and (min(u.min(), v.min()) < 0 or max(u.max(), v.max()) >= len(lon)):
            message = "an edge names a node index outside 0 .. n_nodes - 1"
            raise ValidationError(message)
        if not np.all(np.isfinite(length) & (length >= 0)):
            message = "edge lengths must be finite and non-negative metres"
            raise ValidationError(message)
        low, high = np.minimum(u, v), np.maximum(u, v)
        keep = low != high
        low, high, length = low[keep], high[keep], length[keep]
        order = np.lexsort((length, high, low))
        low, high, length = low[order], high[order], length[order]
        first = np.ones(len(low), dtype=bool)
        first[1:] = (low[1:] != low[:-1]) | (high[1:] != high[:-1])
        log.debug(
            "walk graph: %d self loops and %d parallel edges dropped", (~keep).sum(), (~first).sum()
        )
        return cls(ids, lon, lat, low[first], high[first], length[first])

    def largest_component(self) -> Self:
        """The largest connected part of the network, without islands.

        Islands (a path inside a courtyard, a way cut off at the extract's edge) would catch
        points that snap to them and leave them unreachable from everything else; dropping
        them first makes every point snap to the connected network. Node and edge indexes
        change, so snap again after this.

        Returns
        -------
        WalkGraph
            ``self`` when the network is already connected.
        """
        count, label = connected_components(self.adjacency, directed=False)
        if count <= 1:
            return self
        keep = label == np.argmax(np.bincount(label))
        new_index = np.cumsum(keep) - 1
        edges = keep[self.edge_u]
        log.info(
            "walk graph: largest of %d parts kept, %d of %d nodes", count, keep.sum(), len(keep)
        )
        return type(self)(
            self.node_id[keep],
            self.lon[keep],
            self.lat[keep],
            new_index[self.edge_u[edges]],
            new_index[self.edge_v[edges]],
            self.edge_length[edges],
        )

    def snap(self, lon: ArrayLike, lat: ArrayLike) -> Snapped:
        """Place points on the nearest point of the nearest edge.

        Parameters
        ----------
        lon, lat
            Point coordinates, WGS84 degrees (scalars or arrays).

        Returns
        -------
        Snapped
            Edge, metres along it from ``u``, and metres from each point to the edge.

        Raises
        ------
        ValidationError
            If the network has no edges.
        """
        if self.n_edges == 0:
            message = "the walk network has no edges to snap to"
            raise ValidationError(message)
        px, py = self.to_metres(lon, lat)
        point_index, edge = self._segments.query_nearest(shapely.points(px, py), all_matches=False)
        order = np.empty_like(edge)
        order[point_index] = edge
        fraction = self._fraction(order, px, py)
        ex, ey = self.xy_along(order, fraction)
        return Snapped(order, fraction * self.edge_length[order], np.hypot(px - ex, py - ey))

    def check_snapped(self, points: Snapped) -> None:
        """Refuse points whose edge is not an edge of this network.

        Raises
        ------
        ValidationError
            If an edge index is outside ``0 .. n_edges - 1`` (points snapped to another graph).
        """
        if len(points) and (points.edge.min() < 0 or points.edge.max() >= self.n_edges):
            message = "points were snapped to another walk network: edge index out of range"
            raise ValidationError(message)

    def location(self, points: Snapped) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Where snapped points lie on their edges.

        Parameters
        ----------
        points
            Points on this network.

        Returns
        -------
        tuple of numpy.ndarray
            Longitudes and latitudes, WGS84 degrees.
        """
        length = self.edge_length[points.edge]
        fraction = np.divide(points.offset_m, length, out=np.zeros(len(points)), where=length > 0)
        x, y = self.xy_along(points.edge, fraction)
        return self.to_lonlat(x, y)

    def to_metres(
        self, lon: ArrayLike, lat: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Project WGS84 degrees to the network's metric ``x``, ``y`` (1-d arrays)."""
        return xy_to_metres(np.atleast_1d(lon), np.atleast_1d(lat), *self.centre)

    def to_lonlat(
        self, x: ArrayLike, y: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Convert coordinates in the network's metric projection back to WGS84 degrees."""
        return lonlat_from_metres(np.asarray(x, dtype=float), np.asarray(y, dtype=float), *self.centre)

    def xy_along(
        self, edge: NDArray[np.int64], fraction: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Metric coordinates of the points at ``fraction`` along edges (0 at ``u``, 1 at ``v``)."""
        u, v = self.edge_u[edge], self.edge_v[edge]
        return (
            self.x[u] + fraction * (self.x[v] - self.x[u]),
            self.y[u] + fraction * (self.y[v] - self.y[u]),
        )

    def save(self, path: Path) -> None:
        """Write the network to an ``.npz`` cache file, read back by :meth:`load`."""
        with Path(path).open("wb") as file:
            np.savez(file, format=_CACHE_FORMAT, **{name: getattr(self, name) for name in _SAVED})

    @classmethod
    def load(cls, path: Path) -> Self:
        """Read a network written by :meth:`save`.

        Raises
        ------
        ValidationError
            If the file is not a walk-network cache of this version.
        """
        with np.load(Path(path)) as data:
            if "format" not in data or int(data["format"]) != _CACHE_FORMAT:
                message = f"{path}: not a walk-network cache (format {_CACHE_FORMAT})"
                raise ValidationError(message)
            return cls(*(data[name] for name in _SAVED))

    @cached_property
    def _segments(self) -> shapely.STRtree:
        """Spatial index over the edges as straight segments in metres (built on first snap)."""
        ends = np.stack(
            (
                np.column_stack((self.x[self.edge_u], self.y[self.edge_u])),
                np.column_stack((self.x[self.edge_v], self.y[self.edge_v])),
            ),
            axis=1,
        )
        return shapely.STRtree(shapely.linestrings(ends))

    def _fraction(
        self, edge: NDArray[np.int64], px: NDArray[np.float64], py: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Fraction along each edge of the closest point to (px, py), clamped to the edge."""
        ux, uy = self.x[self.edge_u[edge]], self.y[self.edge_u[edge]]
        dx, dy = self.x[self.edge_v[edge]] - ux, self.y[self.edge_v[edge]] - uy
        norm = dx * dx + dy * dy
        along = np.divide(
            (px - ux) * dx + (py - uy) * dy, norm, out=np.zeros(len(edge)), where=norm > 0
        )
        return np.clip(along, 0.0, 1.0)


def _symmetric_csr(
    n_nodes: int, u: NDArray[np.int64], v: NDArray[np.int64], length: NDArray[np.float64]
) -> sp.csr_array:
    """CSR adjacency holding each edge in both directions (32-bit indexes where they fit)."""
    index = np.int32 if max(n_nodes, 2 * len(u)) < np.iinfo(np.int32).max else np.int64
    rows, cols = np.concatenate((u, v)), np.concatenate((v, u)).astype(index)
    order = np.argsort(rows, kind="stable")
    indptr = np.zeros(n_nodes + 1, dtype=index)
    np.cumsum(np.bincount(rows, minlength=n_nodes), out=indptr[1:])
    weights = np.concatenate((length, length))[order]
    return sp.csr_array((weights, cols[order], indptr), shape=(n_nodes, n_nodes))
