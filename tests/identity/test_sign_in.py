"""Sign-in under attack, and credentials that can really be taken back.

Guessing is slowed per account and per address, whoever the caller is; unknown and real
accounts take the same time to refuse; logout, a replayed refresh token and a revoked key each
stop every credential they should, on the next request.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from huizhili.errors import RecordedRefusal
from huizhili.identity import attempts
from huizhili.identity.accounts import close_account, create_user, refresh
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


def botnet(sessions, username, addresses, now, failures_each=1):
    """Failed sign-ins on ``username`` from ``addresses``, half a second before ``now``."""
    with transaction(sessions) as session:
        for address in addresses:
            for _ in range(failures_each):
                session.add(AccessLog(at=now - timedelta(milliseconds=500), username=username, action=attempts.FAILED,
                                      resource=attempts.RESOURCE, address=address))


def test_the_delay_grows_but_strangers_cannot_lock_the_user_out(sessions, client, wang):
    assert [attempts.delay(attempts.PAIR, n).total_seconds() for n in (4, 5, 6, 9, 40)] == [0, 1, 2, 16, 900]
    assert attempts.delay(attempts.ACCOUNT, 100) == timedelta(seconds=60)
    assert sign_in(client, wang).status_code == 200, "wang signs in from the office (testclient)"
    now = utcnow() + timedelta(seconds=1)  # the strangers' failures come after her sign-in
    botnet(sessions, wang, [f"10.0.0.{n}" for n in range(50)], now)
    botnet(sessions, "someone-else", ["testclient"], now, failures_each=30)  # a colleague's machine, spraying
    with sessions() as session:
        seconds, counter = attempts.wait_needed(session, wang, "192.0.2.7", now=now)
        assert counter == "this account" and seconds <= 60, "from a new address, distributed guessing is slowed"
        assert attempts.wait_needed(session, wang, "testclient", now=now) is None, "from her own address she is never locked out"
        assert attempts.wait_needed(session, "zhao", "192.0.2.7", now=now) is None, "other accounts are not slowed"
    assert sign_in(client, wang).status_code == 200


def test_one_address_spraying_many_accounts_is_delayed(sessions, wang):
    now = utcnow()
    with transaction(sessions) as session:
        for n in range(20):
            session.add(AccessLog(at=now - timedelta(milliseconds=100), username=f"user{n}", action=attempts.FAILED,
                                  resource=attempts.RESOURCE, address="198.51.100.9"))
    with sessions() as session:
        assert attempts.wait_needed(session, "zhao", "198.51.100.9", now=now)[1] == "this address"
        assert attempts.wait_needed(session, "zhao", "198.51.100.10", now=now) is None


def test_ipv6_addresses_count_by_their_network_and_long_names_by_what_is_kept():
    assert attempts.counted_address("2001:db8:1:2:aaaa::1") == attempts.counted_address("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert attempts.counted_address("203.0.113.5") == "203.0.113.5"
    assert attempts.counted_name("x" * 100) == "x" * 64


def test_parallel_guesses_each_count(serve, settings, wang):
    _, address = serve(settings)

    def guess(n):
        return httpx.post(f"http://{address}/api/auth/token", data={"username": wang, "password": f"guess {n}"}, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(guess, range(20)))
    assert answers.count(401) == attempts.PAIR.free_failures, f"{answers.count(401)} passwords were checked in parallel"
    assert answers.count(429) == 20 - attempts.PAIR.free_failures


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
    times = {name: [] for name in (wang, "nobody-at-all", "gone")}
    for n in range(4):  # interleaved, and the fastest of each kept: a busy machine slows all alike
        for username, spent in times.items():
            started = time.perf_counter()
            assert sign_in(client, username, f"wrong {n}").status_code == 401
            spent.append(time.perf_counter() - started)
    real, unknown, closed = (min(spent) for spent in times.values())
    # Argon2 takes tens of milliseconds; without the dummy hash an unknown name answers in ~1 ms.
    assert unknown > 0.3 * real and closed > 0.3 * real, (real, unknown, closed)


def test_logout_ends_the_refresh_token_too(client, wang):
    tokens = sign_in(client, wang).json()
    assert client.post("/api/auth/logout", headers=bearer(tokens)).status_code == 204
    assert client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401


def test_two_refreshes_racing_with_one_token_count_as_reuse(client, engine, sessions, wang):
    """The second refresh reads the token while the first has rotated it but not yet committed."""
    token = sign_in(client, wang).json()["refresh_token"]
    reached_update = threading.Event()

    def spot(_conn, _cursor, statement, *_):
        if threading.current_thread().name == "second" and statement.lstrip().upper().startswith("UPDATE CREDENTIALS"):
            reached_update.set()

    sa.event.listen(engine, "before_cursor_execute", spot)
    outcome = {}

    def second():
        with sessions() as session:
            try:
                refresh(session, token)
                outcome["second"] = "refreshed"
            except RecordedRefusal:
                outcome["second"] = "reuse"
            session.commit()

    try:
        with sessions() as first:
            pair = refresh(first, token)
            racer = threading.Thread(target=second, name="second")
            racer.start()
            assert reached_update.wait(10), "the second refresh never got to rotating the token"
            first.commit()
        racer.join(20)
    finally:
        sa.event.remove(engine, "before_cursor_execute", spot)
    assert outcome == {"second": "reuse"}
    assert client.get("/api/auth/me", headers=bearer(pair.__dict__)).status_code == 401, "the whole family is revoked"


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

