"""综合评价: the measures per unit, area, category and period, from cases walked through the workflow; the public league."""

from datetime import UTC, datetime, timedelta

import pytest

from huizhili.cases.evaluation import Period, evaluate
from huizhili.cases.flow import case_flow
from huizhili.cases.handling import Step, act
from huizhili.cases.intake import Report, report_case
from huizhili.config import Settings
from huizhili.policy import Principal, Scope
from huizhili.storage.engine import transaction

MONDAY = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
XUJIAHUI, TIANPING = (121.437, 31.192), (121.4473, 31.2065)
ADMIN = Principal(username="admin", role="district_admin")
PERIOD = Period(MONDAY - timedelta(days=1), MONDAY + timedelta(days=30))


@pytest.fixture
def flow(tmp_path):
    return case_flow(Settings(data_dir=tmp_path))


def closed_case(session, flow, where, category, *, after, rework=False, satisfaction=None, channel="hotline", title="x"):
    """A case received on MONDAY and closed ``after`` later, reworked once if asked, evaluated if given a verdict."""
    case = report_case(session, Scope.system(), ADMIN, flow, Report(channel=channel, title=title, lon=where[0], lat=where[1],
                                                                   category=category), MONDAY).case
    unit = Principal(username="unit", role="department_handler", department=case.department)
    if case.department.endswith("街道"):
        unit = Principal(username="office", role="street_operator", streets=frozenset({case.street_code}))
    steps = [(unit, "accept", {}), (unit, "start", {}), (unit, "handle", {"note": "ok"})]
    if rework:
        steps += [(ADMIN, "rework", {"reason": "not done"}), (unit, "handle", {"note": "ok"})]
    steps += [(ADMIN, "verify", {}), (ADMIN, "close", {})]
    if satisfaction:
        steps.append((ADMIN, "evaluate", {"satisfaction": satisfaction}))
    for who, action, fields in steps:
        act(session, Scope(who) if who is not ADMIN else Scope.system(), who, flow, case.id, action, Step(**fields),
            MONDAY + after)
    return case


def test_the_measures_per_street_unit_and_category(xuhui, flow):
    with transaction(xuhui) as session:
        closed_case(session, flow, XUJIAHUI, "绿化养护", after=timedelta(hours=10), satisfaction=3, title="a")
        closed_case(session, flow, XUJIAHUI, "违法建筑", after=timedelta(days=9), rework=True, satisfaction=1, title="b")  # late: 5wd
        closed_case(session, flow, XUJIAHUI, "交通秩序", after=timedelta(hours=2), channel="patrol", title="c")
        report_case(session, Scope.system(), ADMIN, flow, Report(channel="hotline", title="d", lon=TIANPING[0], lat=TIANPING[1],
                                                                 category="噪声扰民"), MONDAY)
    with xuhui() as session:
        streets = {r["key"]: r for r in evaluate(session, Scope.system(), flow, "street", PERIOD)}
        departments = {r["key"]: r for r in evaluate(session, Scope.system(), flow, "department", PERIOD)}
    assert streets["310104014"] == {
        "key": "310104014", "name": "徐家汇街道", "cases": 3, "patrol": 1, "closed": 3, "closure_rate": 1.0,
        "on_time_rate": 0.6667, "rework_rate": 0.3333, "mean_hours": 76.0, "p90_hours": 174.8,  # of 2, 10 and 216 hours
        "satisfaction_rate": 0.5, "mean_satisfaction": 2.0}
    assert (streets["310104003"]["cases"], streets["310104003"]["closed"], streets["310104003"]["closure_rate"],
            streets["310104003"]["on_time_rate"], streets["310104003"]["mean_hours"]) == (1, 0, 0.0, None, None)
    assert (departments["城管执法局"]["on_time_rate"], departments["绿化市容局"]["on_time_rate"]) == (0.0, 1.0)


def test_an_operator_evaluates_only_her_street(xuhui, flow):
    with transaction(xuhui) as session:
        closed_case(session, flow, XUJIAHUI, "绿化养护", after=timedelta(hours=1))
        closed_case(session, flow, TIANPING, "绿化养护", after=timedelta(hours=1))
    operator = Principal(username="xjh", role="street_operator", streets=frozenset({"310104014"}))
    with xuhui() as session:
        assert [r["key"] for r in evaluate(session, Scope(operator), flow, "street", PERIOD)] == ["310104014"]
        assert [r["key"] for r in evaluate(session, Scope(operator), flow, "month", PERIOD)] == ["2026-03"]


def test_the_public_league_ranks_streets_on_time_first(client, role_headers, sessions):
    flow = case_flow(Settings())
    with transaction(sessions) as session:
        closed_case(session, flow, XUJIAHUI, "绿化养护", after=timedelta(hours=1))
        closed_case(session, flow, TIANPING, "违法建筑", after=timedelta(days=10))
    params = {"since": (MONDAY - timedelta(days=1)).isoformat(), "until": (MONDAY + timedelta(days=20)).isoformat()}
    table = client.get("/api/public/league", params=params).json()
    assert [(r["rank"], r["name"], r["on_time_rate"]) for r in table] == [(1, "徐家汇街道", 1.0), (2, "天平路街道", 0.0)]
    assert set(table[0]) == {"rank", "key", "name", "cases", "closed", "closure_rate", "on_time_rate", "satisfaction_rate"}
    png = client.get("/api/cases/kpis.png", params={**params, "by": "street"}, headers=role_headers["analyst"])
    assert (png.status_code, png.headers["content-type"], png.content[:8]) == (200, "image/png", b"\x89PNG\r\n\x1a\n")
    csv = client.get("/api/cases/kpis", params={**params, "by": "department", "format": "csv"}, headers=role_headers["analyst"])
    assert csv.text.splitlines()[0].startswith("key,name,cases,patrol,closed,closure_rate")
