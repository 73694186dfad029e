"""The documentation pages and the life-circle report in real Chromium, offline, under the CSP.

Every request to a host other than the server on 127.0.0.1 is aborted and recorded, and so is
every console error (Chromium reports each Content-Security-Policy violation there).
"""

import httpx
import pytest
from browsing import watched
from waiting import job_ended

from huizhili.config import load_settings

pytestmark = pytest.mark.browser


@pytest.fixture
def site(tmp_path, serve):
    """The app under uvicorn: its base URL."""
    _, address = serve(load_settings(environment="test", data_dir=tmp_path / "var"))
    return f"http://{address}"


@pytest.fixture
def offline(browser):
    """A page that reaches only 127.0.0.1, with the outside URLs it asked for and its console errors."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    outside, errors = watched(page, http_errors=False)
    yield page, outside, errors
    context.close()


def test_swagger_ui_shows_every_operation(site, offline):
    page, outside, errors = offline
    operations = sum(len(methods) for methods in httpx.get(f"{site}/openapi.json").json()["paths"].values())
    page.goto(f"{site}/docs")
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock").count() == operations
    assert page.get_by_role("heading", name="huizhili 汇治理").is_visible()
    assert (outside, errors) == ([], [])


def test_redoc_shows_the_api_and_its_operations(site, offline):
    page, outside, errors = offline
    page.goto(f"{site}/redoc")
    page.get_by_role("heading", name="huizhili 汇治理").wait_for()
    assert page.get_by_text("Liveness, version and which database backend is in use").first.is_visible()
    page.get_by_placeholder("Search...").fill("health")
    page.locator("[role=search] li").first.wait_for()
    assert (outside, errors) == ([], [])


def test_the_life_circle_report_renders_with_its_styles_and_maps(site, offline, role_headers, worker):
    page, outside, errors = offline
    analyst = role_headers["analyst"]
    with httpx.Client(base_url=site, timeout=60) as client:
        submitted = client.post("/api/lifecircle/runs", json={"area": "徐家汇街道", "kinds": ["health_centre"]}, headers=analyst)
        run_id = job_ended(client, submitted, analyst)["result"]["run_id"]
    page.context.set_extra_http_headers(analyst)
    page.goto(f"{site}/api/lifecircle/runs/{run_id}/files/report.html")
    widths = page.eval_on_selector_all("img", "images => images.map(i => i.complete ? i.naturalWidth : 0)")
    assert widths == [800]
    assert page.locator("td.short").first.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(251, 227, 230)"
    assert page.locator("#origin-rule").inner_text().startswith("Origins — compounds:")
    assert (outside, errors) == ([], [])
