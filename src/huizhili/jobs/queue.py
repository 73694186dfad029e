"""The jobs table as a queue: submit, claim, finish, cancel, and find the jobs whose worker died."""

import os
import socket
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.errors import ConflictError, ForbiddenError, NotFoundError
from huizhili.jobs.progress import STALLED_SECONDS, seconds_since_heartbeat
from huizhili.policy import Scope, require
from huizhili.policy.principal import UNRESTRICTED, Principal
from huizhili.storage.models import Job, User, utcnow

KINDS: dict[str, str] = {
    "import": "write:imports",
    "lifecircle": "run:analysis",
    "siting": "run:analysis",
    "retention": "manage:users",
}
"""Every kind of job and the permission it needs, checked when it is submitted and again when it runs."""

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
"""States a job never leaves."""

STALLED_MESSAGE = "the worker stopped while running this job; nothing it did was kept: submit it again"


def worker_name() -> str:
    """``host:pid`` of this process, kept with the jobs it runs."""
    return f"{socket.gethostname()}:{os.getpid()}"


def submit(session: Session, kind: str, parameters: dict[str, Any], principal: Principal) -> Job:
    """Queue a job of ``kind`` on behalf of ``principal``; it is stored when the caller's transaction commits.

    Raises
    ------
    ForbiddenError
        If the principal may not run jobs of this kind.
    """
    require(principal, KINDS[kind])
    job = Job(
        kind=kind,
        parameters=parameters,
        user_id=principal.user_id,
        created_by=principal.username,
        system=principal.user_id is None,  # only the platform's own principals have no account
    )
    session.add(job)
    session.flush()
    return job


def claim(session: Session, worker: str, job_id: int | None = None) -> Job | None:
    """Mark the oldest queued job (or job ``job_id``, if still queued) running for ``worker``, or return None.

    The caller commits at once. Two workers may pick the same candidate; the conditional update
    lets exactly one have it. On PostgreSQL ``SKIP LOCKED`` makes the others pass over it at once.
    """
    candidate = sa.select(Job.id).where(Job.state == "queued").order_by(Job.id).limit(1)
    if job_id is not None:
        candidate = candidate.where(Job.id == job_id)
    if session.get_bind().dialect.name == "postgresql":
        candidate = candidate.with_for_update(skip_locked=True)
    found = session.scalar(candidate)
    if found is None:
        return None
    taken = session.execute(
        sa.update(Job).where(Job.id == found, Job.state == "queued").values(state="running", started_at=utcnow(), worker=worker)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.get_one(Job, found, populate_existing=True)


def principal_of(session: Session, job: Job) -> Principal:
    """Who the job runs as: the platform, or its submitter as the account stands now.

    Raises
    ------
    ForbiddenError
        If the submitter's account was closed or removed, or their role no longer allows the job.
    """
    if job.system:
        return UNRESTRICTED
    user = session.get(User, job.user_id) if job.user_id is not None else None
    if user is None or not user.active:
        message = f"the account of {job.created_by} was closed after the job was submitted"
        raise ForbiddenError(message)
    principal = Principal.of(user)
    require(principal, KINDS[job.kind])
    return principal


def succeed(session: Session, job_id: int, result: dict[str, Any]) -> None:
    """Record the job's result in the transaction of its work, so both are stored or neither.

    Raises
    ------
    ConflictError
        If the job is no longer running (it was declared stalled): the work must be rolled back.
    """
    done = session.execute(
        sa.update(Job).where(Job.id == job_id, Job.state == "running").values(state="succeeded", result=result, finished_at=utcnow())
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        message = f"job {job_id} is no longer running; its work is not kept"
        raise ConflictError(message)


def fail(session: Session, job_id: int, message: str, record: str | None = None) -> None:
    """Record why a running job failed (after its work was rolled back)."""
    session.execute(
        sa.update(Job)
        .where(Job.id == job_id, Job.state == "running")
        .values(state="failed", error={"message": message, "record": record}, finished_at=utcnow())
    )


def fail_stalled(session: Session, progress_folder: Path) -> list[Job]:
    """Fail running jobs whose heartbeat stopped: their worker died, and their transaction with it.

    A job that has just started may not have written its file yet; it counts as stalled only
    once it has run longer than :data:`~huizhili.jobs.progress.STALLED_SECONDS` without one.
    Only jobs run on this host are judged: their files are in this host's data folder.
    Returns the jobs failed, so the caller can discard their uploads.
    """
    recent = utcnow() - timedelta(seconds=STALLED_SECONDS)
    here = f"{socket.gethostname()}:%"  # another host's jobs beat in its own data folder
    running = session.scalars(sa.select(Job).where(Job.state == "running", Job.started_at < recent, Job.worker.like(here))).all()
    stalled = []
    for job in running:
        age = seconds_since_heartbeat(progress_folder, job.id)
        if age is None or age > STALLED_SECONDS:
            fail(session, job.id, STALLED_MESSAGE)
            stalled.append(job)
    return stalled


def discard_upload(job: Job) -> None:
    """Remove the uploaded file a job was given, once the job has ended (whatever the end)."""
    if upload := job.parameters.get("upload"):
        Path(upload).unlink(missing_ok=True)


def get_job(session: Session, scope: Scope, job_id: int) -> Job:
    """A job the scope may see.

    Raises
    ------
    NotFoundError
        If there is no such job, or it is someone else's.
    """
    job = session.scalar(sa.select(Job).where(Job.id == job_id, scope.condition(Job)))
    if job is None:
        message = f"no job {job_id}"
        raise NotFoundError(message)
    return job


def list_jobs(session: Session, scope: Scope, *, state: str | None = None, limit: int = 20) -> Sequence[Job]:
    """The newest jobs the scope may see, optionally in one state."""
    query = sa.select(Job).where(scope.condition(Job)).order_by(Job.id.desc()).limit(limit)
    if state is not None:
        query = query.where(Job.state == state)
    return session.scalars(query).all()


def cancel(session: Session, scope: Scope, job_id: int) -> Job:
    """Cancel a job that no worker has started yet.

    Raises
    ------
    NotFoundError
        If the scope cannot see the job.
    ConflictError
        If it is running or has ended: a running job finishes or fails whole, never half.
    """
    job = get_job(session, scope, job_id)
    stopped = session.execute(
        sa.update(Job).where(Job.id == job.id, Job.state == "queued").values(state="cancelled", finished_at=utcnow())
    )
    session.refresh(job)
    if stopped.rowcount != 1:  # type: ignore[attr-defined]
        message = f"job {job_id} is {job.state}: only a queued job can be cancelled"
        raise ConflictError(message)
    return job
