"""The Xuhui demo's programmes, illustrative projects, their progress and the district's targets (see README.md here)."""

import csv
import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.policy import Scope
from huizhili.policy.principal import UNRESTRICTED
from huizhili.programmes.catalogue import QUANTITY_UNITS
from huizhili.programmes.importing import import_list
from huizhili.programmes.records import ProgressReport, record_progress
from huizhili.programmes.targets import TargetSpec, upsert_targets
from huizhili.storage.models import Programme, Project, ProjectProgress

DEMO = Path(__file__).parent
ZONE = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class ProgrammesDemo:
    """What the demo loaded: programmes, projects, progress reports added, targets."""

    programmes: int
    projects: int
    progress: int
    targets: int


def load_programmes_demo(session: Session) -> ProgrammesDemo:
    """Load (or reload) the demo's programmes, projects and targets, and the progress of projects that have none yet.

    Progress reports are append-only, so a reload adds none to a project that has its own.
    Needs the Xuhui base (its departments, streets and walk ways).
    """
    scope = Scope.system()
    programmes = import_list(session, scope, DEMO / "programmes.csv", "programmes")
    projects = import_list(session, scope, DEMO / "projects.csv", "projects")
    progress = _load_progress(session, scope)
    with (DEMO / "targets.toml").open("rb") as file:
        table = tomllib.load(file)
    targets = upsert_targets(session, [TargetSpec(code=code, **fields) for code, fields in table.items()])
    return ProgrammesDemo(len(programmes.written), len(projects.written), progress, targets)


def _load_progress(session: Session, scope: Scope) -> int:
    """The demo's progress reports, in time order, for projects without any."""
    with (DEMO / "progress.csv").open(encoding="utf-8") as file:
        rows = sorted(csv.DictReader(file), key=lambda row: datetime.fromisoformat(row["at"]))
    reported = set(session.scalars(sa.select(ProjectProgress.project_id).distinct()))
    added = 0
    for row in rows:
        project_id = session.scalar(sa.select(Project.id).join(Programme).where(Programme.code == row["programme"],
                                                                                Project.source_ref == row["ref"]))
        if project_id is None or project_id in reported:
            continue
        at = datetime.fromisoformat(row["at"])
        done = {unit: float(row[unit]) for unit in QUANTITY_UNITS if row.get(unit)}
        record_progress(session, scope, UNRESTRICTED, project_id, ProgressReport(status=row["status"], done=done,
                                                                                note=row["note"] or None),
                        at, _local_date(at))
        added += 1
    return added


def _local_date(moment: datetime) -> date:
    return moment.astimezone(ZONE).date()
