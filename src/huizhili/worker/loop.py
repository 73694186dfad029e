"""Claim a job, run it in one transaction with its result, repeat; between jobs, the periodic duties."""

import logging
import threading
import time
from collections.abc import Callable
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
from huizhili.policy.principal import UNRESTRICTED
from huizhili.storage.engine import transaction
from huizhili.storage.models import Job, utcnow
from huizhili.worker.tasks import TASKS, Work

log = logging.getLogger(__name__)

DUTIES_SECONDS = 30.0
"""How often a worker looks for stalled jobs and whether the daily duties are due."""

DAILY = ("retention",)
"""Jobs the platform queues for itself once a day."""

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
        with JobProgress(settings.data_dir / "jobs", job.id, echo) as progress, transaction(sessions) as session:
            principal = principal_of(session, job)
            result = TASKS[job.kind](Work(session, dict(job.parameters), principal, settings, network, progress))
            succeed(session, job.id, result)
    except HuizhiliError as error:
        _record_failure(sessions, job.id, str(error), getattr(error, "record", None))
    except Exception as error:
        log.exception("job %s (%s) failed", job.id, job.kind)
        _record_failure(sessions, job.id, f"internal error ({type(error).__name__}); the server log has the details")
    except BaseException:
        _record_failure(sessions, job.id, INTERRUPTED_MESSAGE)
        raise
    finally:
        discard_upload(job)
    with sessions() as session:
        return session.get_one(Job, job.id)


def _record_failure(sessions: sessionmaker[Session], job_id: int, message: str, record: str | None = None) -> None:
    with transaction(sessions) as session:
        fail(session, job_id, message, record)


def run_worker(
    sessions: sessionmaker[Session],
    settings: Settings,
    stop: threading.Event,
    *,
    poll_seconds: float = 0.5,
) -> None:
    """Run queued jobs, oldest first, until ``stop`` is set (a job under way is finished first).

    Several workers may run at once, on one database: each job is claimed by exactly one. A
    database that stops answering is waited for, not fatal.
    """
    network = NetworkCache(settings.data_dir / "cache")
    name = worker_name()
    duties_due = 0.0
    log.info("worker %s started", name)
    while not stop.is_set():
        try:
            if time.monotonic() >= duties_due:
                _duties(sessions, settings)
                duties_due = time.monotonic() + DUTIES_SECONDS
            with transaction(sessions) as session:
                job = claim(session, name)
        except sa.exc.OperationalError as error:
            log.warning("database not answering (%s); trying again", error.orig)
            stop.wait(5 * poll_seconds)
            continue
        if job is None:
            stop.wait(poll_seconds)
            continue
        log.info("job %s (%s) started", job.id, job.kind)
        ended = run_job(sessions, settings, network, job)
        log.info("job %s (%s) %s", ended.id, ended.kind, ended.state)
    log.info("worker %s stopped", name)


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
        if path.name not in wanted and path.stat().st_mtime < old:
            path.unlink(missing_ok=True)


def _duties(sessions: sessionmaker[Session], settings: Settings) -> None:
    """Fail jobs whose worker died, remove uploads no job will read, queue the daily jobs not queued in the last day."""
    with transaction(sessions) as session:
        for job in fail_stalled(session, settings.data_dir / "jobs"):
            log.warning("job %s (%s) stalled: its worker stopped", job.id, job.kind)
            discard_upload(job)
        _sweep_uploads(session, settings.data_dir / "uploads")
        day_ago = utcnow() - timedelta(days=1)
        for kind in DAILY:
            recent = sa.select(Job.id).where(Job.kind == kind, Job.system, Job.created_at > day_ago).limit(1)
            if session.scalar(recent) is None:
                submit(session, kind, {}, UNRESTRICTED)
