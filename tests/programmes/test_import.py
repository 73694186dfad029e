"""Programme and project lists from CSV and Excel: all or nothing with the bad row named, or the valid rows with a report."""

import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import row_counts
from programme_samples import with_housing

from huizhili.errors import ImportFailed
from huizhili.policy import Principal, Scope
from huizhili.programmes.importing import RefusedRow, import_list
from huizhili.storage.engine import transaction
from huizhili.storage.models import Programme, Project

HEADER = "所属计划,项目编号,项目名称,责任单位,状态,计划开工,计划完工,户数,经度,纬度\n"
GOOD = ("XH-HR,HR-1,徐家汇小区修缮,房管局,在建,2026-03-01,2026/9/30,120,121.42739,31.19211\n"
        "XH-HR,HR-2,天平小区修缮,房管局,计划,2026-04-01,2026-12-31,80,121.44839,31.20893\n")
BAD = ("XH-HR,HR-3,坏日期,房管局,计划,2026-13-01,,50,121.43,31.19\n"
       "XH-HR,HR-4,区外,房管局,计划,,,50,121.60,31.30\n")


@pytest.fixture
def housing(xuhui):
    return with_housing(xuhui)


def write(tmp_path, text, name="projects.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def projects(sessions):
    with sessions() as session:
        return session.execute(sa.select(Project.source_ref, Project.status, Project.street_code, Project.quantities)
                               .order_by(Project.source_ref)).all()


def test_all_or_nothing_refuses_the_file_naming_its_first_bad_row(housing, tmp_path):
    path = write(tmp_path, HEADER + GOOD + BAD)
    before = row_counts(housing)
    with transaction(housing) as session, pytest.raises(ImportFailed) as refused:
        import_list(session, Scope.system(), path, "projects")
    assert refused.value.record == "projects.csv:4"
    assert str(refused.value).startswith("projects.csv 第 4 行 line 4: planned_start '2026-13-01' 不是日期 is not a date")
    assert "另有 1 行有误 and 1 more bad rows" in str(refused.value) and "nothing was written" in str(refused.value)
    assert row_counts(housing) == before


def test_a_row_outside_every_district_refuses_the_file_too(housing, tmp_path):
    path = write(tmp_path, HEADER + GOOD + BAD.splitlines(keepends=True)[1])
    with transaction(housing) as session, pytest.raises(ImportFailed, match="line 4: 项目 XH-HR/HR-4：不在任何区内 lies outside every district"):
        import_list(session, Scope.system(), path, "projects")
    assert projects(housing) == []


def test_valid_only_writes_the_good_rows_and_names_each_bad_one(housing, tmp_path):
    path = write(tmp_path, HEADER + GOOD + BAD)
    with transaction(housing) as session:
        done = import_list(session, Scope.system(), path, "projects", valid_only=True)
    assert done.written == ["XH-HR/HR-1", "XH-HR/HR-2"]
    assert done.refused == [RefusedRow(4, "planned_start '2026-13-01' 不是日期 is not a date (2026-03-01)"),
                            RefusedRow(5, "项目 XH-HR/HR-4：不在任何区内 lies outside every district")]
    assert projects(housing) == [("HR-1", "in_progress", "310104014", {"households": 120.0}),
                                 ("HR-2", "planned", "310104003", {"households": 80.0})]


def test_a_list_loaded_again_updates_its_projects(housing, tmp_path):
    with transaction(housing) as session:
        import_list(session, Scope.system(), write(tmp_path, HEADER + GOOD), "projects")
        import_list(session, Scope.system(), write(tmp_path, HEADER + GOOD.replace(",120,", ",150,")), "projects")
    assert [row.quantities for row in projects(housing)] == [{"households": 150.0}, {"households": 80.0}]


def test_a_list_loaded_again_leaves_a_projects_status_to_its_progress_reports(housing, tmp_path):
    with transaction(housing) as session:
        import_list(session, Scope.system(), write(tmp_path, HEADER + GOOD), "projects")
        import_list(session, Scope.system(), write(tmp_path, HEADER + GOOD.replace(",在建,", ",完成,")), "projects")
    assert [row.status for row in projects(housing)] == ["in_progress", "planned"]  # only a progress report says it is done


def test_a_street_operator_imports_only_her_streets_projects(housing, tmp_path):
    operator = Scope(Principal(username="xujiahui_operator", role="street_operator", streets=frozenset({"310104014"})))
    path = write(tmp_path, HEADER + GOOD)
    with transaction(housing) as session, pytest.raises(ImportFailed, match="line 3: 项目 XH-HR/HR-2：不在你的辖区或职责范围"):
        import_list(session, operator, path, "projects")
    with transaction(housing) as session:
        done = import_list(session, operator, path, "projects", valid_only=True)
    assert (done.written, [row.line for row in done.refused]) == (["XH-HR/HR-1"], [3])


def test_a_road_named_in_the_list_is_placed_on_the_walk_ways_and_measured(housing, tmp_path):
    path = write(tmp_path, "programme,ref,name,owner_department,road,count\nXH-HR,R-1,武康路整治,建设管理委,武康路,1\n")
    with transaction(housing) as session:
        import_list(session, Scope.system(), path, "projects")
        project = session.scalar(sa.select(Project))
        assert project.geometry.geom_type in ("LineString", "MultiLineString")
        assert project.street_code is not None
        # 武康路 is about 1.2 km long; the demo's walk ways hold it whole.
        assert 0.8 < project.quantities["km"] < 1.6 and project.quantities["count"] == 1.0


def test_programmes_come_from_excel_with_chinese_headers(xuhui, tmp_path):
    path = tmp_path / "programmes.xlsx"
    pd.DataFrame([{"计划编号": "XH-LL", "类别": "neighbourhood_hub", "名称": "邻里汇3.0", "责任单位": "民政局",
                   "开始日期": "2026-01-01", "结束日期": "2030-12-31"},
                  {"计划编号": "XH-X", "类别": "carnival", "名称": "?", "责任单位": "民政局"},
                  {"计划编号": "XH-Y", "类别": "park", "名称": "公园", "责任单位": "不存在局"}]).to_excel(path, index=False)
    with transaction(xuhui) as session:
        done = import_list(session, Scope.system(), path, "programmes", valid_only=True)
    assert done.written == ["XH-LL"]
    assert [row.line for row in done.refused] == [3, 4]
    assert "未知类别 unknown kind 'carnival'" in done.refused[0].error
    assert "没有单位 no department '不存在局'" in done.refused[1].error
    with xuhui() as session:
        programme = session.scalar(sa.select(Programme))
        assert (programme.code, programme.kind, str(programme.period_end)) == ("XH-LL", "neighbourhood_hub", "2030-12-31")


def test_a_list_without_its_needed_columns_is_refused_whole(xuhui, tmp_path):
    with transaction(xuhui) as session, pytest.raises(ImportFailed, match=r"lacks the column\(s\) ref \(项目编号\)"):
        import_list(session, Scope.system(), write(tmp_path, "programme,name\nX,Y\n"), "projects", valid_only=True)
