"""Hotspots (热点): cases clustered where they lie, noise left out, in the caller's scope; the API, CSV, GeoJSON, map and CLI."""

import csv
import io
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from click.testing import CliRunner

from huizhili.cases import hotspots as hotspots_module
from huizhili.cases.evaluation import Period
from huizhili.cases.flow import case_flow
from huizhili.cases.hotspots import CategoryCount, StreetCount, hotspots
from huizhili.cli import main
from huizhili.config import Settings
from huizhili.errors import ValidationError
from huizhili.policy import Principal, Scope
from huizhili.storage.engine import transaction
from huizhili.storage.models import Case

MONDAY = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
PERIOD = Period(MONDAY - timedelta(days=1), MONDAY + timedelta(days=30))
XUJIAHUI, TIANPING = "310104014", "310104003"
MARKET, UNDERPASS = (121.437, 31.192), (121.4473, 31.2065)  # in 徐家汇街道 and 天平路街道
EARTH = 6371008.8
PARAMS = {"since": PERIOD.start.isoformat(), "until": PERIOD.end.isoformat()}


@pytest.fixture
def flow(tmp_path):
    return case_flow(Settings(data_dir=tmp_path))


def ring(centre, count, radius_m=25.0):
    """``count`` positions evenly round ``centre`` at ``radius_m``: their mean is the centre, each ``radius_m`` from it."""
    angles = np.arange(count) * 2 * math.pi / count
    lat = centre[1] + np.degrees(radius_m * np.sin(angles) / EARTH)
    lon = centre[0] + np.degrees(radius_m * np.cos(angles) / (EARTH * math.cos(math.radians(centre[1]))))
    return list(zip(lon.tolist(), lat.tolist(), strict=True))


def add_case(session, where, *, street=None, category="绿化养护", state="dispatched", received=MONDAY, merged_into=None):
    """A case as intake leaves it, put straight in (intake would link reports of one incident into one case)."""
    case = Case(channel="hotline", state=state, title="x", category=category, lon=where[0] if where else None,
                lat=where[1] if where else None, received_at=received, created_by="test", merged_into_id=merged_into,
                district_code="310104", street_code=street)
    session.add(case)
    session.flush()
    return case.id


def seed(session):
    """Eight cases round the market (3 closed), six at the underpass (2 closed), ten scattered, and cases that never count.

    Returns the ids of the market's and the underpass's cases.
    """
    market = [add_case(session, p, street=XUJIAHUI, category="绿化养护" if i < 5 else "噪声扰民",
                       state="closed" if i in (1, 4, 6) else "dispatched", received=MONDAY + timedelta(hours=i))
              for i, p in enumerate(ring(MARKET, 8))]
    underpass = [add_case(session, p, street=TIANPING, category="积水内涝", state="closed" if i < 2 else "in_progress",
                          received=MONDAY + timedelta(days=1, hours=i)) for i, p in enumerate(ring(UNDERPASS, 6))]
    for i in range(10):  # 760 m apart and 5 km south of both: noise
        add_case(session, (121.41 + 0.008 * (i % 5), 31.14 - 0.008 * (i // 5)), received=MONDAY + timedelta(hours=i))
    for _ in range(3):  # never cases of their own, outside the period, without a place
        add_case(session, MARKET, street=XUJIAHUI, state="merged", merged_into=market[0])
        add_case(session, MARKET, street=XUJIAHUI, state="not_filed")
        add_case(session, MARKET, street=XUJIAHUI, received=MONDAY - timedelta(days=10))
        add_case(session, None, street=XUJIAHUI)
    return market, underpass


def metres_apart(a, b):
    dlat, dlon = math.radians(b[1] - a[1]), math.radians(b[0] - a[0])
    h = math.sin(dlat / 2) ** 2 + math.cos(math.radians(a[1])) * math.cos(math.radians(b[1])) * math.sin(dlon / 2) ** 2
    return 2 * EARTH * math.asin(math.sqrt(h))


def test_two_tight_clusters_are_two_hotspots_and_the_scattered_cases_none(xuhui, flow):
    with transaction(xuhui) as session:
        market, underpass = seed(session)
    with xuhui() as session:
        found = hotspots(session, Scope.system(), flow, PERIOD)
    assert [(h.rank, h.cases, h.open_cases, h.streets, h.categories) for h in found] == [
        (1, 8, 5, (StreetCount(XUJIAHUI, "徐家汇街道", 8),),
         (CategoryCount("绿化养护", "绿化养护", "Trees and green spaces", 5), CategoryCount("噪声扰民", "噪声扰民", "Noise", 3))),
        (2, 6, 4, (StreetCount(TIANPING, "天平路街道", 6),), (CategoryCount("积水内涝", "积水内涝", "Flooding", 6),)),
    ]
    assert metres_apart((found[0].lon, found[0].lat), MARKET) < 1 and metres_apart((found[1].lon, found[1].lat), UNDERPASS) < 1
    assert [round(h.radius_m) for h in found] == [25, 25]
    assert found[0].case_ids == tuple(reversed(market)) and found[1].case_ids == tuple(reversed(underpass))  # newest first
    assert (found[1].first_received_at, found[1].last_received_at) == (MONDAY + timedelta(days=1), MONDAY + timedelta(days=1, hours=5))


def test_fewer_cases_needed_or_a_smaller_radius_change_the_answer(xuhui, flow):
    with transaction(xuhui) as session:
        seed(session)
    with xuhui() as session:
        def counts(**asked):
            return [h.cases for h in hotspots(session, Scope.system(), flow, PERIOD, **asked)]
        assert counts(min_cases=7) == [8]
        assert counts(radius_m=15) == []  # neighbours on the ring are 19 and 25 m apart
        assert counts(radius_m=20, min_cases=3) == [8]  # each market case and its two neighbours
        assert counts(radius_m=1000, min_cases=2) == [10, 8, 6]  # the scattered cases are 760 and 890 m apart: one chain
        assert counts(category="积水内涝") == [6]
        assert counts(open_only=True) == [5]  # the underpass has 4 open: too few


def test_a_street_operator_sees_only_the_hotspots_of_her_street(xuhui, flow):
    with transaction(xuhui) as session:
        seed(session)
    operator = Principal(username="xjh", role="street_operator", streets=frozenset({XUJIAHUI}))
    with xuhui() as session:
        assert [(h.cases, h.streets[0].code) for h in hotspots(session, Scope(operator), flow, PERIOD)] == [(8, XUJIAHUI)]
        assert hotspots(session, Scope(operator), flow, PERIOD, street=TIANPING) == []


def test_questions_that_cannot_be_answered_are_refused_in_chinese_and_english(xuhui, flow):
    with transaction(xuhui) as session:
        seed(session)
    with xuhui() as session:
        for asked, words in [({"radius_m": 5.0}, "半径须在 10 至 5000 米之间 — the radius must be 10 to 5000 m"),
                             ({"radius_m": float("nan")}, "the radius must be"),
                             ({"min_cases": 1}, "a hotspot needs 2 to 10000 cases"),
                             ({"category": "火星"}, "没有类别 '火星' — no category '火星'"),
                             ({"street": "310104999"}, "没有街道 '310104999' — no street coded '310104999'")]:
            with pytest.raises(ValidationError, match=words):
                hotspots(session, Scope.system(), flow, PERIOD, **asked)
        with pytest.raises(ValidationError, match="时段须先始后终"):
            hotspots(session, Scope.system(), flow, Period(PERIOD.end, PERIOD.start))


def test_too_many_cases_are_refused_before_they_are_read(xuhui, flow, monkeypatch):
    with transaction(xuhui) as session:
        seed(session)
    monkeypatch.setattr(hotspots_module, "MAX_CASES", 20)
    with xuhui() as session:
        with pytest.raises(ValidationError, match="案件过多：24 件.*too many cases: 24, at most 20"):
            hotspots(session, Scope.system(), flow, PERIOD)
        assert [h.cases for h in hotspots(session, Scope.system(), flow, PERIOD, street=XUJIAHUI)] == [8]  # narrowed: answered


def test_cases_too_dense_for_the_radius_are_refused_before_clustering(xuhui, flow, monkeypatch):
    with transaction(xuhui) as session:
        seed(session)
    monkeypatch.setattr(hotspots_module, "MAX_NEIGHBOURS", 50)
    with xuhui() as session:
        with pytest.raises(ValidationError, match="案件过密.*cases too dense: 110 pairs of neighbours within 150 m"):
            hotspots(session, Scope.system(), flow, PERIOD)  # 8² and 6²: a ring's cases all see each other; 10 see themselves


def test_the_api_answers_json_geojson_csv_and_a_map_in_the_callers_scope(client, role_headers, sessions):
    with transaction(sessions) as session:
        market, _ = seed(session)
    listed = client.get("/api/cases/hotspots", params=PARAMS, headers=role_headers["analyst"])
    assert listed.status_code == 200, listed.text
    assert [(h["rank"], h["cases"], h["open_cases"], h["streets"][0]["name"]) for h in listed.json()] == [
        (1, 8, 5, "徐家汇街道"), (2, 6, 4, "天平路街道")]
    assert set(listed.json()[0]) == {"rank", "cases", "open_cases", "lon", "lat", "radius_m", "categories", "streets",
                                     "first_received_at", "last_received_at", "case_ids"}
    own = client.get("/api/cases/hotspots", params=PARAMS, headers=role_headers["street_operator"]).json()
    assert [(h["cases"], h["case_ids"]) for h in own] == [(8, list(reversed(market)))]
    geojson = client.get("/api/cases/hotspots", params={**PARAMS, "format": "geojson"}, headers=role_headers["analyst"])
    assert geojson.headers["content-type"] == "application/geo+json"
    features = geojson.json()["features"]
    assert (geojson.json()["type"], len(features), features[0]["geometry"]["type"], features[0]["properties"]["cases"]) == (
        "FeatureCollection", 2, "Point", 8)
    assert metres_apart(features[1]["geometry"]["coordinates"], UNDERPASS) < 1
    table = client.get("/api/cases/hotspots", params={**PARAMS, "format": "csv"}, headers=role_headers["analyst"])
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert (table.headers["content-type"], list(rows[0]), [(r["rank"], r["cases"], r["street_name"], r["categories"]) for r in rows]) == (
        "text/csv; charset=utf-8", list(hotspots_module.CSV_FIELDS),
        [("1", "8", "徐家汇街道", "绿化养护 5; 噪声扰民 3"), ("2", "6", "天平路街道", "积水内涝 6")])
    png = client.get("/api/cases/hotspots.png", params=PARAMS, headers=role_headers["analyst"])
    assert (png.status_code, png.headers["content-type"], png.content[:8]) == (200, "image/png", b"\x89PNG\r\n\x1a\n")


def test_the_map_of_no_cases_is_still_a_map(client, role_headers):
    png = client.get("/api/cases/hotspots.png", params=PARAMS, headers=role_headers["district_commander"])
    assert (png.status_code, png.content[:8]) == (200, b"\x89PNG\r\n\x1a\n")


def test_only_those_who_read_cases_are_answered(client, role_headers):
    for path in ("/api/cases/hotspots", "/api/cases/hotspots.png"):
        assert client.get(path, headers=role_headers["citizen"]).status_code == 403
        assert client.get(path, headers=role_headers["service"]).status_code == 403
        assert client.get(path).status_code == 401
    refused = client.get("/api/cases/hotspots", params={"radius_m": 5}, headers=role_headers["analyst"])
    assert refused.status_code == 422


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)  # the command line opens its own engine: embedded only
def test_the_command_line_prints_the_table_and_writes_csv_and_png(xuhui, engine, tmp_path, monkeypatch):
    with transaction(xuhui) as session:
        seed(session)
    monkeypatch.setenv("HUIZHILI_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HUIZHILI_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    done = CliRunner().invoke(main, ["cases", "hotspots", "--since", "2026-03-01", "--until", "2026-03-31", "--csv",
                                     str(tmp_path / "hot.csv"), "--png", str(tmp_path / "hot.png")])
    assert done.exit_code == 0, done.output
    assert [line.split()[:3] + line.split()[6:7] for line in done.stdout.splitlines()[1:]] == [
        ["1", "8", "5", "徐家汇街道"], ["2", "6", "4", "天平路街道"]]
    assert (tmp_path / "hot.csv").read_text(encoding="utf-8").startswith("rank,cases,open_cases,lon,lat,radius_m,")
    assert (tmp_path / "hot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    refused = CliRunner().invoke(main, ["cases", "hotspots", "--radius", "5"])
    assert refused.exit_code == 1 and "半径须在 10 至 5000 米之间" in refused.stderr
