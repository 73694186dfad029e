"""Claim a job, run it in one transaction with its result, repeat; between jobs, the periodic duties."""

import fcntl
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from huizhili.config import Settings
from huizhili.errors import HuizhiliError
from huizhili.jobs import (
    JobProgress,
    claim,
    discard_upload,
    fail,
    fail_stalled,
    principal_of,
    submit,
    succeed,
)
from huizhili.jobs.queue import worker_name
from huizhili.network.finder import NetworkCache
from huizhili.policy.principal import Principal
from huizhili.storage.engine import transaction
from huizhili.storage.models import Job, utcnow
from huizhili.worker.cases import run_case_clock
from huizhili.worker.ingest import run_mqtt_ingest, run_silence_clock
from huizhili.worker.tasks import TASKS, Work
from huizhili.worker.webhooks import run_alert_webhook

log = logging.getLogger(__name__)

DUTIES_SECONDS = 30.0
"""How often a worker looks for stalled jobs and whether the daily duties are due."""

DAILY = ("retention",)
"""Jobs the platform queues for itself once a day (a failed one is queued again at the next look)."""

SCHEDULE = Principal(username="schedule", role="district_admin")
"""Who the daily jobs are submitted by: the platform, unscoped."""

UPLOAD_GRACE_SECONDS = 3600.0
"""An upload is kept this long even when no job names it yet: its request may still be committing."""

INTERRUPTED_MESSAGE = "the job was interrupted; nothing it did was kept: submit it again"


def run_job(
    sessions: sessionmaker[Session],
    settings: Settings,
    network: NetworkCache,
    job: Job,
    echo: Callable[[str, int], None] | None = None,
) -> Job:
    """Run a claimed job to its end and return it as it ended.

    The work and the job's result commit together; on any error the work is rolled back and
    the job records why — the platform's own errors with their message and bad record, other
    errors as an internal error (logged with the traceback) that names no internals.
    """
    try:
        with _one_writer(sessions), JobProgress(settings.data_dir / "jobs", job.id, echo) as progress, \
                transaction(sessions) as session:
            principal = principal_of(session, job)
            result = TASKS[job.kind](Work(session, dict(job.parameters), principal, settings, network, progress))
            succeed(session, job.id, result)
    except HuizhiliError as error:
        _record_failure(sessions, job, str(error), getattr(error, "record", None))
    except Exception as error:
        log.exception("job %s (%s) failed", job.id, job.kind)
        _record_failure(sessions, job, f"internal error ({type(error).__name__}); the server log has the details")
    except BaseException:
        _record_failure(sessions, job, INTERRUPTED_MESSAGE)
        raise
    finally:
        discard_upload(job)
    with sessions() as session:
        return session.get_one(Job, job.id)


def _record_failure(sessions: sessionmaker[Session], job: Job, message: str, record: str | None = None) -> None:
    """Record why the job failed; if the database cannot take even that, leave it to :func:`fail_stalled`."""
    try:
        with transaction(sessions) as session:
            fail(session, job.id, message, record)
    except sa.exc.OperationalError as error:
        log.error("job %s (%s) failed (%s) and its failure could not be recorded: %s", job.id, job.kind, message, error.orig)


@contextmanager
def _one_writer(sessions: sessionmaker[Session]) -> Iterator[None]:
    """On SQLite, one job at a time across every worker and command sharing the database.

    SQLite has one write lock: a second job would wait on it for the busy timeout, then fail
    for no fault of its own. Jobs take turns on an ``flock`` beside the database instead.
    PostgreSQL jobs run side by side.
    """
    url = sessions.kw["bind"].url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        yield
        return
    with Path(f"{url.database}.jobs.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def run_worker(
    sessions: sessionmaker[Session],
    settings: Settings,
    stop: threading.Event,
    *,
    poll_seconds: float = 0.5,
) -> None:
    """Run queued jobs, oldest first, until ``stop`` is set (a job under way is finished first).

    Beside them, in threads of their own: the silence clock (no-data alerts on time), the case
    clock (time limits, escalations, sensor alerts taken in as cases), the MQTT
    ingest where ``mqtt_url`` is set (its batch under way is stored and acknowledged first) and
    the alert webhook where ``alert_webhook_url`` is. Several workers may run at once, on one
    database: each job is claimed by exactly one. A database that stops answering is waited
    for, and any other error of a step is logged: neither stops the worker.
    """
    network = NetworkCache(settings.data_dir / "cache")
    name = worker_name()
    log.info("worker %s started", name)
    beside = [_beside(run_silence_clock, sessions, settings, stop), _beside(run_case_clock, sessions, settings, stop)]
    if settings.mqtt_url:
        beside.append(_beside(run_mqtt_ingest, sessions, settings, stop))
    if settings.alert_webhook_url:
        beside.append(_beside(run_alert_webhook, sessions, settings, stop))
    try:
        _run_jobs(sessions, settings, stop, network, name, poll_seconds)
    finally:
        stop.set()
        for thread in beside:
            thread.join()
    log.info("worker %s stopped", name)


def _beside(
    loop: Callable[[sessionmaker[Session], Settings, threading.Event], None],
    sessions: sessionmaker[Session],
    settings: Settings,
    stop: threading.Event,
) -> threading.Thread:
    """Run ``loop`` in a thread until ``stop``, starting it again after any failure."""

    def keep_running() -> None:
        while not stop.is_set():
            try:
                loop(sessions, settings, stop)
            except Exception:
                log.exception("%s failed; starting it again", loop.__name__)
                stop.wait(5.0)

    thread = threading.Thread(target=keep_running, name=loop.__name__, daemon=True)
    thread.start()
    return thread


def _run_jobs(
    sessions: sessionmaker[Session],
    settings: Settings,
    stop: threading.Event,
    network: NetworkCache,
    name: str,
    poll_seconds: float,
) -> None:
    """Claim and run jobs, with the duties every :data:`DUTIES_SECONDS`, until ``stop``."""
    duties_due = 0.0
    while not stop.is_set():
        try:
            if time.monotonic() >= duties_due:
                _duties(sessions, settings)
                duties_due = time.monotonic() + DUTIES_SECONDS
            with transaction(sessions) as session:
                job = claim(session, name)
            if job is None:
                stop.wait(poll_seconds)
                continue
            log.info("job %s (%s) started", job.id, job.kind)
            ended = run_job(sessions, settings, network, job)
            log.info("job %s (%s) %s", ended.id, ended.kind, ended.state)
        except sa.exc.OperationalError as error:
            log.warning("database not answering (%s); trying again", error.orig)
            stop.wait(max(1.0, 5 * poll_seconds))
        except Exception:
            log.exception("worker step failed; going on")
            stop.wait(max(1.0, 5 * poll_seconds))


def _sweep_uploads(session: Session, folder: Path) -> None:
    """Remove uploads older than :data:`UPLOAD_GRACE_SECONDS` that no queued or running job will read.

    Catches every way an upload can be left behind: a cancelled job, a request whose commit
    failed after the file was stored, a worker that died.
    """
    if not folder.is_dir():
        return
    waiting = session.scalars(sa.select(Job.parameters).where(Job.state.in_(("queued", "running")))).all()
    wanted = {Path(p["upload"]).name for p in waiting if p.get("upload")}
    old = time.time() - UPLOAD_GRACE_SECONDS
    for path in folder.iterdir():
        try:
            if path.name not in wanted and path.stat().st_mtime < old:
                path.unlink(missing_ok=True)
        except FileNotFoundError:  # removed meanwhile by its job, or another worker's sweep
            continue


def _duties(sessions: sessionmaker[Session], settings: Settings) -> None:
    """Fail jobs whose worker died, remove uploads no job will read, queue the daily jobs not queued in the last day."""
    with transaction(sessions) as session:
        for job in fail_stalled(session, settings.data_dir / "jobs"):
            log.warning("job %s (%s) stalled: its worker stopped", job.id, job.kind)
            discard_upload(job)
        _sweep_uploads(session, settings.data_dir / "uploads")
        day_ago = utcnow() - timedelta(days=1)
        for kind in DAILY:
            # Only the schedule's own jobs count: an operator's dry run must not stand in for the real one.
            recent = sa.select(Job.id).where(Job.kind == kind, Job.created_by == SCHEDULE.username,
                                             Job.state != "failed", Job.created_at > day_ago).limit(1)
            if session.scalar(recent) is None:
                submit(session, kind, {}, SCHEDULE)
