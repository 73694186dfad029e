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

import numpy as np
from sqlalchemy.orm import Session

from huizhili.network.lifecircle import DETOUR_FACTOR, LifeCircleResult, reporting_areas
from huizhili.network.maps import MapBackground, coverage_map, map_background
from huizhili.spreadsheet import csv_text


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
    background = map_background(session, result)
    for kind in result.distances:
        path = folder / f"map-{kind}.png"
        _draw_map(session, result, kind, background, path)
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


def _draw_map(session: Session, result: LifeCircleResult, kind: str, background: MapBackground, path: Path) -> None:
    """The kind's coverage map as a PNG (``network/maps.py`` draws it)."""
    coverage_map(session, result, kind, background).savefig(path)


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
