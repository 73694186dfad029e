"""Coverage maps a planner can read: a run's dots over the walk network and the area boundaries.

Each map is drawn in metres around the middle of its area (a local azimuthal equidistant
projection, :mod:`huizhili.base.geodesy`), so its aspect is true and its scale bar exact.
Streets carry their OSM names; Chinese names need a font with CJK glyphs, looked for among the
installed fonts (matplotlib's list, then the system's font folders). Without one they are left
out and the map says so, rather than showing boxes. Figures are built with matplotlib's object
API, never ``pyplot``, whose global state is not thread-safe: a worker may draw several runs
at once.
"""

import logging
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely
import sqlalchemy as sa
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont, findSystemFonts, fontManager
from matplotlib.ft2font import FT2Font
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.patheffects import withStroke
from matplotlib.transforms import Bbox
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from huizhili.base.areas import area_geometry
from huizhili.base.geodesy import lonlat_from_metres, to_metres, xy_to_metres
from huizhili.network.lifecircle import GRID_SPACING_M, LifeCircleResult, reporting_areas
from huizhili.network.loading import access_points
from huizhili.storage.models import WalkWay

log = logging.getLogger(__name__)

COVERED, UNCOVERED, FACILITY = "#2e8b57", "#d1495b", "#1f1f1f"
AREA_EDGE, BOUNDARY_EDGE = "#9b8ac4", "#4b2e83"

STREET_STYLES = (
    (frozenset({"motorway", "trunk", "primary", "primary_link", "secondary", "secondary_link"}), 2.0, "#b0b0b0"),
    (frozenset({"tertiary", "tertiary_link", "residential", "unclassified", "living_street", "road", "pedestrian"}), 1.1, "#c4c4c4"),
)
"""Main roads, then streets, each with its line width (points) and colour; every other walk way (footways, paths, service roads) is drawn thinnest."""

PATH_STYLE = (0.6, "#d6d6d6")

CJK_FAMILIES = ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
                "Microsoft YaHei", "PingFang SC", "SimHei", "Noto Sans SC")
"""Fonts with Chinese glyphs preferred, in order, when several are installed; any other that has them will do."""

_CJK_SAMPLE = "中文街道路区"
_FIGURE_WIDTH_IN, _MARGIN_IN, _TITLE_IN, _FOOT_IN = 8.0, 0.2, 0.6, 0.3
_MAX_LABELS = 40
_LABEL_SHARE = 0.08
"""A street is labelled only where its longest stretch in the frame spans this share of the map's width."""


@dataclass(frozen=True)
class MapFont:
    """The font a map's text is set in, and which characters it can draw."""

    path: str
    characters: frozenset[int]
    cjk: bool
    """Whether it has Chinese glyphs: a glyph of its own for each of a few common characters.

    Own glyphs, since a fallback font such as matplotlib's Last Resort maps every character
    of a script to one placeholder box.
    """

    @classmethod
    def from_file(cls, path: str) -> "MapFont":
        """The font in ``path`` (TrueType, OpenType or a collection's first face)."""
        charmap = FT2Font(path).get_charmap()
        glyphs = {charmap.get(ord(c)) for c in _CJK_SAMPLE}
        return cls(path, frozenset(charmap), None not in glyphs and len(glyphs) == len(_CJK_SAMPLE))

    def draws(self, text: str) -> bool:
        """Whether every visible character of ``text`` has a glyph in this font."""
        return all(ord(c) in self.characters for c in text if not c.isspace())

    def sized(self, points: float) -> FontProperties:
        """Properties for text in this font at ``points``."""
        return FontProperties(fname=self.path, size=points)


@lru_cache(maxsize=1)
def map_font() -> MapFont:
    """A font with Chinese glyphs, or else matplotlib's default (whose maps leave Chinese names out).

    Looked for once per process: a preferred family (:data:`CJK_FAMILIES`) in matplotlib's
    font list, then any listed font, then fonts in the system's folders that the list, cached
    when matplotlib was first run, may not know (installed later).
    """
    path = _cjk_font_file()
    if path is None:
        log.warning("no installed font has Chinese glyphs: maps leave Chinese names out (install fonts-noto-cjk or fonts-wqy-zenhei)")
        return MapFont.from_file(findfont(FontProperties()))
    return MapFont.from_file(path)


def _cjk_font_file() -> str | None:
    """The file of an installed font with Chinese glyphs, or None."""
    listed = sorted(fontManager.ttflist, key=lambda f: CJK_FAMILIES.index(f.name) if f.name in CJK_FAMILIES else len(CJK_FAMILIES))
    known = {f.fname for f in listed}
    for path in [*(f.fname for f in listed), *(p for p in findSystemFonts() if p not in known)]:
        try:
            if MapFont.from_file(path).cjk:
                return str(path)
        except (OSError, RuntimeError):  # a font file FreeType cannot read
            continue
    return None


@dataclass(frozen=True)
class StreetLabel:
    """Where a street's name goes: the middle of its longest stretch in the frame, along it (metres, degrees)."""

    name: str
    x: float
    y: float
    angle: float
    rank: int
    """0 main road, 1 street, 2 path: lower ranks are labelled first."""


@dataclass(frozen=True)
class MapBackground:
    """What the maps of one run share, in metres around ``centre`` (WGS84 lon, lat)."""

    centre: tuple[float, float]
    frame: tuple[float, float, float, float]
    """x0, y0, x1, y1 of the map, metres."""
    origin_xy: tuple[NDArray[np.float64], NDArray[np.float64]]
    ways: list[NDArray[np.float64]]
    """Each walk way in the frame as an (n, 2) array of metres."""
    way_ranks: NDArray[np.int64]
    outlines: list[BaseGeometry]
    """The boundaries coverage is reported by (the area's children, or every street)."""
    boundary: BaseGeometry | None
    """The analysed area's own boundary."""
    streets: list[StreetLabel]
    """Label candidates, most important first."""


def map_background(session: Session, result: LifeCircleResult) -> MapBackground:
    """The frame, walk network, boundaries and street names the maps of ``result`` are drawn on."""
    outlines = [g for a in reporting_areas(session, result.area) if (g := area_geometry(session, a)) is not None]
    boundary = area_geometry(session, result.area) if result.area is not None else None
    origins = result.origins
    bounds = [shapely.total_bounds(np.array([*outlines, *([boundary] if boundary else [])], dtype=object))] if outlines or boundary else []
    if len(origins):
        bounds.append(np.array([origins.lon.min(), origins.lat.min(), origins.lon.max(), origins.lat.max()]))
    x0, y0 = min(b[0] for b in bounds), min(b[1] for b in bounds)
    x1, y1 = max(b[2] for b in bounds), max(b[3] for b in bounds)
    centre = ((x0 + x1) / 2, (y0 + y1) / 2)
    origin_xy = xy_to_metres(origins.lon, origins.lat, *centre)
    shapes = [to_metres(g, *centre) for g in outlines]
    boundary_m = to_metres(boundary, *centre) if boundary is not None else None
    frame = _frame([*shapes, *([boundary_m] if boundary_m else [])], origin_xy)
    lines, names, ranks = _walk_ways(session, frame, centre)
    return MapBackground(
        centre=centre,
        frame=frame,
        origin_xy=origin_xy,
        ways=[shapely.get_coordinates(line) for line in lines],
        way_ranks=ranks,
        outlines=shapes,
        boundary=boundary_m,
        streets=_street_labels(lines, names, ranks, frame),
    )


def coverage_map(session: Session, result: LifeCircleResult, kind: str, background: MapBackground, font: MapFont | None = None) -> Figure:
    """The map of one kind: homes green where a facility is within the standard, red where not.

    Drawn over the walk network, the area boundaries and the street names, with the facilities
    as black triangles, a scale bar and the network's attribution; 800 pixels wide at 100 dpi,
    as high as the area's true shape asks.

    Parameters
    ----------
    session
        Open session (the kind's facilities are read).
    result
        The run.
    kind
        One of the run's kinds.
    background
        :func:`map_background` of the run.
    font
        The text's font; by default :func:`map_font`.

    Returns
    -------
    matplotlib.figure.Figure
        With an Agg canvas: ``savefig`` writes it.
    """
    font = font or map_font()
    x0, y0, x1, y1 = background.frame
    axes_width = _FIGURE_WIDTH_IN - 2 * _MARGIN_IN
    axes_height = axes_width * (y1 - y0) / (x1 - x0)
    height = axes_height + _TITLE_IN + _FOOT_IN
    figure = Figure(figsize=(_FIGURE_WIDTH_IN, height), dpi=100)
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_axes((_MARGIN_IN / _FIGURE_WIDTH_IN, _FOOT_IN / height, axes_width / _FIGURE_WIDTH_IN, axes_height / height))
    axes.set_xlim(x0, x1)
    axes.set_ylim(y0, y1)
    axes.set_aspect("equal")
    axes.set_xticks([])
    axes.set_yticks([])
    _draw_network(axes, background)
    for outline in background.outlines:
        _draw_outline(axes, outline, AREA_EDGE, 0.9)
    if background.boundary is not None:
        _draw_outline(axes, background.boundary, BOUNDARY_EDGE, 1.8)
    threshold = result.standards[kind].metres
    covered = result.distances[kind] <= threshold
    origins, (ox, oy) = result.origins, background.origin_xy
    size = _dot_sizes(origins.weight, origins.source == "grid", axes_width * 100 / (x1 - x0))
    axes.scatter(ox[~covered], oy[~covered], s=size[~covered], c=UNCOVERED, linewidths=0, zorder=3)
    axes.scatter(ox[covered], oy[covered], s=size[covered], c=COVERED, linewidths=0, zorder=3)
    points = access_points(session, kind)
    if len(points):
        fx, fy = xy_to_metres(points.lon, points.lat, *background.centre)
        axes.scatter(fx, fy, s=40, marker="^", c=FACILITY, linewidths=0.4, edgecolors="white", zorder=4)
    axes.apply_aspect()
    renderer = canvas.get_renderer()  # type: ignore[no-untyped-call]  # untyped in matplotlib 3.11
    edge = BOUNDARY_EDGE if background.boundary is not None else AREA_EDGE if background.outlines else None
    furniture = [*_scale_bar(axes, background.frame, font), _legend(axes, kind, font, edge, with_network=bool(background.ways))]
    left_out = _label_streets(axes, renderer, background.streets, font, [a.get_window_extent(renderer) for a in furniture])
    share = float(origins.weight[covered].sum() / origins.weight.sum()) if origins.weight.sum() else 0.0
    where = "all areas" if result.area is None else (result.area.name if font.draws(result.area.name) else result.area.code)
    label = "estimated" if result.method == "estimated" else "walked"
    axes.set_title(f"{where}: {kind} within {threshold:.0f} m ({label}), {share:.1%} covered", fontproperties=font.sized(11))
    foot = []
    if left_out:
        foot.append(f"{left_out} street names not drawn: no installed font has their characters (install fonts-noto-cjk)")
    if background.ways:
        foot.append("walk network © OpenStreetMap contributors")
    figure.text(1 - _MARGIN_IN / _FIGURE_WIDTH_IN, 0.08 / height, " · ".join(foot), ha="right", va="bottom",
                color="#555555", fontproperties=font.sized(7))
    return figure


def _dot_sizes(weight: NDArray[np.float64], grid: bool, pixels_per_metre: float) -> NDArray[np.float64]:
    """Marker areas (points²): grid points a fifth of their spacing across, 3–9 pixels; homes by residents."""
    if grid:
        across_px = float(np.clip(GRID_SPACING_M * pixels_per_metre / 5, 3, 9))
        return np.full(len(weight), (across_px * 0.72) ** 2)  # 100 dpi: 0.72 points a pixel
    return np.clip(weight / max(float(weight.max(initial=0.0)), 1.0) * 40, 6, 40)


def _frame(shapes: list[BaseGeometry], origin_xy: tuple[NDArray[np.float64], NDArray[np.float64]]) -> tuple[float, float, float, float]:
    """The map's extent in metres: the shapes and origins with a margin, widened to between 2:3 and 3:2."""
    bounds = [shapely.total_bounds(np.array(shapes, dtype=object))] if shapes else []
    if len(origin_xy[0]):
        bounds.append(np.array([origin_xy[0].min(), origin_xy[1].min(), origin_xy[0].max(), origin_xy[1].max()]))
    x0, y0 = min(b[0] for b in bounds), min(b[1] for b in bounds)
    x1, y1 = max(b[2] for b in bounds), max(b[3] for b in bounds)
    pad = 0.04 * max(x1 - x0, y1 - y0, 100.0)
    width, height = x1 - x0 + 2 * pad, y1 - y0 + 2 * pad
    width, height = max(width, height / 1.5), max(height, width / 1.5)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2


def _walk_ways(session: Session, frame: tuple[float, float, float, float], centre: tuple[float, float]) -> tuple[list[BaseGeometry], list[str | None], NDArray[np.int64]]:
    """The walk ways crossing the frame, in metres, with their names and street ranks."""
    x0, y0, x1, y1 = frame
    lon, lat = lonlat_from_metres(np.array([x0, x1, x1, x0]), np.array([y0, y0, y1, y1]), *centre)
    window = shapely.box(lon.min(), lat.min(), lon.max(), lat.max())
    rows = session.execute(sa.select(WalkWay.geometry, WalkWay.name, WalkWay.highway)).all()
    inside = shapely.intersects(window, np.array([row[0] for row in rows], dtype=object)) if rows else np.zeros(0, bool)
    kept = [row for row, keep in zip(rows, inside, strict=True) if keep]
    lines = list(to_metres(np.array([row[0] for row in kept], dtype=object), *centre)) if kept else []
    ranks = np.array([next((rank for rank, (kinds, _, _) in enumerate(STREET_STYLES) if row[2] in kinds), len(STREET_STYLES)) for row in kept],
                     dtype=np.int64)
    return lines, [row[1] for row in kept], ranks


def _street_labels(lines: list[BaseGeometry], names: list[str | None], ranks: NDArray[np.int64], frame: tuple[float, float, float, float]) -> list[StreetLabel]:
    """One label per street name, at the middle of its longest stretch in the frame, main roads and long streets first."""
    window = shapely.box(*frame)
    min_length = _LABEL_SHARE * (frame[2] - frame[0])
    by_name: dict[str, list[int]] = {}
    for index, name in enumerate(names):
        if name and name.strip():
            by_name.setdefault(name.strip(), []).append(index)
    labels = []
    for name, members in by_name.items():
        clipped = shapely.intersection(shapely.union_all([lines[i] for i in members]), window)
        parts = [p for p in shapely.get_parts(clipped) if p.geom_type == "LineString"]
        if not parts:
            continue
        longest = max(shapely.get_parts(shapely.line_merge(shapely.MultiLineString(parts))), key=lambda p: p.length)
        if longest.length < min_length:
            continue
        middle = longest.interpolate(0.5, normalized=True)
        before, after = longest.interpolate(longest.length / 2 - 20), longest.interpolate(longest.length / 2 + 20)
        angle = math.degrees(math.atan2(after.y - before.y, after.x - before.x))
        angle = angle - 180 if angle > 90 else angle + 180 if angle <= -90 else angle  # never upside down
        labels.append((int(ranks[members].min()), -longest.length, StreetLabel(name, middle.x, middle.y, angle, int(ranks[members].min()))))
    return [label for *_, label in sorted(labels, key=lambda item: (item[0], item[1]))]


def _draw_network(axes: Axes, background: MapBackground) -> None:
    """The walk ways under everything, thicker and darker for main roads."""
    styles = [(width, colour) for _, width, colour in STREET_STYLES] + [PATH_STYLE]
    for rank in reversed(range(len(styles))):  # paths first, main roads on top
        lines = [way for way, way_rank in zip(background.ways, background.way_ranks, strict=True) if way_rank == rank]
        if lines:
            width, colour = styles[rank]
            axes.add_collection(LineCollection(lines, linewidths=width, colors=colour, capstyle="round", zorder=1))


def _draw_outline(axes: Axes, outline: BaseGeometry, colour: str, width: float) -> None:
    """An area's boundary, every ring of every part."""
    rings = [shapely.get_coordinates(ring) for polygon in shapely.get_parts(outline) for ring in (polygon.exterior, *polygon.interiors)]
    axes.add_collection(LineCollection(rings, linewidths=width, colors=colour, zorder=2))


def _scale_bar(axes: Axes, frame: tuple[float, float, float, float], font: MapFont) -> list[Artist]:
    """A bar of a round length, about a fifth of the map's width, in the lower right corner; its parts."""
    x0, y0, x1, _ = frame
    width = x1 - x0
    length = _round_length(width / 5)
    margin, thickness = 0.03 * width, 0.008 * width
    left, bottom = x1 - margin - length, y0 + margin
    parts: list[Artist] = [
        axes.add_patch(Rectangle((left + half * length / 2, bottom), length / 2, thickness, facecolor=colour,
                                 edgecolor="#222222", linewidth=0.8, zorder=6, gid="scale-bar"))
        for half, colour in enumerate(("#222222", "white"))
    ]
    text = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    parts.append(axes.text(left + length / 2, bottom + thickness + 0.2 * margin, text, ha="center", va="bottom", zorder=6,
                           fontproperties=font.sized(8), gid="scale-bar-label", path_effects=[withStroke(linewidth=2.2, foreground="white")]))
    return parts


def _round_length(metres: float) -> float:
    """The largest 1, 2 or 5 × 10ⁿ metres not above ``metres``."""
    power = 10.0 ** math.floor(math.log10(metres))
    return max(step * power for step in (1, 2, 5) if step * power <= metres)


def _legend(axes: Axes, kind: str, font: MapFont, edge: str | None, *, with_network: bool) -> Artist:
    """What the marks and lines mean, in the lower left corner; ``edge`` is the colour of the boundaries drawn, if any."""
    handles = [
        Line2D([], [], linestyle="", marker="o", markersize=5, color=COVERED, label="covered"),
        Line2D([], [], linestyle="", marker="o", markersize=5, color=UNCOVERED, label="not covered"),
        Line2D([], [], linestyle="", marker="^", markersize=6, color=FACILITY, label=kind),
    ]
    if edge is not None:
        handles.append(Line2D([], [], color=edge, linewidth=1.5, label="area boundary"))
    if with_network:
        handles.append(Line2D([], [], color=STREET_STYLES[0][2], linewidth=2, label="walk network"))
    legend = axes.legend(handles=handles, loc="lower left", prop=font.sized(8), framealpha=0.9)
    legend.set_zorder(7)
    return legend


def _label_streets(axes: Axes, renderer: RendererBase, streets: list[StreetLabel], font: MapFont, obstacles: list[Bbox]) -> int:
    """Place the street names that fit inside the map without covering each other or ``obstacles``; how many the font could not draw.

    Under the homes and facilities, so that no name hides one.
    """
    frame = axes.get_window_extent(renderer)
    placed = list(obstacles)
    properties, drawn, left_out = font.sized(7), 0, 0
    for street in streets:
        if drawn >= _MAX_LABELS:
            break
        if not font.draws(street.name):
            left_out += 1
            continue
        text = axes.text(street.x, street.y, street.name, rotation=street.angle, rotation_mode="anchor", ha="center",
                         va="center", color="#3a3a3a", fontproperties=properties, zorder=2.5, gid="street-label",
                         path_effects=[withStroke(linewidth=2.2, foreground="white")])
        extent = text.get_window_extent(renderer).expanded(1.1, 1.3)
        inside = frame.contains(extent.x0, extent.y0) and frame.contains(extent.x1, extent.y1)
        if not inside or any(extent.overlaps(other) for other in placed):
            text.remove()
            continue
        placed.append(extent)
        drawn += 1
    return left_out
