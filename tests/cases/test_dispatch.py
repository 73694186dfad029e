"""The routing table's ``@committee``: a case goes to the office of the residential committee it lies in, else the fallback."""

from datetime import UTC, datetime

import pytest
import shapely
import sqlalchemy as sa

from huizhili.base.areas import AreaSpec, upsert_areas
from huizhili.cases.categories import SHIPPED, load_categories
from huizhili.cases.flow import case_flow
from huizhili.cases.handling import Step, act
from huizhili.cases.intake import Report, report_case
from huizhili.config import Settings
from huizhili.errors import ValidationError
from huizhili.policy import Principal, Scope
from huizhili.storage.engine import transaction
from huizhili.storage.models import CaseAction, Department

MONDAY = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a working Monday
XUJIAHUI = (121.437, 31.192)  # in 徐家汇街道 (310104014)
DONGTANG, DONGTANG_OFFICE = "310104014001", "徐家汇街道东塘居委会"  # a committee of 徐家汇街道, and the demo's office for it
HOTLINE = Principal(username="hotline", role="hotline_operator")
DONGTANG_STAFF = Principal(username="dongtang", role="department_handler", department=DONGTANG_OFFICE)


@pytest.fixture
def flow(tmp_path):
    return case_flow(Settings(data_dir=tmp_path))


@pytest.fixture
def dongtang(xuhui):
    """The demo with a boundary for 东塘居委会 around the 徐家汇 position (the demo's committees have none)."""
    with transaction(xuhui) as session:
        upsert_areas(session, [AreaSpec(code=DONGTANG, name="东塘居委会", level="committee", parent_code="310104014",
                                        geometry=shapely.box(121.430, 31.185, 121.445, 31.200))])
    return xuhui


def help_request(sessions, flow):
    """A call for an elderly resident at the 徐家汇 position; returns where the case went, how, and the trail's dispatch."""
    with transaction(sessions) as session:
        case = report_case(session, Scope(HOTLINE), HOTLINE, flow, Report(channel="hotline", title="独居老人摔倒求助",
                           lon=XUJIAHUI[0], lat=XUJIAHUI[1], category="养老服务"), MONDAY).case
        dispatch = session.scalar(sa.select(CaseAction.details).where(CaseAction.case_id == case.id, CaseAction.action == "dispatch"))
        return case.id, (case.committee_code, case.department, case.routed_by), dispatch


def test_a_help_request_in_a_committee_with_an_office_goes_to_that_office(dongtang, flow):
    _, routed, dispatch = help_request(dongtang, flow)
    assert routed == (DONGTANG, DONGTANG_OFFICE, "routing")
    assert dispatch == {"department": DONGTANG_OFFICE, "routed_by": "routing"}


def test_a_help_request_in_a_committee_without_an_office_goes_to_the_street_office(dongtang, flow):
    with transaction(dongtang) as session:
        session.execute(sa.update(Department).where(Department.code == DONGTANG_OFFICE).values(committee_code=None))
    _, routed, dispatch = help_request(dongtang, flow)
    assert routed == (DONGTANG, "徐家汇街道", "fallback")
    assert dispatch == {"department": "徐家汇街道", "routed_by": "fallback"}


def test_a_help_request_in_no_committee_goes_to_the_street_office(xuhui, flow):
    _, routed, _ = help_request(xuhui, flow)  # the demo as shipped: its committees have no boundaries
    assert routed == (None, "徐家汇街道", "fallback")


def test_the_committee_offices_staff_accept_its_help_request(dongtang, flow):
    case_id, _, _ = help_request(dongtang, flow)
    with transaction(dongtang) as session:
        case = act(session, Scope(DONGTANG_STAFF), DONGTANG_STAFF, flow, case_id, "accept", Step(), MONDAY)
        assert (case.state, case.department) == ("accepted", DONGTANG_OFFICE)


def test_a_committee_office_disputing_hands_the_case_to_the_street_office_at_once(dongtang, flow):
    case_id, _, _ = help_request(dongtang, flow)
    with transaction(dongtang) as session:
        case = act(session, Scope(DONGTANG_STAFF), DONGTANG_STAFF, flow, case_id, "dispute", Step(reason="不在本居委会辖区"), MONDAY)
        assert (case.state, case.department, case.routed_by) == ("dispatched", "徐家汇街道", "fallback")


def test_a_unit_starting_with_at_must_be_one_the_table_knows(tmp_path):
    misspelt = tmp_path / "categories.toml"
    misspelt.write_text(SHIPPED.read_text(encoding="utf-8").replace('department = "@committee"', 'department = "@comittee"'),
                        encoding="utf-8")
    with pytest.raises(ValidationError, match="category '养老服务' has department '@comittee': a unit starting with @ is "
                                              "@street or @committee"):
        load_categories(misspelt)


def test_the_resident_following_his_help_request_is_told_the_committee_by_name_and_no_person(client, role_headers, dongtang):
    citizen = role_headers["citizen"]
    called = client.post("/api/cases", headers=citizen, json={"title": "为老服务一键通求助", "category": "养老服务",
                                                              "lon": XUJIAHUI[0], "lat": XUJIAHUI[1]})
    assert called.status_code == 201, called.text
    [mine] = client.get("/api/me/cases", headers=citizen).json()
    assert (mine["unit"], mine["unit_name"]) == (DONGTANG_OFFICE, {"zh": "徐汇区徐家汇街道东塘居民委员会",
                                                                   "en": "东塘 residents' committee, 徐家汇街道"})
