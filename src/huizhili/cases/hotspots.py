"""Hotspots (热点): places where cases cluster, for proactive discovery (主动发现) before the next call comes.

The cases in the caller's scope received in a period, with a position, that are cases of their
own (not merged into another, not refused filing), are clustered with DBSCAN on the sphere
(haversine): a case with at least ``min_cases`` cases within ``radius_m`` of it (itself
included) is a core of a hotspot, and every case within ``radius_m`` of a core joins it. Cases
in no hotspot (noise) are left out. DBSCAN needs no number of clusters chosen beforehand and
finds hotspots of any shape — along a road as well as round a market; but where cases are
everywhere as dense as ``min_cases`` within ``radius_m`` (a busy district over a year), they
chain into one hotspot the size of the district: ask for more cases, a shorter period or a
category.

Cases at the same position are clustered once, weighted by their number (a geocoder puts every
call about one address on one point), and the work is bounded before it starts: too many cases,
or too many pairs of neighbours, is refused with a request to narrow the question rather than a
server out of memory.
"""

import io
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Rectangle
from matplotlib.patheffects import withStroke
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry
from sklearn.cluster import DBSCAN
from sklearn.neighbors import BallTree
from sqlalchemy.orm import Session

from huizhili.base.geodesy import to_metres, xy_to_metres
from huizhili.cases.evaluation import Period
from huizhili.cases.flow import CaseFlow
from huizhili.errors import ValidationError
from huizhili.network.maps import MapFont, map_font
from huizhili.policy import Scope
from huizhili.spreadsheet import csv_text
from huizhili.storage.models import Area, Case

EARTH_RADIUS_M = 6371008.8
"""The mean Earth radius (IUGG), metres: haversine distances on the sphere."""

MAX_CASES = 200_000
"""The most cases one question may cluster; more is refused (narrow the period, category or street)."""

MAX_NEIGHBOURS = 10_000_000
"""The most (position, neighbour) pairs within the radius DBSCAN may hold in memory; more is refused.

DBSCAN keeps every position's neighbours at once, about 18 bytes a pair (measured with
scikit-learn 1.9): some 180 MB at most. 50,000 cases spread evenly over Xuhui's 55 km² make
3 million pairs at 150 m; 100,000 make 12 million.
"""

RADIUS_RANGE_M = (10.0, 5000.0)
"""A hotspot's radius, metres: from a building's door to a street's length."""

MIN_CASES_RANGE = (2, 10_000)
"""How many cases make a hotspot."""

MEMBERS_SHOWN = 50
"""A hotspot lists its newest cases up to this many; ``cases`` counts them all."""

CSV_FIELDS = ("rank", "cases", "open_cases", "lon", "lat", "radius_m", "street_code", "street_name", "categories",
              "first_received_at", "last_received_at", "case_ids")
"""The columns of :func:`hotspots_csv`: one row per hotspot, its main street, categories as ``code count`` joined by ``; ``."""

_UNCATEGORISED = ("未分类", "uncategorised")


@dataclass(frozen=True)
class CategoryCount:
    """How many of a hotspot's cases are of one category; ``code`` None for cases still awaiting one."""

    code: str | None
    zh: str
    en: str | None
    cases: int


@dataclass(frozen=True)
class StreetCount:
    """How many of a hotspot's cases lie in one street (``code`` None: in none the digital base knows)."""

    code: str | None
    name: str | None
    cases: int


@dataclass(frozen=True)
class Hotspot:
    """A cluster of cases: where, how big, of what, since when, and its newest cases."""

    rank: int
    """1 for the hotspot with most cases."""
    cases: int
    open_cases: int
    lon: float
    lat: float
    """The mean position of its cases, WGS84 degrees."""
    radius_m: float
    """The 90th percentile of its cases' distances from that position, metres."""
    categories: tuple[CategoryCount, ...]
    """Its three commonest categories, most cases first."""
    streets: tuple[StreetCount, ...]
    """The streets its cases lie in, most cases first (at most three)."""
    first_received_at: datetime
    last_received_at: datetime
    case_ids: tuple[int, ...]
    """Its newest cases (at most :data:`MEMBERS_SHOWN`), newest first."""


@dataclass(frozen=True)
class _Located:
    """The cases clustered, one entry each, ordered by id."""

    ids: NDArray[np.int64]
    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    category: list[str | None]
    street: list[str | None]
    is_open: NDArray[np.bool_]
    received: list[datetime]


def hotspots(session: Session, scope: Scope, flow: CaseFlow, period: Period, *, category: str | None = None,
             street: str | None = None, radius_m: float = 150.0, min_cases: int = 5, open_only: bool = False) -> list[Hotspot]:
    """The hotspots among the cases in the caller's scope received in ``period``, most cases first.

    Parameters
    ----------
    session
        Open session.
    scope
        The caller's scope: only cases it may read are clustered.
    flow
        The case flow (which states are open, the categories' names).
    period
        Cases received in it.
    category
        Only cases of this category.
    street
        Only cases in this street (its code).
    radius_m
        How near, in metres, a case must be to another to be its neighbour (DBSCAN's ``eps``).
    min_cases
        How many cases within ``radius_m`` of a case, itself included, make it a hotspot's core
        (DBSCAN's ``min_samples``); a hotspot has at least this many.
    open_only
        Only cases still being worked on.

    Returns
    -------
    list of Hotspot
        Ranked by cases, then open cases, then the oldest case's id; cases in none are left out.

    Raises
    ------
    ValidationError
        If the period ends before it starts, the radius or minimum is out of range, the category
        or street is unknown, or the question holds more than :data:`MAX_CASES` cases or
        :data:`MAX_NEIGHBOURS` pairs of neighbours.
    """
    located = _located(session, scope, flow, period, category, street, radius_m, min_cases, open_only)
    return _clusters(session, scope, flow, located, radius_m, min_cases)[0]


def hotspot_map(session: Session, scope: Scope, flow: CaseFlow, period: Period, *, category: str | None = None,
                street: str | None = None, radius_m: float = 150.0, min_cases: int = 5, open_only: bool = False,
                title: str | None = None) -> bytes:
    """A map (PNG) of the hotspots: every case a dot, each hotspot a circle of its radius labelled with rank and cases.

    Over the outlines of the streets the cases lie in, with a scale bar; drawn in metres around
    the cases' middle (a local azimuthal equidistant projection), 800 pixels wide. Parameters are
    those of :func:`hotspots`, and ``title`` (by default the period).

    Raises
    ------
    ValidationError
        As :func:`hotspots`.
    """
    located = _located(session, scope, flow, period, category, street, radius_m, min_cases, open_only)
    found, ranks = _clusters(session, scope, flow, located, radius_m, min_cases)
    outlines = _street_outlines(session, scope, located)
    return _draw(located, found, ranks, outlines, title or f"{period.start:%Y-%m-%d} – {period.end:%Y-%m-%d}", map_font())


def hotspot_out(hotspot: Hotspot) -> dict[str, Any]:
    """A hotspot as JSON: its fields, categories and streets as lists of objects."""
    return asdict(hotspot) | {"case_ids": list(hotspot.case_ids)}


def hotspots_geojson(found: list[Hotspot]) -> dict[str, Any]:
    """The hotspots as a GeoJSON FeatureCollection of their centres, every other field a property."""
    features = []
    for hotspot in found:
        properties = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in hotspot_out(hotspot).items()
                      if k not in ("lon", "lat")}
        features.append({"type": "Feature", "id": hotspot.rank, "properties": properties,
                         "geometry": {"type": "Point", "coordinates": [hotspot.lon, hotspot.lat]}})
    return {"type": "FeatureCollection", "numberMatched": len(features), "numberReturned": len(features), "features": features}


def hotspots_csv(found: list[Hotspot]) -> str:
    """The hotspots as CSV (:data:`CSV_FIELDS`), through :func:`huizhili.spreadsheet.csv_text`."""
    rows = [{
        "rank": h.rank, "cases": h.cases, "open_cases": h.open_cases, "lon": h.lon, "lat": h.lat, "radius_m": h.radius_m,
        "street_code": h.streets[0].code if h.streets else None, "street_name": h.streets[0].name if h.streets else None,
        "categories": "; ".join(f"{c.zh} {c.cases}" for c in h.categories),
        "first_received_at": h.first_received_at.isoformat(), "last_received_at": h.last_received_at.isoformat(),
        "case_ids": " ".join(str(i) for i in h.case_ids),
    } for h in found]
    return csv_text(rows, CSV_FIELDS)


def _located(session: Session, scope: Scope, flow: CaseFlow, period: Period, category: str | None, street: str | None,
             radius_m: float, min_cases: int, open_only: bool) -> _Located:
    """The question checked, then its cases read: counted first, so that too many are refused before any is loaded."""
    _check(session, flow, period, category, street, radius_m, min_cases)
    open_states = [s.id for s in flow.workflow.states.values() if s.open]
    chosen = sa.and_(
        scope.condition(Case), Case.received_at >= period.start, Case.received_at < period.end,
        Case.lon.is_not(None), Case.lat.is_not(None), Case.merged_into_id.is_(None),
        Case.state.not_in(("not_filed", "merged")),  # never cases of their own, as in the evaluation
        Case.category == category if category is not None else sa.true(),
        Case.street_code == street if street is not None else sa.true(),
        Case.state.in_(open_states) if open_only else sa.true(),
    )
    total = session.scalar(sa.select(sa.func.count()).select_from(Case).where(chosen)) or 0
    if total > MAX_CASES:
        message = (f"案件过多：{total:,} 件，一次至多聚类 {MAX_CASES:,} 件，请缩短时段或选定类别、街道 — "
                   f"too many cases: {total:,}, at most {MAX_CASES:,} are clustered at once; narrow the period, or choose a category or street")
        raise ValidationError(message)
    rows = session.execute(
        sa.select(Case.id, Case.lon, Case.lat, Case.category, Case.street_code, Case.state, Case.received_at)
        .where(chosen).order_by(Case.id)
    ).all()
    rows = [r for r in rows if np.isfinite(r.lon) and np.isfinite(r.lat)]
    return _Located(
        ids=np.array([r.id for r in rows], dtype=np.int64), lon=np.array([r.lon for r in rows], dtype=float),
        lat=np.array([r.lat for r in rows], dtype=float), category=[r.category for r in rows],
        street=[r.street_code for r in rows], is_open=np.array([r.state in open_states for r in rows], dtype=bool),
        received=[r.received_at for r in rows],
    )


def _check(session: Session, flow: CaseFlow, period: Period, category: str | None, street: str | None, radius_m: float,
           min_cases: int) -> None:
    """Refuse a question that cannot be answered, naming what is wrong, in Chinese then English."""
    low, high = RADIUS_RANGE_M
    fewest, most = MIN_CASES_RANGE
    if period.end <= period.start:
        message = "时段须先始后终 — the period must end after it starts"
    elif not low <= radius_m <= high:  # also refuses NaN
        message = f"半径须在 {low:g} 至 {high:g} 米之间 — the radius must be {low:g} to {high:g} m, not {radius_m!r}"
    elif not fewest <= min_cases <= most:
        message = f"热点至少 {fewest} 件、至多 {most} 件起算 — a hotspot needs {fewest} to {most} cases, not {min_cases}"
    elif category is not None and category not in flow.categories.categories:
        message = f"没有类别 {category!r} — no category {category!r}; known: {', '.join(flow.categories.categories)}"
    elif street is not None and session.scalar(sa.select(Area.id).where(Area.code == street, Area.level == "street")) is None:
        message = f"没有街道 {street!r} — no street coded {street!r}"
    else:
        return
    raise ValidationError(message)


def _clusters(session: Session, scope: Scope, flow: CaseFlow, located: _Located, radius_m: float,
              min_cases: int) -> tuple[list[Hotspot], NDArray[np.int64]]:
    """DBSCAN over the distinct positions, weighted by their cases; each cluster summed up; each case's hotspot rank (0: none)."""
    ranks = np.zeros(len(located.ids), dtype=np.int64)
    if not len(located.ids):
        return [], ranks
    radians = np.radians(np.column_stack([located.lat, located.lon]))
    # ~0.1 m: positions a geocoder gave many cases become one weighted point, as DBSCAN's sample_weight allows. Sorted,
    # too: DBSCAN gives a border case to the first hotspot reaching it, so the order of the positions fixes which.
    points, which, weight = np.unique(np.round(radians, 8), axis=0, return_inverse=True, return_counts=True)
    which = which.reshape(-1)
    eps = radius_m / EARTH_RADIUS_M
    pairs = int(BallTree(points, metric="haversine").query_radius(points, r=eps, count_only=True).sum())
    if pairs > MAX_NEIGHBOURS:
        message = (f"案件过密：半径 {radius_m:g} 米内的近邻对有 {pairs:,} 个，至多 {MAX_NEIGHBOURS:,} 个，请缩小半径或缩短时段 — "
                   f"cases too dense: {pairs:,} pairs of neighbours within {radius_m:g} m, at most {MAX_NEIGHBOURS:,}; "
                   "choose a smaller radius or a shorter period")
        raise ValidationError(message)
    labels = DBSCAN(eps=eps, min_samples=min_cases, metric="haversine", algorithm="ball_tree").fit(
        points, sample_weight=weight).labels_[which]
    streets = {s for s in located.street if s is not None}
    names = dict(session.execute(sa.select(Area.code, Area.name).where(Area.code.in_(sorted(streets)), scope.condition(Area))).all())
    order = np.argsort(labels, kind="stable")
    clusters = [members for members in np.split(order, np.flatnonzero(np.diff(labels[order])) + 1) if labels[members[0]] != -1]
    summaries = [(_summary(located, members, flow, names), members) for members in clusters
                 if len(members) >= min_cases]  # a border case taken by an earlier cluster may leave one short
    summaries.sort(key=lambda pair: (-pair[0]["cases"], -pair[0]["open_cases"], pair[0]["first_id"]))
    found = []
    for rank, (summary, members) in enumerate(summaries, 1):
        ranks[members] = rank
        found.append(Hotspot(rank=rank, **{k: v for k, v in summary.items() if k != "first_id"}))
    return found, ranks


def _summary(located: _Located, members: NDArray[np.intp], flow: CaseFlow, names: dict[str, str]) -> dict[str, Any]:
    """One cluster's counts, centre, radius, categories, streets, times and newest cases."""
    lon, lat = float(located.lon[members].mean()), float(located.lat[members].mean())
    distances = _metres(lat, lon, located.lat[members], located.lon[members])
    categories = Counter(located.category[i] for i in members)
    streets = Counter(located.street[i] for i in members)
    received = [located.received[i] for i in members]
    newest = sorted(members, key=lambda i: (located.received[i], located.ids[i]), reverse=True)[:MEMBERS_SHOWN]
    return {
        "cases": len(members), "open_cases": int(located.is_open[members].sum()), "lon": round(lon, 6), "lat": round(lat, 6),
        "radius_m": round(float(np.percentile(distances, 90)), 1),
        "categories": tuple(_category(code, n, flow) for code, n in sorted(categories.items(), key=_commonest)[:3]),
        "streets": tuple(StreetCount(code, names.get(code) if code else None, n)
                         for code, n in sorted(streets.items(), key=_commonest)[:3]),
        "first_received_at": min(received), "last_received_at": max(received),
        "case_ids": tuple(int(located.ids[i]) for i in newest), "first_id": int(located.ids[members].min()),
    }


def _commonest(item: tuple[str | None, int]) -> tuple[int, str]:
    """Most cases first, then by code (None last)."""
    return -item[1], item[0] if item[0] is not None else "\uffff"


def _category(code: str | None, cases: int, flow: CaseFlow) -> CategoryCount:
    """A category's count with its names: the code is its Chinese name; English from the categories file."""
    if code is None:
        return CategoryCount(None, _UNCATEGORISED[0], _UNCATEGORISED[1], cases)
    known = flow.categories.categories.get(code)
    return CategoryCount(code, code, known.en if known else None, cases)


def _metres(lat: float, lon: float, lats: NDArray[np.float64], lons: NDArray[np.float64]) -> NDArray[np.float64]:
    """Haversine distances from (lat, lon) to each point, degrees in, metres out."""
    phi, lam, phis, lams = np.radians(lat), np.radians(lon), np.radians(lats), np.radians(lons)
    h = np.sin((phis - phi) / 2) ** 2 + np.cos(phi) * np.cos(phis) * np.sin((lams - lam) / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))), dtype=float)


def _street_outlines(session: Session, scope: Scope, located: _Located) -> list[tuple[str, BaseGeometry]]:
    """The names and boundaries of the streets the caller may see that reach the cases' extent (a district has a few dozen)."""
    if not len(located.ids):
        return []
    extent = shapely.box(located.lon.min(), located.lat.min(), located.lon.max(), located.lat.max()).buffer(0.002)
    rows = session.execute(sa.select(Area.name, Area.geometry).where(
        Area.level == "street", Area.geometry.is_not(None), scope.condition(Area)).order_by(Area.code))
    return [(name, geometry) for name, geometry in rows if geometry.intersects(extent)]


_DOT, _HOT, _EDGE = "#4a5568", "#d1495b", "#9b8ac4"
_WIDTH_IN = 8.0


def _draw(located: _Located, found: list[Hotspot], ranks: NDArray[np.int64], outlines: list[tuple[str, BaseGeometry]], title: str,
          font: MapFont) -> bytes:
    """The map itself, on an Agg canvas (never pyplot, whose global state is not thread-safe)."""
    zh, en = "案件热点", "case hotspots"
    heading = f"{zh} {en} · {title}" if font.cjk else f"{en} · {title}"
    if len(located.ids):
        centre = (float(located.lon.mean()), float(located.lat.mean()))
        x, y = xy_to_metres(located.lon, located.lat, *centre)
    else:
        centre, x, y = (0.0, 0.0), np.zeros(0), np.zeros(0)
    spots = [(*xy_to_metres(np.array([h.lon]), np.array([h.lat]), *centre), h.radius_m, h) for h in found]
    shapes = [to_metres(geometry, *centre) for _, geometry in outlines]
    frame = _frame(x, y, shapes, [(float(hx[0]), float(hy[0]), r) for hx, hy, r, _ in spots])
    x0, y0, x1, y1 = frame
    height = (_WIDTH_IN - 0.4) * (y1 - y0) / (x1 - x0) + 0.9
    figure = Figure(figsize=(_WIDTH_IN, height), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0.2 / _WIDTH_IN, 0.3 / height, (_WIDTH_IN - 0.4) / _WIDTH_IN, 1 - 0.9 / height))
    axes.set_xlim(x0, x1)
    axes.set_ylim(y0, y1)
    axes.set_aspect("equal")
    axes.set_xticks([])
    axes.set_yticks([])
    halo = [withStroke(linewidth=2.4, foreground="white")]
    for (name, _), shape in zip(outlines, shapes, strict=True):
        rings = [shapely.get_coordinates(r) for p in shapely.get_parts(shape) if p.geom_type == "Polygon"
                 for r in (p.exterior, *p.interiors)]
        axes.add_collection(LineCollection(rings, linewidths=0.9, colors=_EDGE, zorder=1))
        if font.draws(name):
            where = shape.representative_point()
            axes.text(where.x, where.y, name, ha="center", va="center", color=_EDGE, alpha=0.8, fontproperties=font.sized(8),
                      zorder=1)
    member = ranks > 0
    axes.scatter(x[~member], y[~member], s=4, c=_DOT, linewidths=0, alpha=0.5, zorder=2, rasterized=True)
    axes.scatter(x[member], y[member], s=5, c=_HOT, linewidths=0, zorder=2, rasterized=True)
    smallest = 0.008 * (x1 - x0)  # a hotspot of a few metres still shows on a district's map
    for hx, hy, true_radius, hotspot in spots:
        radius = max(true_radius, smallest)
        axes.add_patch(Circle((float(hx[0]), float(hy[0])), radius, facecolor=_HOT, alpha=0.18, edgecolor="none", zorder=3))
        axes.add_patch(Circle((float(hx[0]), float(hy[0])), radius, facecolor="none", edgecolor=_HOT, linewidth=1.4, zorder=4))
        axes.text(float(hx[0]), float(hy[0]) + radius, f"#{hotspot.rank} · {hotspot.cases}", ha="center", va="bottom",
                  color="#7a1f2b", fontproperties=font.sized(9), path_effects=halo, zorder=5)
    _scale_bar(axes, frame, font)
    if not len(located.ids):
        empty = "该时段没有有位置的案件 — no located cases in the period" if font.cjk else "no located cases in the period"
        axes.text((x0 + x1) / 2, (y0 + y1) / 2, empty, ha="center", va="center", fontproperties=font.sized(11))
    axes.set_title(heading, fontproperties=font.sized(11))
    foot = f"{len(found)} 个热点 hotspots · {len(located.ids)} 件案件 cases" if font.cjk else f"{len(found)} hotspots · {len(located.ids)} cases"
    figure.text(1 - 0.2 / _WIDTH_IN, 0.08 / height, foot, ha="right", va="bottom", color="#555555", fontproperties=font.sized(7))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _frame(x: NDArray[np.float64], y: NDArray[np.float64], shapes: list[Any],
           circles: list[tuple[float, float, float]]) -> tuple[float, float, float, float]:
    """The map's extent in metres: cases, hotspots' circles and outlines, with a margin, widened to between 2:3 and 3:2."""
    xs = [*x.tolist(), *(cx - r for cx, _, r in circles), *(cx + r for cx, _, r in circles)]
    ys = [*y.tolist(), *(cy - r for _, cy, r in circles), *(cy + r for _, cy, r in circles)]
    for shape in shapes:
        bx0, by0, bx1, by1 = shape.bounds
        xs += [bx0, bx1]
        ys += [by0, by1]
    if not xs:
        xs, ys = [-500.0, 500.0], [-500.0, 500.0]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    pad = 0.05 * max(x1 - x0, y1 - y0, 400.0)
    width, height = x1 - x0 + 2 * pad, y1 - y0 + 2 * pad
    width, height = max(width, height / 1.5), max(height, width / 1.5)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2


def _scale_bar(axes: Any, frame: tuple[float, float, float, float], font: MapFont) -> None:
    """A bar of 1, 2 or 5 × 10ⁿ metres, about a fifth of the map's width, in the lower right corner."""
    x0, y0, x1, _ = frame
    width = x1 - x0
    power = 10.0 ** np.floor(np.log10(width / 5))
    length = max(step * power for step in (1, 2, 5) if step * power <= width / 5)
    margin, thickness = 0.03 * width, 0.008 * width
    left, bottom = x1 - margin - length, y0 + margin
    axes.add_patch(Rectangle((left, bottom), length, thickness, facecolor="#222222", edgecolor="#222222", zorder=6))
    text = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    axes.text(left + length / 2, bottom + thickness + 0.2 * margin, text, ha="center", va="bottom", zorder=6,
              fontproperties=font.sized(8), path_effects=[withStroke(linewidth=2.2, foreground="white")])
