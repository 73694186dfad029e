"""The life-circle report as a person sees it: rendered in real Chromium."""

import pytest

from huizhili.network.lifecircle import run_life_circle
from huizhili.network.report import write_outputs
from huizhili.policy import Scope
from huizhili.storage.engine import transaction

SYSTEM = Scope.system()

pytestmark = pytest.mark.browser


def test_xuhui_report_shows_every_street_and_its_maps(xuhui, tmp_path, browser):
    with transaction(xuhui) as session:
        result = run_life_circle(session, None, created_by="test", area="徐汇区", scope=SYSTEM)
        files = write_outputs(session, result, tmp_path / "run")
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(files["report.html"].as_uri())
    rows = page.locator("#coverage tbody tr")
    assert rows.count() == 15
    assert "徐家汇街道" in page.locator("#coverage").inner_text()
    widths = page.eval_on_selector_all("img", "images => images.map(i => i.complete ? i.naturalWidth : 0)")
    assert widths == [800] * len(result.distances) and len(widths) == 3  # health centres, metro stations, parks
    assert page.locator(".estimated").is_visible()
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    page.close()
