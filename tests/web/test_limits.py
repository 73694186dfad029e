"""Hostile input: oversized bodies, floods of anonymous requests, oversized uploads."""

import socket

import httpx
import pytest
from fastapi.testclient import TestClient

from huizhili.config import load_settings
from huizhili.web.app import create_app


@pytest.fixture
def strict_client(tmp_path, engine):
    settings = load_settings(
        environment="test", data_dir=tmp_path / "var", request_max_bytes=1000,
        upload_max_bytes=5000, anonymous_requests_per_minute=5,
    )
    with TestClient(create_app(settings, engine)) as client:
        yield client


def test_a_body_over_the_limit_is_refused_before_it_is_read(strict_client):
    response = strict_client.post("/api/auth/refresh", content=b"x" * 2000, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert "larger than 1000 bytes" in response.json()["detail"]


def test_a_streamed_body_without_length_is_cut_off_too(strict_client):
    def chunks():
        for _ in range(50):
            yield b"y" * 100

    response = strict_client.post("/api/auth/refresh", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_uploads_get_their_own_larger_limit(strict_client, role_headers):
    small = strict_client.post(
        "/api/imports", files={"file": ("a.csv", b"name,lon,lat\n" + b"a,121.4,31.2\n" * 100, "text/csv")},
        data={"target": "facility", "constants": '{"kind": "park"}'}, headers=role_headers["district_admin"],
    )
    assert small.status_code == 202, small.text  # accepted: a job imports it
    large = strict_client.post(
        "/api/imports", files={"file": ("a.csv", b"name,lon,lat\n" + b"a,121.4,31.2\n" * 1000, "text/csv")},
        data={"target": "facility", "constants": '{"kind": "park"}'}, headers=role_headers["district_admin"],
    )
    assert large.status_code == 413


def test_anonymous_floods_are_rate_limited_but_signed_in_users_are_not(strict_client, role_headers):
    statuses = [strict_client.get("/api/kinds").status_code for _ in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    signed_in = [strict_client.get("/api/kinds", headers=role_headers["analyst"]).status_code for _ in range(7)]
    assert signed_in == [200] * 7


def test_malformed_authorization_header_is_refused(client, role_headers):
    response = client.get("/api/kinds", headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    assert response.status_code == 401
    mixed = client.get("/api/summary", headers={**role_headers["analyst"], "Authorization": "Bearer forged"})
    assert mixed.status_code == 401


def test_405_lists_every_method_of_the_path(client):
    response = client.request("DELETE", "/api/users")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST"


def test_a_caller_cannot_pick_its_address_with_x_forwarded_for(serve, tmp_path, xuhui):
    _, address = serve(load_settings(environment="test", data_dir=tmp_path / "var", anonymous_requests_per_minute=5))
    answers = [httpx.get(f"http://{address}/api/kinds", headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
               for n in range(7)]
    assert answers == [200] * 5 + [429] * 2, "a new X-Forwarded-For per request escaped the per-address limit"


def test_a_configured_proxy_is_believed(serve, tmp_path, xuhui):
    settings = load_settings(environment="test", data_dir=tmp_path / "var", anonymous_requests_per_minute=5,
                             trusted_proxies=["127.0.0.1"])
    _, address = serve(settings)
    answers = [httpx.get(f"http://{address}/api/kinds", headers={"X-Forwarded-For": f"203.0.113.{n % 2}"}).status_code
               for n in range(12)]
    assert answers.count(429) == 2, "two callers behind the proxy, five requests each a minute"


def test_an_upload_is_refused_before_its_body_is_read(serve, tmp_path, role_headers):
    """Headers announce 50 MB and no byte of it is sent: the refusal must come anyway, at once."""
    _, address = serve(load_settings(environment="test", data_dir=tmp_path / "var"))
    host, port = address.split(":")
    for headers, expected in [({}, b"401"), (role_headers["analyst"], b"403")]:
        with socket.create_connection((host, int(port)), timeout=5) as connection:
            extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            connection.sendall((f"POST /api/imports HTTP/1.1\r\nHost: {address}\r\n{extra}Content-Length: 50000000\r\n"
                                "Content-Type: multipart/form-data; boundary=x\r\n\r\n").encode())
            status_line = connection.recv(200).split(b"\r\n")[0]
        assert status_line.split()[1] == expected, status_line
    assert not list((tmp_path / "var").rglob("uploads/*")), "nothing of a refused upload is kept"
