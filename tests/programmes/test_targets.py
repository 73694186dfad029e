"""Targets: summed from projects with a forecast, or live from the stored life circle, per district and street in scope."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import shapely
import sqlalchemy as sa
from programme_samples import TIANPING, XUJIAHUI, with_housing

from huizhili.cases.flow import case_flow
from huizhili.config import Settings
from huizhili.errors import ValidationError
from huizhili.network.lifecircle import run_life_circle
from huizhili.policy import Principal, Scope
from huizhili.programmes.records import ProgressReport, ProjectSpec, record_progress, write_projects
from huizhili.programmes.targets import TargetSpec, get_target, target_status, upsert_targets
from huizhili.storage.engine import transaction
from huizhili.storage.models import Facility, LifeCircleCoverage, Project

SHANGHAI = ZoneInfo("Asia/Shanghai")
FLOW = case_flow(Settings())
DAY_100, DAY_200 = datetime(2026, 4, 11, tzinfo=SHANGHAI), datetime(2026, 7, 20, tzinfo=SHANGHAI)
"""Days 100 and 200 after the baseline of 1 January 2026, local midnight."""
SYSTEM = Scope.system()
OPERATOR = Scope(Principal(username="xujiahui_operator", role="street_operator", streets=frozenset({XUJIAHUI})))


def status(sessions, code, now, scope=SYSTEM, **options):
    with sessions() as session:
        return target_status(session, scope, get_target(session, scope, code), now, FLOW, **options)


@pytest.fixture
def renovated(xuhui):
    """Households renovated, goal 100 by the end of 2026 from 0 on 1 January: 30 in 徐家汇 and 20 in 天平 by day 100."""
    with_housing(xuhui)
    with transaction(xuhui) as session:
        write_projects(session, Scope.system(), [
            ProjectSpec("XH-HR", "A", "徐家汇修缮", shapely.Point(121.42739, 31.19211), quantities={"households": 60}),
            ProjectSpec("XH-HR", "B", "天平修缮", shapely.Point(121.44839, 31.20893), quantities={"households": 40})])
        for ref, done in (("A", 30), ("B", 20)):
            project = session.scalar(sa.select(Project.id).where(Project.source_ref == ref))
            record_progress(session, Scope.system(), Principal(username="housing", role="district_admin"), project,
                            ProgressReport("in_progress", {"households": done}), DAY_100, DAY_100.date())
        upsert_targets(session, [TargetSpec("XH-T-HR", "住房修缮户数", "310104", "sum", 100, "households", date(2026, 12, 31),
                                            programme="XH-HR", quantity="households", baseline=0, baseline_date=date(2026, 1, 1))])
    return xuhui


def test_a_summed_target_adds_what_is_done_and_forecasts_it_linearly(renovated):
    found = status(renovated, "XH-T-HR", DAY_200)
    district = found["rows"][0]
    # Points (day, households): the baseline (0, 0), the two reports (100, 30) and (100, 50), now (200, 50):
    # least squares gives 0.25 a day; 164 days remain to 31 December, so 50 + 41 = 91, short of 100
    # by less than a tenth of the way from 0: at risk.
    assert {k: district[k] for k in ("area_code", "value", "goal", "trend_per_year", "forecast", "status")} == {
        "area_code": "310104", "value": 50.0, "goal": 100.0, "trend_per_year": 91.3125, "forecast": 91.0, "status": "at_risk"}
    assert [p["value"] for p in district["history"]] == [30.0, 50.0]
    streets = {r["area_code"]: (r["value"], r["goal"], r["status"]) for r in found["rows"][1:]}
    assert len(streets) == 14
    assert streets[XUJIAHUI] == (30.0, None, None) and streets[TIANPING] == (20.0, None, None)


@pytest.mark.parametrize(("now", "expected"), [(datetime(2027, 1, 5, tzinfo=SHANGHAI), "late"),
                                               (datetime(2026, 4, 12, tzinfo=SHANGHAI), "on_track")])
def test_a_target_past_its_deadline_is_late_and_a_fast_one_on_track(renovated, now, expected):
    assert status(renovated, "XH-T-HR", now)["rows"][0]["status"] == expected


def test_a_street_operator_sees_her_streets_row_only(renovated):
    rows = status(renovated, "XH-T-HR", DAY_200, OPERATOR)["rows"]
    assert [(r["area_code"], r["value"]) for r in rows] == [(XUJIAHUI, 30.0)]


def district_coverage(sessions, run_id):
    """The district's share within 300 m of a park in a stored run, summed over its streets' rows."""
    with sessions() as session:
        rows = session.execute(sa.select(LifeCircleCoverage.population, LifeCircleCoverage.covered_population).where(
            LifeCircleCoverage.run_id == run_id, LifeCircleCoverage.kind == "park", LifeCircleCoverage.threshold_m == 300,
            LifeCircleCoverage.area_code.like("310104%"), LifeCircleCoverage.area_code != "310104")).all()
    return round(sum(covered for _, covered in rows) / sum(population for population, _ in rows), 4)


@pytest.fixture
def park_target(xuhui):
    with transaction(xuhui) as session:
        upsert_targets(session, [TargetSpec("XH-T-PARK", "公园绿地300米覆盖率", "310104", "live", 0.98, "share", date(2030, 12, 31),
                                            source="park_coverage", source_kind="park", threshold_m=300)])
    return xuhui


def test_the_park_coverage_target_reads_the_latest_life_circle_run(park_target):
    with transaction(park_target) as session:
        first = run_life_circle(session, None, created_by="test", kinds=["park"], scope=Scope.system())
    found = status(park_target, "XH-T-PARK", datetime.now(SHANGHAI))
    district, streets = found["rows"][0], {r["area_code"]: r for r in found["rows"][1:]}
    stored = next(r for r in first.coverage if r["area_code"] == XUJIAHUI and r["kind"] == "park" and r["threshold_m"] == 300)
    assert district["value"] == district_coverage(park_target, first.run_id) and district["goal"] == 0.98
    assert streets[XUJIAHUI]["value"] == round(stored["covered_population"] / stored["population"], 4)
    assert streets[XUJIAHUI]["goal"] == 0.98, "a share holds for every street"
    assert district["status"] == "at_risk" and district["trend_per_year"] is None, "one run: no trend yet"
    # A park at every compound of 徐家汇 beyond 300 m, and a second run: the target follows it.
    far = first.origins.area_code == XUJIAHUI
    with transaction(park_target) as session:
        for lon, lat in zip(first.origins.lon[far & (first.distances["park"] > 300)], first.origins.lat[far & (first.distances["park"] > 300)], strict=True):
            session.add(Facility(kind="park", name="口袋公园", geometry=shapely.Point(lon, lat), lon=float(lon), lat=float(lat), properties={}))
        session.flush()
        second = run_life_circle(session, None, created_by="test", kinds=["park"], scope=Scope.system())
    later = status(park_target, "XH-T-PARK", datetime.now(SHANGHAI))
    assert {r["area_code"]: r["value"] for r in later["rows"]}[XUJIAHUI] == 1.0
    assert later["rows"][0]["value"] == district_coverage(park_target, second.run_id) > district["value"]
    assert len(later["rows"][0]["history"]) == 2


def test_a_coverage_table_given_replaces_the_stored_run(park_target):
    """What a what-if will pass: its own coverage table, per street, read the same way."""
    table = [{"area_code": XUJIAHUI, "kind": "park", "threshold_m": 300.0, "population": 1000.0, "covered_population": 990.0},
             {"area_code": TIANPING, "kind": "park", "threshold_m": 300.0, "population": 1000.0, "covered_population": 500.0}]
    rows = {r["area_code"]: r for r in status(park_target, "XH-T-PARK", DAY_200, coverage=table)["rows"]}
    assert (rows[XUJIAHUI]["value"], rows[XUJIAHUI]["status"]) == (0.99, "met")
    assert rows[TIANPING]["value"] == 0.5
    assert rows["310104"]["value"] is None, "the table does not report every street of the district"


def test_a_facility_count_target_counts_the_base(xuhui):
    with transaction(xuhui) as session:
        upsert_targets(session, [TargetSpec("XH-T-HC", "社区卫生服务中心", "310104", "live", 13, "facilities", date(2030, 12, 31),
                                            source="facility_count", source_kind="health_centre")])
    rows = {r["area_code"]: r for r in status(xuhui, "XH-T-HC", DAY_200)["rows"]}
    with xuhui() as session:
        inside = session.scalar(sa.select(sa.func.count()).where(Facility.kind == "health_centre", Facility.district_code == "310104"))
    assert (rows["310104"]["value"], rows["310104"]["status"]) == (inside, "at_risk") and inside == 12
    assert rows[XUJIAHUI]["value"] == 1.0 and rows[XUJIAHUI]["goal"] is None


@pytest.mark.parametrize(("spec", "message"), [
    (TargetSpec("T", "x", "310104", "live", 1, "share", date(2030, 1, 1), source="rainfall"), "unknown source 'rainfall'"),
    (TargetSpec("T", "x", "310104", "sum", 1, "km", date(2030, 1, 1), programme="NONE", quantity="km"), "no programme 'NONE'"),
    (TargetSpec("T", "x", "999999", "sum", 1, "km", date(2030, 1, 1), programme="NONE", quantity="km"), "no area '999999'"),
    (TargetSpec("T", "x", "310104", "sum", 1, "km", date(2030, 1, 1), quantity="miles"), "unknown quantity 'miles'"),
])
def test_a_target_that_could_not_be_computed_is_refused(xuhui, spec, message):
    with transaction(xuhui) as session, pytest.raises(ValidationError, match=message):
        upsert_targets(session, [spec])
