"""Jobs: long work that a request or a command hands to a worker, with its state, progress and result.

An import, a life-circle analysis with its maps and report, a site proposal: none of them runs
inside a request, which would hold the server's event loop or, on SQLite, the only write lock
while a citizen waits. A request submits a job (:func:`submit`, committed with the request) and
answers 202; a ``huizhili worker`` process claims it (:func:`claim`), runs it, and stores its
result in the same transaction as the work (:func:`succeed`), so a ``succeeded`` job's data is
there and a job whose worker died kept nothing (:func:`fail_stalled` says so). Progress and the
worker's heartbeat go to a small file beside the data (``jobs/progress.py``), because on SQLite
the running job's own transaction holds the write lock the whole time it writes.

This package knows nothing of what jobs do: the worker maps each kind to its domain function.
"""

from huizhili.jobs.progress import JobProgress, read_progress
from huizhili.jobs.queue import (
    KINDS,
    TERMINAL,
    cancel,
    claim,
    discard_upload,
    fail,
    fail_stalled,
    get_job,
    list_jobs,
    principal_of,
    submit,
    succeed,
)

__all__ = [
    "KINDS",
    "TERMINAL",
    "JobProgress",
    "cancel",
    "claim",
    "discard_upload",
    "fail",
    "fail_stalled",
    "get_job",
    "list_jobs",
    "principal_of",
    "read_progress",
    "submit",
    "succeed",
]
