"""Closing accounts and the retention of personal data: erased when due, never before, only once."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from huizhili.config import load_settings
from huizhili.errors import ConflictError
from huizhili.events import prune
from huizhili.identity.accounts import close_account, create_api_key, create_user
from huizhili.policy.privacy import PERSONAL_FIELDS, RETENTION_RULES, apply_retention
from huizhili.storage.engine import transaction
from huizhili.storage.models import AccessLog, Event, User, utcnow

SETTINGS = load_settings(retention_closed_account_days=30, retention_access_log_days=365, retention_event_days=7)


def people(sessions):
    with sessions() as session:
        return {u.username: (u.display_name, u.phone) for u in session.scalars(sa.select(User))}


@pytest.fixture
def accounts(xuhui):
    """Three citizens: one closed 40 days ago, one closed 5 days ago, one active."""
    now = utcnow()
    with transaction(xuhui) as session:
        for name in ("long_gone", "just_left", "still_here"):
            create_user(session, name, "citizen", display_name=f"{name} 王", phone="13812345678")
        for name, days in (("long_gone", 40), ("just_left", 5)):
            close_account(session, name)
            session.scalar(sa.select(User).where(User.username == name)).closed_at = now - timedelta(days=days)
        for days in (400, 3):
            session.add(AccessLog(at=now - timedelta(days=days), username="admin", action=f"list {days} days ago", resource="users",
                                  record_ids=[1], fields=["phone"]))
            session.add(Event(at=now - timedelta(days=days), kind="facility.status", permission="read:public",
                              resource="facilities", record_id=1, payload={}))
    return xuhui


def test_only_accounts_closed_longer_than_the_period_lose_their_personal_fields(accounts):
    with transaction(accounts) as session:
        outcomes = apply_retention(session, SETTINGS)
    assert {(o.resource, o.records) for o in outcomes} == {("users", 1), ("cases", 0), ("case_signals", 0), ("case_photos", 0),
                                                               ("access_log", 1)}
    names = people(accounts)
    assert names["long_gone"] == (None, None)
    assert names["just_left"] == ("just_left 王", "13812345678")
    assert names["still_here"] == ("still_here 王", "13812345678")
    with accounts() as session:
        assert session.scalars(sa.select(AccessLog.action)).all() == ["list 3 days ago"]
        assert session.scalar(sa.select(User).where(User.username == "long_gone")).closed_at is not None


def test_retention_is_idempotent_and_a_dry_run_changes_nothing(accounts):
    with transaction(accounts) as session:
        planned = apply_retention(session, SETTINGS, dry_run=True)
        assert prune(session, SETTINGS, dry_run=True).records == 1
    assert people(accounts)["long_gone"] == ("long_gone 王", "13812345678")
    with transaction(accounts) as session:
        done = apply_retention(session, SETTINGS)
        assert prune(session, SETTINGS).records == 1
    assert [o.records for o in planned] == [o.records for o in done] == [1, 0, 0, 0, 1]
    with transaction(accounts) as session:
        assert [o.records for o in apply_retention(session, SETTINGS)] == [0, 0, 0, 0, 0]
        assert session.scalar(sa.select(sa.func.count()).select_from(Event)) == 1


def test_closing_revokes_every_credential_at_once(client, xuhui):
    with transaction(xuhui) as session:
        create_user(session, "boss", "district_admin")
        create_user(session, "leaving", "street_operator", streets=["310104014"], phone="13900001111")
        boss, leaving = create_api_key(session, "boss", "t")[1], create_api_key(session, "leaving", "t")[1]
    assert client.get("/api/auth/me", headers={"X-API-Key": leaving}).status_code == 200
    closed = client.post("/api/users/leaving/close", headers={"X-API-Key": boss})
    assert closed.status_code == 200 and closed.json()["active"] is False and closed.json()["closed_at"]
    assert client.get("/api/auth/me", headers={"X-API-Key": leaving}).status_code == 401
    assert client.post("/api/users/leaving/close", headers={"X-API-Key": boss}).status_code == 409
    assert client.post("/api/users/boss/close", headers={"X-API-Key": boss}).status_code == 409
    assert client.post("/api/users/nobody/close", headers={"X-API-Key": boss}).status_code == 404
    with xuhui() as session:
        logged = session.scalars(sa.select(AccessLog).where(AccessLog.action == "close")).all()
    assert [entry.username for entry in logged] == ["boss"], "the unmasked reply is an access like any other"


def test_closing_oneself_is_refused_in_the_domain_too(xuhui):
    with transaction(xuhui) as session, pytest.raises(ConflictError):
        create_user(session, "solo", "district_admin")
        close_account(session, "solo", closed_by="solo")


def test_every_retention_rule_erases_registered_personal_fields():
    for rule in RETENTION_RULES:
        assert PERSONAL_FIELDS[rule.resource]
        assert rule.setting in type(SETTINGS).model_fields
        assert all(hasattr(rule.model, field) for field in PERSONAL_FIELDS[rule.resource])
