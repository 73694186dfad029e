"""Coverage maps a planner can read, checked on 徐家汇街道 with Xuhui's real streets.

Done when: the walk network is drawn under the homes, Chinese street names are set in a font
that has their glyphs (and are left out, saying so, where none is installed), the aspect is
true and the scale bar measures what it says.
"""

import io
import shutil
import subprocess

import numpy as np
import pyproj
import pytest
import shapely
from matplotlib.font_manager import findfont
from matplotlib.ft2font import FT2Font
from PIL import Image

from huizhili.base.areas import area_geometry, find_area
from huizhili.base.geodesy import lonlat_from_metres, xy_to_metres
from huizhili.network.finder import NetworkCache
from huizhili.network.lifecircle import run_life_circle
from huizhili.network.maps import MapFont, coverage_map, map_background, map_font
from huizhili.policy import Scope
from huizhili.storage.engine import transaction

SYSTEM = Scope.system()
GEOD = pyproj.Geod(ellps="WGS84")


@pytest.fixture
def xujiahui(xuhui, tmp_path):
    """A walked run over 徐家汇街道 on the demo's real streets: (session factory, result, background)."""
    with transaction(xuhui) as session:
        graph = NetworkCache(tmp_path / "cache").graph(session)
        result = run_life_circle(session, graph, created_by="test", area="徐家汇街道", kinds=["health_centre"], origins="grid", scope=SYSTEM)
        background = map_background(session, result)
    assert result.method == "network"
    return xuhui, result, background


def drawn(sessions, result, background, font=None):
    """The map's figure and its pixels as the PNG has them (rows from the top)."""
    with sessions() as session:
        figure = coverage_map(session, result, "health_centre", background, font)
    png = io.BytesIO()
    figure.savefig(png)  # warnings are errors: a missing glyph fails here
    return figure, np.asarray(Image.open(png).convert("RGB")).astype(int)


def to_pixels(figure, background, lon, lat):
    """PNG column and row of WGS84 points on the map."""
    x, y = xy_to_metres(np.asarray(lon, float), np.asarray(lat, float), *background.centre)
    px, py = figure.axes[0].transData.transform(np.column_stack((x, y))).T
    return np.round(px).astype(int), np.round(figure.bbox.height - py).astype(int)


def to_lonlat(xy, background):
    """Map metres, an (n, 2) array, back to WGS84 lon and lat arrays."""
    return np.array(lonlat_from_metres(xy[:, 0], xy[:, 1], *background.centre))


def marked(pixels, column, row):
    """Whether anything but white background is drawn within a pixel of (column, row)."""
    return bool((pixels[row - 1 : row + 2, column - 1 : column + 2] < 235).any())


def test_the_walk_network_is_drawn_where_the_ways_are_and_nowhere_else(xujiahui):
    sessions, result, background = xujiahui
    figure, pixels = drawn(sessions, result, background)
    with sessions() as session:
        boundary = area_geometry(session, find_area(session, "徐家汇街道", SYSTEM))
    inner = boundary.buffer(-0.002)  # away from the legend, the scale bar and the frame's edge
    lon, lat = to_lonlat(np.concatenate(background.ways), background)
    keep = shapely.intersects_xy(inner, lon, lat)
    columns, rows = to_pixels(figure, background, lon[keep], lat[keep])
    on_ways = np.mean([marked(pixels, c, r) for c, r in zip(columns, rows, strict=True)])
    rng = np.random.default_rng(9)
    x0, y0, x1, y1 = inner.bounds
    probe_lon, probe_lat = rng.uniform(x0, x1, 3000), rng.uniform(y0, y1, 3000)
    drawn_things = shapely.union_all([shapely.LineString(to_lonlat(way, background).T) for way in background.ways]
                                     + [shapely.MultiPoint(np.column_stack((result.origins.lon, result.origins.lat)))]).buffer(0.0006)
    empty = shapely.intersects_xy(inner, probe_lon, probe_lat) & ~shapely.intersects_xy(drawn_things, probe_lon, probe_lat)
    columns, rows = to_pixels(figure, background, probe_lon[empty], probe_lat[empty])
    off_ways = np.mean([marked(pixels, c, r) for c, r in zip(columns, rows, strict=True)])
    assert keep.sum() > 500
    assert on_ways > 0.97 and off_ways < 0.1, (on_ways, off_ways)


def test_street_names_are_drawn_in_a_font_that_has_their_glyphs(xujiahui):
    sessions, result, background = xujiahui
    figure, _ = drawn(sessions, result, background)
    labels = [text for text in figure.axes[0].texts if text.get_gid() == "street-label"]
    names = {text.get_text() for text in labels}
    assert len(labels) >= 15 and {"漕溪北路", "虹桥路", "肇嘉浜路"} <= names, names
    for text in labels:
        charmap = FT2Font(text.get_fontproperties().get_file()).get_charmap()
        glyphs = [charmap.get(ord(c)) for c in text.get_text()]
        assert None not in glyphs and len(set(glyphs)) == len(set(text.get_text())), text.get_text()  # no placeholder box
    assert figure.axes[0].get_title().startswith("徐家汇街道: health_centre within 900 m (walked)")


def test_the_map_keeps_the_true_shape_of_the_street(xujiahui):
    sessions, result, background = xujiahui
    figure, _ = drawn(sessions, result, background)
    with sessions() as session:
        x0, y0, x1, y1 = area_geometry(session, find_area(session, "徐家汇街道", SYSTEM)).bounds
    middle_lat, middle_lon = (y0 + y1) / 2, (x0 + x1) / 2
    wide_m, high_m = GEOD.inv(x0, middle_lat, x1, middle_lat)[2], GEOD.inv(middle_lon, y0, middle_lon, y1)[2]
    columns, rows = to_pixels(figure, background, [x0, x1, middle_lon, middle_lon], [middle_lat, middle_lat, y0, y1])
    wide_px, high_px = columns[1] - columns[0], rows[2] - rows[3]
    assert wide_px / wide_m == pytest.approx(high_px / high_m, rel=0.01)


def test_the_scale_bar_is_a_round_length_drawn_to_scale(xujiahui):
    sessions, result, background = xujiahui
    figure, _ = drawn(sessions, result, background)
    axes = figure.axes[0]
    bars = [patch for patch in axes.patches if patch.get_gid() == "scale-bar"]
    (label,) = [text.get_text() for text in axes.texts if text.get_gid() == "scale-bar-label"]
    left = min(bar.get_x() for bar in bars)
    right = max(bar.get_x() + bar.get_width() for bar in bars)
    ends = axes.transData.transform([(left, bars[0].get_y()), (right, bars[0].get_y())])
    lon, lat = to_lonlat(np.array([(left, bars[0].get_y()), (right, bars[0].get_y())]), background)
    measured_m = GEOD.inv(lon[0], lat[0], lon[1], lat[1])[2]
    assert label == "500 m" and measured_m == pytest.approx(500, rel=0.002)
    assert ends[1][0] - ends[0][0] == pytest.approx(500 * axes.bbox.width / np.ptp(axes.get_xlim()), rel=1e-6)


def test_without_a_font_for_chinese_the_names_are_left_out_and_the_map_says_so(xujiahui):
    sessions, result, background = xujiahui
    latin = MapFont.from_file(findfont("DejaVu Sans"))
    figure, _ = drawn(sessions, result, background, latin)
    labels = [text.get_text() for text in figure.axes[0].texts if text.get_gid() == "street-label"]
    notes = " ".join(text.get_text() for text in figure.texts)
    assert not latin.cjk and labels == []
    assert "street names not drawn: no installed font has their characters" in notes
    assert figure.axes[0].get_title().startswith("310104014: health_centre")


@pytest.mark.skipif(not shutil.which("fc-list"), reason="fontconfig is not installed")
def test_an_installed_font_for_chinese_is_found():
    installed = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, check=True).stdout
    if not installed.strip():
        pytest.skip("no font for Chinese is installed (apt-get install fonts-wqy-zenhei)")
    font = map_font()
    assert font.cjk and font.path in installed

