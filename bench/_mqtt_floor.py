"""The floor the ingest is compared with: a plain paho-mqtt subscriber inserting into SQLite with ``executemany``.

No checks, rollups, rules or acknowledgement after commit (paho acknowledges each QoS 1
message as its callback returns): parse the JSON, insert ``(device, metric, ts, value)`` into
a table keyed like the platform's observations (``INSERT OR IGNORE``, WAL, SQLite's default
synchronous), one commit per batch taken like the worker's (up to 2,000 messages or 50 ms).

Run by bench_ingest.py: ``_mqtt_floor.py PORT USER PASSWORD SQLITE_FILE EXPECTED``; prints
``ready`` once subscribed, then ``{"first": …, "last": …, "stored": n}`` (Unix times of the
first and last commit) once EXPECTED rows are stored.
"""

import json
import queue
import sqlite3
import sys
import threading
import time

import paho.mqtt.client as mqtt


def main() -> None:
    port, user, password, path, expected = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    database = sqlite3.connect(path)
    database.execute("PRAGMA journal_mode=WAL")
    database.execute("CREATE TABLE IF NOT EXISTS observations (device TEXT, metric TEXT, observed_at REAL, value REAL,"
                     " PRIMARY KEY (device, metric, observed_at)) WITHOUT ROWID")
    database.commit()
    received: queue.Queue = queue.Queue()
    subscribed = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-floor", protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)
    client.on_connect = lambda c, *_: c.subscribe("huizhili/devices/#", qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda _c, _u, m: received.put((m.topic, m.payload))
    client.connect("127.0.0.1", int(port))
    client.loop_start()
    subscribed.wait(30)
    print("ready", flush=True)
    stored, first, last = 0, None, None
    while stored < expected:
        batch = [received.get()]
        deadline = time.monotonic() + 0.05
        while len(batch) < 2000:
            remaining = deadline - time.monotonic()
            try:
                batch.append(received.get_nowait() if remaining <= 0 else received.get(timeout=remaining))
            except queue.Empty:
                break
        rows = []
        for topic, payload in batch:
            document = json.loads(payload)
            rows.append((topic.split("/")[2], document["metric"], document["ts"], document["value"]))
        database.executemany("INSERT OR IGNORE INTO observations VALUES (?, ?, ?, ?)", rows)
        database.commit()
        stored += len(rows)
        last = time.time()
        first = first or last
    client.disconnect()
    client.loop_stop()
    count = database.execute("SELECT count(*) FROM observations").fetchone()[0]
    print(json.dumps({"first": first, "last": last, "stored": count}), flush=True)


if __name__ == "__main__":
    main()
