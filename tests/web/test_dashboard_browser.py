"""The operations dashboard in real Chromium, offline: sign-in, the district's map, drilling into a street, an alert acknowledged.

Every request to a host other than the server on 127.0.0.1 is aborted and recorded, and so is
every console error and failed request. Screenshots of each view are saved under
``build/screenshots`` (desktop 1920×1080 and phone 390×844).
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import shapely
import sqlalchemy as sa
from browsing import watched
from PIL import Image
from waiting import until

from huizhili.base.areas import AreaSpec, upsert_areas
from huizhili.config import load_settings
from huizhili.events import publish
from huizhili.identity.accounts import create_api_key, create_user
from huizhili.network.finder import NetworkCache
from huizhili.network.lifecircle import run_life_circle
from huizhili.network.report import write_outputs
from huizhili.policy import Scope
from huizhili.programmes.demo import load_programmes_demo
from huizhili.sensing.alerts import alert_out
from huizhili.storage.engine import transaction
from huizhili.storage.models import Alert, Area, IndicatorValue, LifeCircleRun, WalkWay

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).parents[2] / "build" / "screenshots"
PASSWORD = "Correct-horse-battery-9"
STREETS_DRAWN = 12
"""Xuhui's 13 streets and towns in the demo, one known by name only (no boundary to draw)."""
WEBGL_ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
"""The map draws with WebGL: in headless Chromium, on the CPU."""


@pytest.fixture
def site(tmp_path, serve, xuhui):
    """The app under uvicorn over the Xuhui demo, with a commander and an analyst who sign in by password."""
    with xuhui() as session:
        assert session.scalar(sa.select(sa.func.count()).where(Area.level == "street", Area.geometry.is_not(None))) == STREETS_DRAWN
    with transaction(xuhui) as session:
        create_user(session, "wang", "district_commander", password=PASSWORD)
        create_user(session, "li", "analyst", password=PASSWORD)
        create_user(session, "hotline", "hotline_operator")
        hotline_key = create_api_key(session, "hotline", "calls")[1]
        create_user(session, "grandma", "citizen", password=PASSWORD)
        create_user(session, "civil", "department_handler", department="民政局")
        civil_key = create_api_key(session, "civil", "desk")[1]
        xujiahui = session.scalar(sa.select(Area).where(Area.name == "徐家汇街道"))
        session.add(Alert(rule="flooding", subject="device:TP-WATER/water_level_cm", level=3, opened_at=datetime.now(UTC),
                          title={"zh": "天平路下立交积水", "en": "Flooding at the Tianping Road underpass"},
                          department="建设管理委", district_code="310104", street_code=xujiahui.code))
        session.add(IndicatorValue(indicator="pm25_24h", area_code=xujiahui.code, at=datetime.now(UTC), value=86.4, level=1,
                                   sources=2))
    _, address = serve(load_settings(environment="test", data_dir=tmp_path / "var", stream_poll_seconds=0.2))
    return Site(f"http://{address}", {"X-API-Key": hotline_key}, {"X-API-Key": civil_key})


@dataclass(frozen=True)
class Site:
    """The served app's address, the key of a hotline operator taking calls there, and a civil-affairs desk's."""

    url: str
    hotline: dict[str, str]
    civil_affairs: dict[str, str]


@pytest.fixture
def offline(browser, request):
    """A page that reaches only 127.0.0.1, with the outside URLs it asked for, its failed requests and console errors."""
    def open_page(width=1920, height=1080):
        context = browser.new_context(viewport={"width": width, "height": height})
        request.addfinalizer(context.close)
        page = context.new_page()
        return page, *watched(page)
    return open_page


@pytest.fixture(scope="module")
def browser():
    """Chromium with a software WebGL, for the map."""
    from conftest import CHROMIUM, CHROMIUM_ARGS
    if CHROMIUM is None:
        pytest.skip("Debian chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM,
                                              args=[a for a in CHROMIUM_ARGS if a != "--disable-gpu"] + WEBGL_ARGS)
        yield launched
        launched.close()


def shot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def test_the_commander_signs_in_drills_into_a_street_and_back_and_acknowledges_an_alert(site, offline):
    page, outside, errors = offline()
    page.goto(site.url)
    assert page.get_by_role("heading", name="工作人员登录").is_visible()
    page.get_by_label("用户名").fill("wang")
    page.get_by_label("密码").fill("wrong password")
    page.get_by_role("button", name="登录").click()
    page.get_by_text("用户名或密码不正确").wait_for()
    errors.clear()  # the refused sign-in's 401 is the point of that step
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.locator(".street-label").first.wait_for()
    page.wait_for_function("() => document.querySelectorAll('#counts dd').length === 4")
    assert page.locator("#map canvas").count() == 1 and page.locator(".street-label").count() == STREETS_DRAWN
    assert page.locator("#view-name").inner_text() == "全区"
    district_facilities = page.locator("#counts dd").nth(2).inner_text()
    shot(page, "dashboard-district-1920")
    page.locator(".street-label", has_text="徐家汇街道").click()
    page.wait_for_function("() => document.querySelector('#view-name').textContent === '徐家汇街道'")
    assert "#/street/310104" in page.url
    page.wait_for_function(f"() => document.querySelectorAll('#counts dd')[2].textContent !== {district_facilities!r}")
    assert "86.4 µg/m³ · 蓝色" in page.locator("#vitals").inner_text()
    alert = page.locator("#alerts li", has_text="天平路下立交积水")
    alert.get_by_role("button", name="签收").click()
    page.locator("#alerts li", has_text="已签收").wait_for()
    shot(page, "dashboard-street-1920")
    page.get_by_role("button", name="返回区级").click()
    page.wait_for_function("() => document.querySelector('#view-name').textContent === '全区'")
    page.locator("#live").wait_for()  # the stream is subscribed
    call = httpx.post(f"{site.url}/api/cases", headers=site.hotline, json={
        "title": "徐家汇路口井盖缺失", "category": "道路设施", "lon": 121.437, "lat": 31.19})
    assert call.status_code == 201, call.text
    page.locator("#case-board li", has_text="徐家汇路口井盖缺失").wait_for()  # live, no reload
    assert page.evaluate("async () => (await map.getSource('cases').getData()).features.length") == 1
    layers = page.evaluate("map.getStyle().layers.map(l => l.id)")
    assert layers == ["land", "street-fill", "street-line", "street-chosen", "committees", "network", "coverage", "density", "buildings",
                      "facilities", "devices", "cases"]
    page.get_by_label("感知设备").uncheck()
    assert "hide=devices" in page.url and page.evaluate("map.getLayoutProperty('devices', 'visibility')") == "none"
    shot(page, "dashboard-live-case-1920")
    assert (outside, errors) == ([], [])


def test_the_dashboard_speaks_english_and_fits_a_phone(site, offline):
    page, outside, errors = offline(390, 844)
    page.goto(f"{site.url}/?lang=en")
    assert page.get_by_role("heading", name="Staff sign-in").is_visible()
    page.get_by_label("Username").fill("li")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.locator(".street-label").first.wait_for()
    page.wait_for_function("() => document.querySelectorAll('#counts dd').length === 4")
    assert page.locator("#view-name").inner_text() == "District"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "nothing wider than the phone"
    shot(page, "dashboard-district-390")
    call = httpx.post(f"{site.url}/api/cases", headers=site.hotline, json={
        "title": "楼下餐馆夜间噪声", "category": "噪声扰民", "lon": 121.437, "lat": 31.19, "reporter_name": "张三",
        "reporter_phone": "13812345678"})
    assert call.status_code == 201, call.text
    page.get_by_role("button", name="楼下餐馆夜间噪声").click()  # arrived live
    detail = page.locator("#case-detail")
    detail.get_by_text("138****5678").wait_for()
    assert "张*" in detail.inner_text() and "13812345678" not in page.content() and "张三" not in page.content()
    assert (outside, errors) == ([], [])


def test_a_citizen_finds_the_nearest_health_centre_by_walking_and_follows_a_case_without_signing_in(site, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, geolocation={"longitude": 121.437, "latitude": 31.19},
                                  permissions=["geolocation"])
    page = context.new_page()
    outside, errors = watched(page)
    call = httpx.post(f"{site.url}/api/cases", headers=site.hotline, json={
        "title": "人行道树木倒伏", "category": "绿化养护", "lon": 121.437, "lat": 31.19})
    number = call.json()["number"]
    page.goto(f"{site.url}/citizen")
    page.get_by_role("button", name="用我的位置查找").click()
    first = page.locator("#results li").first
    first.wait_for()
    assert page.locator("#results li").count() == 5
    assert "社区卫生服务中心" in first.locator(".name").inner_text() and "步行" in first.locator(".meta").inner_text()
    for _ in range(100):  # the walk to the nearest, drawn (polled from here: the page's CSP forbids wait_for_function's eval)
        if page.evaluate("map.queryRenderedFeatures({layers: ['route']}).length"):
            break
        page.wait_for_timeout(100)
    assert page.evaluate("map.queryRenderedFeatures({layers: ['route']}).length") > 0
    walk = page.evaluate("async () => (await map.getSource('route').getData()).features")
    assert len(walk) == 1 and walk[0]["geometry"]["coordinates"][0] == pytest.approx([121.437, 31.19], abs=1e-6)
    assert first.get_by_role("button").get_attribute("aria-pressed") == "true"
    second = page.locator("#results li").nth(1).get_by_role("button")
    second.focus()
    page.keyboard.press("Enter")
    assert (first.get_by_role("button").get_attribute("aria-pressed"), second.get_attribute("aria-pressed")) == ("false", "true")
    shown = page.evaluate("async () => (await map.getSource('route').getData()).features")
    assert len(shown) == 1 and shown[0]["properties"]["id"] != walk[0]["properties"]["id"]
    page.get_by_label("受理编号").fill(number)
    page.get_by_role("button", name="查询").click()
    page.locator(".timeline li").first.wait_for()
    assert "已派遣" in page.locator("#followed").inner_text() and "剩余" in page.locator("#followed").inner_text()
    assert page.locator("#league tbody tr").count() >= 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "citizen-390")
    context.close()
    assert (outside, errors) == ([], [])


AXE = Path(__file__).parents[1] / "vendor" / "axe-core-4.14.1" / "axe.min.js"


def serious_violations(page):
    """What axe-core finds serious or critical on the page as it stands (WCAG 2.1 A and AA rules)."""
    page.add_script_tag(path=AXE)
    found = page.evaluate("async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}))"
                          ".violations.filter(v => ['serious', 'critical'].includes(v.impact))"
                          ".map(v => `${v.id}: ${v.nodes.map(n => n.target.join(' ')).slice(0, 5).join(', ')}`)")
    return found


def test_no_page_has_a_serious_accessibility_violation(site, browser):
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, bypass_csp=True)  # to inject axe-core
    page = context.new_page()
    page.goto(site.url)
    assert serious_violations(page) == [], "sign-in"
    page.get_by_label("用户名").fill("wang")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.locator(".street-label").first.wait_for()
    page.wait_for_function("() => document.querySelectorAll('#counts dd').length === 4")
    assert serious_violations(page) == [], "dashboard"
    page.goto(f"{site.url}/citizen")
    page.wait_for_load_state("networkidle")
    page.get_by_role("button", name="用我的位置查找").wait_for()
    assert serious_violations(page) == [], "citizen pages"
    context.close()


def test_a_resident_reports_with_a_photo_and_calls_for_help_which_reaches_the_operators_board_live(site, browser, tmp_path, xuhui):
    operator = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
    operator.goto(site.url)
    operator.get_by_label("用户名").fill("wang")
    operator.get_by_label("密码").fill(PASSWORD)
    operator.get_by_role("button", name="登录").click()
    operator.locator("#live").wait_for()
    context = browser.new_context(viewport={"width": 390, "height": 844}, geolocation={"longitude": 121.437, "latitude": 31.19},
                                  permissions=["geolocation"])
    page = context.new_page()
    outside, errors = watched(page)
    page.goto(f"{site.url}/citizen")
    form = page.locator("#resident-sign-in")
    form.get_by_label("用户名").fill("grandma")
    form.get_by_label("密码").fill(PASSWORD)
    form.get_by_role("button", name="登录").click()
    page.locator("#category option").first.wait_for(state="attached")
    assert not form.is_visible(), "signed in: the form gives way to the report"
    page.get_by_label("问题类别").select_option("绿化养护")
    page.get_by_label("问题描述").fill("小区门口大树倒伏压住电动车")
    photo = tmp_path / "tree.jpg"
    Image.new("RGB", (640, 480), "darkgreen").save(photo)
    page.get_by_label("照片（可选）").set_input_files(photo)
    page.get_by_role("button", name="提交").click()
    page.get_by_text("已受理，受理编号").wait_for()
    number = page.locator("#reported").inner_text().split()[-1]
    page.locator("#my-cases li", has_text=number).wait_for()
    with transaction(xuhui) as session:  # her committee, 东塘, drawn around her home (the demo's committees have no boundaries)
        upsert_areas(session, [AreaSpec(code="310104014001", name="东塘居委会", level="committee", parent_code="310104014",
                                        geometry=shapely.box(121.430, 31.185, 121.445, 31.200))])
        create_user(session, "dongtang", "department_handler", department="徐家汇街道东塘居委会")
        committee = {"X-API-Key": create_api_key(session, "dongtang", "desk")[1]}
    page.get_by_role("button", name="一键求助").click()
    page.get_by_text("正在通知徐汇区徐家汇街道东塘居民委员会…").wait_for()  # the committee's office, by name
    operator.locator("#case-board li", has_text="为老服务一键通求助").wait_for()  # live on the operator's board
    with httpx.Client(base_url=site.url, headers=committee) as http:
        [help_case] = [c for c in http.get("/api/cases").json() if c["category"] == "养老服务"]
        assert http.post(f"/api/cases/{help_case['id']}/actions", json={"action": "accept"}).status_code == 200
    page.get_by_text("徐汇区徐家汇街道东塘居民委员会已接单，工作人员正在赶来").wait_for()
    shot(page, "citizen-help-390")
    context.close()
    with httpx.Client(base_url=site.url, headers=site.hotline) as http:
        reported = next(c for c in http.get("/api/cases").json() if c["number"] == number)
    assert reported["category"] == "绿化养护"
    assert (outside, errors) == ([], [])


def test_the_wall_runs_itself_through_the_streets_and_brings_a_new_red_alert_to_the_front(site, offline, xuhui):
    page, outside, errors = offline(3840, 2160)
    page.goto(f"{site.url}/?wall=1&cycle=5")
    page.get_by_label("用户名").fill("wang")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.locator("#live").wait_for()
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(11, 22, 38)"
    assert page.evaluate("parseFloat(getComputedStyle(document.querySelector('#counts dd')).fontSize)") >= 60
    shot(page, "wall-district-3840")
    page.wait_for_function("() => location.hash.startsWith('#/street/')", timeout=15000)  # on its own, after 5 s
    with transaction(xuhui) as session:
        huajing = session.scalar(sa.select(Area).where(Area.name == "华泾镇"))
        alert = Alert(rule="gas_leak", subject="device:GAS-HJ-1/gas_lel", level=4, opened_at=datetime.now(UTC),
                      title={"zh": "华泾镇燃气泄漏", "en": "Gas leak in Huajing"}, department="建设管理委",
                      district_code="310104", street_code=huajing.code)
        session.add(alert)
        session.flush()
        publish(session, "alert.opened", alert, resource="alerts", record_id=alert.id, permission="read:alerts",
                department=alert.department, payload=alert_out(alert))
    page.wait_for_function(f"() => location.hash === '#/street/{huajing.code}'", timeout=10000)
    page.locator("#alerts li", has_text="华泾镇燃气泄漏").wait_for()
    shot(page, "wall-red-alert-3840")
    assert (outside, errors) == ([], [])


@pytest.fixture
def life_circle(xuhui, tmp_path):
    """The district's life circle run once over the demo, as the demo itself does: its homes, coverage and files."""
    with transaction(xuhui) as session:
        result = run_life_circle(session, NetworkCache(tmp_path / "cache").graph(session), created_by="test", scope=Scope.system())
        folder = tmp_path / "runs" / "lifecircle"
        write_outputs(session, result, folder)
        session.get_one(LifeCircleRun, result.run_id).output_dir = str(folder)
    return result


def chart_option(page):
    """What the dashboard's chart draws now (ECharts' own account of its option)."""
    return page.evaluate("echarts.getInstanceByDom(document.getElementById('chart')).getOption()")


def test_a_street_drills_down_to_a_committee_and_its_charts_show_a_week_the_kpis_and_the_life_circle(site, offline, xuhui,
                                                                                                    life_circle):
    with transaction(xuhui) as session:
        load_programmes_demo(session)
        xujiahui = session.scalar(sa.select(Area).where(Area.name == "徐家汇街道"))
        committee = session.scalars(sa.select(Area).where(Area.parent_code == xujiahui.code).order_by(Area.code)).first()
        committees_there = session.scalar(sa.select(sa.func.count()).where(Area.parent_code == xujiahui.code))
        hours = [datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=h) for h in range(1, 25)]
        session.add_all(IndicatorValue(indicator="pm25_24h", area_code=xujiahui.code, at=at, value=40.0 + i, level=None, sources=2)
                        for i, at in enumerate(hours))
        ways = session.scalar(sa.select(sa.func.count()).select_from(WalkWay))
    call = httpx.post(f"{site.url}/api/cases", headers=site.hotline, json={
        "title": "徐家汇路口井盖缺失", "category": "道路设施", "lon": 121.437, "lat": 31.19})
    assert call.status_code == 201, call.text
    page, outside, errors = offline()
    page.goto(f"{site.url}/?show=coverage#/street/{xujiahui.code}")
    page.get_by_label("用户名").fill("wang")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_function("() => document.querySelector('#view-name').textContent === '徐家汇街道'")
    assert page.evaluate("async () => (await map.getSource('network').getData()).features.length") == ways
    until(lambda: page.evaluate("async () => (await map.getSource('coverage').getData()).features.length"),
          "the homes are drawn once their layer is shown", timeout=30)  # wait_for_function would not await the promise
    homes = page.evaluate("async () => (await map.getSource('coverage').getData()).features.map(f => f.properties)")
    parks = life_circle.distances["park"]
    assert len(homes) == len(parks) and page.evaluate("map.getLayoutProperty('coverage', 'visibility')") == "visible"
    assert sum(home.get("walk_m", 1e9) <= home["standard_m"] == 300 for home in homes) == int((parks <= 300).sum())

    targets = page.locator("#targets li")
    targets.first.wait_for()
    renewal = targets.filter(has_text="零星旧改完成户数")  # in 徐家汇: its own households done, a part of the district's goal
    assert renewal.locator("progress").count() == 0 and " 户" in renewal.inner_text()
    park = targets.filter(has_text="公园绿地300米服务半径覆盖率")  # a share: the district's goal holds in every street
    stored_park = next(row["coverage"] for row in life_circle.coverage
                       if row["kind"] == "park" and row["threshold_m"] == 300 and row["area_code"] == xujiahui.code)
    assert f"{round(stored_park * 100, 1):g}% / 98%" in park.inner_text() and park.locator("progress").count() == 1
    page.wait_for_function("() => document.getElementById('chart-note').textContent.startsWith('PM2.5')")
    week = chart_option(page)["series"][0]["data"]
    assert len(week) >= 24 and week[-1]["value"][1] == 86.4  # the hours stored, then the latest value
    page.get_by_role("tab", name="案件考核").click()
    page.wait_for_function("() => document.getElementById('chart-note').textContent.startsWith('各街镇按期办结率')")
    kpis = chart_option(page)
    assert [s["name"] for s in kpis["series"]] == ["按期办结", "办结率"] and kpis["xAxis"][0]["data"] == ["徐家汇街道"]
    page.get_by_role("tab", name="生活圈覆盖").click()
    page.wait_for_function("() => document.getElementById('chart-note').textContent.includes('公园绿地 ≤ 300 米 · 目标 98%')")
    coverage = chart_option(page)
    shown = dict(zip(coverage["xAxis"][0]["data"], (bar["value"] for bar in coverage["series"][0]["data"]), strict=True))
    stored = {row["area_code"]: row["coverage"] for row in life_circle.coverage
              if row["kind"] == "park" and row["threshold_m"] == 300 and row["coverage"] is not None}
    assert shown["徐家汇街道"] == round(stored[xujiahui.code] * 100, 1) and len(shown) == len(stored) - 1  # less the district
    assert coverage["series"][0]["markLine"]["data"][0]["yAxis"] == 98
    assert page.get_by_role("tab", name="生活圈覆盖").get_attribute("aria-selected") == "true"
    shot(page, "dashboard-street-charts-1920")

    assert page.locator("#committee-list a").count() == committees_there
    page.locator("#committee-list a", has_text=committee.name).click()
    page.wait_for_function(f"() => document.querySelector('#view-name').textContent === {committee.name!r}")
    assert f"#/committee/{committee.code}" in page.url
    assert page.locator("#committee-list a[aria-current=page]").inner_text() == committee.name
    page.get_by_role("button", name="返回徐家汇街道").click()
    page.wait_for_function("() => document.querySelector('#view-name').textContent === '徐家汇街道'")
    assert (outside, errors) == ([], [])


def test_the_street_view_and_the_wall_have_no_serious_accessibility_violation(site, browser, life_circle):
    for viewport, address in (({"width": 1920, "height": 1080}, "/?show=coverage#/street/310104014"),
                              ({"width": 3840, "height": 2160}, "/?wall=1&cycle=600")):
        context = browser.new_context(viewport=viewport, bypass_csp=True)  # to inject axe-core
        page = context.new_page()
        page.goto(f"{site.url}{address}")
        page.get_by_label("用户名").fill("wang")
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.locator("#live").wait_for()
        page.wait_for_function("() => document.getElementById('chart-note').textContent !== ''")
        assert serious_violations(page) == [], address
        context.close()


OVERLAPS = """() => {
  const boxes = [...document.querySelectorAll('header, .card, .layers')].filter((e) => e.offsetParent !== null)
    .map((e) => [e.id || e.className, e.getBoundingClientRect()]);
  const crossing = [];
  for (const [i, [a, one]] of boxes.entries())
    for (const [b, other] of boxes.slice(i + 1))
      if (one.left < other.right - 1 && other.left < one.right - 1 && one.top < other.bottom - 1 && other.top < one.bottom - 1)
        crossing.push(`${a} × ${b}`);
  return crossing;
}"""
"""The page's bar, cards and map controls that overlap one another (none should)."""


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (390, 844)])
def test_every_page_fits_its_screen_with_nothing_overlapping(site, offline, width, height):
    page, outside, errors = offline(width, height)
    page.goto(site.url)
    page.get_by_role("heading", name="工作人员登录").wait_for()
    shot(page, f"sign-in-{width}")
    assert page.evaluate(OVERLAPS) == [] and page.evaluate("document.documentElement.scrollWidth") <= width
    page.get_by_label("用户名").fill("wang")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.goto(f"{site.url}/#/street/310104014")
    page.wait_for_function("() => document.getElementById('chart-note').textContent !== ''")
    shot(page, f"dashboard-street-{width}" if width < 1000 else "dashboard-street-charts-tab-1920")
    assert page.evaluate(OVERLAPS) == [] and page.evaluate("document.documentElement.scrollWidth") <= width
    page.goto(f"{site.url}/citizen")
    page.wait_for_load_state("networkidle")
    page.locator("#map canvas").wait_for()
    shot(page, f"citizen-page-{width}")
    assert page.evaluate(OVERLAPS) == [] and page.evaluate("document.documentElement.scrollWidth") <= width
    assert (outside, errors) == ([], [])


def test_an_operator_opens_a_case_for_an_alert_which_reaches_the_board_and_then_resolves_the_alert(site, offline):
    page, outside, errors = offline()
    page.goto(f"{site.url}/#/street/310104014")
    page.get_by_label("用户名").fill("wang")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.locator("#live").wait_for()
    alert = page.locator("#alerts li", has_text="天平路下立交积水")
    alert.get_by_role("button", name="立案").click()
    alert.get_by_label("类别").select_option("积水内涝")
    alert.locator("form").get_by_role("button", name="立案").click()
    alert.get_by_text("已立案，编号").wait_for()
    number = alert.get_by_role("status").inner_text().split()[-1]
    page.locator("#case-board li", has_text="天平路下立交积水").wait_for()  # live, no reload
    with httpx.Client(base_url=site.url, headers=site.hotline) as http:
        [case] = [c for c in http.get("/api/cases").json() if c["number"] == number]
    assert (case["category"], case["channel"], case["street_code"]) == ("积水内涝", "sensor", "310104014")
    assert alert.locator("form").get_by_role("button", name="立案").is_disabled()  # once
    shot(page, "dashboard-alert-case-1920")
    alert.get_by_role("button", name="解除").click()
    page.locator("#alerts li", has_text="天平路下立交积水").wait_for(state="detached")
    assert page.locator("#alert-count").inner_text() == "0", page.locator("#alerts").inner_text()
    centre = page.evaluate("async () => (await map.getSource('facilities').getData()).features"
                           ".find(f => f.properties.kind === 'health_centre' && f.properties.street_code === '310104014').id")
    token = page.evaluate("sessionStorage.getItem('huizhili.token')")
    closed = httpx.patch(f"{site.url}/api/facilities/{centre}/status", headers={"Authorization": f"Bearer {token}"},
                         json={"is_open": False, "note": "消杀中"})
    assert closed.status_code == 200, closed.text
    until(lambda: page.evaluate(f"""async () => (await map.getSource('facilities').getData()).features
                                      .find(f => f.id === {centre}).properties.is_open === false"""),
          "the closed centre is redrawn from the stream", timeout=30)  # live, no reload
    assert (outside, errors) == ([], [])


def test_a_street_operator_and_a_hotline_operator_see_their_dashboards_without_an_error(site, offline, xuhui):
    with transaction(xuhui) as session:
        create_user(session, "xu", "street_operator", password=PASSWORD, streets=["310104014"])
        create_user(session, "call", "hotline_operator", password=PASSWORD)
    for username in ("xu", "call"):
        page, outside, errors = offline()
        page.goto(site.url)
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.wait_for_function("() => document.querySelectorAll('#counts dd').length === 4")
        page.wait_for_function("() => document.getElementById('chart-note').textContent !== ''")
        assert page.locator("#dashboard").is_visible(), username
        assert (outside, errors) == ([], []), username
        page.context.close()
