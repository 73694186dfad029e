"""What each kind of job does: one domain function each, run in the job's transaction."""

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from huizhili.config import Settings
from huizhili.jobs import JobProgress
from huizhili.network.finder import NetworkCache
from huizhili.network.lifecircle import LifeCircleResult
from huizhili.policy import Scope
from huizhili.policy.principal import Principal
from huizhili.storage.models import LifeCircleRun, utcnow


@dataclass(frozen=True)
class Work:
    """Everything a task needs: the job's transaction and parameters, who it runs for, where to report."""

    session: Session
    parameters: dict[str, Any]
    principal: Principal
    settings: Settings
    network: NetworkCache
    progress: JobProgress

    @property
    def scope(self) -> Scope:
        """The submitter's scope, as the account stands when the job runs."""
        return Scope(self.principal)


Task = Callable[[Work], dict[str, Any]]
"""A job kind's work: returns the job's result (plain JSON)."""


def import_task(work: Work) -> dict[str, Any]:
    """Import one file (all or nothing); the result is the import report."""
    from huizhili.base.importers import import_file, import_osm

    p = work.parameters
    path = Path(p.get("upload") or p["path"])
    if p["target"] == "osm":
        report = import_osm(work.session, path, clip=p.get("clip"), file_name=p.get("file_name"), progress=work.progress)
    else:
        report = import_file(
            work.session, path, p["target"], mapping=p.get("mapping"), constants=p.get("constants"), only=p.get("only"),
            source_crs=p.get("crs"), within=p.get("within"), tolerance_m=p.get("tolerance_m", 500.0),
            layer=p.get("layer"), source_name=p.get("source_name"), file_name=p.get("file_name"),
            progress=work.progress,
        )
    return report.as_dict()


def lifecircle_task(work: Work) -> dict[str, Any]:
    """Run the life circle and draw its maps and report; the result names the run and its headline coverage."""
    from huizhili.network.lifecircle import reporting_areas, run_life_circle

    p = work.parameters
    work.progress("loading the walk network", 0)
    graph = work.network.graph(work.session)
    work.progress("walking from every home", 0)
    result = run_life_circle(
        work.session, graph, created_by=work.principal.username, area=p.get("area"), kinds=p.get("kinds"),
        metres=p.get("metres"), targets=p.get("targets"), speed_m_per_s=p.get("speed_m_per_s", 1.0),
        origins=p.get("origins", "auto"), cutoff_m=p.get("cutoff_m") or work.settings.lifecircle_cutoff_m, scope=work.scope,
    )
    work.progress("drawing maps and the report", len(result.origins))
    folder = work.settings.data_dir / "runs" / f"lifecircle-{result.run_id}"
    _write_in_place(work.session, result, folder)
    work.session.get_one(LifeCircleRun, result.run_id).output_dir = str(folder)
    overall = result.area.code if result.area else "all"
    names = {a.code: a.name for a in reporting_areas(work.session, result.area)}
    at_standard = [row for row in result.coverage if row["threshold_m"] == result.standards[row["kind"]].metres]
    return {
        "run_id": result.run_id,
        "area": {"code": result.area.code, "name": result.area.name} if result.area else None,
        "method": result.method,
        "origins": len(result.origins),
        "origin_source": result.origins.source,
        "origin_rule": result.origins.rule,
        "seconds": round(result.seconds, 3),
        "cutoff_m": result.cutoff_m,
        "notes": result.notes,
        "headline": [
            {"kind": row["kind"], "threshold_m": row["threshold_m"], "coverage": row["coverage"], "target": row["target"]}
            for row in at_standard
            if row["area_code"] == overall
        ],
        "by_area": [
            {"area_code": row["area_code"], "area_name": names[row["area_code"]], "kind": row["kind"],
             "threshold_m": row["threshold_m"], "coverage": row["coverage"]}
            for row in at_standard
            if row["area_code"] in names
        ],
        "files": sorted(path.name for path in folder.iterdir()),
    }


def _write_in_place(session: Session, result: LifeCircleResult, folder: Path) -> None:
    """Draw a run's outputs into ``<folder>.partial``, then move them into ``folder`` whole.

    What an earlier attempt left under either name goes first: SQLite may give a rolled-back
    run's id to the next run, and its files must not mix with the new run's.
    """
    from huizhili.network.report import write_outputs

    partial = folder.with_suffix(".partial")
    for leftover in (folder, partial):
        shutil.rmtree(leftover, ignore_errors=True)
    write_outputs(session, result, partial)
    partial.replace(folder)


def siting_task(work: Work) -> dict[str, Any]:
    """Propose new sites (greedy maximum coverage); the result is the proposal."""
    from huizhili.network.planning import propose_sites

    p = work.parameters
    work.progress("loading the walk network", 0)
    graph = work.network.graph(work.session)
    work.progress("choosing sites", 0)
    return propose_sites(work.session, graph, kind=p["kind"], threshold_m=p["threshold_m"], k=p["k"], area=p.get("area"),
                         origins=p.get("origins", "auto"), scope=work.scope)


def retention_task(work: Work) -> dict[str, Any]:
    """Apply the retention settings (personal fields of ended records, old access-log entries, events, time series)."""
    from huizhili.events import prune
    from huizhili.policy.privacy import apply_retention
    from huizhili.sensing.retention import prune_series

    now = utcnow()
    dry_run = bool(work.parameters.get("dry_run"))
    outcomes = apply_retention(work.session, work.settings, now=now, dry_run=dry_run)
    outcomes.append(prune(work.session, work.settings, now=now, dry_run=dry_run))
    outcomes.extend(prune_series(work.session, work.settings, now=now, dry_run=dry_run))
    return {"dry_run": dry_run, "outcomes": [
        {"resource": o.resource, "action": o.action, "records": o.records, "before": o.before.isoformat()} for o in outcomes
    ]}


TASKS: dict[str, Task] = {
    "import": import_task,
    "lifecircle": lifecircle_task,
    "siting": siting_task,
    "retention": retention_task,
}
"""The work of every job kind (``huizhili.jobs.KINDS`` names the same kinds)."""

