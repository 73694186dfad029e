"""Live-stream delivery: latency from a committed change to every watcher, and the server's cost.

Starts ``huizhili serve`` (one process, SQLite, the Xuhui demo), opens W WebSockets on
``/api/stream`` — half anonymous, half street operators of 徐家汇街道 — and changes facility
statuses at a steady rate through the API. For each poll interval it reports the latency from
the PATCH's reply to each watcher's receipt (p50/p99), whether every watcher received exactly
the events of its scope, and the server's CPU use while the watchers sit idle.

Run: .venv/bin/python bench/bench_stream.py [--watchers 200] [--changes 100] [--rate 10]
"""

import argparse
import json
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from _serve import CLI, bench_env, served
from websockets.sync.client import connect

XUJIAHUI = "310104014"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def prepare(data_dir: Path, poll_s: float) -> tuple[dict[str, str], str, str]:
    """The demo with an administrator and a street operator: the environment and their API keys."""
    env = bench_env(data_dir, stream_poll_seconds=poll_s, stream_connections_per_address=100_000,
                    anonymous_requests_per_minute=100_000)
    if not (data_dir / "huizhili.sqlite").exists():
        subprocess.run([*CLI, "demo", "--no-serve"], env=env, check=True, capture_output=True)
        for name, role, extra in [("admin", "district_admin", []), ("op", "street_operator", ["--street", XUJIAHUI])]:
            subprocess.run([*CLI, "user", "add", name, "--role", role, "--password", "a long bench password", *extra],
                           env=env, check=True, capture_output=True)
    admin, operator = (subprocess.run([*CLI, "user", "api-key", name, "--name", "bench"], env=env, check=True,
                                      capture_output=True, text=True).stdout.strip() for name in ("admin", "op"))
    return env, admin, operator


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def watcher(url: str, key: str | None, ready: threading.Barrier, received: list, stop: threading.Event) -> None:
    """One WebSocket: subscribe, then note (event id, receipt time) until told to stop."""
    headers = {"X-API-Key": key} if key else {}
    with connect(f"ws://{url}/api/stream", additional_headers=headers, open_timeout=30) as ws:
        ws.send(json.dumps({}))
        assert json.loads(ws.recv(timeout=30))["type"] == "subscribed"
        ready.wait()
        while not stop.is_set():
            try:
                message = json.loads(ws.recv(timeout=0.5))
            except TimeoutError:
                continue
            received.append((message["record_id"], message["payload"]["properties"]["queue_level"], time.perf_counter(),
                             message["street_code"]))


def run(poll_s: float, watchers: int, changes: int, rate: float, data_dir: Path) -> dict:
    env, admin, operator = prepare(data_dir, poll_s)
    with served(env) as (process, base):
        url = base.removeprefix("http://")
        facilities = httpx.get(f"http://{url}/api/facilities", params={"limit": 1000}, headers={"X-API-Key": admin}).json()["features"]
        ready, stop = threading.Barrier(watchers + 1), threading.Event()
        inboxes: list[list] = [[] for _ in range(watchers)]
        keys = [None if i % 2 == 0 else operator for i in range(watchers)]
        threads = [threading.Thread(target=watcher, args=(url, keys[i], ready, inboxes[i], stop), daemon=True) for i in range(watchers)]
        for thread in threads:
            thread.start()
        ready.wait()
        idle_start, idle_wall = cpu_seconds(process.pid), time.perf_counter()
        time.sleep(5)
        idle_cpu = (cpu_seconds(process.pid) - idle_start) / (time.perf_counter() - idle_wall)
        sent, levels = {}, ("short", "medium", "long", "none")
        with httpx.Client(headers={"X-API-Key": admin}) as client:
            for n in range(changes):
                facility = facilities[n % len(facilities)]
                level = levels[(n // len(facilities)) % len(levels)]
                client.patch(f"http://{url}/api/facilities/{facility['id']}/status", json={"queue_level": level}).raise_for_status()
                sent[(facility["id"], level)] = (time.perf_counter(), facility["properties"]["street_code"])
                time.sleep(1 / rate)
        time.sleep(poll_s + 2)
        stop.set()
        for thread in threads:
            thread.join(5)
        latencies, exact = [], True
        for key, inbox in zip(keys, inboxes, strict=True):
            expected = {k for k, (_, street) in sent.items() if key is None or street == XUJIAHUI}
            got = [(record, level) for record, level, _, _ in inbox]
            exact &= len(got) == len(set(got)) == len(expected) and set(got) == expected
            latencies += [at - sent[(record, level)][0] for record, level, at, _ in inbox if (record, level) in sent]
        values = np.array(latencies) * 1000
        return {"poll_s": poll_s, "watchers": watchers, "changes": changes, "deliveries": len(latencies),
                "p50": float(np.percentile(values, 50)), "p99": float(np.percentile(values, 99)),
                "exact": exact, "idle_cpu": idle_cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchers", type=int, default=200)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--rate", type=float, default=10.0, help="Status changes per second.")
    parser.add_argument("--polls", default="1.0,0.25", help="Poll intervals to compare, seconds.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [run(float(poll), args.watchers, args.changes, args.rate, Path(tmp)) for poll in args.polls.split(",")]
    print(f"\n{args.watchers} watchers (half anonymous, half 徐家汇 operators), {args.changes} changes at {args.rate:g}/s\n")
    print("| poll | deliveries | latency p50 | latency p99 | each watcher got exactly its scope's events | server CPU, idle watchers |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['poll_s']:g} s | {r['deliveries']:,} | {r['p50']:.0f} ms | {r['p99']:.0f} ms | {'yes' if r['exact'] else 'NO'} | {r['idle_cpu']:.0%} of a core |")


if __name__ == "__main__":
    main()
