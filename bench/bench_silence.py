"""No-data alerts on time: how late the worker's silence clock raises them, for 10,000 devices falling silent.

10,000 ``manhole_cover`` devices are provisioned from a CSV (``interval_s`` 5, the platform's
``no_data_intervals`` 3: silent 15 s after their last report) into the Xuhui demo. Each sends
one observation through the pipeline every channel uses (``huizhili.sensing.pipeline.receive``,
in batches every 10 ms, each its own transaction) and then nothing. Meanwhile
``huizhili.worker.ingest.run_silence_clock`` runs in a thread, as in the worker (a check every
``SILENCE_CHECK_SECONDS``), started once every device has reported (so no deadline
set at provisioning is left) and before the first deadline; once every deadline has passed, each device's ``device_silent``
alert is read and its delay is ``raised_at − opened_at`` (``opened_at`` is the deadline); ``vis``
is when another connection, polling every 50 ms, first saw the alert (the clock's transaction
committed) less the deadline: ``raised_at`` is the time the check began, not when it committed.

- **spread**: the reports are spread over 10 s, so the clock meets a stream of deadlines
  (about 1,000 a second);
- **burst**: all 10,000 report in one batch, so every deadline falls in the same instant.

Reference (not run here): ThingsBoard checks device inactivity every 60 s by default
(``state.defaultStateCheckIntervalInSec``), so its alarm is up to a minute late whatever the
timeout (thingsboard#6821).

Run: .venv/bin/python bench/bench_silence.py [--devices 10000] [--backends sqlite,postgresql]
"""

import argparse
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from huizhili.config import Settings
from huizhili.sensing.ingest import Limits, Message
from huizhili.sensing.pipeline import library, receive
from huizhili.storage.engine import transaction
from huizhili.storage.models import Alert, Device, utcnow
from huizhili.worker import ingest as worker_ingest

sys.path.insert(0, str(Path(__file__).parent))
from _sensing import TIMEZONE, Platform, percentile, platform  # noqa: E402

INTERVAL_S = 5
INTERVALS = 3


def watch(p: Platform, seen: dict[str, float], stop: threading.Event, devices: int) -> None:
    """When each no-data alert first became visible to another connection (a poll every 50 ms)."""
    last = 0
    with p.engine.connect() as connection:
        while not stop.is_set() or len(seen) < devices:
            now = time.time()
            for ident, subject in connection.execute(sa.select(Alert.id, Alert.subject).where(
                    Alert.rule == "device_silent", Alert.id > last).order_by(Alert.id)):
                seen.setdefault(subject, now)
                last = ident
            connection.commit()
            if stop.wait(0.05) and len(seen) < devices:
                break


def run(backend: str, devices: int, spread_s: float) -> None:
    with platform(backend, devices, "manhole_cover", interval_s=INTERVAL_S, installed_at="2024-01-01") as p:
        settings = Settings(data_dir=p.folder / "var", database_url=p.url, no_data_intervals=INTERVALS, local_timezone=TIMEZONE)
        limits, rules = Limits.of(settings), library(settings)
        with p.sessions() as session:
            codes = list(session.scalars(sa.select(Device.code).order_by(Device.id)))
        stop = threading.Event()
        started = time.perf_counter()
        sent = 0
        send_seconds = []
        while sent < len(codes):
            due = len(codes) if spread_s == 0 else min(len(codes), int((time.perf_counter() - started) / spread_s * len(codes)) + 1)
            batch = [Message("http", b'{"ts": %.6f, "metric": "tilt_deg", "value": 0.5, "device": "%s"}' % (time.time(), c.encode()))
                     for c in codes[sent:due]]
            if batch:
                t0 = time.perf_counter()
                with transaction(p.sessions) as session:
                    receive(session, batch, utcnow(), limits, rules)
                send_seconds.append(time.perf_counter() - t0)
                sent = due
            time.sleep(0.01)
        sending = time.perf_counter() - started
        # The clock starts once every device has reported (so no deadline set by provisioning is
        # left) and before the first deadline passes.
        with p.sessions() as session:
            first_deadline, last_deadline = session.execute(sa.select(sa.func.min(Device.silent_after),
                                                                      sa.func.max(Device.silent_after))).one()
        assert first_deadline is not None and last_deadline is not None
        first_deadline = first_deadline if first_deadline.tzinfo else first_deadline.replace(tzinfo=UTC)
        assert first_deadline > datetime.now(UTC), "a deadline passed before the clock started"
        clock = threading.Thread(target=worker_ingest.run_silence_clock, args=(p.sessions, settings, stop), daemon=True)
        clock.start()
        seen: dict[str, float] = {}
        watching = threading.Thread(target=watch, args=(p, seen, stop, devices), daemon=True)
        watching.start()
        last_deadline = last_deadline if last_deadline.tzinfo else last_deadline.replace(tzinfo=UTC)
        while datetime.now(UTC) < last_deadline or len(seen) < devices:
            time.sleep(0.2)
            if (datetime.now(UTC) - last_deadline).total_seconds() > 600:
                break
        stop.set()
        clock.join(60)
        watching.join(10)
        with p.sessions() as session:
            rows = session.execute(sa.select(Alert.subject, Alert.opened_at, Alert.raised_at).where(Alert.rule == "device_silent")).all()
        delays = [(raised - opened).total_seconds() * 1000 for _, opened, raised in rows]
        visible = [(seen[subject] - opened.timestamp()) * 1000 for subject, opened, _ in rows if subject in seen]
        label = "burst (one batch)" if spread_s == 0 else f"spread over {spread_s:g} s"
        print(f"{backend:<10} {label:<20} {devices:>7,} {len(rows):>7,} {percentile(delays, 50):>8.0f} {percentile(delays, 99):>8.0f} "
              f"{max(delays):>8.0f} {percentile(visible, 50):>8.0f} {percentile(visible, 99):>8.0f} {max(visible):>8.0f}   reports sent in {sending:.1f} s ({len(send_seconds)} transactions, "
              f"p99 {percentile([s * 1000 for s in send_seconds], 99):.0f} ms)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--spread", type=float, default=10.0, help="Seconds over which the reports (so the deadlines) are spread.")
    args = parser.parse_args()
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; deadline {INTERVALS} × {INTERVAL_S} s after the one report; "
          f"clock every {worker_ingest.SILENCE_CHECK_SECONDS} s")
    print(f"{'backend':<10} {'deadlines':<20} {'devices':>7} {'alerts':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'vis p50':>8} {'vis p99':>8} {'vis max':>8}")
    for backend in args.backends.split(","):
        for spread in (args.spread, 0.0):
            run(backend, args.devices, spread)


if __name__ == "__main__":
    main()
