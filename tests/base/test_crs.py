"""GCJ-02 / BD-09 / CGCS2000 / EPSG conversions to and from WGS84.

Done when: GCJ-02/BD-09 <-> WGS84 conversions agree with published reference points to
within 1 m. Only the numbers below come from the cited projects; no code is taken from them.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from pyproj import Geod

from huizhili.base.crs import SUPPORTED, from_wgs84, normalise_crs, to_wgs84
from huizhili.errors import ValidationError

GEOD = Geod(ellps="WGS84")
DEMO_HEALTH_CENTRES = (
    Path(__file__).parents[2] / "src/huizhili/base/demo/xuhui/health-centres.geojson"
)


def metres(lon1, lat1, lon2, lat2):
    """Geodesic distance(s) in metres on the WGS84 ellipsoid."""
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


# (WGS84 lon, lat), (GCJ-02 lon, lat), as published
GCJ02_REFERENCE = [
    # Shanghai, Shenzhen, Beijing: github.com/googollee/eviltransform python/test.py (TESTS)
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),
    # github.com/wandergis/coordtransform test/app.js, wgs84togcj02(116.404, 39.915)
    ((116.404, 39.915), (116.41024449916938, 39.91640428150164)),
    # github.com/hujiulong/gcoord test/unit/crs/GCJ02.spec.ts, GCJ02 [123, 45] -> WGS84
    ((122.99395597, 44.99804071), (123.0, 45.0)),
    # github.com/hujiulong/gcoord test/fixtures/china-cities.json, 驻马店市 and 沈阳市
    # (7 decimals; this fixture sits ~0.7 m from the exact formula in every city)
    ((114.0164322, 33.0133556), (114.022306, 33.0115324)),
    ((123.4253306, 41.8032629), (123.4314787, 41.8057023)),
]

# (WGS84 lon, lat), (BD-09 lon, lat), as published
BD09_REFERENCE = [
    # github.com/wyxloading/coordtransform-rs tests/tests.rs, wgs84_to_bd09(116.404, 39.915)
    ((116.404, 39.915), (116.41662724378733, 39.922699552216216)),
    # github.com/hujiulong/gcoord test/unit/crs/BD09.spec.ts, BD09 [123, 45] -> WGS84
    ((122.98762210, 44.99171540), (123.0, 45.0)),
    # github.com/hujiulong/gcoord test/fixtures/china-cities.json, 驻马店市 and 沈阳市
    ((114.0164322, 33.0133556), (114.0287781, 33.0176697)),
    ((123.4253306, 41.8032629), (123.438095, 41.8114013)),
]


@pytest.mark.parametrize(("wgs", "gcj"), GCJ02_REFERENCE)
def test_gcj02_matches_published_points_within_1m_both_ways(wgs, gcj):
    lon, lat = to_wgs84(*gcj, "gcj02")
    assert metres(lon, lat, *wgs) < 1.0

    lon, lat = from_wgs84(*wgs, "gcj02")
    assert metres(lon, lat, *gcj) < 1.0


@pytest.mark.parametrize(("wgs", "bd"), BD09_REFERENCE)
def test_bd09_matches_published_points_within_1m_both_ways(wgs, bd):
    lon, lat = to_wgs84(*bd, "bd09")
    assert metres(lon, lat, *wgs) < 1.0

    lon, lat = from_wgs84(*wgs, "bd09")
    assert metres(lon, lat, *bd) < 1.0


def test_bd09_is_gcj02_plus_baidus_offset():
    # github.com/wandergis/coordtransform test/app.js: gcj02tobd09(116.404, 39.915)
    bd = (116.41036949371029, 39.92133699351021)
    assert metres(*to_wgs84(*bd, "bd09"), *to_wgs84(116.404, 39.915, "gcj02")) < 0.01


def test_reference_points_convert_as_one_array():
    wgs = np.array([w for w, _ in GCJ02_REFERENCE])
    gcj = np.array([g for _, g in GCJ02_REFERENCE])

    lon, lat = to_wgs84(gcj[:, 0], gcj[:, 1], "gcj02")

    assert lon.shape == (len(GCJ02_REFERENCE),)
    assert metres(lon, lat, wgs[:, 0], wgs[:, 1]).max() < 1.0


def test_gcj02_is_identity_outside_china():
    lon = np.array([2.3522, -74.006, 139.6917, 151.2093])  # Paris, New York, Tokyo, Sydney
    lat = np.array([48.8566, 40.7128, 35.6895, -33.8688])

    for convert in (to_wgs84, from_wgs84):
        out_lon, out_lat = convert(lon, lat, "gcj02")
        np.testing.assert_array_equal(out_lon, lon)
        np.testing.assert_array_equal(out_lat, lat)


def test_gcj02_shifts_points_inside_china_by_hundreds_of_metres():
    lon, lat = from_wgs84(121.4737, 31.2304, "gcj02")  # People's Square, Shanghai
    assert 300 < metres(lon, lat, 121.4737, 31.2304) < 800


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_round_trip_of_10000_random_points_in_china_within_1cm(crs):
    rng = np.random.default_rng(20240601)
    lon = rng.uniform(73.0, 135.0, 10_000)
    lat = rng.uniform(18.0, 53.0, 10_000)

    back_lon, back_lat = to_wgs84(*from_wgs84(lon, lat, crs), crs)

    assert metres(back_lon, back_lat, lon, lat).max() < 0.01


def test_cgcs2000_is_wgs84_to_within_1cm():
    lon = np.array([121.4737, 87.6168, 126.6424])
    lat = np.array([31.2304, 43.8256, 45.7567])

    out_lon, out_lat = to_wgs84(lon, lat, "cgcs2000")
    assert metres(out_lon, out_lat, lon, lat).max() < 0.01
    assert metres(*from_wgs84(lon, lat, "CGCS2000"), lon, lat).max() < 0.01


def test_projected_epsg_4547_back_to_lon_lat():
    # EPSG:4547 = CGCS2000 / 3-degree Gauss-Kruger CM 114E: on the central meridian the
    # easting is the 500 km false easting and the northing is the meridian arc from the
    # equator (3 320 113.398 m to 30N on the CGCS2000/GRS80 ellipsoid).
    lon, lat = to_wgs84(500_000.0, 3_320_113.398, "EPSG:4547")
    assert float(lon) == pytest.approx(114.0, abs=1e-8)
    assert float(lat) == pytest.approx(30.0, abs=1e-8)

    east, north = from_wgs84(114.3055, 30.5928, "epsg:4547")  # Wuhan
    assert 520_000 < float(east) < 540_000
    assert metres(*to_wgs84(east, north, "EPSG:4547"), 114.3055, 30.5928) < 0.001


def test_unknown_crs_raises_validation_error_naming_it():
    with pytest.raises(ValidationError, match="gcj03"):
        to_wgs84(121.47, 31.23, "gcj03")
    with pytest.raises(ValidationError, match="EPSG:999999"):
        from_wgs84(121.47, 31.23, "EPSG:999999")


def test_normalise_crs_accepts_common_spellings():
    assert normalise_crs("GCJ-02") == "gcj02"
    assert normalise_crs(" BD09 ") == "bd09"
    assert normalise_crs("EPSG:4326") == "wgs84"
    assert normalise_crs("epsg:4490") == "cgcs2000"
    assert normalise_crs("epsg:4547") == "EPSG:4547"
    assert set(SUPPORTED) == {"wgs84", "gcj02", "bd09", "cgcs2000"}


def test_normalise_crs_error_lists_accepted_values():
    with pytest.raises(ValidationError) as excinfo:
        normalise_crs("mars")
    for name in (*SUPPORTED, "EPSG"):
        assert name in str(excinfo.value)


def test_scalar_input_gives_scalar_output():
    lon, lat = to_wgs84(121.47, 31.23, "gcj02")

    assert lon.shape == () and lat.shape == ()
    assert float(lon) == pytest.approx(121.4655, abs=1e-3)
    assert float(lat) == pytest.approx(31.2319, abs=1e-3)


def test_wgs84_is_identity_and_returns_a_copy():
    lon = np.array([121.47, 121.48])
    out_lon, out_lat = to_wgs84(lon, [31.23, 31.24], "WGS84")

    np.testing.assert_array_equal(out_lon, lon)
    out_lon[0] = 0.0
    assert lon[0] == 121.47


def test_xuhui_health_centres_bd09_land_on_their_published_wgs84_geometry():
    if not DEMO_HEALTH_CENTRES.exists():
        pytest.skip(f"demo data not copied into the package yet: {DEMO_HEALTH_CENTRES}")
    features = json.loads(DEMO_HEALTH_CENTRES.read_text(encoding="utf-8"))["features"]
    bd_lon = [f["properties"]["bd09_lon"] for f in features]
    bd_lat = [f["properties"]["bd09_lat"] for f in features]
    geo_lon = [f["geometry"]["coordinates"][0] for f in features]
    geo_lat = [f["geometry"]["coordinates"][1] for f in features]

    lon, lat = to_wgs84(bd_lon, bd_lat, "bd09")

    assert len(features) == 15
    assert metres(lon, lat, geo_lon, geo_lat).max() < 5.0
