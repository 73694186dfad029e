import pytest

from huizhili.base.kinds import FACILITY_KINDS
from huizhili.base.summary import summarise
from huizhili.errors import NotFoundError
from huizhili.policy import Scope


def test_district_summary_counts_facilities_by_kind_per_street(xuhui):
    with xuhui() as session:
        result = summarise(session, "徐汇区", Scope.system())
    streets = {child["name"]: child for child in result["children"]}
    assert result["code"] == "310104"
    assert result["health_centre"] == 12  # 虹梅路街道's centre lies where no boundary is known yet
    assert result["metro_station"] == 17
    assert set(FACILITY_KINDS) <= set(result)
    assert len(streets) == 14
    assert streets["斜土路街道"]["health_centre"] == 1
    assert sum(child["health_centre"] for child in result["children"]) == 12
    assert result["buildings"] == 0 and result["parcels"] == 683 and result["park"] == 140
    assert (result["population"], result["population_source"], result["households"]) == (1_113_078, "statistics", 414_874)
    assert {child["population"] for child in result["children"]} == {None}  # no counts per street are published


def test_summary_of_everything_counts_unassigned_records_too(xuhui):
    with xuhui() as session:
        result = summarise(session, None, Scope.system())
    assert result["name"] == "all"
    assert result["health_centre"] == 13
    assert [child["code"] for child in result["children"]] == ["310100"]


def test_building_population_estimates_add_up(helsinki):
    with helsinki() as session:
        result = summarise(session, None, Scope.system())
    assert result["buildings"] == 446
    assert result["population_source"] == "building estimates"
    assert result["population"] > 0


def test_unknown_area_is_refused(xuhui):
    with xuhui() as session, pytest.raises(NotFoundError, match="不存在街道"):
        summarise(session, "不存在街道", Scope.system())
