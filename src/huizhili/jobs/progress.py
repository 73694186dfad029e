"""A running job's progress and heartbeat, in a small file that any process sharing the data folder reads.

Not in the database: on SQLite the job's own transaction holds the only write lock while it
writes, so no other connection could record its progress until it is over. The file is
replaced whole (``os.replace``), so a reader never sees half of one; its modification time is
the heartbeat, renewed every few seconds while the job runs, so a job whose worker died is
recognised (``queue.fail_stalled``) however long its work would have taken.
"""

import json
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

HEARTBEAT_SECONDS = 5.0
"""How often a running job's file is renewed."""

STALLED_SECONDS = 60.0
"""A running job whose file is older than this has lost its worker."""

_WRITE_EVERY_SECONDS = 0.5
"""Progress is written at most this often: importers report every few thousand records."""


def progress_path(folder: Path, job_id: int) -> Path:
    """Where the progress of job ``job_id`` is kept."""
    return folder / f"{job_id}.json"


class JobProgress:
    """The progress callback a domain function is given — ``progress(stage, count)`` — and the job's heartbeat.

    Use it as a context manager around the work: it writes the file at once, renews it every
    :data:`HEARTBEAT_SECONDS` from a thread, and removes it when the work ends. ``echo``, if
    given, also receives every report (the command line shows it as it comes).
    """

    def __init__(self, folder: Path, job_id: int, echo: Callable[[str, int], None] | None = None) -> None:
        self.path = progress_path(folder, job_id)
        self.echo = echo
        self.stage = "started"
        self.count = 0
        self._written = 0.0
        self._dirty = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._renew, name=f"job-{job_id}-heartbeat", daemon=True)

    def __call__(self, stage: str, count: int) -> None:
        self.stage, self.count, self._dirty = stage, count, True
        if self.echo:
            self.echo(stage, count)
        if time.monotonic() - self._written >= _WRITE_EVERY_SECONDS:
            self._write()

    def __enter__(self) -> "JobProgress":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write()
        self._beat.start()
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        self._beat.join()
        self.path.unlink(missing_ok=True)

    def _renew(self) -> None:
        """Write what the last reports left unwritten within half a second, and the heartbeat every few seconds."""
        while not self._stop.wait(_WRITE_EVERY_SECONDS):
            if self._dirty or time.monotonic() - self._written >= HEARTBEAT_SECONDS:
                self._write()

    def _write(self) -> None:
        with self._lock:
            self._written, self._dirty = time.monotonic(), False
            record = {"stage": self.stage, "count": self.count, "at": datetime.now(UTC).isoformat()}
            partial = self.path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            partial.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
            os.replace(partial, self.path)


def read_progress(folder: Path, job_id: int) -> dict[str, Any] | None:
    """The last progress of a running job (stage, count, at), or None when it has none (yet, or any more)."""
    try:
        return dict(json.loads(progress_path(folder, job_id).read_text(encoding="utf-8")))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def seconds_since_heartbeat(folder: Path, job_id: int) -> float | None:
    """Seconds since the job's file was last renewed, or None when there is no file."""
    try:
        return time.time() - progress_path(folder, job_id).stat().st_mtime
    except FileNotFoundError:
        return None
