import json

import pytest
from click.testing import CliRunner
from conftest import HELSINKI

from huizhili.base.kinds import FACILITY_KINDS
from huizhili.cli import main


@pytest.fixture
def runner(tmp_path, monkeypatch):
    """The CLI against an embedded database of its own."""
    monkeypatch.setenv("HUIZHILI_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("HUIZHILI_DATABASE_URL", raising=False)
    return CliRunner()


def test_demo_loads_xuhui_and_summary_prints_json(runner):
    loaded = runner.invoke(main, ["demo", "--no-serve"])
    assert loaded.exit_code == 0, loaded.output
    assert "Xuhui demo loaded" in loaded.output
    result = runner.invoke(main, ["base", "summary", "--area", "徐汇区", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {"buildings", "population", "park", *FACILITY_KINDS} <= set(summary)
    assert summary["health_centre"] == 12
    assert len(summary["children"]) == 14


def test_demo_is_refused_in_production(runner, monkeypatch):
    monkeypatch.setenv("HUIZHILI_ENVIRONMENT", "production")
    result = runner.invoke(main, ["demo", "--no-serve"])
    assert result.exit_code == 1
    assert "not loaded where HUIZHILI_ENVIRONMENT=production" in result.stderr
    summary = runner.invoke(main, ["base", "summary", "--json"])
    assert json.loads(summary.stdout)["children"] == []


def test_summary_table_lists_each_street(runner):
    runner.invoke(main, ["demo", "--no-serve"])
    result = runner.invoke(main, ["base", "summary", "--area", "310104"])
    assert result.exit_code == 0
    assert "徐家汇街道 (310104014)" in result.output


def test_import_of_a_missing_file_fails_with_one_line(runner, tmp_path):
    result = runner.invoke(main, ["import", "file", str(tmp_path / "none.geojson"), "--as", "facility", "--set", "kind=park"])
    assert result.exit_code == 1
    assert "no such file" in result.stderr


def test_import_file_reports_records_outside_the_area(runner, tmp_path):
    runner.invoke(main, ["demo", "--no-serve"])
    points = tmp_path / "points.csv"
    points.write_text("name,lon,lat\n徐家汇,121.4375,31.1960\n北京,116.40,39.91\n", encoding="utf-8")
    result = runner.invoke(main, ["import", "file", str(points), "--as", "facility", "--set", "kind=sampling_point", "--within", "徐汇区"])
    assert result.exit_code == 0, result.output
    assert "imported 1 facilities" in result.stdout
    assert "北京" in result.stdout and "not imported" in result.stdout


def test_import_file_takes_only_the_records_asked_for(runner, tmp_path):
    points = tmp_path / "landuse.csv"
    points.write_text("lon,lat,landuse_type\n121.43,31.19,park\n121.44,31.19,residential\n121.45,31.19,garden\n", encoding="utf-8")
    result = runner.invoke(main, ["import", "file", str(points), "--as", "facility", "--set", "kind=park",
                                  "--only", "landuse_type=park", "--only", "landuse_type=garden"])
    assert result.exit_code == 0, result.output
    assert "imported 2 facilities" in result.stdout and "1 records left out" in result.stdout


def test_the_demo_life_circle_reports_park_coverage_per_street_walked_from_compounds(runner):
    runner.invoke(main, ["demo", "--no-serve"])
    result = runner.invoke(main, ["lifecircle", "run", "--area", "徐汇区", "--kind", "park", "--cutoff", "1500"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "徐汇区, 683 compounds origins, network distances" in lines[0]
    assert lines[1].startswith("  origins — compounds: 683 residential compounds (小区) as points")
    assert "  note: distances are reported up to 1,500 m; farther ones are null" in lines
    table = lines[lines.index("area\tpark ≤300 m") + 1 :][:14]
    assert [line.split("\t")[0] for line in table][:2] == ["天平路街道 (310104003)", "湖南路街道 (310104004)"]
    assert all(line.split("\t")[1].endswith("%") for line in table if "虹梅路" not in line and "开发区" not in line)


def test_malformed_key_value_option_is_refused(runner, tmp_path):
    result = runner.invoke(main, ["import", "file", str(tmp_path / "x.csv"), "--as", "facility", "--set", "kindpark"])
    assert result.exit_code == 2
    assert "KEY=VALUE" in result.output


def test_closing_an_account_and_running_retention(runner):
    runner.invoke(main, ["demo", "--no-serve"])
    added = runner.invoke(main, ["user", "add", "leaving", "--role", "citizen", "--password", "a long password", "--phone", "13800000000"])
    assert added.exit_code == 0, added.output
    closed = runner.invoke(main, ["user", "close", "leaving"])
    assert closed.exit_code == 0 and "closed" in closed.output
    again = runner.invoke(main, ["user", "close", "leaving"])
    assert again.exit_code == 1 and "already closed" in again.output
    report = runner.invoke(main, ["retention", "--dry-run"])
    assert report.exit_code == 0, report.output
    lines = report.output.splitlines()
    assert [line.split()[0] for line in lines] == ["users", "cases", "case_signals", "case_photos", "access_log", "events", "observations",
                                                     "minute_rollups", "hour_rollups",
                                                     "dead_letters"]
    assert all(" 0 would be " in line for line in lines), "closed just now: nothing is due yet"


def test_grid_cells_for_a_street(runner):
    runner.invoke(main, ["demo", "--no-serve"])
    made = runner.invoke(main, ["base", "grid", "--area", "徐家汇街道", "--size", "500"])
    assert made.exit_code == 0, made.output
    assert made.stdout.startswith("徐家汇街道 (310104014): ") and made.stdout.strip().endswith(" cells")
    assert "grid cells cut …" in made.stderr  # progress, a line per stage in a log
    again = runner.invoke(main, ["base", "grid", "--area", "徐家汇街道"])
    assert again.exit_code == 1 and "not regenerated" in again.output


def test_user_add_refuses_a_weak_password_typed_at_the_prompt(runner):
    result = runner.invoke(main, ["user", "add", "zhang", "--role", "citizen"], input="zhang12345\nzhang12345\n")
    assert result.exit_code == 1
    assert "error: password must not contain the username" in result.stderr
    assert "zhang12345" not in result.stderr


def test_departments_are_records_that_a_handler_must_name(runner):
    added = runner.invoke(main, ["department", "add", "水务局", "--name", "徐汇区水务局", "--name-en", "Xuhui District Water Affairs Bureau"])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(main, ["department", "list"])
    assert listed.stdout == "水务局\t徐汇区水务局\tXuhui District Water Affairs Bureau\n"
    again = runner.invoke(main, ["department", "add", "水务局", "--name", "徐汇区水务局"])
    assert again.exit_code == 1 and "department '水务局' exists already" in again.stderr
    misspelt = runner.invoke(main, ["user", "add", "zhou", "--role", "department_handler", "--department", "水务", "--password", "Kettle-Quartz-Meadow-91"])
    assert misspelt.exit_code == 1 and "user 'zhou': no department '水务'" in misspelt.stderr
    handler = runner.invoke(main, ["user", "add", "zhou", "--role", "department_handler", "--department", "水务局", "--password", "Kettle-Quartz-Meadow-91"])
    assert handler.exit_code == 0, handler.output


def test_a_department_stands_for_a_stored_committee_as_its_office(runner, tmp_path):
    divisions = tmp_path / "divisions.csv"
    divisions.write_text("code,name\n310104014,徐家汇街道\n310104014001,东塘居委会\n", encoding="utf-8")
    assert runner.invoke(main, ["import", "divisions", str(divisions), "--parent", "310104=徐汇区"]).exit_code == 0
    added = runner.invoke(main, ["department", "add", "东塘居委会", "--name", "徐家汇街道东塘居委会", "--committee", "310104014001"])
    assert added.exit_code == 0, added.output
    street = runner.invoke(main, ["department", "add", "徐家汇街道", "--name", "徐汇区徐家汇街道办事处", "--street", "310104014"])
    assert street.exit_code == 0, street.output
    wrong = runner.invoke(main, ["department", "add", "番禺居委会", "--name", "番禺居委会", "--committee", "310104014002"])
    assert wrong.exit_code == 1
    assert "department '番禺居委会': no residential committee coded '310104014002' is stored" in wrong.stderr


def test_a_fresh_database_with_only_an_osm_extract_runs_a_life_circle(runner):
    imported = runner.invoke(main, ["import", "osm", str(HELSINKI)])
    assert imported.exit_code == 0, imported.output
    assert "district osm-helsinki" in imported.stdout
    run = runner.invoke(main, ["lifecircle", "run", "--origins", "grid", "--kind", "pharmacy"])
    assert run.exit_code == 0, run.output
    assert "grid origins, network distances" in run.stdout


def test_devices_import_registers_the_good_rows_reports_the_bad_and_issues_credentials(runner, tmp_path):
    runner.invoke(main, ["demo", "--no-serve"])
    devices = tmp_path / "devices.csv"
    devices.write_text("code,kind,name,lon,lat,owner_department\n"
                       "TJ-WATER-1,water_level,天钥桥路下立交,121.4372,31.1862,建设管理委\n"
                       "TJ-WATER-1,water_level,duplicate,121.4372,31.1862,\n"
                       "BAD CODE,water_level,x,121.43,31.18,\n", encoding="utf-8")
    credentials = tmp_path / "out" / "credentials.csv"
    credentials.parent.mkdir()
    result = runner.invoke(main, ["devices", "import", str(devices), "--credentials-out", str(credentials)])
    assert result.exit_code == 0, result.output
    assert "1 devices created, 0 updated, 2 rows refused" in result.output
    assert "line 3: TJ-WATER-1: code 'TJ-WATER-1' is also on line 2" in result.output
    assert "line 4: BAD CODE: code 'BAD CODE' must be" in result.output
    assert credentials.stat().st_mode & 0o777 == 0o600
    assert credentials.read_text().splitlines()[1].startswith("TJ-WATER-1,device-TJ-WATER-1,")
    acl = (tmp_path / "var" / "broker" / "acl").read_text()
    assert "topic write huizhili/devices/TJ-WATER-1/#" in acl


def test_sensing_detect_scores_a_series_in_nabs_format(runner, tmp_path):
    series = tmp_path / "series.csv"
    series.write_text("timestamp,value\n" + "".join(f"2026-01-01 {h:02d}:00:00,{10 + (h == 20) * 90}\n" for h in range(24)))
    result = runner.invoke(main, ["sensing", "detect", "--csv", str(series), "--out", str(tmp_path / "scores.csv")])
    assert result.exit_code == 0 and "scored 24 rows" in result.output
    rows = (tmp_path / "scores.csv").read_text().splitlines()
    assert rows[0] == "timestamp,value,anomaly_score" and len(rows) == 25
    scores = [float(row.split(",")[2]) for row in rows[1:]]
    assert max(scores) == scores[20], "the spike at 20:00 is the most unusual point"
