"""Life-circle coverage, checked against independent computations (networkx; geodesic lines)."""

import csv
import html
import json

import numpy as np
import pyproj
import pytest
import shapely
import sqlalchemy as sa
from helsinki_network import reference_distances

from huizhili.base.areas import AreaSpec, upsert_areas
from huizhili.network.finder import NetworkCache
from huizhili.network.lifecircle import DETOUR_FACTOR, run_life_circle
from huizhili.network.report import write_outputs
from huizhili.policy import Scope
from huizhili.storage.engine import transaction
from huizhili.storage.models import (
    Area,
    Building,
    Facility,
    LifeCircleCoverage,
    LifeCircleRun,
    Parcel,
)

SYSTEM = Scope.system()

GEOD = pyproj.Geod(ellps="WGS84")
HELSINKI_BOX = (24.936, 60.165, 24.953, 60.179)  # the extract's walk network
WEST, EAST = "900000001", "900000002"


@pytest.fixture
def helsinki_areas(helsinki):
    """Helsinki's extract as a district split into a west and an east street."""
    x0, y0, x1, y1 = HELSINKI_BOX
    middle = (x0 + x1) / 2
    with transaction(helsinki) as session:
        upsert_areas(session, [
            AreaSpec(code="900000", name="Helsinki centre", level="district", geometry=shapely.box(*HELSINKI_BOX)),
            AreaSpec(code=WEST, name="West", level="street", parent_code="900000", geometry=shapely.box(x0, y0, middle, y1)),
            AreaSpec(code=EAST, name="East", level="street", parent_code="900000", geometry=shapely.box(middle, y0, x1, y1)),
        ])
    return helsinki


def stored_coverage(sessions, run_id, kind, area_code, threshold):
    with sessions() as session:
        return session.scalar(sa.select(LifeCircleCoverage.coverage).where(
            LifeCircleCoverage.run_id == run_id, LifeCircleCoverage.kind == kind,
            LifeCircleCoverage.area_code == area_code, LifeCircleCoverage.threshold_m == threshold))


def test_helsinki_coverage_matches_networkx(helsinki_areas, tmp_path):
    with transaction(helsinki_areas) as session:
        graph = NetworkCache(tmp_path).graph(session)
        result = run_life_circle(session, graph, created_by="test", area="900000", kinds=["pharmacy"], origins="grid", scope=SYSTEM)
        pharmacies = session.execute(sa.select(Facility.lon, Facility.lat).where(Facility.kind == "pharmacy")).all()
    assert result.method == "network"
    origins = result.origins
    expected = reference_distances(list(zip(origins.lon, origins.lat, strict=True)), pharmacies)
    reached = np.isfinite(result.distances["pharmacy"])
    assert np.allclose(result.distances["pharmacy"][reached], expected[reached], atol=0.5)
    assert (expected[~reached] > 900).all()
    for code in ("900000", WEST, EAST):
        members = np.ones(len(origins), bool) if code == "900000" else origins.area_code == code
        for threshold in (300.0, 600.0, 900.0):
            independent = float((expected[members] <= threshold).mean())
            assert stored_coverage(helsinki_areas, result.run_id, "pharmacy", code, threshold) == pytest.approx(independent, abs=1e-9)


def pharmacy_run(sessions, tmp_path, **options):
    """A grid run over the Helsinki extract to its pharmacies, its outputs written, and networkx's distances."""
    with transaction(sessions) as session:
        graph = NetworkCache(tmp_path).graph(session)
        result = run_life_circle(session, graph, created_by="test", area="900000", kinds=["pharmacy"], origins="grid", scope=SYSTEM, **options)
        files = write_outputs(session, result, tmp_path / "run")
        pharmacies = session.execute(sa.select(Facility.lon, Facility.lat).where(Facility.kind == "pharmacy")).all()
    expected = reference_distances(list(zip(result.origins.lon, result.origins.lat, strict=True)), pharmacies)
    return result, files, expected


def test_distances_between_the_standard_and_the_cutoff_are_numbers(helsinki_areas, tmp_path):
    result, files, expected = pharmacy_run(helsinki_areas, tmp_path)
    past_the_standard = (expected > 900) & (expected <= 2000)  # 900 m: the longest tier, and the old cutoff
    features = json.loads(files["origins.geojson"].read_text())["features"]
    assert past_the_standard.sum() == 10
    assert np.allclose(result.distances["pharmacy"][past_the_standard], expected[past_the_standard], atol=0.5)
    assert [f["properties"]["pharmacy_m"] for f in features] == pytest.approx(list(expected), abs=0.5)
    assert result.cutoff_m == 2000


def test_distances_beyond_the_run_cutoff_are_null_and_the_report_says_so(helsinki_areas, tmp_path):
    result, files, expected = pharmacy_run(helsinki_areas, tmp_path, cutoff_m=1200)
    features = json.loads(files["origins.geojson"].read_text())["features"]
    with files["origins.csv"].open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    beyond = expected > 1200
    assert 0 < beyond.sum() < len(expected)
    assert [f["properties"]["pharmacy_m"] is None for f in features] == list(beyond)
    assert [row["pharmacy_m"] == "" for row in rows] == list(beyond)
    assert "distances are reported up to 1,200 m; farther ones are null" in files["report.html"].read_text(encoding="utf-8")


def test_a_cutoff_shorter_than_a_standard_is_raised_to_it(helsinki_areas, tmp_path):
    result, _, _ = pharmacy_run(helsinki_areas, tmp_path, cutoff_m=500, metres={"pharmacy": 1000})
    assert result.cutoff_m == 1000
    assert result.notes[0] == "distances are reported up to 1,000 m; farther ones are null (the cutoff of 500 m was raised to the longest distance asked)"


@pytest.mark.parametrize("cutoff", [0, -5, 20_001, float("nan")])
def test_a_cutoff_outside_0_to_20_km_is_refused(helsinki_areas, tmp_path, cutoff):
    from huizhili.errors import ValidationError

    with pytest.raises(ValidationError, match="the cutoff must be more than 0 and at most 20,000 metres"):
        pharmacy_run(helsinki_areas, tmp_path, cutoff_m=cutoff)


def test_origins_carry_the_id_and_source_ref_of_the_building_they_stand_for(helsinki_areas, tmp_path):
    with transaction(helsinki_areas) as session:
        graph = NetworkCache(tmp_path).graph(session)
        result = run_life_circle(session, graph, created_by="test", kinds=["park"], origins="buildings", scope=SYSTEM)
        files = write_outputs(session, result, tmp_path / "run")
        homes = {b.id: (b.source_ref, b.population) for b in session.scalars(sa.select(Building).where(Building.population > 0))}
    features = json.loads(files["origins.geojson"].read_text())["features"]
    with files["origins.csv"].open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert {f["properties"]["id"]: (f["properties"]["source_ref"], f["properties"]["weight"]) for f in features} == homes
    assert {f["properties"]["source"] for f in features} == {"buildings"}
    assert all(ref.startswith("osm:way/") or ref.startswith("osm:relation/") for ref, _ in homes.values())
    assert [(int(r["id"]), r["source"], r["source_ref"]) for r in rows] == [
        (f["properties"]["id"], "buildings", f["properties"]["source_ref"]) for f in features
    ]


def test_helsinki_report_renders_with_walked_distances(helsinki_areas, tmp_path):
    from PIL import Image

    with transaction(helsinki_areas) as session:
        graph = NetworkCache(tmp_path).graph(session)
        result = run_life_circle(session, graph, created_by="test", area="900000", origins="grid", scope=SYSTEM)
        files = write_outputs(session, result, tmp_path / "run")
    assert result.method == "network" and "pharmacy" in result.distances and "park" in result.distances
    with Image.open(files["map-park.png"]) as image:
        assert image.size == (800, 1230) and len(image.getcolors(1_000_000)) > 10  # true shape: taller than 3:2, shown at 2:3
    html = files["report.html"].read_text(encoding="utf-8")
    assert "walked on the OSM walk network" in html and "West" in html and "East" in html
    assert "Estimated" not in html


def test_building_origins_weight_coverage_by_residents(helsinki_areas, tmp_path):
    with transaction(helsinki_areas) as session:
        graph = NetworkCache(tmp_path).graph(session)
        result = run_life_circle(session, graph, created_by="test", kinds=["park"], origins="buildings", scope=SYSTEM)
    covered = result.distances["park"] <= 300
    overall = next(r for r in result.coverage if r["area_code"] == "all" and r["threshold_m"] == 300)
    assert result.origins.source == "buildings"
    assert overall["population"] == result.origins.weight.sum() > 0
    assert overall["covered_population"] == pytest.approx(result.origins.weight[covered].sum())
    assert overall["target"] == 0.98


def test_every_run_says_which_rule_chose_its_origins(helsinki_areas, tmp_path):
    with transaction(helsinki_areas) as session:
        graph = NetworkCache(tmp_path).graph(session)
        result = run_life_circle(session, graph, created_by="test", kinds=["park"], scope=SYSTEM)
        files = write_outputs(session, result, tmp_path / "run")
        parameters = session.get_one(LifeCircleRun, result.run_id).parameters
    rule = ("buildings: 59 homes — 21 buildings tagged residential and 38 building=yes inside residential land use — "
            "weighted by their residents (59 of them estimated from footprint and levels, 90 m² per household, 2.32 people each)")
    assert (result.origins.source, result.origins.rule) == ("buildings", rule)
    assert (parameters["origins_asked"], parameters["origins"], parameters["origin_rule"]) == ("auto", "buildings", rule)
    assert f"Origins — {html.escape(rule)}." in files["report.html"].read_text(encoding="utf-8")


def test_all_buildings_weighs_every_building_by_the_residents_it_would_house(helsinki_areas, tmp_path):
    with transaction(helsinki_areas) as session:
        graph = NetworkCache(tmp_path).graph(session)
        result = run_life_circle(session, graph, created_by="test", kinds=["park"], origins="all-buildings", scope=SYSTEM)
        buildings = {b.id: (b.population, b.floors, b.geometry) for b in session.scalars(sa.select(Building))}

    def would_house(population, floors, footprint):
        metres, _ = GEOD.geometry_area_perimeter(footprint)
        return population or round(max(1, round(abs(metres) * (floors or 3) / 90)) * 2.32)

    assert len(result.origins) == len(buildings) == 446
    assert dict(zip(result.origins.ids.tolist(), result.origins.weight.tolist(), strict=True)) == {
        building_id: would_house(*building) for building_id, building in buildings.items()
    }
    assert result.origins.rule.startswith("all-buildings: every building (446) as a home — 59 weighted by their residents, 387 by")


def geodesic_to_nearest(lon, lat, points):
    """Metres along the ellipsoid from each (lon, lat) to the nearest of ``points``."""
    return np.min([GEOD.inv(lon, lat, np.full(len(lon), p[0]), np.full(len(lat), p[1]))[2] for p in points], axis=0)


def test_the_xuhui_demo_walks_real_streets_from_its_compounds(xuhui, tmp_path):
    with transaction(xuhui) as session:
        graph = NetworkCache(tmp_path).graph(session)
        result = run_life_circle(session, graph, created_by="test", area="徐汇区", kinds=["park"], scope=SYSTEM)
        parks = session.execute(sa.select(Facility.lon, Facility.lat).where(Facility.kind == "park")).all()
    origins, walked = result.origins, result.distances["park"]
    straight = geodesic_to_nearest(origins.lon, origins.lat, parks)
    assert result.method == "network" and (origins.source, origins.table, len(origins)) == ("compounds", "parcels", 683)
    assert origins.weight.sum() == pytest.approx(1_113_078)
    assert "徐汇区's 1,113,078 residents (statistics 2020) over its 683 compounds, 1,630 each — estimates" in origins.rule
    reached = np.isfinite(walked)
    assert (~reached).sum() == 9  # compounds in the south-west with no park within a 2 km walk
    assert (walked[reached] >= straight[reached] * 0.999).all()  # no walk is shorter than the straight line
    # Compound and park both sit inside their blocks and only streets are walked: detours are long (median 1.7).
    assert 1.4 < np.median(walked[reached] / straight[reached]) < 2.0
    assert ("facilities mapped as points are reached at that point, not anywhere along an outline, so walks to large "
            "ones err long: park 140 of 140") in result.notes
    streets = {r["area_code"]: r["coverage"] for r in result.coverage if r["threshold_m"] == 300 and r["area_code"] != "310104"}
    assert len(streets) == 14 and sum(coverage is not None for coverage in streets.values()) == 12


@pytest.mark.parametrize(("origins", "message"), [("buildings", "no residential buildings with residents in this area"),
                                                ("all-buildings", "no buildings in this area"), ("homes", "origins must be one of")])
def test_a_rule_that_finds_no_origins_or_is_unknown_is_refused(xuhui, origins, message):
    from huizhili.errors import ValidationError

    with transaction(xuhui) as session, pytest.raises(ValidationError, match=message):
        run_life_circle(session, None, created_by="test", area="徐汇区", kinds=["park"], origins=origins, scope=SYSTEM)


def test_without_a_walk_network_coverage_is_estimated_and_matches_geodesic_lines(xuhui, tmp_path):
    with transaction(xuhui) as session:
        result = run_life_circle(session, None, created_by="test", area="徐汇区", kinds=["health_centre"], scope=SYSTEM)
        centres = session.execute(sa.select(Facility.lon, Facility.lat).where(Facility.kind == "health_centre")).all()
    assert result.method == "estimated" and result.origins.source == "compounds"
    origins = result.origins
    expected = geodesic_to_nearest(origins.lon, origins.lat, centres) * DETOUR_FACTOR
    for code in ("310104014", "310104007", "310104103"):
        members = origins.area_code == code
        independent = float(origins.weight[members & (expected <= 900)].sum() / origins.weight[members].sum())
        assert stored_coverage(xuhui, result.run_id, "health_centre", code, 900.0) == pytest.approx(independent, abs=0.01)


def test_a_later_run_shows_change(xuhui, tmp_path):
    with transaction(xuhui) as session:
        graph = NetworkCache(tmp_path).graph(session)
        before = run_life_circle(session, graph, created_by="test", area="徐家汇街道", kinds=["park"], scope=SYSTEM)
        far = int(np.flatnonzero(before.distances["park"] > 300)[0])
        lon, lat = float(before.origins.lon[far]), float(before.origins.lat[far])
        session.add(Facility(kind="park", name="新建口袋公园", geometry=shapely.Point(lon, lat), lon=lon, lat=lat, properties={}))
        session.flush()
        after = run_life_circle(session, graph, created_by="test", area="徐家汇街道", kinds=["park"], scope=SYSTEM)
    first = next(r for r in before.coverage if r["area_code"] == "310104014" and r["threshold_m"] == 300)
    second = next(r for r in after.coverage if r["area_code"] == "310104014" and r["threshold_m"] == 300)
    assert after.distances["park"][far] <= 300 < before.distances["park"][far]
    assert second["coverage"] > first["coverage"]
    assert after.run_id > before.run_id


def test_reports_render_as_png_maps_html_and_data(xuhui, tmp_path):
    from PIL import Image

    with transaction(xuhui) as session:
        result = run_life_circle(session, None, created_by="test", area="徐汇区", scope=SYSTEM)
        files = write_outputs(session, result, tmp_path / "run")
    assert set(files) >= {"coverage.csv", "coverage.json", "origins.geojson", "report.html", "map-health_centre.png", "map-metro_station.png"}
    with Image.open(files["map-health_centre.png"]) as image:
        assert image.size == (800, 1230)  # Xuhui is taller than wide: shown at 2:3 with its true shape
        assert len(image.getcolors(1_000_000)) > 10  # a drawn map, not a blank canvas
    html = files["report.html"].read_text(encoding="utf-8")
    assert html.count("<tr>") == 1 + 14 + 1  # header, the district, its 14 street-level areas
    assert "徐家汇街道" in html and "Estimated" in html
    origins = json.loads(files["origins.geojson"].read_text())
    assert len(origins["features"]) == len(result.origins)
    assert origins["features"][0]["properties"]["method"] == "estimated"


def test_the_coverage_csv_keeps_a_formula_like_name_as_text_and_numbers_as_numbers(xuhui, tmp_path):
    with transaction(xuhui) as session:
        session.execute(sa.update(Area).where(Area.code == "310104014").values(name='=HYPERLINK("http://x","y")'))
        result = run_life_circle(session, None, created_by="test", area="徐汇区", kinds=["health_centre"], scope=SYSTEM)
        files = write_outputs(session, result, tmp_path / "run")
    with files["coverage.csv"].open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert {row["area_name"] for row in rows if row["area_code"] == "310104014"} == {"'=HYPERLINK(\"http://x\",\"y\")"}
    numbers = ("threshold_m", "population", "covered_population", "coverage", "target")
    assert [[float(row[n]) if row[n] else None for n in numbers] for row in rows] == [[r[n] for n in numbers] for r in result.coverage]


def test_a_lone_osm_extract_runs_a_life_circle_over_its_extent(helsinki, tmp_path):
    with transaction(helsinki) as session:
        graph = NetworkCache(tmp_path).graph(session)
        everywhere = run_life_circle(session, graph, created_by="test", kinds=["pharmacy"], origins="grid", scope=SYSTEM)
        extent = run_life_circle(session, graph, created_by="test", area="osm-helsinki", kinds=["pharmacy"], scope=SYSTEM)
    assert (everywhere.method, everywhere.origins.source) == ("network", "grid") and len(everywhere.origins) > 30
    assert (extent.method, extent.origins.source, len(extent.origins)) == ("network", "buildings", 59)  # 21 tagged, 38 in residential land use
    assert {row["area_code"] for row in extent.coverage} == {"osm-helsinki"}


def test_auto_origins_falling_back_to_a_grid_say_why(xuhui):
    with transaction(xuhui) as session:
        session.execute(sa.delete(Parcel))  # the demo's compounds: without them there are no homes at all
        result = run_life_circle(session, None, created_by="test", area="徐家汇街道", scope=SYSTEM)
    assert result.origins.source == "grid"
    why = [note for note in result.notes if note.startswith("no buildings or residential compounds in 徐家汇街道 (310104014)")]
    assert why and "origins are a grid of points every 200 m" in why[0]
