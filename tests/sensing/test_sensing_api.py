"""Observations over HTTP with a device's key, series for charts, dead letters for operators."""

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sensing_samples import LIMITS

from huizhili.identity.accounts import create_api_key
from huizhili.sensing.ingest import Limits, Message, ingest
from huizhili.storage.engine import transaction
from huizhili.storage.models import Observation


def device_key(sessions, code):
    with transaction(sessions) as session:
        return {"X-API-Key": create_api_key(session, f"device-{code}", "ingest")[1]}


def test_a_device_posts_its_observations_and_a_repeat_is_not_stored_twice(client, xuhui, devices, role_headers):
    headers = device_key(xuhui, "XH-PM25")
    now = datetime.now(UTC).replace(microsecond=0)
    body = {"observations": [{"device": "XH-PM25", "ts": (now - timedelta(minutes=m)).isoformat(), "metric": "pm25", "value": 30 + m}
                             for m in range(3)] + [{"device": "XH-CROWD", "ts": now.isoformat(), "metric": "people", "value": 1}]}
    first = client.post("/api/observations", json=body, headers=headers)
    again = client.post("/api/observations", json=body, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"stored": 3, "duplicates": 0, "rejected": [
        {"index": 3, "reason": "device-XH-PM25 may not send observations of device XH-CROWD"}]}
    assert again.json()["stored"] == 0 and again.json()["duplicates"] == 3
    with xuhui() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Observation)) == 3
    letters = client.get("/api/dead-letters", headers=role_headers["district_admin"]).json()
    assert [(d["channel"], d["device_code"]) for d in letters] == [("http", "XH-CROWD")] * 2
    assert '"device": "XH-CROWD"' in letters[0]["raw"]


def test_a_year_of_minute_data_comes_back_as_days_and_a_day_as_raw_points(client, xuhui, devices, role_headers):
    start = datetime(2025, 12, 1, tzinfo=UTC)
    readings = [{"ts": (start + timedelta(minutes=m)).isoformat(), "metric": "people", "value": m % 100} for m in range(0, 366 * 1440, 37)]
    with transaction(xuhui) as session:
        ingest(session, [Message("mqtt", json.dumps(readings).encode(), topic="huizhili/devices/XH-CROWD/o")],
               datetime(2026, 12, 2, tzinfo=UTC), Limits(10**8, 300, 30, 3, "Asia/Shanghai"))
    headers = role_headers["district_commander"]
    year = client.get("/api/devices/XH-CROWD/series", headers=headers,
                      params={"metric": "people", "since": "2025-12-01T00:00:00Z", "until": "2026-12-01T00:00:00Z"}).json()
    assert year["resolution"] == "day" and 365 <= len(year["points"]) <= 366 and not year["truncated"]
    # Days are Shanghai's: the last bucket runs to 2026-12-01 16:00 UTC.
    assert sum(p[4] for p in year["points"]) == len([r for r in readings if r["ts"] < "2026-12-01T16:00"])
    assert year["points"][0][0] == "2025-11-30T16:00:00+00:00"
    day = client.get("/api/devices/XH-CROWD/series", headers=headers,
                     params={"metric": "people", "since": "2026-03-01T00:00:00Z", "until": "2026-03-02T00:00:00Z"}).json()
    assert day["resolution"] == "hour", "raw points are kept 30 days, minute rollups 90: nine months ago is hours"
    assert len(day["points"]) == 24 and sum(p[4] for p in day["points"]) == 39
    now = datetime.now(UTC).replace(microsecond=0)
    with transaction(xuhui) as session:
        ingest(session, [Message("mqtt", json.dumps({"ts": (now - timedelta(hours=2)).isoformat(), "metric": "people",
                                                     "value": 5}).encode(), topic="huizhili/devices/XH-CROWD/o")], now, LIMITS)
    today = client.get("/api/devices/XH-CROWD/series", headers=headers, params={"metric": "people"}).json()
    assert today["resolution"] == "raw" and 5.0 in [p[1] for p in today["points"]], "the last day: raw points"


def test_a_street_operator_reads_series_of_her_street_only(client, xuhui, devices, role_headers):
    headers = role_headers["street_operator"]  # 徐家汇街道
    mine = client.get("/api/devices/XH-CROWD/series", headers=headers, params={"metric": "people"})
    theirs = client.get("/api/devices/TP-WATER/series", headers=headers, params={"metric": "water_level_cm"})
    assert (mine.status_code, theirs.status_code) == (200, 404)
    assert client.get("/api/dead-letters", headers=headers).status_code == 403


def test_a_series_replayed_over_http_from_the_command_line_reaches_a_running_server(xuhui, devices, serve, settings, tmp_path):
    from click.testing import CliRunner

    from huizhili.cli import main

    _, address = serve(settings)
    key = device_key(xuhui, "XH-PM25")["X-API-Key"]
    series = tmp_path / "pm25.csv"
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    series.write_text("timestamp,value\n" + "".join(f"{(now - timedelta(hours=h)).isoformat()},{20 + h}\n" for h in range(5)))
    result = CliRunner().invoke(main, ["sensing", "replay", str(series), "--device", "XH-PM25", "--metric", "pm25",
                                       "--to", f"http://{address}", "--key", key])
    assert result.exit_code == 0, result.output
    assert "5 of 5 values sent" in result.output
    with xuhui() as session:
        assert sorted(session.scalars(sa.select(Observation.value)).all()) == [20.0, 21.0, 22.0, 23.0, 24.0]


def test_a_department_handler_watches_only_his_departments_alerts(client, xuhui, devices, role_headers):
    from huizhili.sensing.alerts import check_silence
    from huizhili.sensing.rules import load_scenarios

    with transaction(xuhui) as session:  # every sample device falls silent; the crowd counter and the gauge have no department
        assert check_silence(session, load_scenarios(), datetime.now(UTC) + timedelta(days=1)) == 3
    headers = role_headers["department_handler"]  # 绿化市容局
    events = client.get("/api/events", headers=headers, params={"limit": 1000}).json()["events"]
    assert [e for e in events if e["resource"] == "alerts"] == []
    assert client.get("/api/alerts", headers=headers).json() == []
    commander = client.get("/api/alerts", headers=role_headers["district_commander"]).json()
    assert sorted(a["subject"] for a in commander) == ["device:TP-WATER", "device:XH-CROWD", "device:XH-PM25"]
