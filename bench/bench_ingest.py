"""Sustained MQTT ingest into the store, rollups and rules included; publish-to-alert latency; broker memory per device.

The platform's real path: ``huizhili worker`` (a process of its own, ``HUIZHILI_MQTT_URL`` set)
subscribes to Mosquitto with its persistent session and stores, rolls up (minute, hour, day),
judges (the ``crowd_density`` scenario per device, the ``crowd_load`` vital sign per street and
district) and acknowledges after commit. 1,000 ``people_counter`` devices (capacity 1,000) are
provisioned from a CSV into the Xuhui demo; two publisher processes (``_mqtt_devices.py``) hold
one connection per device, each with the device's own broker account, and publish ONE
observation per message at QoS 1, timed now, 100–700 people (no alert), round after round.

- **flood**: every device publishes ``--messages`` / 1,000 messages as fast as the broker
  takes them; the broker queues what the ingest has not taken (``max_queued_messages
  1000000``). Observations/s stored runs from the first commit seen to the last (the day
  rollups' counts, polled every 50 ms). CPU seconds of each process over the run say where the
  2 cores went.
- **floor** (peer, same broker, same messages): a plain paho-mqtt subscriber inserting into
  SQLite with ``executemany`` (``_mqtt_floor.py``).
- **latency**: while a stream runs at ``--rate`` messages/s, ``--probes`` devices with no alert
  yet each send one value at capacity (crowd_density red); latency is the alert's
  ``raised_at`` minus when the probe was written to the publisher's socket, and "visible" is
  when a poll (every 50 ms) first saw the alert row. The flood run carries probes too: there the
  latency includes the broker's backlog.
- **memory**: the broker's RSS with the 1,000 device connections open and idle, less its RSS
  before they connected, per device. The platform holds no connection per device (one
  subscription for all), so its own memory does not grow with devices connected.

Run: .venv/bin/python bench/bench_ingest.py [--backends sqlite,postgresql] [--messages 200000]
[--rate 2000] [--profile] — PostgreSQL at HUIZHILI_BENCH_PG_URL (default
postgresql+psycopg://postgres:postgres@127.0.0.1:5432/postgres; a scratch database is created
and dropped). ``--profile`` also runs the SQLite flood with the ingest in this process under
cProfile and prints the top functions.
"""

import argparse
import cProfile
import json
import os
import pstats
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import sqlalchemy as sa

from huizhili.config import Settings
from huizhili.storage.models import Alert, ObservationRollup
from huizhili.worker.ingest import run_mqtt_ingest

sys.path.insert(0, str(Path(__file__).parent))
from _sensing import Platform, cpu_seconds, mosquitto, percentile, platform, rss_kib  # noqa: E402

HERE = Path(__file__).parent
DEVICES = 1000
CAPACITY = 1000
PUBLISHERS = 2


class Publishers:
    """The publisher processes, each holding its share of the device connections."""

    def __init__(self, port: int, passwords: dict[str, str], processes: int = PUBLISHERS) -> None:
        codes = sorted(passwords)
        self.shares = [codes[n::processes] for n in range(processes)]
        self.procs = [subprocess.Popen([sys.executable, str(HERE / "_mqtt_devices.py")], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, text=True) for _ in range(processes)]
        for proc, share in zip(self.procs, self.shares, strict=True):
            assert proc.stdin is not None
            proc.stdin.write(json.dumps({"port": port, "devices": [[c, passwords[c]] for c in share]}) + "\n")
            proc.stdin.flush()
        self.connected = [json.loads(self._line(proc)) for proc in self.procs]

    @staticmethod
    def _line(proc: subprocess.Popen) -> str:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("a publisher died")
        return line

    def run(self, per_device: int, rate: float, probes: dict[str, int]) -> list[dict[str, Any]]:
        """Publish ``per_device`` messages from every device at ``rate`` in all; ``probes``: device code → its round."""
        for n, (proc, share) in enumerate(zip(self.procs, self.shares, strict=True)):
            rounds: dict[str, list[int]] = {}
            for index, code in enumerate(share):
                if code in probes:
                    rounds.setdefault(str(probes[code]), []).append(index)
            assert proc.stdin is not None
            proc.stdin.write(json.dumps({"messages": per_device, "rate": rate / len(self.procs), "probes": rounds,
                                         "peak": CAPACITY, "seed": n + int(time.time())}) + "\n")
            proc.stdin.flush()
        return [json.loads(self._line(proc)) for proc in self.procs]

    def close(self) -> None:
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write('{"quit": true}\n')
            proc.stdin.flush()
            proc.wait(10)


def stored_count(connection: sa.Connection) -> int:
    """Observations stored so far: the day rollups' counts (written in the same transaction, and cheap to read)."""
    r = ObservationRollup
    return int(connection.execute(sa.select(sa.func.coalesce(sa.func.sum(r.count), 0)).where(r.resolution == 86400)).scalar_one())


class Watcher:
    """Polls the store every 50 ms: stored count over time and when each crowd alert first became visible."""

    def __init__(self, p: Platform) -> None:
        self.connection = p.engine.connect()
        self.seen: dict[str, float] = {}
        self.counts: list[tuple[float, int]] = []
        self.stop = threading.Event()
        self.pg_self = (self.connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
                        if p.backend == "postgresql" else None)
        self.counts.append((time.time(), stored_count(self.connection)))
        self.connection.commit()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self) -> None:
        while not self.stop.is_set():
            now = time.time()
            self.counts.append((now, stored_count(self.connection)))
            for subject in self.connection.execute(sa.select(Alert.subject).where(Alert.rule == "crowd_density")).scalars():
                self.seen.setdefault(subject, now)
            self.connection.commit()
            self.stop.wait(0.05)

    def pg_pids(self) -> list[int]:
        """The PostgreSQL backends serving the worker (not this watcher)."""
        rows = self.connection.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                               "AND pid <> pg_backend_pid()")).scalars().all()
        self.connection.commit()
        return list(rows)

    def wait_for(self, total: int, timeout: float) -> tuple[float, int, float]:
        """(time of the first poll past the start count, that count, time of the poll that reached ``total``)."""
        start_count = self.counts[-1][1]
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.counts[-1][1] >= total:
                break
            time.sleep(0.05)
        else:
            raise TimeoutError(f"stored {self.counts[-1][1]:,} of {total:,}")
        first = next((t, c) for t, c in self.counts if c > start_count)
        last = next(t for t, c in self.counts if c >= total)
        return first[0], first[1], last

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.connection.close()


def worker_env(p: Platform, port: int) -> dict[str, str]:
    env = {**os.environ, "HUIZHILI_DATA_DIR": str(p.folder / "var"), "HUIZHILI_DATABASE_URL": p.url,
           "HUIZHILI_MQTT_URL": f"mqtt://ingest:{p.ingest_password}@127.0.0.1:{port}"}
    return env


def until_subscribed(p: Platform, port: int, watcher: Watcher) -> None:
    """Publish from one device (a second connection) until the ingest stores it: its session and subscription exist."""
    code = sorted(p.passwords)[0]
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-{code}", protocol=mqtt.MQTTv5)
    client.username_pw_set(f"device-{code}", p.passwords[code])
    client.connect("127.0.0.1", port)
    client.loop_start()
    before = watcher.counts[-1][1]
    for _ in range(300):
        client.publish(f"huizhili/devices/{code}/people", json.dumps({"ts": time.time(), "metric": "people", "value": 10}), qos=1)
        time.sleep(0.1)
        if watcher.counts[-1][1] > before:
            break
    else:
        raise TimeoutError("the ingest stored nothing")
    time.sleep(0.5)
    client.disconnect()
    client.loop_stop()


def latencies(p: Platform, watcher: Watcher, published: dict[str, float]) -> tuple[list[float], list[float]]:
    """(raised_at − publish, visible − publish) in ms for each probe's crowd_density alert."""
    with p.sessions() as session:
        rows = session.execute(sa.select(Alert.subject, Alert.raised_at).where(Alert.rule == "crowd_density")).all()
    raised = {subject: at for subject, at in rows}
    out_raised, out_visible = [], []
    for code, at in published.items():
        subject = f"device:{code}/people"
        if subject in raised:
            moment = raised[subject] if raised[subject].tzinfo else raised[subject].replace(tzinfo=UTC)
            out_raised.append((moment.timestamp() - at) * 1000)
        if subject in watcher.seen:
            out_visible.append((watcher.seen[subject] - at) * 1000)
    return out_raised, out_visible


def spread_probes(codes: list[str], rounds: int) -> dict[str, int]:
    """Probe devices, each at its own round, spread over the middle of a run."""
    return {code: rounds // 10 + (n * (rounds * 8 // 10)) // max(len(codes), 1) for n, code in enumerate(codes)}


def row(label: str, messages: int, seconds: float, per_s: float, note: str = "") -> None:
    print(f"{label:<58} {messages:>9,} {seconds:>8.2f} {per_s:>10,.0f}  {note}", flush=True)


def measure_backend(backend: str, args: argparse.Namespace) -> None:
    per_device = args.messages // DEVICES
    total = per_device * DEVICES
    with platform(backend, DEVICES, "people_counter", capacity=CAPACITY) as p, mosquitto(p.folder, p.broker_files) as (port, broker):
        time.sleep(0.5)
        rss_before = rss_kib(broker.pid)
        publishers = Publishers(port, p.passwords)
        time.sleep(1.0)
        rss_after = rss_kib(broker.pid)
        print(f"\n[{backend}] {DEVICES:,} people_counter devices provisioned; broker RSS {rss_before:,} KiB before, "
              f"{rss_after:,} KiB with {DEVICES:,} idle device connections: "
              f"{(rss_after - rss_before) / DEVICES:.1f} KiB per device (connected in "
              f"{max(c['seconds'] for c in publishers.connected):.1f} s)")
        print(f"{'run':<58} {'messages':>9} {'seconds':>8} {'obs/s':>10}  note")
        try:
            # The floor first: its clean session leaves nothing queued behind it.
            if backend == "sqlite" or args.floor_on_every_backend:
                floor_file = p.folder / "floor.sqlite"
                floor = subprocess.Popen([sys.executable, str(HERE / "_mqtt_floor.py"), str(port), "ingest", p.ingest_password,
                                          str(floor_file), str(total)], stdout=subprocess.PIPE, text=True)
                assert floor.stdout is not None
                assert floor.stdout.readline().strip() == "ready"
                cpu0 = {n: cpu_seconds(n) for n in (broker.pid, floor.pid, *(q.pid for q in publishers.procs))}
                sent = publishers.run(per_device, 0, {})
                result = json.loads(floor.stdout.readline())
                cpu = {n: cpu_seconds(n) - c for n, c in cpu0.items() if n != floor.pid}
                floor_cpu = cpu_seconds(floor.pid) if floor.poll() is None else float("nan")
                floor.wait(30)
                span = result["last"] - result["first"]
                pub_s = max(s["acked"] for s in sent) - min(s["started"] for s in sent)
                row("floor: paho subscriber -> SQLite executemany (peer)", result["stored"], span, result["stored"] / span,
                    f"publishers {total / pub_s:,.0f} msg/s acked; CPU s broker {cpu[broker.pid]:.1f}, publishers "
                    f"{sum(v for k, v in cpu.items() if k != broker.pid):.1f}{'' if floor_cpu != floor_cpu else f', floor {floor_cpu:.1f}'}")
            watcher = Watcher(p)
            worker_stop = threading.Event()
            profile = cProfile.Profile() if args.profile and backend == "sqlite" else None
            if profile is None:
                worker = subprocess.Popen([sys.executable, "-m", "huizhili", "worker"], env=worker_env(p, port),
                                          stdout=subprocess.DEVNULL, stderr=(p.folder / "worker.log").open("wb"))
                worker_pid = worker.pid
            else:
                settings = Settings(data_dir=p.folder / "var", database_url=p.url,
                                    mqtt_url=f"mqtt://ingest:{p.ingest_password}@127.0.0.1:{port}")

                def profiled() -> None:
                    profile.enable()
                    try:
                        run_mqtt_ingest(p.sessions, settings, worker_stop)
                    finally:
                        profile.disable()

                thread = threading.Thread(target=profiled, daemon=True)
                thread.start()
                worker_pid = os.getpid()
            try:
                measure_platform(p, args, backend, port, broker, publishers, watcher, profile, worker_pid, worker_stop)
            finally:
                if profile is None:
                    worker.terminate()
                    worker.wait(30)
                else:
                    worker_stop.set()
                    thread.join(30)
                watcher.close()
            if profile is not None:
                stats = pstats.Stats(profile).sort_stats("tottime")
                print("\ncProfile of the ingest thread, flood and paced runs, top 25 by own time:")
                stats.print_stats(25)
                stats.sort_stats("cumulative").print_stats(40)
        finally:
            publishers.close()


def measure_platform(p: Platform, args: argparse.Namespace, backend: str, port: int, broker: subprocess.Popen,
                     publishers: Publishers, watcher: Watcher, profile: cProfile.Profile | None, worker_pid: int,
                     worker_stop: threading.Event) -> None:
    codes = sorted(p.passwords)
    per_device = args.messages // DEVICES
    total = per_device * DEVICES
    until_subscribed(p, port, watcher)
    pg_pids = watcher.pg_pids() if backend == "postgresql" else []
    # flood, with probes
    flood_probes = spread_probes(codes[: args.probes], per_device)
    tracked = [broker.pid, worker_pid, *(q.pid for q in publishers.procs), *pg_pids]
    cpu0 = {n: cpu_seconds(n) for n in tracked}
    start_count = watcher.counts[-1][1]
    sent = publishers.run(per_device, 0, flood_probes)
    first, first_count, last = watcher.wait_for(start_count + total, timeout=1800)
    cpu = {n: cpu_seconds(n) - c for n, c in cpu0.items()}
    span = last - first
    pub_s = max(s["acked"] for s in sent) - min(s["started"] for s in sent)
    cpu_note = (f"CPU s worker {cpu[worker_pid]:.1f}, broker {cpu[broker.pid]:.1f}, publishers "
                f"{sum(cpu[q.pid] for q in publishers.procs):.1f}"
                + (f", postgres {sum(cpu[n] for n in pg_pids):.1f}" if pg_pids else ""))
    row(f"huizhili ingest ({'in-process, cProfile' if profile else 'huizhili worker'}), {backend}, flood",
        start_count + total - first_count, span, (start_count + total - first_count) / span,
        f"publishers {total / pub_s:,.0f} msg/s acked; {cpu_note}")
    flood_raised, flood_visible = latencies(p, watcher, {k: v for s in sent for k, v in s["probes"].items()})
    # paced stream, with probes on devices without an alert
    paced_per_device = max(int(args.rate * args.paced_seconds / DEVICES), 1)
    paced_probes = spread_probes(codes[args.probes : 2 * args.probes], paced_per_device)
    start_count = watcher.counts[-1][1]
    sent = publishers.run(paced_per_device, args.rate, paced_probes)
    watcher.wait_for(start_count + paced_per_device * DEVICES, timeout=600)
    time.sleep(0.2)
    paced_raised, paced_visible = latencies(p, watcher, {k: v for s in sent for k, v in s["probes"].items()})
    pub_s = max(s["written"] for s in sent) - min(s["started"] for s in sent)
    row(f"huizhili ingest, {backend}, paced stream", paced_per_device * DEVICES, pub_s,
        paced_per_device * DEVICES / pub_s, "offered rate, all stored")
    print(f"{'publish -> alert latency':<40} {'probes':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for label, values in ((f"flood, raised_at ({backend})", flood_raised), (f"flood, visible ({backend})", flood_visible),
                          (f"{args.rate:,.0f} msg/s, raised_at ({backend})", paced_raised),
                          (f"{args.rate:,.0f} msg/s, visible ({backend})", paced_visible)):
        print(f"{label:<40} {len(values):>6} {percentile(values, 50):>8.0f} {percentile(values, 99):>8.0f} "
              f"{max(values, default=float('nan')):>8.0f}")
    with p.sessions() as session:
        alerts = session.execute(sa.select(Alert.rule, sa.func.count()).group_by(Alert.rule)).all()
    print(f"alerts raised: {dict(alerts)}; worker RSS {rss_kib(worker_pid):,} KiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--messages", type=int, default=200_000, help="Messages in the flood (and the floor's run).")
    parser.add_argument("--rate", type=float, default=2000, help="Messages/s of the paced stream.")
    parser.add_argument("--paced-seconds", type=float, default=20)
    parser.add_argument("--probes", type=int, default=100, help="Devices sending one value at capacity, per run.")
    parser.add_argument("--profile", action="store_true", help="Run the SQLite ingest in this process under cProfile.")
    parser.add_argument("--floor-on-every-backend", action="store_true")
    args = parser.parse_args()
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs shared by broker, publishers ({PUBLISHERS} processes), "
          f"worker{' and PostgreSQL' if 'postgresql' in args.backends else ''}")
    for backend in args.backends.split(","):
        measure_backend(backend, args)


if __name__ == "__main__":
    main()
