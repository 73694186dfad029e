"""Jobs and the worker: claimed once, run as their submitter, stored with their work, failed when their worker dies."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from waiting import until

from huizhili.errors import ConflictError, ForbiddenError, NotFoundError
from huizhili.identity.accounts import close_account
from huizhili.jobs import cancel, claim, fail_stalled, get_job, submit
from huizhili.jobs.progress import STALLED_SECONDS, JobProgress
from huizhili.jobs.queue import STALLED_MESSAGE, worker_name
from huizhili.policy import Principal, Scope
from huizhili.storage.engine import transaction
from huizhili.storage.models import Facility, ImportRun, Job, User, utcnow
from huizhili.worker import run_worker
from huizhili.worker.loop import SCHEDULE, UPLOAD_GRACE_SECONDS, _duties


def principal(sessions, username):
    with sessions() as session:
        return Principal.of(session.scalar(sa.select(User).where(User.username == username)))


def toilets_csv(folder, n):
    path = folder / f"toilets-{n}.csv"
    path.write_text(f"id,name,lon,lat\n{n},厕所{n},121.43,31.19\n", encoding="utf-8")
    return path


def queue_import(sessions, path, who):
    with transaction(sessions) as session:
        return submit(session, "import", {"target": "facility", "path": str(path), "constants": {"kind": "toilet"},
                                          "source_name": path.stem}, who).id


def state(sessions, job_id):
    with sessions() as session:
        return session.get_one(Job, job_id)


@pytest.fixture
def workers(sessions, settings):
    """Start worker loops in threads: ``workers(n)``; all stopped after the test."""
    stop, threads = threading.Event(), []

    def start(n=1):
        for _ in range(n):
            thread = threading.Thread(target=run_worker, args=(sessions, settings, stop), kwargs={"poll_seconds": 0.01}, daemon=True)
            thread.start()
            threads.append(thread)

    yield start
    stop.set()
    for thread in threads:
        thread.join(60)


def test_two_workers_run_every_job_exactly_once(sessions, settings, role_headers, workers, tmp_path):
    admin = principal(sessions, "admin")
    jobs = [queue_import(sessions, toilets_csv(tmp_path, n), admin) for n in range(8)]
    workers(2)
    ended = until(lambda: all(state(sessions, j).state == "succeeded" for j in jobs) and [state(sessions, j) for j in jobs],
                  "the jobs did not all succeed", 60)
    with sessions() as session:
        runs = session.scalar(sa.select(sa.func.count()).select_from(ImportRun).where(ImportRun.source.like("%toilets-%")))
        toilets = session.scalar(sa.select(sa.func.count()).select_from(Facility).where(Facility.kind == "toilet"))
    assert (runs, toilets) == (8, 8), "each job's import ran once"
    assert all(job.result["counts"] == {"facilities": 1} and job.worker and job.finished_at >= job.started_at for job in ended)


def test_a_job_runs_with_its_submitters_rights_as_they_stand_when_it_runs(sessions, settings, role_headers, workers, tmp_path):
    analyst = principal(sessions, "analyst")
    with transaction(sessions) as session:
        job_id = submit(session, "lifecircle", {"area": "徐家汇街道", "kinds": ["health_centre"]}, analyst).id
        close_account(session, "analyst")
    workers()
    job = until(lambda: (j := state(sessions, job_id)).state == "failed" and j, "the job did not fail", 60)
    assert job.error == {"message": "the account of analyst was closed after the job was submitted", "record": None}
    with sessions() as session, pytest.raises(ForbiddenError):
        submit(session, "import", {}, analyst)  # analysts never import


def test_an_operators_run_is_scoped_to_her_street(sessions, settings, role_headers, workers):
    operator = principal(sessions, "xujiahui_operator")
    with transaction(sessions) as session:
        elsewhere = submit(session, "lifecircle", {"area": "湖南路街道"}, operator).id
        mine = submit(session, "lifecircle", {"area": "徐家汇街道", "kinds": ["health_centre"]}, operator).id
    workers()
    until(lambda: state(sessions, mine).state in {"succeeded", "failed"}, "the run did not end", 60)
    assert state(sessions, elsewhere).state == "failed" and "湖南路街道" in state(sessions, elsewhere).error["message"]
    assert state(sessions, mine).state == "succeeded", state(sessions, mine).error


def test_a_job_whose_worker_died_is_failed_and_one_still_beating_or_elsewhere_is_not(sessions, settings, tmp_path):
    folder = settings.data_dir / "jobs"
    who = Scope.system().principal
    with transaction(sessions) as session:
        dead, alive, elsewhere = (submit(session, "retention", {}, who).id for _ in range(3))
    long_ago = utcnow() - timedelta(seconds=2 * STALLED_SECONDS)
    with transaction(sessions) as session:
        for job_id, worker in ((dead, worker_name()), (alive, worker_name()), (elsewhere, "another-host:1")):
            claim(session, worker, job_id)
        session.execute(sa.update(Job).values(started_at=long_ago))
    with JobProgress(folder, alive), transaction(sessions) as session:
        failed = fail_stalled(session, folder)
    assert [job.id for job in failed] == [dead]
    assert (state(sessions, dead).state, state(sessions, dead).error["message"]) == ("failed", STALLED_MESSAGE)
    assert state(sessions, alive).state == state(sessions, elsewhere).state == "running", "its heartbeat is on its own host"


def test_only_a_queued_job_is_cancelled_and_only_by_whom_may_see_it(sessions, role_headers):
    admin, analyst = principal(sessions, "admin"), principal(sessions, "analyst")
    with transaction(sessions) as session:
        queued, running = (submit(session, "siting", {"kind": "park", "threshold_m": 300, "k": 1}, analyst).id for _ in range(2))
        claim(session, "w:1", running)
    with transaction(sessions) as session:
        with pytest.raises(NotFoundError):
            get_job(session, Scope(principal(sessions, "commander")), queued)
        assert cancel(session, Scope(analyst), queued).state == "cancelled"
        with pytest.raises(ConflictError, match="running: only a queued job"):
            cancel(session, Scope(admin), running)
    assert state(sessions, queued).finished_at is not None


def test_a_worker_queues_the_daily_duties_once_a_day_and_sweeps_orphaned_uploads(sessions, settings, role_headers):
    uploads = settings.data_dir / "uploads"
    uploads.mkdir(parents=True)
    orphan, waiting, fresh = (uploads / name for name in ("orphan.csv", "waiting.csv", "fresh.csv"))
    for path in (orphan, waiting, fresh):
        path.write_text("x")
    old = time.time() - 2 * UPLOAD_GRACE_SECONDS
    for path in (orphan, waiting):
        os.utime(path, (old, old))
    with transaction(sessions) as session:
        submit(session, "import", {"target": "facility", "upload": str(waiting)}, principal(sessions, "admin"))
        submit(session, "retention", {"dry_run": True}, Scope.system().principal)  # an operator's look: not the daily run
    _duties(sessions, settings)
    _duties(sessions, settings)
    assert (orphan.exists(), waiting.exists(), fresh.exists()) == (False, True, True)
    with sessions() as session:
        daily = session.scalars(sa.select(Job.parameters).where(Job.created_by == SCHEDULE.username)).all()
    assert daily == [{}], "one real retention queued, once"


def test_a_worker_outlives_a_database_that_stops_answering(sessions, settings, engine, role_headers, workers, tmp_path):
    failures = {"left": 5}

    def refuse(_connection, _cursor, statement, *_):
        if "jobs" in statement and failures["left"] > 0:
            failures["left"] -= 1
            raise sa.exc.OperationalError(statement, {}, Exception("database not answering (injected)"))

    job_id = queue_import(sessions, toilets_csv(tmp_path, 1), principal(sessions, "admin"))
    sa.event.listen(engine, "before_cursor_execute", refuse)
    try:
        workers()
        until(lambda: failures["left"] == 0, "the worker stopped asking", 30)
    finally:
        sa.event.remove(engine, "before_cursor_execute", refuse)
    assert until(lambda: state(sessions, job_id).state == "succeeded", "the worker gave up", 60)


@pytest.mark.postgis
def test_on_postgresql_a_claimed_job_is_passed_over_at_once_not_waited_for(sessions, engine, role_headers, tmp_path):
    if engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite serialises writers")
    admin = principal(sessions, "admin")
    first, second = (queue_import(sessions, toilets_csv(tmp_path, n), admin) for n in range(2))
    with sessions() as one, one.begin():
        assert claim(one, "w:1").id == first  # locked, not yet committed
        with sessions() as other, other.begin():
            other.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
            assert claim(other, "w:2").id == second


def big_csv(folder, rows):
    path = folder / "many.csv"
    path.write_text("id,name,lon,lat\n" + "".join(f"{n},厕所{n},121.43,31.19\n" for n in range(rows)), encoding="utf-8")
    return path


def test_the_worker_command_finishes_the_job_under_way_on_sigterm_then_stops(tmp_path, sessions, engine, role_headers):
    env = {**os.environ, "HUIZHILI_DATA_DIR": str(tmp_path / "var"), "HUIZHILI_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    job_id = queue_import(sessions, big_csv(tmp_path, 5_000), principal(sessions, "admin"))
    worker = subprocess.Popen([sys.executable, "-m", "huizhili", "worker", "--poll", "0.05"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        until(lambda: state(sessions, job_id).state != "queued", "the worker process did not start the job", 60)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.send_signal(signal.SIGTERM)  # a service manager signalling again changes nothing
        output, _ = worker.communicate(timeout=120)
    assert worker.returncode == 0, output
    assert state(sessions, job_id).state == "succeeded", output
    assert f"job {job_id} (import) succeeded" in output and "stopping after the job under way" in output


def test_serve_with_a_worker_stops_its_worker_when_it_is_stopped(tmp_path):
    env = {**os.environ, "HUIZHILI_DATA_DIR": str(tmp_path / "var")}
    env.pop("HUIZHILI_DATABASE_URL", None)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    serve = subprocess.Popen([sys.executable, "-m", "huizhili", "serve", "--port", str(port), "--with-worker"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    children = Path(f"/proc/{serve.pid}/task/{serve.pid}/children")
    worker = int(until(lambda: children.read_text().split() or None, "serve started no worker", 30)[0])
    try:
        until(lambda: _answers(port), "the server did not start", 60)
        serve.send_signal(signal.SIGTERM)
        output, _ = serve.communicate(timeout=60)
        assert until(lambda: not Path(f"/proc/{worker}").exists() or _zombie(worker), "the worker outlived the server", 30), output
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker, signal.SIGKILL)  # a failing run leaves no worker behind


def _answers(port):
    with socket.socket() as connection:
        return connection.connect_ex(("127.0.0.1", port)) == 0


def _zombie(pid):
    return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
