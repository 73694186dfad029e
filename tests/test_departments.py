"""Departments standing for a street's or a residential committee's office: only for areas the base holds, on both backends."""

import pytest
import sqlalchemy as sa

from huizhili.departments import (
    DepartmentSpec,
    add_department,
    committee_office,
    upsert_departments,
)
from huizhili.errors import ConflictError, ValidationError
from huizhili.storage.engine import transaction
from huizhili.storage.models import Department

DONGTANG = "310104014001"  # 东塘居委会, in 徐家汇街道 (310104014)


VIRTUAL = "310104501498"  # the development zone's virtual community: a committee-level area the demo gives no office


def test_a_committee_office_is_the_unit_of_its_committee(xuhui):
    with transaction(xuhui) as session:
        add_department(session, DepartmentSpec("开发区社区办", "漕河泾开发区社区办公室", committee_code=VIRTUAL))
    with xuhui() as session:
        assert committee_office(session, VIRTUAL) == "开发区社区办"
        assert committee_office(session, DONGTANG) == "徐家汇街道东塘居委会"  # the demo's own
        assert committee_office(session, "310104014") is None  # a street is no committee


def test_a_committee_has_one_office(xuhui):
    with pytest.raises(ConflictError) as refused, transaction(xuhui) as session:
        add_department(session, DepartmentSpec("东塘二办", "东塘第二办公室", committee_code=DONGTANG))
    assert str(refused.value) == ("部门 '东塘二办'：310104014001 已有办事机构 '徐家汇街道东塘居委会' — department '东塘二办': "
                                  "310104014001 has an office already, '徐家汇街道东塘居委会'")


@pytest.mark.parametrize(("spec", "says"), [
    (DepartmentSpec("某居委会", "某居委会", committee_code="310104014999"),
     "部门 '某居委会'：没有代码为 '310104014999' 的居委会 — department '某居委会': no residential committee coded '310104014999'"),
    (DepartmentSpec("某居委会", "某居委会", committee_code="310104014"),  # a street's code, not a committee's
     "department '某居委会': no residential committee coded '310104014'"),
    (DepartmentSpec("某街道", "某街道", street_code=DONGTANG),  # a committee's code, not a street's
     "部门 '某街道'：没有代码为 '310104014001' 的街道 — department '某街道': no street coded '310104014001'"),
    (DepartmentSpec("某办", "某办", street_code="310104014", committee_code=DONGTANG),
     "department '某办' is the office of a street (310104014) or of a committee (310104014001), not both"),
])
def test_an_office_of_an_area_the_base_does_not_hold_is_refused_naming_the_department(xuhui, spec, says):
    with pytest.raises(ValidationError) as refused, transaction(xuhui) as session:
        add_department(session, spec)
    assert says in str(refused.value)


def test_upserting_offices_writes_none_when_one_names_no_committee(xuhui):
    specs = [DepartmentSpec("甲居委会", "甲居委会", committee_code=VIRTUAL),
             DepartmentSpec("乙居委会", "乙居委会", committee_code="310104003999")]
    with pytest.raises(ValidationError, match="'乙居委会'"), transaction(xuhui) as session:
        upsert_departments(session, specs)
    with xuhui() as session:
        assert session.scalar(sa.select(sa.func.count()).where(Department.code.in_(["甲居委会", "乙居委会"]))) == 0
