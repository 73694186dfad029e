"""The hotline's command line: a call taken, walked along the workflow, shown with its trail; a new year's holidays loaded."""

from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from huizhili.cli import main

NOTICES = Path(__file__).parents[1] / "data" / "holidays"

# The command line opens its own engine per command, as an operator's shell does: embedded only.
pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)


@pytest.fixture
def runner(xuhui, engine, tmp_path, monkeypatch):
    """The CLI against a database of its own holding the Xuhui demo's areas and units."""
    monkeypatch.setenv("HUIZHILI_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HUIZHILI_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    return CliRunner()


def test_a_call_is_taken_handled_closed_and_shown_with_its_trail(runner, tmp_path):
    taken = runner.invoke(main, ["cases", "report", "--title", "天平路下立交积水", "--lon", "121.4473", "--lat", "31.2065",
                                 "--category", "积水内涝", "--name", "王五", "--phone", "13900001111"])
    assert taken.exit_code == 0, taken.output
    assert "new case" in taken.stdout and "dispatched, 积水内涝, 建设管理委" in taken.stdout
    number = taken.stdout.split()[2].rstrip(":")
    refused = runner.invoke(main, ["cases", "act", number, "close"])
    assert refused.exit_code == 1
    assert "cannot be 'close'; allowed now: accept, return" in refused.stderr
    runner.invoke(main, ["user", "add", "builder", "--role", "department_handler", "--department", "建设管理委",
                         "--password", "Correct-horse-battery-9"])
    photo = tmp_path / "pumped.png"
    Image.new("RGB", (40, 30), "grey").save(photo)
    for args in (["accept"], ["start"], ["handle", "--note", "抽排完毕", "--photo", str(photo), "--public-photos"], ["verify"], ["close"]):
        who = ["--as", "builder"] if args[0] in {"accept", "start", "handle"} else []
        done = runner.invoke(main, ["cases", "act", number, *args, *who])
        assert done.exit_code == 0, done.output
    shown = runner.invoke(main, ["cases", "show", number])
    assert [line.split()[2] for line in shown.stdout.splitlines()[1:]] == [
        "receive", "file", "dispatch", "accept", "start", "handle", "verify", "close"]
    assert "builder (department_handler) in_progress → handled 抽排完毕" in shown.stdout
    assert len(list((tmp_path / "var" / "photos").glob("*/*.png"))) == 1  # kept as a file, outside the database
    kpis = runner.invoke(main, ["cases", "kpis", "--by", "department"])
    assert kpis.exit_code == 0, kpis.output
    assert kpis.stdout.splitlines()[1].split()[:4] == ["建设管理委", "1", "0", "1"]


def test_a_new_years_holidays_are_loaded_from_the_state_councils_notice(runner, tmp_path):
    notice = tmp_path / "2027.txt"
    notice.write_text((NOTICES / "2026.txt").read_text(encoding="utf-8").replace("2026", "2027"), encoding="utf-8")
    wrong = runner.invoke(main, ["cases", "calendar", str(notice), "--year", "2027"])
    assert wrong.exit_code == 1 and "周" in wrong.stderr  # 2026's weekdays are not 2027's: refused, naming the holiday
    loaded = runner.invoke(main, ["cases", "calendar", str(NOTICES / "2026.txt"), "--year", "2026"])
    assert loaded.exit_code == 0, loaded.output
    assert "2026: 7 holidays, 6 make-up working days" in loaded.stdout
    assert "春节 02-15–02-23 (make-up days: 02-14, 02-28)" in loaded.stdout


def test_a_classifier_is_trained_and_categorises_a_file_in_order(runner, tmp_path):
    from huizhili.cases.flow import DEMO_TRAINING

    model = tmp_path / "model.zip"
    trained = runner.invoke(main, ["cases", "train", "--csv", str(DEMO_TRAINING), "--text-cols", "title,detail",
                                   "--label-col", "category", "--out", str(model)])
    assert trained.exit_code == 0, trained.output
    assert "11 categories; 5-fold cross-validation: macro-F1" in trained.stdout
    messages = tmp_path / "messages.csv"
    messages.write_text("id,text\n1,小区电梯又坏了，老人上不了楼\n2,晚上工地施工噪音太大睡不着\n", encoding="utf-8")
    out = tmp_path / "predicted.csv"
    done = runner.invoke(main, ["cases", "classify", "--model", str(model), "--csv", str(messages), "--text-cols", "text",
                                "--out", str(out)])
    assert done.exit_code == 0, done.output
    rows = [line.split(",") for line in out.read_text(encoding="utf-8").splitlines()]
    assert [row[:1] + row[2:3] for row in rows] == [["id", "prediction"], ["1", "物业管理"], ["2", "噪声扰民"]]
