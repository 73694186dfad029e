"""The dashboard's device and case layers in real Chromium: drawn from the map endpoints, coloured, and clicked.

Uses the served Xuhui demo, Chromium and the offline page of ``test_dashboard_browser``.
"""

from datetime import UTC, datetime

import httpx
import pytest
import shapely
import test_dashboard_browser as dashboard
from PIL import Image

from huizhili.base.assign import assign_areas
from huizhili.storage.engine import transaction
from huizhili.storage.models import Alert, Device, Observation

pytestmark = pytest.mark.browser

browser, offline, site = dashboard.browser, dashboard.offline, dashboard.site  # its fixtures, shared

RED = (200, 16, 46)
GREY = (154, 165, 177)
VIOLET = (108, 92, 231)
DEVICES = {"AQ-RED": (121.425, 31.160), "AQ-QUIET": (121.455, 31.150), "AQ-OFF": (121.440, 31.140)}
"""Three air-quality stations away from the street labels: one with a red alert, one without, one silent."""


@pytest.fixture
def stations(site, xuhui):
    """The three stations, heard from (but AQ-OFF, silent now), with a latest PM2.5 and AQ-RED's red alert; code → id."""
    now = datetime.now(UTC)
    with transaction(xuhui) as session:
        found = {}
        for code, (lon, lat) in DEVICES.items():
            device = Device(code=code, sensor_kind="air_quality", geometry=shapely.Point(lon, lat), lon=lon, lat=lat, properties={},
                            last_seen_at=now)
            session.add(device)
            session.flush()
            found[code] = device.id
            session.add(Observation(device_id=device.id, metric="pm25", observed_at=now, value=38.5))
        assign_areas(session, [Device], list(found.values()))
        session.add(Alert(rule="pm25_high", subject="device:AQ-RED/pm25", device_id=found["AQ-RED"], level=4, opened_at=now,
                          title={"zh": "PM2.5 严重超标", "en": "PM2.5 far too high"}, district_code="310104"))
        session.add(Alert(rule="device_silent", subject="device:AQ-OFF/*", device_id=found["AQ-OFF"], level=2, opened_at=now,
                          title={"zh": "设备离线", "en": "Device silent"}, district_code="310104"))
    return found


def signed_in(page, site):
    """The dashboard, signed in as the commander, once its first view is drawn (data-ready)."""
    asked = []
    page.on("request", lambda request: asked.append(request.url.removeprefix(site.url)))
    page.goto(site.url)
    page.get_by_label("用户名").fill("wang")
    page.get_by_label("密码").fill(dashboard.PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.locator("#map[data-ready=true]").wait_for()
    return asked


def on_page(page, lon, lat):
    """Where on the page the map draws a place."""
    return page.evaluate(f"(() => {{ const p = map.project([{lon}, {lat}]); const box = map.getCanvas().getBoundingClientRect();"
                         f" return [box.left + p.x, box.top + p.y]; }})()")


def colour_at(page, folder, lon, lat):
    """The colour the map drew at a place (the middle of the circle there)."""
    x, y = on_page(page, lon, lat)
    page.screenshot(path=folder / "map.png")
    return Image.open(folder / "map.png").convert("RGB").getpixel((round(x), round(y)))


def near(colour, expected):
    return all(abs(a - b) <= 12 for a, b in zip(colour, expected, strict=True))


def test_the_device_layer_is_drawn_from_the_device_map_coloured_by_alert_and_online(site, offline, stations, tmp_path):
    page, outside, errors = offline()
    asked = signed_in(page, site)
    assert "/api/devices/map" in asked and not any(url.startswith("/api/devices?") for url in asked), asked
    drawn = page.evaluate("[...new Set(map.querySourceFeatures('devices').map(f => f.properties.id))].sort((a, b) => a - b)")
    listed = httpx.get(f"{site.url}/api/devices/map", headers=site.civil_affairs).json()  # 民政局 sees none of these
    assert set(stations.values()) <= set(drawn) and not set(listed["id"]) & set(stations.values())
    colours = {code: colour_at(page, tmp_path, *DEVICES[code]) for code in DEVICES}
    assert near(colours["AQ-RED"], RED) and near(colours["AQ-QUIET"], VIOLET) and near(colours["AQ-OFF"], GREY), colours
    dashboard.shot(page, "dashboard-device-layer-1920")
    page.mouse.click(*on_page(page, *DEVICES["AQ-RED"]))
    popup = page.locator(".maplibregl-popup .device-popup")
    popup.wait_for()
    assert popup.inner_text().split() == ["设备类型", "空气质量监测站", "PM2.5", "38.5", "µg/m³", "在线状态", "在线"]
    assert page.locator("#view-name").inner_text() == "全区", "the click opened the device, not the street under it"
    assert (outside, errors) == ([], [])


def test_the_case_layer_is_drawn_from_the_case_map_and_a_click_opens_the_case(site, offline):
    numbers = {}
    for title, lon, lat in [("漕溪北路井盖缺失", 121.437, 31.19), ("龙华路积水", 121.455, 31.17)]:
        call = httpx.post(f"{site.url}/api/cases", headers=site.hotline, json={"title": title, "category": "道路设施", "lon": lon, "lat": lat})
        assert call.status_code == 201, call.text
        numbers[call.json()["id"]] = (call.json()["number"], lon, lat)
    page, outside, errors = offline()
    asked = signed_in(page, site)
    assert any(url.startswith("/api/cases/map") for url in asked), asked
    drawn = page.evaluate("[...new Set(map.querySourceFeatures('cases').map(f => f.properties.id))].sort((a, b) => a - b)")
    assert drawn == sorted(numbers)
    number, lon, lat = numbers[max(numbers)]
    page.mouse.click(*on_page(page, lon, lat))
    page.locator("#case-detail dd", has_text=number).wait_for()
    assert page.locator("#view-name").inner_text() == "全区"
    assert (outside, errors) == ([], [])
