"""MQTT ingest against a real Mosquitto: killed mid-stream, nothing lost and nothing stored twice."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
import sqlalchemy as sa
from mosquitto import mosquitto
from waiting import until

from huizhili.identity.accounts import create_user
from huizhili.identity.broker import issue_service_password, write_broker_files
from huizhili.storage.engine import transaction
from huizhili.storage.models import DeadLetter, Observation, ObservationRollup

pytestmark = pytest.mark.mqtt

# The broker must hold, for a subscriber that is away, everything it has not acknowledged.
BROKER_CONFIG = "max_queued_messages 1000000\nmax_inflight_messages 0\n"


@pytest.fixture
def broker(xuhui, devices, tmp_path):
    """Mosquitto with the devices' accounts and an ingest account; yields (port, ingest password, device passwords)."""
    with transaction(xuhui) as session:
        create_user(session, "ingest", "service")
        password = issue_service_password(session, "ingest")
        passwd, acl = write_broker_files(session, tmp_path / "broker")
    with mosquitto(tmp_path, passwd, acl, BROKER_CONFIG) as port:
        yield port, password


def device_client(port, code, password):
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{code}-{time.monotonic_ns()}", protocol=mqtt.MQTTv5)
    client.username_pw_set(f"device-{code}", password)
    client.max_queued_messages_set(0)
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def start_worker(engine, tmp_path, port, password):
    env = {**os.environ, "HUIZHILI_DATA_DIR": str(tmp_path / "var"),
           "HUIZHILI_DATABASE_URL": engine.url.render_as_string(hide_password=False),
           "HUIZHILI_MQTT_URL": f"mqtt://ingest:{password}@127.0.0.1:{port}"}
    with (tmp_path / "worker.log").open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "huizhili", "worker", "--poll", "0.05"], env=env,
                                stdout=subprocess.DEVNULL, stderr=log)


def stored(sessions, metric="people"):
    with sessions() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Observation).where(Observation.metric == metric))


def until_subscribed(sessions, port, device_passwords):
    """Publish probes from another device until one is stored: the ingest's session and subscription then exist."""
    station = device_client(port, "XH-PM25", device_passwords["XH-PM25"])
    probes = 0

    def probe_stored():
        nonlocal probes
        probes += 1
        station.publish("huizhili/devices/XH-PM25/pm25", json.dumps({"ts": time.time() - probes, "metric": "pm25", "value": 10}), qos=1)
        return stored(sessions, "pm25") > 0

    until(probe_stored, "the worker did not ingest anything", timeout=30)
    station.disconnect()


def test_a_worker_killed_mid_stream_loses_nothing_and_stores_nothing_twice(engine, xuhui, broker, tmp_path, device_passwords):
    port, password = broker
    worker = start_worker(engine, tmp_path, port, password)
    try:
        crowd = device_client(port, "XH-CROWD", device_passwords["XH-CROWD"])
        base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=10)

        def publish(first, last):
            infos = [crowd.publish("huizhili/devices/XH-CROWD/people",
                                   json.dumps({"ts": (base + timedelta(seconds=i)).isoformat(), "metric": "people", "value": i % 500}),
                                   qos=1) for i in range(first, last)]
            for info in infos:
                info.wait_for_publish(30)

        until_subscribed(xuhui, port, device_passwords)
        sender = threading.Thread(target=publish, args=(0, 20000))
        sender.start()
        until(lambda: stored(xuhui) >= 4000, "the worker did not keep up", timeout=60)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        at_kill = stored(xuhui)
        sender.join(60)
        publish(20000, 25000)  # while no worker is running: the broker keeps them for the ingest's session
        assert at_kill < 20000, "the worker had stored everything before it was killed: nothing was tested"
        worker = start_worker(engine, tmp_path, port, password)
        until(lambda: stored(xuhui) == 25000, "not every published observation was stored", timeout=120)
        time.sleep(1.0)
        with xuhui() as session:
            values = session.scalars(sa.select(Observation.value).where(Observation.metric == "people")
                                     .order_by(Observation.observed_at)).all()
            counted = session.scalar(sa.select(sa.func.sum(ObservationRollup.count))
                                     .where(ObservationRollup.resolution == 60, ObservationRollup.metric == "people"))
            letters = session.scalar(sa.select(sa.func.count()).select_from(DeadLetter))
        assert values == [float(i % 500) for i in range(25000)], "each observation exactly once"
        assert counted == 25000, "a redelivered message was counted again in the rollups"
        assert letters == 0
        crowd.disconnect()
    finally:
        worker.kill()
        worker.wait(10)


def test_every_kind_of_bad_message_through_the_broker_is_a_dead_letter_and_the_stream_goes_on(
        engine, xuhui, broker, tmp_path, device_passwords):
    port, password = broker
    worker = start_worker(engine, tmp_path, port, password)
    try:
        until_subscribed(xuhui, port, device_passwords)
        crowd = device_client(port, "XH-CROWD", device_passwords["XH-CROWD"])
        now = datetime.now(UTC).replace(microsecond=0)
        ok = {"ts": now.isoformat(), "metric": "people", "value": 10}
        bad = {
            "not JSON": b"{people: 1",
            "another device's": json.dumps({**ok, "device": "XH-PM25", "metric": "pm25"}).encode(),
            "future": json.dumps({**ok, "ts": (now + timedelta(hours=2)).isoformat()}).encode(),
            "older than kept": json.dumps({**ok, "ts": "2023-12-31T00:00:00+00:00"}).encode(),
            "not finite": json.dumps({**ok, "value": float("nan")}).encode(),
            "out of range": json.dumps({**ok, "value": -5}).encode(),
            "oversized": json.dumps({**ok, "pad": "x" * 40000}).encode(),
            "unknown metric": json.dumps({**ok, "metric": "pm25"}).encode(),
        }
        infos = [crowd.publish("huizhili/devices/XH-CROWD/people", payload, qos=1) for payload in bad.values()]
        after = crowd.publish("huizhili/devices/XH-CROWD/people", json.dumps({**ok, "value": 42}), qos=1)
        for info in [*infos, after]:
            info.wait_for_publish(30)
        until(lambda: stored(xuhui) == 1, "the good message after the bad ones was not stored", timeout=30)
        with xuhui() as session:
            letters = session.execute(sa.select(DeadLetter.reason, DeadLetter.size, DeadLetter.channel)
                                      .order_by(DeadLetter.id)).all()
            value = session.scalar(sa.select(Observation.value).where(Observation.metric == "people"))
        assert value == 42.0
        assert len(letters) == len(bad) and {channel for _, _, channel in letters} == {"mqtt"}
        reasons = [reason for reason, _, _ in letters]
        for expected, reason in zip(["not JSON", "may not publish under", "is in the future", "before the 30 days observations are kept",
                                     "not a finite number", "outside the possible", "larger than", "does not measure 'pm25'"],
                                    reasons, strict=True):
            assert expected in reason, reason
        crowd.disconnect()
    finally:
        worker.kill()
        worker.wait(10)
