"""Security headers on every response, and documentation pages that need nothing from outside."""

import re

import pytest
from fastapi.testclient import TestClient
from waiting import job_ended

from huizhili.web.app import create_app

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def assert_protected(response):
    assert {name: response.headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS
    policy = dict(directive.strip().split(" ", 1) for directive in response.headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'self'" and policy["script-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'" and policy["base-uri"] == "'none'"
    assert "http" not in response.headers["content-security-policy"]


def test_an_api_json_response_carries_the_security_headers(client):
    response = client.get("/api/health")
    assert response.status_code == 200
    assert_protected(response)


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("get", "/api/no-such-thing", {}, 404),
        ("get", "/api/auth/me", {"headers": {"Authorization": "Bearer nonsense"}}, 401),
        ("get", "/api/services/nearest?lon=east&lat=31.2&kind=park", {}, 422),
        ("post", "/api/auth/refresh", {"content": b"x" * 10_000_000, "headers": {"Content-Type": "application/json"}}, 413),
    ],
)
def test_error_responses_carry_them_too(client, method, path, kwargs, status):
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == status
    assert_protected(response)


def test_an_unexpected_server_error_carries_them_too(settings, engine):
    app = create_app(settings, engine)

    @app.get("/api/broken")
    def broken() -> None:
        raise RuntimeError("bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/broken")
    assert response.status_code == 500
    assert_protected(response)


def test_the_life_circle_report_carries_them(client, worker, role_headers):
    analyst = role_headers["analyst"]
    run = job_ended(client, client.post("/api/lifecircle/runs", json={"area": "徐家汇街道", "kinds": ["health_centre"]}, headers=analyst), analyst)["result"]
    report = client.get(f"/api/lifecircle/runs/{run['run_id']}/files/report.html", headers=analyst)
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert_protected(report)


@pytest.mark.parametrize("path", ["/", "/citizen", "/docs", "/redoc"])
def test_the_dashboard_and_documentation_pages_load_only_from_the_server_itself(client, path):
    page = client.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert_protected(page)
    assert re.findall(r"https?://", page.text) == []
    assert "<script>" not in page.text, "inline scripts would need 'unsafe-inline'"
    assets = re.findall(r'(?:src|href)="(/[^"]+)"', page.text)
    assert assets and all(client.get(asset).status_code == 200 for asset in assets)
