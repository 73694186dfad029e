"""Progress reports: appended, never changed; the project follows the latest; only its street's staff and unit report."""

from datetime import UTC, date, datetime

import pytest
import shapely
import sqlalchemy as sa
from programme_samples import XUJIAHUI, with_housing

from huizhili.errors import ForbiddenError, NotFoundError, ValidationError
from huizhili.policy import Principal, Scope
from huizhili.programmes.records import (
    ProgressReport,
    ProjectSpec,
    progress_of,
    record_progress,
    write_projects,
)
from huizhili.storage.engine import transaction
from huizhili.storage.models import Project, ProjectProgress

OPERATOR = Principal(username="xujiahui_operator", role="street_operator", streets=frozenset({XUJIAHUI}))
TIANPING_OPERATOR = Principal(username="tianping_operator", role="street_operator", streets=frozenset({"310104003"}))
HOUSING = Principal(username="housing_handler", role="department_handler", department="房管局")
GREENING = Principal(username="greening_handler", role="department_handler", department="绿化市容局")
MARCH, JUNE = datetime(2026, 3, 15, 2, tzinfo=UTC), datetime(2026, 6, 28, 8, tzinfo=UTC)


@pytest.fixture
def project(xuhui):
    """A housing repair of 120 households in 徐家汇, run by the housing bureau: its id."""
    with_housing(xuhui)
    with transaction(xuhui) as session:
        write_projects(session, Scope.system(), [ProjectSpec("XH-HR", "HR-1", "徐家汇小区修缮", shapely.Point(121.42739, 31.19211),
                                                             owner_department="房管局", quantities={"households": 120})])
        return session.scalar(sa.select(Project.id))


def test_reports_are_appended_and_the_project_follows_the_latest(xuhui, project):
    with transaction(xuhui) as session:
        record_progress(session, Scope(OPERATOR), OPERATOR, project, ProgressReport("in_progress", {"households": 40}, note="签约 40 户"),
                        MARCH, date(2026, 3, 15))
        record_progress(session, Scope(HOUSING), HOUSING, project, ProgressReport("done", evidence="验收单 2026-118.pdf"),
                        JUNE, date(2026, 6, 28))
    with xuhui() as session:
        reports = progress_of(session, Scope(OPERATOR), project)
        assert [(r.author, r.status, r.done, r.note, r.evidence, r.at) for r in reports] == [
            ("xujiahui_operator", "in_progress", {"households": 40.0}, "签约 40 户", None, MARCH),
            ("housing_handler", "done", {"households": 120.0}, None, "验收单 2026-118.pdf", JUNE)]
        found = session.get(Project, project)
        assert (found.status, found.done, found.actual_start, found.actual_end) == (
            "done", {"households": 120.0}, date(2026, 3, 15), date(2026, 6, 28))


@pytest.mark.parametrize("change", [sa.update(ProjectProgress).values(note="rewritten"), sa.delete(ProjectProgress)])
def test_the_database_refuses_to_change_or_delete_a_report(xuhui, project, change):
    with transaction(xuhui) as session:
        record_progress(session, Scope.system(), OPERATOR, project, ProgressReport("in_progress", {"households": 1}), MARCH, date(2026, 3, 15))
    with pytest.raises(sa.exc.DBAPIError, match="project_progress is append-only"), transaction(xuhui) as session:
        session.execute(change)
    with xuhui() as session:
        assert session.scalars(sa.select(ProjectProgress.note)).all() == [None]


@pytest.mark.parametrize(("principal", "refusal"), [(TIANPING_OPERATOR, NotFoundError), (GREENING, ForbiddenError)])
def test_only_the_projects_street_and_unit_report_on_it(xuhui, project, principal, refusal):
    with transaction(xuhui) as session, pytest.raises(refusal):
        record_progress(session, Scope(principal), principal, project, ProgressReport("in_progress"), MARCH, date(2026, 3, 15))
    with xuhui() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ProjectProgress)) == 0


@pytest.mark.parametrize(("report", "message"), [
    (ProgressReport("finished"), "未知状态 unknown status 'finished'"),
    (ProgressReport("in_progress", {"rooms": 3}), "未知单位 unknown unit 'rooms'"),
    (ProgressReport("in_progress", {"households": -1}), "households 须为非负数 must be a number of at least 0"),
    (ProgressReport("in_progress", {"households": float("nan")}), "must be a number of at least 0"),
])
def test_a_bad_report_is_refused_naming_what_is_wrong(xuhui, project, report, message):
    with transaction(xuhui) as session, pytest.raises(ValidationError, match=message):
        record_progress(session, Scope.system(), OPERATOR, project, report, MARCH, date(2026, 3, 15))
