"""A 12345 export taken in as cases: all or nothing with the bad row named, linked by incident, never doubled."""

from datetime import UTC, datetime

import openpyxl
import pytest
import sqlalchemy as sa

from huizhili.cases.flow import case_flow
from huizhili.cases.hotline_import import import_hotline
from huizhili.config import Settings
from huizhili.errors import ImportFailed
from huizhili.policy.principal import UNRESTRICTED
from huizhili.storage.engine import transaction
from huizhili.storage.models import Case, CaseSignal

NOW = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
HEADER = "工单编号,来电时间,诉求标题,诉求内容,诉求分类,事发地址,来电人,联系电话,经度,纬度"
ROWS = [
    "GD-001,2026-03-02 10:15:00,天平路下立交积水,积水没过膝盖,积水内涝,天平路下立交,王五,13900001111,121.4473,31.2065",
    "GD-002,2026-03-02 10:40:00,下立交积水严重,车辆熄火,积水内涝,天平路,赵六,13900002222,121.4478,31.2066",
    "GD-003,2026/03/02 11:05,夜间施工噪声,工地夜间施工,噪声扰民,漕溪北路,钱七,13900003333,121.437,31.192",
]


@pytest.fixture
def flow(tmp_path):
    return case_flow(Settings(data_dir=tmp_path))


def load(sessions, flow, path):
    with transaction(sessions) as session:
        return import_hotline(session, UNRESTRICTED, flow, path, NOW)


def count(sessions, model):
    with sessions() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model))


def test_an_export_in_gb18030_is_taken_in_linked_by_incident_and_not_doubled_when_loaded_again(xuhui, flow, tmp_path):
    path = tmp_path / "12345.csv"
    path.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="gb18030")
    done = load(xuhui, flow, path)
    assert (len(done.created), len(done.linked), done.skipped) == (2, 1, [])
    with xuhui() as session:
        flood = session.scalar(sa.select(Case).where(Case.external_ref == "GD-001"))
        assert (flood.channel, flood.category, flood.department, flood.received_at) == (
            "import", "积水内涝", "建设管理委", datetime(2026, 3, 2, 2, 15, tzinfo=UTC))
        assert session.scalars(sa.select(CaseSignal.external_ref).where(CaseSignal.case_id == flood.id)).all() == ["GD-001", "GD-002"]
    again = load(xuhui, flow, path)
    assert (again.created, again.linked, again.skipped) == ([], [], ["GD-001", "GD-002", "GD-003"])
    assert count(xuhui, CaseSignal) == 3


def test_a_bad_row_stops_the_import_naming_its_line_and_nothing_is_written(xuhui, flow, tmp_path):
    path = tmp_path / "12345.csv"
    bad = ROWS[2].replace("2026/03/02 11:05", "三月二日")
    path.write_text("\n".join([HEADER, ROWS[0], ROWS[1], bad]) + "\n", encoding="utf-8")
    with pytest.raises(ImportFailed, match=r"12345.csv line 4: 来电时间 '三月二日' is not a date and time"):
        load(xuhui, flow, path)
    assert (count(xuhui, Case), count(xuhui, CaseSignal)) == (0, 0)
    path.write_text("\n".join([HEADER, ROWS[0].replace("积水内涝", "水漫金山")]) + "\n", encoding="utf-8")
    with pytest.raises(ImportFailed, match="line 2: unknown category '水漫金山'"):
        load(xuhui, flow, path)


def test_an_excel_export_with_its_own_column_names_is_mapped(xuhui, flow, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["编号", "受理时间", "标题", "类别", "经度", "纬度"])
    sheet.append(["X-9", "2026-03-02 09:30:00", "小区垃圾桶满溢", "垃圾分类", "121.437", "31.192"])
    path = tmp_path / "export.xlsx"
    book.save(path)
    with transaction(xuhui) as session:
        done = import_hotline(session, UNRESTRICTED, flow, path, NOW, mapping={
            "external_ref": "编号", "received_at": "受理时间", "title": "标题", "category": "类别"})
        case = session.scalar(sa.select(Case).where(Case.number == done.created[0]))
        assert (case.external_ref, case.category, case.department, case.street_code) == ("X-9", "垃圾分类", "绿化市容局", "310104014")
