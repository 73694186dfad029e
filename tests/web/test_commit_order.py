"""An answer means it happened: every write is committed before its response leaves.

Over a real server (the in-process client waits for the whole app, so it cannot see the race),
and with commits made to fail: then the answer is a 503 and nothing is half-done.
"""

from contextlib import contextmanager

import httpx
import pytest
import sqlalchemy as sa

from huizhili.identity.accounts import create_user
from huizhili.storage.engine import transaction
from huizhili.storage.models import AccessLog, Credential

PASSWORD = "Kettle-Quartz-Meadow-91"
ROUNDS = 30


@pytest.fixture
def signer(xuhui):
    with transaction(xuhui) as session:
        create_user(session, "signer", "district_admin", password=PASSWORD, phone="13812345678")
    return "signer"


def test_a_logout_or_a_refresh_holds_on_the_very_next_request(serve, settings, signer):
    _, address = serve(settings)
    with httpx.Client(base_url=f"http://{address}") as http:
        for _ in range(ROUNDS):
            tokens = http.post("/api/auth/token", data={"username": signer, "password": PASSWORD}).json()
            bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
            assert http.post("/api/auth/logout", headers=bearer).status_code == 204
            assert http.get("/api/auth/me", headers=bearer).status_code == 401, "the token outlived its 204"
        tokens = http.post("/api/auth/token", data={"username": signer, "password": PASSWORD}).json()
        for _ in range(ROUNDS):
            tokens = http.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).json()
            me = http.get("/api/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
            assert me.status_code == 200, "a refreshed token was answered before it was stored"


@contextmanager
def failing_commits(engine):
    """Every COMMIT on ``engine`` fails, as when the disk is full or the server goes away."""

    def fail(_connection):
        raise sa.exc.OperationalError("COMMIT", {}, OSError("disk I/O error (simulated by the test)"))

    sa.event.listen(engine, "commit", fail)
    try:
        yield
    finally:
        sa.event.remove(engine, "commit", fail)


def test_a_commit_that_fails_is_a_503_and_nothing_is_half_done(client, engine, sessions, signer):
    tokens = client.post("/api/auth/token", data={"username": signer, "password": PASSWORD}).json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    with sessions() as session:
        credentials_before = session.scalars(sa.select(Credential.revoked_at)).all()
        log_before = session.scalar(sa.select(sa.func.count()).select_from(AccessLog))
    with failing_commits(engine):
        logout = client.post("/api/auth/logout", headers=bearer)
        assert logout.status_code == 503, logout.text
        assert "nothing was changed" in logout.json()["detail"]
        unmasked = client.get("/api/users", headers=bearer)
        assert unmasked.status_code == 503, "an unmasked read must not be answered without its access-log row"
    with sessions() as session:
        assert session.scalars(sa.select(Credential.revoked_at)).all() == credentials_before
        assert session.scalar(sa.select(sa.func.count()).select_from(AccessLog)) == log_before
    assert client.get("/api/auth/me", headers=bearer).status_code == 200, "the failed logout changed nothing"
    assert client.get("/api/users", headers=bearer).json()[0]["phone"] == "13812345678"
    with sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(AccessLog)) == log_before + 1


def test_a_failed_sign_in_is_counted_even_though_the_answer_is_an_error(client, sessions, signer):
    assert client.post("/api/auth/token", data={"username": signer, "password": "wrong password"}).status_code == 401
    with sessions() as session:
        actions = session.scalars(sa.select(AccessLog.action).where(AccessLog.resource == "sign_in")).all()
    assert actions == ["sign_in_failed"]
