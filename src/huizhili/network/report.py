"""What a life-circle run leaves for people to look at.

Coverage tables, the origins with their distances as GeoJSON and CSV (each with the id and
source reference of the record it stands for, so a planner can join them to her own data), a
map per facility kind (covered / not covered, facilities marked) and an HTML report that puts
them together.
"""

import html
import json
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import shapely  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from huizhili.base.areas import area_geometry  # noqa: E402
from huizhili.network.lifecircle import DETOUR_FACTOR, LifeCircleResult, reporting_areas  # noqa: E402
from huizhili.network.loading import access_points  # noqa: E402
from huizhili.spreadsheet import csv_text  # noqa: E402

COVERED, UNCOVERED, FACILITY = "#2e8b57", "#d1495b", "#1f1f1f"


def write_outputs(session: Session, result: LifeCircleResult, folder: Path) -> dict[str, Path]:
    """Write every output of a run into ``folder``.

    Returns
    -------
    dict
        Name → path: ``coverage.csv``, ``coverage.json``, ``origins.geojson``, ``origins.csv``
        (one row per origin: id, source, source_ref, place, weight, metres to each kind, null
        beyond the run's cutoff), one ``map-<kind>.png`` per kind, and ``report.html``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    names = _area_names(session, result)
    files = {
        "coverage.csv": _write_csv(result, names, folder / "coverage.csv"),
        "coverage.json": _write_json(result, names, folder / "coverage.json"),
        "origins.geojson": _write_origins(result, folder / "origins.geojson"),
        "origins.csv": _write_origins_csv(result, folder / "origins.csv"),
    }
    outlines = [g for a in reporting_areas(session, result.area) if (g := area_geometry(session, a)) is not None]
    for kind in result.distances:
        path = folder / f"map-{kind}.png"
        _draw_map(session, result, kind, outlines, path)
        files[path.name] = path
    files["report.html"] = _write_html(result, names, files, folder / "report.html")
    return files


def _area_names(session: Session, result: LifeCircleResult) -> dict[str, str]:
    names = {a.code: a.name for a in reporting_areas(session, result.area)}
    names[result.area.code if result.area else "all"] = result.area.name if result.area else "all areas"
    return names


def _rows(result: LifeCircleResult, names: dict[str, str]) -> list[dict[str, Any]]:
    return [{"area_name": names.get(row["area_code"], row["area_code"]), "method": result.method, **row} for row in result.coverage]


def _write_csv(result: LifeCircleResult, names: dict[str, str], path: Path) -> Path:
    rows = _rows(result, names)
    path.write_text(csv_text(rows, list(rows[0]) if rows else ["area_code"]), encoding="utf-8", newline="")
    return path


def _write_json(result: LifeCircleResult, names: dict[str, str], path: Path) -> Path:
    document = {
        "run_id": result.run_id,
        "method": result.method,
        "origins": {"count": len(result.origins), "source": result.origins.source, "rule": result.origins.rule},
        "cutoff_m": result.cutoff_m,
        "standards": {k: {"metres": s.metres, "target": s.target, "basis": s.basis} for k, s in result.standards.items()},
        "notes": result.notes,
        "coverage": _rows(result, names),
    }
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def _origin_rows(result: LifeCircleResult) -> list[dict[str, Any]]:
    """Each origin: what it stands for, where, its weight and area, and its metres to each kind (None beyond the cutoff)."""
    origins = result.origins
    rows = []
    for i in range(len(origins)):
        rows.append(
            {
                "id": int(origins.ids[i]),
                "source": origins.table,
                "source_ref": origins.refs[i],
                "lon": round(float(origins.lon[i]), 7),
                "lat": round(float(origins.lat[i]), 7),
                "weight": float(origins.weight[i]),
                "area_code": origins.area_code[i],
                "method": result.method,
                **{f"{kind}_m": (round(float(d[i]), 1) if np.isfinite(d[i]) else None) for kind, d in result.distances.items()},
            }
        )
    return rows


def _write_origins(result: LifeCircleResult, path: Path) -> Path:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [row.pop("lon"), row.pop("lat")]},
            "properties": row,
        }
        for row in _origin_rows(result)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False), encoding="utf-8")
    return path


def _write_origins_csv(result: LifeCircleResult, path: Path) -> Path:
    rows = _origin_rows(result)
    columns = ["id", "source", "source_ref", "lon", "lat", "weight", "area_code", "method", *(f"{kind}_m" for kind in result.distances)]
    path.write_text(csv_text(rows, columns), encoding="utf-8", newline="")
    return path


def _draw_map(session: Session, result: LifeCircleResult, kind: str, outlines: list[Any], path: Path) -> None:
    """Origins green where a facility is within the standard, red where not; facilities in black."""
    origins, threshold = result.origins, result.standards[kind].metres
    covered = result.distances[kind] <= threshold
    figure, axes = plt.subplots(figsize=(8, 8), dpi=100)
    for outline in outlines:
        for polygon in getattr(outline, "geoms", [outline]):
            x, y = polygon.exterior.xy
            axes.plot(x, y, color="#777777", linewidth=0.8)
    size = 4 if origins.source == "grid" else np.clip(origins.weight / max(origins.weight.max(), 1) * 30, 3, 30)
    axes.scatter(origins.lon[~covered], origins.lat[~covered], s=size[~covered] if isinstance(size, np.ndarray) else size, c=UNCOVERED, label="not covered", linewidths=0)
    axes.scatter(origins.lon[covered], origins.lat[covered], s=size[covered] if isinstance(size, np.ndarray) else size, c=COVERED, label="covered", linewidths=0)
    points = access_points(session, kind)
    if len(points):
        axes.scatter(points.lon, points.lat, s=18, marker="^", c=FACILITY, label=kind)
    x0, y0, x1, y1 = _extent(origins, outlines)
    axes.set_xlim(x0, x1)
    axes.set_ylim(y0, y1)
    axes.set_aspect(1 / np.cos(np.radians((y0 + y1) / 2)))
    share = float(origins.weight[covered].sum() / origins.weight.sum()) if origins.weight.sum() else 0.0
    label = "estimated" if result.method == "estimated" else "walked"
    axes.set_title(f"{kind} within {threshold:.0f} m ({label}): {share:.1%} covered")
    axes.legend(loc="lower left", fontsize=8)
    axes.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(5))
    axes.set_xlabel("longitude")
    axes.set_ylabel("latitude")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _extent(origins: Any, outlines: list[Any]) -> tuple[float, float, float, float]:
    """The map's frame: the origins and area outlines, with a small margin."""
    bounds = [shapely.total_bounds(np.array(outlines, dtype=object))] if outlines else []
    if len(origins):
        bounds.append(np.array([origins.lon.min(), origins.lat.min(), origins.lon.max(), origins.lat.max()]))
    x0, y0 = min(b[0] for b in bounds), min(b[1] for b in bounds)
    x1, y1 = max(b[2] for b in bounds), max(b[3] for b in bounds)
    pad = 0.03 * max(x1 - x0, y1 - y0, 1e-4)
    return x0 - pad, y0 - pad, x1 + pad, y1 + pad


def _write_html(result: LifeCircleResult, names: dict[str, str], files: dict[str, Path], path: Path) -> Path:
    """One page: the coverage at each kind's standard per area, the maps, and links to the data."""
    kinds = list(result.distances)
    standard_rows = [r for r in result.coverage if r["threshold_m"] == result.standards[r["kind"]].metres]
    by_area: dict[str, dict[str, dict[str, Any]]] = {}
    for row in standard_rows:
        by_area.setdefault(row["area_code"], {})[row["kind"]] = row
    head = "".join(f"<th>{html.escape(k)}<br><small>≤ {result.standards[k].metres:.0f} m"
                   f"{'' if result.standards[k].target is None else f', target {result.standards[k].target:.0%}'}</small></th>" for k in kinds)
    body = []
    for code, cells in by_area.items():
        tds = []
        for kind in kinds:
            cell = cells.get(kind)
            if cell is None or cell["coverage"] is None:
                tds.append("<td class='none'>–</td>")
                continue
            verdict = "" if cell["target"] is None else ("ok" if cell["coverage"] >= cell["target"] else "short")
            tds.append(f"<td class='{verdict}'>{cell['coverage']:.1%}</td>")
        body.append(f"<tr><th scope='row'>{html.escape(names.get(code, code))} <small>{html.escape(code)}</small></th>{''.join(tds)}</tr>")
    maps = "".join(f"<figure><img src='map-{html.escape(k)}.png' alt='{html.escape(k)} coverage map'><figcaption>{html.escape(k)}</figcaption></figure>" for k in kinds)
    banner = (f"<p class='estimated'>Estimated: no imported walk network covers this area, so distances are straight lines × {DETOUR_FACTOR}. "
              f"Import an OSM extract (<code>huizhili import osm FILE --clip AREA</code>) for walking distances.</p>"
              if result.method == "estimated" else "<p>Distances walked on the OSM walk network.</p>")
    title = f"15-minute life circle — {names[result.area.code if result.area else 'all']}"
    page = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0; }} th, td {{ border: 1px solid #ccc; padding: .3rem .6rem; text-align: right; }}
th[scope=row] {{ text-align: left; }} td.ok {{ background: #e3f4e8; }} td.short {{ background: #fbe3e6; }}
.estimated {{ background: #fff4d6; padding: .5rem; border-left: 4px solid #e0a800; }}
figure {{ display: inline-block; margin: .5rem; }} img {{ width: 480px; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Run {result.run_id}: {len(result.origins):,} origins ({html.escape(result.origins.source)}), computed in {result.seconds:.2f} s.</p>
<p id="origin-rule">Origins — {html.escape(result.origins.rule)}.</p>
{banner}
<ul id="notes">{''.join(f"<li>{html.escape(note)}</li>" for note in result.notes)}</ul>
<h2>Share of {'area' if result.origins.source == 'grid' else 'residents'} within each standard</h2>
<table id="coverage"><thead><tr><th>area</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>
<p>Data: {' · '.join(f"<a href='{html.escape(n)}'>{html.escape(n)}</a>" for n in files if not n.endswith('.png'))}</p>
<h2>Maps</h2>{maps}
</body></html>"""
    path.write_text(page, encoding="utf-8")
    return path
