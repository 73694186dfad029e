"""Device credentials and topic ACLs against a real Mosquitto broker started for the test."""

import threading
import time

import paho.mqtt.client as mqtt
import pytest
import shapely
from mosquitto import mosquitto
from waiting import until

from huizhili.identity.accounts import create_device_account, create_user
from huizhili.identity.broker import (
    device_topic,
    issue_service_password,
    may_publish,
    write_broker_files,
)
from huizhili.policy import Principal
from huizhili.storage.engine import transaction
from huizhili.storage.models import Device

pytestmark = pytest.mark.mqtt
NOT_AUTHORISED = 135  # MQTT 5 reason code


@pytest.fixture
def accounts(xuhui):
    """Two devices with broker accounts and an ingest service account: username → password."""
    passwords = {}
    with transaction(xuhui) as session:
        for code in ("PM-A", "PM-B"):
            session.add(Device(code=code, sensor_kind="pm25", geometry=shapely.Point(121.43, 31.19), lon=121.43, lat=31.19, properties={}))
        session.flush()
        for code in ("PM-A", "PM-B"):
            user, password = create_device_account(session, code)
            passwords[user.username] = password
        create_user(session, "ingest", "service")
        passwords["ingest"] = issue_service_password(session, "ingest")
    return passwords


@pytest.fixture
def broker(xuhui, accounts, tmp_path):
    """Mosquitto on a free port, configured only by the files the platform generates."""
    with xuhui() as session:
        passwd, acl = write_broker_files(session, tmp_path / "broker")
    with mosquitto(tmp_path, passwd, acl) as port:
        yield port


def connect(port, username, password):
    """A connected MQTT 5 client, or the broker's refusal reason."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{username}-{time.monotonic_ns()}", protocol=mqtt.MQTTv5)
    client.username_pw_set(username, password)
    connected = threading.Event()
    result = {}

    def on_connect(_client, _userdata, _flags, reason_code, _properties):
        result["reason"] = reason_code
        connected.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert connected.wait(5), "no CONNACK"
    return client, result["reason"]


def publish_and_collect(port, accounts, publisher, topic):
    """Publish one QoS 1 message as ``publisher``; return (PUBACK reason, what the ingest received).

    The publisher then sends a message to its own topic: the broker forwards one client's
    messages in order, so once that one reaches the ingest, so has the first, if it was let through.
    """
    ingest, _ = connect(port, "ingest", accounts["ingest"])
    received = []
    subscribed = threading.Event()
    ingest.on_message = lambda _c, _u, message: received.append(message.topic)
    ingest.on_subscribe = lambda *_: subscribed.set()
    ingest.subscribe("huizhili/devices/#", qos=1)
    assert subscribed.wait(5)
    device, _ = connect(port, publisher, accounts[publisher])
    acks = {}
    device.on_publish = lambda _client, _userdata, mid, reason_code, _properties: acks.update({mid: reason_code})
    sent = device.publish(topic, b'{"pm25": 35}', qos=1).mid
    last = device_topic(publisher.removeprefix("device-")) + "/last"
    device.publish(last, b"{}", qos=1)
    until(lambda: sent in acks, "no PUBACK")
    until(lambda: last in received, "the publisher's own topic did not reach the ingest")
    for client in (device, ingest):
        client.loop_stop()
        client.disconnect()
    return acks[sent], [t for t in received if t != last]


def test_device_publishes_under_its_own_topic(broker, accounts):
    topic = device_topic("PM-A") + "/pm25"
    reason, received = publish_and_collect(broker, accounts, "device-PM-A", topic)
    assert not reason.is_failure
    assert received == [topic]


def test_broker_refuses_a_device_publishing_to_another_devices_topic(broker, accounts):
    reason, received = publish_and_collect(broker, accounts, "device-PM-A", device_topic("PM-B") + "/pm25")
    assert reason.value == NOT_AUTHORISED
    assert received == []


def test_broker_refuses_a_wrong_password(broker, accounts):
    client, reason = connect(broker, "device-PM-A", accounts["device-PM-B"])
    client.loop_stop()
    assert reason.is_failure


def test_ingest_check_refuses_another_devices_topic():
    device = Principal(username="device-PM-A", role="device", device_code="PM-A")
    assert may_publish(device, "huizhili/devices/PM-A/pm25")
    assert not may_publish(device, "huizhili/devices/PM-B/pm25")
    assert not may_publish(device, "huizhili/devices/PM-AB/pm25")
    assert not may_publish(Principal(username="x", role="district_admin"), "huizhili/devices/PM-A")
