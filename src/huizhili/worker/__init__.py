"""The worker process (``huizhili worker``): runs queued jobs one at a time, and the platform's daily duties.

An interface like the CLI and the web app — it calls the domains — so it lives beside them,
above the domain packages; ``huizhili.jobs`` below it is only the queue. Sensing's ingest and
rollups and the cases' deadline clock will run here too.
"""

from huizhili.worker.loop import run_job, run_worker

__all__ = ["run_job", "run_worker"]
