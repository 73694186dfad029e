"""The worker's sensing loops: the MQTT ingest, which acknowledges a message only once it is stored, and the silence clock.

The subscriber keeps a persistent session (a fixed client id, ``clean_start`` off, a session
that never expires) and acknowledges by hand (paho-mqtt 2 ``manual_ack``): a message is
acknowledged once the transaction holding what it carried has committed. If the process dies
before that, the broker still holds the message and sends it again when the subscriber comes
back; the store keeps one row per device, metric and instant, so the repeat adds nothing.
Messages are taken in batches (up to ``BATCH`` or ``BATCH_SECONDS``) so that one commit covers
many of them.
"""

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from huizhili.config import Settings
from huizhili.errors import ConfigurationError
from huizhili.identity.broker import DEVICE_TOPIC_ROOT
from huizhili.sensing.alerts import SILENCE_PAGE, check_silence, silence_rules
from huizhili.sensing.ingest import Ingested, Limits, Message, dead_letter
from huizhili.sensing.pipeline import Library, library, receive
from huizhili.sensing.vitals import update_online_rates
from huizhili.storage.engine import transaction
from huizhili.storage.models import utcnow

try:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
except ImportError:  # the optional extra ``mqtt``
    mqtt = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

BATCH = 10000
"""Most messages one transaction stores. A batch costs per device and per area it touches
(their rows, rule states and vital signs) besides per message, so when a backlog builds up,
larger batches share those costs among more messages; when none has, a batch holds what arrived
in BATCH_SECONDS."""

BATCH_SECONDS = 0.05
"""Longest a message waits for others to share its commit."""

RECEIVE_MAXIMUM = 2 * BATCH
"""Unacknowledged messages the broker may have on their way to us (MQTT 5 Receive Maximum): two batches."""


def run_mqtt_ingest(sessions: sessionmaker[Session], settings: Settings, stop: threading.Event) -> None:
    """Subscribe to every device topic and ingest until ``stop`` is set; reconnects by itself.

    Raises
    ------
    ConfigurationError
        If ``mqtt_url`` is unset or malformed, or paho-mqtt (the ``mqtt`` extra) is missing.
    """
    if mqtt is None:
        message = "MQTT ingest needs paho-mqtt: pip install 'huizhili[mqtt]'"
        raise ConfigurationError(message)
    host, port, username, password = _broker_address(settings.mqtt_url)
    received: queue.Queue[Any] = queue.Queue()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=settings.mqtt_client_id,
                         protocol=mqtt.MQTTv5, manual_ack=True)
    if username:
        client.username_pw_set(username, password)

    def on_connect(client: Any, _userdata: Any, _flags: Any, reason: Any, _properties: Any) -> None:
        if reason.is_failure:
            log.error("the broker refused the ingest: %s", reason)
            return
        log.info("ingest connected to %s:%s", host, port)
        client.subscribe(f"{DEVICE_TOPIC_ROOT}/#", qos=1)

    client.on_connect = on_connect
    client.on_message = lambda _client, _userdata, message: received.put(message)
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 0xFFFFFFFF  # the broker keeps our session, and what we have not acknowledged, for good
    properties.ReceiveMaximum = RECEIVE_MAXIMUM
    client.connect_async(host, port, clean_start=False, properties=properties)
    client.loop_start()
    limits, rules = Limits.of(settings), library(settings)
    try:
        while not stop.is_set():
            batch = _next_batch(received, stop)
            if batch:
                _store_then_acknowledge(sessions, client, batch, limits, rules, stop)
    finally:
        client.disconnect()
        client.loop_stop()


def _next_batch(received: "queue.Queue[Any]", stop: threading.Event) -> list[Any]:
    """Messages that arrived, waiting briefly for more to share a commit."""
    try:
        batch = [received.get(timeout=0.2)]
    except queue.Empty:
        return []
    deadline = time.monotonic() + BATCH_SECONDS
    while len(batch) < BATCH and not stop.is_set():
        remaining = deadline - time.monotonic()
        try:
            batch.append(received.get_nowait() if remaining <= 0 else received.get(timeout=remaining))
        except queue.Empty:
            break
    return batch


def _store_then_acknowledge(
    sessions: sessionmaker[Session], client: Any, batch: list[Any], limits: Limits, rules: Library, stop: threading.Event
) -> None:
    """Commit the batch, retrying while the database does not answer; acknowledge it only after.

    A batch that fails otherwise — a message no check foresaw — is stored one message at a time,
    so that the one to blame becomes a dead letter and the rest are stored: the stream never
    stops for one message. Stopping while the database does not answer acknowledges nothing:
    the broker sends the batch again to the next subscriber.
    """
    messages = [Message("mqtt", bytes(m.payload), topic=m.topic) for m in batch]

    def store(some: list[Message]) -> Callable[[Session], Ingested]:
        return lambda session: receive(session, some, utcnow(), limits, rules)

    result = _commit(sessions, stop, store(messages))
    if result is _STOPPED:
        return
    if result is _FAILED:
        log.warning("a batch of %d messages failed; storing them one by one", len(batch))
        for message in messages:
            one = _commit(sessions, stop, store([message]))
            if one is _FAILED:
                one = _commit(sessions, stop, _blamed(message))
            if one is _STOPPED:
                return
    for received in batch:
        client.ack(received.mid, received.qos)
    if isinstance(result, Ingested) and result.rejected:
        log.info("%d of %d messages were dead letters", len(result.rejected), len(batch))


def _blamed(message: Message) -> Callable[[Session], None]:
    """Keep a message that broke its batch as a dead letter."""
    reason = "could not be stored (an internal error); the worker's log has the details"
    return lambda session: dead_letter(session, message, reason, utcnow())


_STOPPED, _FAILED = object(), object()


def _commit(sessions: sessionmaker[Session], stop: threading.Event, work: Callable[[Session], Any]) -> Any:
    """``work``'s result once its transaction commits, retrying while the database does not answer.

    ``_FAILED`` if it failed otherwise (logged), ``_STOPPED`` if stopped while waiting.
    """
    while True:
        try:
            with transaction(sessions) as session:
                return work(session)
        except sa.exc.OperationalError as error:
            log.warning("database not answering (%s); messages wait, unacknowledged", error.orig)
            if stop.wait(1.0):
                return _STOPPED
        except Exception:
            log.exception("storing messages failed")
            return _FAILED


def _broker_address(url: str | None) -> tuple[str, int, str | None, str | None]:
    """Host, port, username and password of ``mqtt://USER:PASSWORD@HOST:PORT``."""
    if not url:
        message = "HUIZHILI_MQTT_URL is not set: nothing to ingest from"
        raise ConfigurationError(message)
    parts = urlsplit(url)
    if parts.scheme != "mqtt" or not parts.hostname:
        message = f"HUIZHILI_MQTT_URL must look like mqtt://USER:PASSWORD@HOST:1883, not {parts.scheme}://…"
        raise ConfigurationError(message)
    return (parts.hostname, parts.port or 1883, unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None)


SILENCE_CHECK_SECONDS = 0.25
"""How often the clock looks for devices past their deadline: a no-data alert is at most this late."""

ONLINE_RATE_SECONDS = 60.0
"""How often the devices-online vital sign is computed."""


def run_silence_clock(sessions: sessionmaker[Session], settings: Settings, stop: threading.Event) -> None:
    """Open no-data alerts as devices' deadlines pass, until ``stop``; waits out a database that does not answer.

    A full page of silent devices is followed by the next at once, each in its own short transaction.
    """
    rules = library(settings)
    rates_due, wait = 0.0, SILENCE_CHECK_SECONDS
    while not stop.wait(wait):
        wait = SILENCE_CHECK_SECONDS
        try:
            with transaction(sessions) as session:
                now = utcnow()
                due = check_silence(session, rules.scenarios, now)
                if time.monotonic() >= rates_due:
                    update_online_rates(session, rules.indicators, now, silence_rules(rules.scenarios))
                    rates_due = time.monotonic() + ONLINE_RATE_SECONDS
            if due:
                log.info("%d devices fell silent", due)
            if due >= SILENCE_PAGE:
                wait = 0.0
        except sa.exc.OperationalError as error:
            log.warning("database not answering (%s); the silence clock waits", error.orig)
            wait = 1.0
        except sa.exc.IntegrityError as error:  # another worker's clock opened the same alert first
            log.info("silence check ran into another clock (%s); checking again", error.orig)
