"""Jobs over HTTP: long work answers 202 with a job; its state, progress and result are read here."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi import Path as PathParam

from huizhili.config import Settings
from huizhili.jobs import cancel, get_job, list_jobs, read_progress
from huizhili.policy import scope_for
from huizhili.storage.models import JOB_STATES, Job
from huizhili.web.deps import OwnAccount, SessionDep, SettingsDep
from huizhili.web.schemas import JobOut

router = APIRouter(prefix="/jobs", tags=["jobs"])

JobId = Annotated[int, PathParam(ge=1, le=2**62)]
RESULT_LINKS = {"lifecircle": "/api/lifecircle/runs/{run_id}"}
"""Where a kind's result lives beyond the job, by the result's fields."""


def job_out(job: Job, settings: Settings) -> dict[str, Any]:
    """A job as the API shows it, with the progress of a running one read from its worker's file."""
    links = {"self": f"/api/jobs/{job.id}"}
    if job.state == "succeeded" and job.result and (template := RESULT_LINKS.get(job.kind)):
        links["result"] = template.format(**job.result)
    return {
        "id": job.id,
        "kind": job.kind,
        "state": job.state,
        "created_by": job.created_by,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "progress": read_progress(settings.data_dir / "jobs", job.id) if job.state == "running" else None,
        "result": job.result,
        "error": job.error,
        "links": links,
    }


def accepted(job: Job, settings: Settings, response: Response) -> dict[str, Any]:
    """The 202 answer to a request that submitted ``job``: the job, and where to follow it."""
    response.headers["Location"] = f"/api/jobs/{job.id}"
    return job_out(job, settings)


@router.get("", response_model=list[JobOut])
def my_jobs(
    session: SessionDep,
    settings: SettingsDep,
    principal: OwnAccount,
    state: Annotated[str | None, Query(pattern="^(" + "|".join(JOB_STATES) + ")$")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[dict[str, Any]]:
    """Your jobs, newest first (an administrator sees everyone's)."""
    return [job_out(job, settings) for job in list_jobs(session, scope_for(principal), state=state, limit=limit)]


@router.get("/{job_id}", response_model=JobOut)
def one_job(job_id: JobId, session: SessionDep, settings: SettingsDep, principal: OwnAccount) -> dict[str, Any]:
    """One of your jobs: its state, progress while it runs, then its result or why it failed."""
    return job_out(get_job(session, scope_for(principal), job_id), settings)


@router.delete("/{job_id}", response_model=JobOut)
def cancel_job(job_id: JobId, session: SessionDep, settings: SettingsDep, principal: OwnAccount) -> dict[str, Any]:
    """Cancel one of your jobs that has not started (409 once it runs: it then ends whole, never half)."""
    return job_out(cancel(session, scope_for(principal), job_id), settings)
