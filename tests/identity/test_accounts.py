import csv
import io

import pytest
import sqlalchemy as sa

from huizhili.identity.accounts import create_user
from huizhili.storage.engine import transaction
from huizhili.storage.models import AccessLog, Credential

PASSWORD = "correct horse battery"


@pytest.fixture
def operator(xuhui):
    with transaction(xuhui) as session:
        create_user(session, "wang", "street_operator", password=PASSWORD, streets=["310104014"])
    return "wang"


def sign_in(client, username, password=PASSWORD):
    return client.post("/api/auth/token", data={"username": username, "password": password})


def test_password_sign_in_gives_tokens_that_identify_the_user(client, operator):
    tokens = sign_in(client, operator).json()
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 3600
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert me["username"] == "wang" and me["role"] == "street_operator" and me["streets"] == ["310104014"]


def test_wrong_password_and_unknown_user_get_the_same_answer(client, operator):
    wrong, unknown = sign_in(client, operator, "not the password"), sign_in(client, "nobody")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.headers["WWW-Authenticate"] == "Bearer"


def test_refresh_rotates_and_the_old_refresh_token_dies(client, operator):
    first = sign_in(client, operator).json()
    second = client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    again = client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert again.status_code == 401


def test_logout_revokes_the_token_at_once(client, operator):
    headers = {"Authorization": f"Bearer {sign_in(client, operator).json()['access_token']}"}
    assert client.post("/api/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/auth/me", headers=headers).status_code == 401


def test_expired_token_is_refused(client, operator, sessions):
    token = sign_in(client, operator).json()["access_token"]
    with transaction(sessions) as session:
        session.execute(sa.update(Credential).where(Credential.kind == "access").values(expires_at=Credential.created_at))
    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_tokens_are_stored_only_as_hashes(client, operator, sessions):
    token = sign_in(client, operator).json()["access_token"]
    with sessions() as session:
        stored = session.scalars(sa.select(Credential.secret_sha256)).all()
    assert token not in stored and all(len(digest) == 64 for digest in stored)


def test_garbage_bearer_token_is_refused_not_treated_as_anonymous(client, xuhui):
    response = client.get("/api/facilities", headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("role", "scope", "message"),
    [
        ("mayor", {}, "unknown role"),
        ("street_operator", {}, "must be given streets"),
        ("street_operator", {"streets": ["999999999"]}, "no street with code 999999999"),
        ("grid_officer", {}, "must be given grid_cells"),
        ("grid_officer", {"grid_cells": ["310104014G9999"]}, "no grid with code 310104014G9999"),
        ("committee_worker", {}, "must be given committees"),
        ("committee_worker", {"committees": ["310104014"]}, "no committee with code 310104014"),
        ("department_handler", {"department": "卫生局"}, "user 'x': no department '卫生局'"),
        ("service", {"department": "卫生局"}, "user 'x': no department '卫生局'"),
    ],
)
def test_users_need_a_known_role_and_a_real_scope(xuhui, role, scope, message):
    from huizhili.errors import ValidationError

    with transaction(xuhui) as session, pytest.raises(ValidationError, match=message):
        create_user(session, "x", role, password=PASSWORD, **scope)


def test_admin_creates_users_and_unknown_fields_are_refused(client, role_headers):
    admin = role_headers["district_admin"]
    body = {"username": "li.na", "role": "analyst", "password": PASSWORD}
    assert client.post("/api/users", json=body, headers=admin).status_code == 201
    assert client.post("/api/users", json=body, headers=admin).status_code == 409
    sneaky = {**body, "username": "li.na2", "is_superuser": True}
    response = client.post("/api/users", json=sneaky, headers=admin)
    assert response.status_code == 422
    assert "is_superuser" in response.text


def test_personal_fields_are_masked_for_analysts(client, role_headers):
    users = client.get("/api/users", headers=role_headers["analyst"]).json()
    assert users and all(u["phone"] == "138****5678" for u in users)
    assert all(u["display_name"].endswith("*") and "测试" not in u["display_name"] for u in users)


def test_unmasked_reads_are_logged_with_who_and_what(client, role_headers, sessions):
    users = client.get("/api/users", headers=role_headers["district_admin"]).json()
    assert all(u["phone"] == "13812345678" for u in users)
    with sessions() as session:
        entry = session.scalars(sa.select(AccessLog)).one()
    assert (entry.username, entry.action, entry.resource) == ("admin", "list", "users")
    assert sorted(entry.record_ids) == sorted(u["id"] for u in users)
    log = client.get("/api/access-log", headers=role_headers["district_admin"]).json()
    assert log[0]["fields"] == ["display_name", "phone"]


def test_csv_export_masks_the_same_way(client, role_headers, sessions):
    masked = client.get("/api/users/export.csv", headers=role_headers["analyst"])
    assert masked.headers["content-type"].startswith("text/csv")
    assert "138****5678" in masked.text and "13812345678" not in masked.text
    plain = client.get("/api/users/export.csv", headers=role_headers["district_admin"])
    assert "13812345678" in plain.text
    with sessions() as session:
        assert session.scalar(sa.select(AccessLog.action)) == "export"


FORMULAS = ['=HYPERLINK("http://x","y")', "+cmd", "@SUM(1)", "-2+3"]


def test_csv_export_keeps_display_names_that_look_like_formulas_as_text(client, role_headers, xuhui):
    with transaction(xuhui) as session:
        for number, name in enumerate(FORMULAS):
            create_user(session, f"formula{number}", "analyst", display_name=name)
    export = client.get("/api/users/export.csv", headers=role_headers["district_admin"])
    names = {row["username"]: row["display_name"] for row in csv.DictReader(io.StringIO(export.text))}
    assert [names[f"formula{number}"] for number in range(len(FORMULAS))] == [f"'{name}" for name in FORMULAS]


def test_a_disabled_user_cannot_refresh(client, operator, sessions):
    from huizhili.storage.models import User

    tokens = sign_in(client, operator).json()
    with transaction(sessions) as session:
        session.execute(sa.update(User).where(User.username == operator).values(active=False))
    assert client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401


def test_the_access_log_answers_an_audit_by_reader_resource_and_period(client, role_headers, sessions):
    from datetime import UTC, datetime, timedelta, timezone

    from huizhili.storage.engine import transaction

    admin = role_headers["district_admin"]
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        for days, username, resource in [(40, "commander", "users"), (10, "commander", "cases"), (1, "admin", "users")]:
            session.add(AccessLog(at=now - timedelta(days=days), username=username, action="list", resource=resource,
                                  record_ids=[1], fields=["phone"]))

    def audit(**params):
        response = client.get("/api/access-log", headers=admin, params=params)
        assert response.status_code == 200, response.text
        return [(e["username"], e["resource"]) for e in response.json()]

    assert audit(username="commander") == [("commander", "cases"), ("commander", "users")]
    assert audit(resource="users") == [("admin", "users"), ("commander", "users")]
    assert audit(since=(now - timedelta(days=20)).isoformat()) == [("admin", "users"), ("commander", "cases")]
    shanghai = (now - timedelta(days=20)).astimezone(timezone(timedelta(hours=8))).isoformat()
    assert audit(until=shanghai) == [("commander", "users")], "a zone other than UTC means the same instant"
    assert audit(limit=1, offset=1) == [("commander", "cases")]
    assert datetime.fromisoformat(client.get("/api/access-log", headers=admin).json()[0]["at"]).utcoffset() == timedelta(0)
    assert client.get("/api/access-log", headers=admin, params={"since": "0001-01-01T00:00:00+05:00"}).status_code == 422


def test_those_who_call_people_back_read_a_contact_unmasked_and_logged(client, role_headers, sessions):
    handler = role_headers["department_handler"]
    with transaction(sessions) as session:
        create_user(session, "li.handler", "department_handler", department="绿化市容局", phone="13900001111",
                    display_name="李四")
    contact = client.get("/api/users/li.handler/contact", headers=handler)
    assert contact.status_code == 200 and contact.json()["phone"] == "13900001111"
    with sessions() as session:
        entry = session.scalars(sa.select(AccessLog).where(AccessLog.action == "contact")).one()
    assert entry.username == "greening_handler" and entry.fields == ["display_name", "phone"]
    assert client.get("/api/users/admin/contact", headers=handler).status_code == 404, "outside his department"
    assert client.get("/api/users/li.handler/contact", headers=role_headers["analyst"]).status_code == 403
    assert client.get("/api/users/li.handler/contact", headers=role_headers["district_commander"]).status_code == 200


def test_the_access_log_keeps_a_shanghai_time_as_its_instant(client, role_headers, sessions):
    from datetime import datetime, timedelta, timezone

    morning = datetime(2026, 3, 1, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    with transaction(sessions) as session:
        session.add(AccessLog(at=morning, username="commander", action="list", resource="cases", record_ids=[1], fields=["phone"]))

    def audit(**params):
        response = client.get("/api/access-log", headers=role_headers["district_admin"], params={"resource": "cases", **params})
        assert response.status_code == 200, response.text
        return [e["at"] for e in response.json()]

    assert audit(since="2026-03-01T08:00:00+08:00") == ["2026-03-01T00:00:00+00:00"]
    assert audit(since="2026-03-01T08:00:00.000001+08:00") == []
    assert audit(until="2026-03-01T08:00:00+08:00") == []
    assert audit(until="2026-03-01T00:00:00.000001Z") == ["2026-03-01T00:00:00+00:00"]
