"""The programmes' command line: a list imported (all or nothing, or the valid rows), progress reported, targets shown."""

import json
from datetime import date

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from programme_samples import with_housing

from huizhili.cli import main
from huizhili.programmes.targets import TargetSpec, upsert_targets
from huizhili.storage.engine import session_factory, transaction
from huizhili.storage.models import LifeCircleCoverage, Project

# The command line opens its own engine per command, as an operator's shell does: embedded only.
pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)

LIST = ("所属计划,项目编号,项目名称,户数,经度,纬度\n"
        "XH-HR,HR-1,徐家汇小区修缮,120,121.42739,31.19211\n"
        "XH-HR,HR-2,区外,80,121.60,31.30\n")


@pytest.fixture
def runner(xuhui, engine, tmp_path, monkeypatch):
    """The CLI against the Xuhui demo with a housing programme and its target of 200 households by 2030."""
    with_housing(xuhui)
    with transaction(xuhui) as session:
        upsert_targets(session, [TargetSpec("XH-T-HR", "住房修缮户数", "310104", "sum", 200, "households", date(2030, 12, 31),
                                            name_en="Households repaired", programme="XH-HR", quantity="households")])
    monkeypatch.setenv("HUIZHILI_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HUIZHILI_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    return CliRunner()


def test_a_list_is_imported_progress_reported_and_the_target_shown(runner, xuhui, tmp_path):
    path = tmp_path / "list.csv"
    path.write_text(LIST, encoding="utf-8")
    refused = runner.invoke(main, ["programmes", "import", str(path), "--kind", "projects"])
    assert refused.exit_code == 1 and "list.csv 第 3 行 line 3: 项目 XH-HR/HR-2：不在任何区内 lies outside every district" in refused.stderr
    taken = runner.invoke(main, ["programmes", "import", str(path), "--kind", "projects", "--valid-only"])
    assert taken.exit_code == 0, taken.output
    assert taken.stdout.splitlines() == ["1 projects written 已写入, 1 rows refused 拒绝",
                                         "  line 3: 项目 XH-HR/HR-2：不在任何区内 lies outside every district"]
    with xuhui() as session:
        project = session.scalar(sa.select(Project.id))
    reported = runner.invoke(main, ["programmes", "progress", str(project), "--status", "in_progress", "--done", "households=60"])
    assert reported.exit_code == 0, reported.output
    assert reported.stdout.startswith(f'project {project}: in_progress, done {{"households": 60.0}}')
    shown = runner.invoke(main, ["programmes", "targets", "XH-T-HR"])
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[0] == "XH-T-HR 住房修缮户数 / Households repaired: goal 200 households by 2030-12-31"
    assert lines[1].split()[:4] == ["310104", "徐汇区", "now", "60"]
    listed = runner.invoke(main, ["programmes", "show", "XH-HR"])
    assert "HR-1" in listed.stdout and "in_progress" in listed.stdout


def test_the_demo_seeds_its_targets_and_the_park_target_has_the_life_circles_value(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("HUIZHILI_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HUIZHILI_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    runner = CliRunner()
    loaded = runner.invoke(main, ["demo", "--no-serve"])
    assert loaded.exit_code == 0, loaded.output
    assert "programmes: 8 programmes, 30 projects, 14 progress reports, 8 targets" in loaded.stdout
    shown = runner.invoke(main, ["programmes", "targets", "XH-T-PARK-300", "--json"])
    district = json.loads(shown.stdout)[0]["rows"][0]
    with session_factory(engine)() as session:
        rows = session.execute(sa.select(LifeCircleCoverage.population, LifeCircleCoverage.covered_population).where(
            LifeCircleCoverage.kind == "park", LifeCircleCoverage.threshold_m == 300,
            LifeCircleCoverage.area_code.like("310104_%"))).all()
    assert district["area_code"] == "310104" and len(district["history"]) == 1
    assert district["value"] == round(sum(c for _, c in rows) / sum(p for p, _ in rows), 4)
