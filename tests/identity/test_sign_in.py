"""Sign-in under attack, and credentials that can really be taken back.

Guessing is slowed per account and per address, whoever the caller is; unknown and real
accounts take the same time to refuse; logout, a replayed refresh token and a revoked key each
stop every credential they should, on the next request.
"""

import time
from datetime import timedelta

import pytest
from click.testing import CliRunner

from huizhili.identity import attempts
from huizhili.identity.accounts import close_account, create_user
from huizhili.storage.engine import transaction
from huizhili.storage.models import AccessLog, utcnow

PASSWORD = "Kettle-Quartz-Meadow-91"


@pytest.fixture
def wang(xuhui):
    with transaction(xuhui) as session:
        create_user(session, "wang", "street_operator", password=PASSWORD, streets=["310104014"])
        create_user(session, "zhao", "analyst", password=PASSWORD)
        create_user(session, "gone", "analyst", password=PASSWORD)
        close_account(session, "gone")
    return "wang"


def sign_in(client, username, password=PASSWORD, headers=None):
    return client.post("/api/auth/token", data={"username": username, "password": password}, headers=headers or {})


def bearer(tokens):
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def test_guessing_is_delayed_even_for_a_caller_with_an_api_key(client, wang, role_headers):
    key = role_headers["analyst"]
    answers = [sign_in(client, wang, f"guess number {n}", headers=key).status_code for n in range(7)]
    assert answers[:5] == [401] * 5
    assert answers[5] == 429, "the sixth wrong password in a row must wait"
    delayed = sign_in(client, wang, headers=key)
    assert delayed.status_code == 429, "while the delay runs even the right password is not checked"
    assert int(delayed.headers["Retry-After"]) >= 1
    assert "try again in" in delayed.json()["detail"]


def test_the_delay_grows_but_a_stranger_cannot_lock_the_user_out_for_long(sessions, wang):
    assert [attempts.delay(attempts.PAIR, n).total_seconds() for n in (4, 5, 6, 9, 40)] == [0, 1, 2, 16, 900]
    assert attempts.delay(attempts.ACCOUNT, 100) == timedelta(seconds=60)
    now = utcnow()
    with transaction(sessions) as session:
        for n in range(50):  # a botnet: fifty addresses, one guess each, just now
            session.add(AccessLog(at=now - timedelta(seconds=1), username=wang, action=attempts.FAILED,
                                  resource=attempts.RESOURCE, address=f"10.0.0.{n}"))
    with sessions() as session:
        seconds, counter = attempts.wait_needed(session, wang, "192.0.2.7", now=now)
        assert counter == "this account" and seconds <= 60
        assert attempts.wait_needed(session, wang, "192.0.2.7", now=now + timedelta(seconds=60)) is None
        assert attempts.wait_needed(session, "zhao", "192.0.2.7", now=now) is None, "other accounts are not slowed"


def test_one_address_spraying_many_accounts_is_delayed(sessions, wang):
    now = utcnow()
    with transaction(sessions) as session:
        for n in range(20):
            session.add(AccessLog(at=now - timedelta(milliseconds=100), username=f"user{n}", action=attempts.FAILED,
                                  resource=attempts.RESOURCE, address="198.51.100.9"))
    with sessions() as session:
        assert attempts.wait_needed(session, "zhao", "198.51.100.9", now=now)[1] == "this address"
        assert attempts.wait_needed(session, "zhao", "198.51.100.10", now=now) is None


def test_a_successful_sign_in_clears_the_accounts_count(client, wang):
    for n in range(4):
        assert sign_in(client, wang, f"typo {n}").status_code == 401
    assert sign_in(client, wang).status_code == 200
    for n in range(4):
        assert sign_in(client, wang, f"typo again {n}").status_code == 401, "counting started again from zero"


def test_every_attempt_is_in_the_access_log_with_its_address(client, wang, role_headers):
    sign_in(client, wang, "wrong")
    sign_in(client, wang)
    sign_in(client, "nobody", "whatever")
    log = client.get("/api/access-log", params={"resource": "sign_in"}, headers=role_headers["district_admin"]).json()
    assert [(e["username"], e["action"]) for e in log] == [
        ("nobody", "sign_in_failed"), ("wang", "sign_in"), ("wang", "sign_in_failed")]
    assert {e["address"] for e in log} == {"testclient"}


def test_unknown_closed_and_real_accounts_take_as_long_to_refuse(client, wang):
    """Timed in turns, so a busy machine slows all three alike; the quickest try is each one's own cost."""
    times = {wang: [], "nobody-at-all": [], "gone": []}
    for n in range(4):  # below the five free failures of an account from one address
        for username, taken in times.items():
            started = time.perf_counter()
            assert sign_in(client, username, f"wrong {n}").status_code == 401
            taken.append(time.perf_counter() - started)
    real, unknown, closed = (min(taken) for taken in times.values())
    # Argon2 takes tens of milliseconds; without the dummy hash the unknown name answers in ~1 ms.
    assert unknown > 0.5 * real and closed > 0.5 * real, (real, unknown, closed)


def test_logout_ends_the_refresh_token_too(client, wang):
    tokens = sign_in(client, wang).json()
    assert client.post("/api/auth/logout", headers=bearer(tokens)).status_code == 204
    assert client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401


def test_a_replayed_refresh_token_revokes_every_token_of_its_sign_in(client, wang):
    stolen = sign_in(client, wang).json()
    users = client.post("/api/auth/refresh", json={"refresh_token": stolen["refresh_token"]}).json()
    other_session = sign_in(client, wang).json()
    replay = client.post("/api/auth/refresh", json={"refresh_token": stolen["refresh_token"]})
    assert replay.status_code == 401 and "already used" in replay.json()["detail"]
    assert client.get("/api/auth/me", headers=bearer(users)).status_code == 401
    assert client.post("/api/auth/refresh", json={"refresh_token": users["refresh_token"]}).status_code == 401
    assert client.get("/api/auth/me", headers=bearer(other_session)).status_code == 200, "another sign-in is untouched"


def test_logout_with_an_api_key_revokes_the_key(client, role_headers):
    key = role_headers["analyst"]
    assert client.get("/api/auth/me", headers=key).status_code == 200
    assert client.post("/api/auth/logout", headers=key).status_code == 204
    assert client.get("/api/auth/me", headers=key).status_code == 401


def test_administrators_list_and_revoke_api_keys(client, role_headers):
    admin = role_headers["district_admin"]
    issued = client.post("/api/users/analyst/api-keys", json={"name": "wall display"}, headers=admin).json()
    spare = {"X-API-Key": issued["secret"]}
    keys = client.get("/api/users/analyst/api-keys", headers=admin).json()
    assert [(k["name"], k["revoked_at"]) for k in keys] == [("tests", None), ("wall display", None)]
    assert "secret" not in keys[0] and keys[1]["id"] == issued["key_id"]
    assert client.get("/api/auth/me", headers=spare).status_code == 200
    assert client.delete(f"/api/users/analyst/api-keys/{issued['key_id']}", headers=admin).status_code == 204
    assert client.get("/api/auth/me", headers=spare).status_code == 401
    assert client.get("/api/auth/me", headers=role_headers["analyst"]).status_code == 200, "the other key still works"
    assert client.delete(f"/api/users/analyst/api-keys/{issued['key_id']}", headers=admin).status_code == 409
    assert client.delete(f"/api/users/citizen/api-keys/{issued['key_id']}", headers=admin).status_code == 404
    assert client.get("/api/users/analyst/api-keys", headers=admin).json()[1]["revoked_at"] is not None


def test_the_command_line_lists_and_revokes_keys(tmp_path, monkeypatch):
    from huizhili.cli import main

    monkeypatch.setenv("HUIZHILI_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("HUIZHILI_DATABASE_URL", raising=False)
    runner = CliRunner()
    assert runner.invoke(main, ["user", "add", "ops", "--role", "analyst", "--password", PASSWORD]).exit_code == 0
    issued = runner.invoke(main, ["user", "api-key", "ops", "--name", "kiosk"])
    assert issued.exit_code == 0 and "huizhili user revoke-key ops 1" in issued.stderr
    key = issued.stdout.strip()
    assert len(key) >= 40 and "\n" not in key, "stdout holds the key alone, for $(…)"
    listed = runner.invoke(main, ["user", "api-keys", "ops"])
    assert listed.stdout.startswith("1\tkiosk\tissued ") and listed.stdout.rstrip().endswith("active")
    assert runner.invoke(main, ["user", "revoke-key", "ops", "1"]).exit_code == 0
    assert "revoked 20" in runner.invoke(main, ["user", "api-keys", "ops"]).stdout
    again = runner.invoke(main, ["user", "revoke-key", "ops", "1"])
    assert again.exit_code == 1 and "already revoked" in again.stderr

