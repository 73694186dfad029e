"""The ``huizhili`` command: thin wrappers that parse, call a domain function and print."""

import json
import logging
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from huizhili.config import Settings, load_settings
from huizhili.errors import HuizhiliError
from huizhili.policy import Scope
from huizhili.storage.engine import create_engine, migrate, session_factory, transaction

log = logging.getLogger("huizhili")


class _Context:
    """Settings and a migrated database, made once per command."""

    def __init__(self) -> None:
        self.settings: Settings = load_settings()
        self.engine = create_engine(self.settings.resolved_database_url)
        migrate(self.engine)
        self.sessions = session_factory(self.engine)


def _run(action: Callable[[], Any]) -> Any:
    """Turn the platform's errors into one line on stderr and exit status 1."""
    try:
        return action()
    except HuizhiliError as error:
        record = getattr(error, "record", None)
        click.echo(f"error: {error}" + (f" [record: {record}]" if record and record not in str(error) else ""), err=True)
        sys.exit(1)


_last_stage: list[str] = []


def _progress(stage: str, count: int) -> None:
    """Show a long job's progress on stderr: one updating line on a terminal, a line per stage in a log."""
    if sys.stderr.isatty():
        click.echo(f"\r{stage}: {count:,}\x1b[K", nl=False, err=True)
    elif _last_stage[-1:] != [stage]:
        click.echo(f"{stage} …", err=True)
        _last_stage[:] = [stage]


@click.group()
@click.version_option(package_name="huizhili")
@click.option("-v", "--verbose", is_flag=True, help="Log details to stderr.")
def main(verbose: bool) -> None:
    """Huizhili (汇治理): a city district's operations platform."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def _train_demo_classifier(settings: Settings) -> None:
    """The demo's classifier of reports, trained once into the data folder from the demo's illustrative messages."""
    from huizhili.cases.classifier import save, train_csv
    from huizhili.cases.flow import DEFAULT_MODEL, DEMO_TRAINING

    model = settings.data_dir / "models" / DEFAULT_MODEL
    if model.exists():
        return
    click.echo("training the demo's classifier of reports on its illustrative messages …", err=True)
    model.parent.mkdir(parents=True, exist_ok=True)
    save(_run(lambda: train_csv(DEMO_TRAINING, ["title", "detail"], "category")), model)
    click.echo(f"demo classifier of reports written to {model}")


def _demo_accounts(context: _Context) -> Path:
    """The demo's own accounts, made once with random passwords kept beside the data: 'demo' (a district commander) and 'resident' (a citizen)."""
    import secrets

    import sqlalchemy as sa

    from huizhili.identity.accounts import create_user
    from huizhili.storage.models import User

    password_file = context.settings.data_dir / "demo-password.txt"
    made = []
    with transaction(context.sessions) as session:
        for username, role, name in (("demo", "district_commander", "演示值班员 Demo operator"), ("resident", "citizen", "演示市民 Demo resident")):
            if session.scalar(sa.select(User.id).where(User.username == username)) is None:
                password = secrets.token_urlsafe(12)
                create_user(session, username, role, password=password, display_name=name)
                made.append(f"{username} {password}\n")
    if made:
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.touch(mode=0o600)
        with password_file.open("a", encoding="utf-8") as out:
            out.writelines(made)
    return password_file


@main.command()
@click.option("--no-serve", is_flag=True, help="Only load the demo, do not start the server.")
@click.option("--host", default=None, help="Address to listen on (default HUIZHILI_HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default HUIZHILI_PORT or 8000).")
def demo(no_serve: bool, host: str | None, port: int | None) -> None:
    """Load the Xuhui District demo, then serve it (refused in production)."""
    from huizhili.base.demo import load_xuhui
    from huizhili.cases.demo import load_case_history
    from huizhili.sensing.demo import load_sensing_demo

    context = _run(_Context)
    if context.settings.environment == "production":
        # The demo rewrites Xuhui's official areas (names, boundaries) and adds facilities that
        # citizens would see: on real data that is damage, not a demonstration.
        click.echo("error: the demo would overwrite Xuhui's areas and add its facilities; "
                   "not loaded where HUIZHILI_ENVIRONMENT=production", err=True)
        sys.exit(1)
    with transaction(context.sessions) as session:
        reports = _run(lambda: load_xuhui(session))
    for report in reports:
        click.echo(f"{Path(report.source).name}: {_counts_text(report.counts)}")
    click.echo("replaying the demo devices' recorded series …", err=True)
    for device, values in _run(lambda: load_sensing_demo(context.sessions, context.settings)).items():
        click.echo(f"{device}: {values:,} observations replayed")
    _train_demo_classifier(context.settings)
    history = _run(lambda: load_case_history(context.sessions, context.settings))
    click.echo(f"demo case history: {history.cases} cases, {history.open} open, {history.linked} reports joined an open case"
               + ("" if history.loaded else " (made before: kept, as a case's trail is never rewritten)"))
    click.echo("walking from every compound to the district's services (the life circle's first run) …", err=True)
    run = _as_job(context, "lifecircle", {})
    click.echo(f"life-circle run {run['run_id']}: {run['origins']:,} {run['origin_source']} origins, {run['seconds']:.2f} s")
    _load_programmes_demo(context)
    click.echo(f"Xuhui demo loaded into {context.settings.resolved_database_url}")
    password_file = _demo_accounts(context)
    address = f"http://{host or context.settings.host}:{port or context.settings.port}"
    click.echo(f"dashboard: {address}/ — sign in as 'demo' (district commander); citizens' pages: {address}/citizen "
               f"(no sign-in; to report, 'resident'); passwords in {password_file}")
    if not no_serve:
        _serve(context, host, port, with_worker=True)


@main.command()
@click.option("--host", default=None, help="Address to listen on (default HUIZHILI_HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default HUIZHILI_PORT or 8000).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True, help="Server processes.")
@click.option("--with-worker", is_flag=True, help="Also start a job worker (`huizhili worker`), stopped with the server.")
def serve(host: str | None, port: int | None, workers: int, with_worker: bool) -> None:
    """Serve the API (OpenAPI docs at /docs). Imports and analyses need a worker: --with-worker, or `huizhili worker`."""
    _serve(_run(_Context), host, port, workers, with_worker=with_worker)


def _serve(context: _Context, host: str | None, port: int | None, workers: int = 1, *, with_worker: bool = False) -> None:
    """Run the web app under uvicorn, in ``workers`` processes (each reads the settings itself), and perhaps a worker beside it."""
    import uvicorn

    from huizhili.web.app import create_app, server_options

    host, port = host or context.settings.host, port or context.settings.port
    # Its own process, and its own session: a long import or map drawing never holds the server's
    # interpreter, and a Ctrl-C meant for the server reaches the worker only as the server passes it on.
    worker = subprocess.Popen([sys.executable, "-m", "huizhili", "worker"], start_new_session=True) if with_worker else None
    if worker:
        # Uvicorn re-raises the SIGTERM it stopped on once it is done; as an exception it lets the
        # worker be stopped below, where the default action would end this process on the spot.
        signal.signal(signal.SIGTERM, _exit_on_signal)
    click.echo(f"serving on http://{host}:{port} (API docs at /docs)" + (", with a job worker" if worker else ""))
    try:
        if workers > 1:
            uvicorn.run("huizhili.web.app:app_from_environment", factory=True, host=host, port=port, workers=workers,
                        log_level="info", **server_options(context.settings))
        else:
            uvicorn.run(create_app(context.settings, context.engine), host=host, port=port, log_level="info",
                        **server_options(context.settings))
    finally:
        if worker:
            _stop_worker(worker)


def _exit_on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def _stop_worker(worker: subprocess.Popen[bytes]) -> None:
    """Let the worker finish the job under way, then stop; a Ctrl-C while it does stops that job now."""
    worker.terminate()
    if worker.poll() is None:
        click.echo("waiting for the worker to finish the job under way (Ctrl-C to stop it now)", err=True)
    try:
        worker.wait()
    except KeyboardInterrupt:
        worker.send_signal(signal.SIGINT)
        worker.wait()


@main.command()
@click.option("--poll", type=click.FloatRange(0.05, 60), default=0.5, show_default=True, help="Seconds between looks for new jobs when idle.")
def worker(poll: float) -> None:
    """Run queued jobs (imports, analyses and their reports) and the daily duties, until SIGTERM or Ctrl-C.

    Either signal lets the job under way finish, then stops (SIGTERM again changes nothing, so
    a service manager signalling every process at once does no harm); a second Ctrl-C stops at
    once: that job's work is rolled back and it is marked failed. Start as many as there are
    cores to spare (on SQLite they take turns, one job at a time).
    """
    import threading

    from huizhili.worker import run_worker

    context = _run(_Context)
    stop = threading.Event()

    def stopping(signum: int, _frame: Any) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        if not stop.is_set():
            click.echo("worker: stopping after the job under way (Ctrl-C again to stop now)", err=True)
        stop.set()

    signal.signal(signal.SIGTERM, stopping)
    signal.signal(signal.SIGINT, stopping)
    logging.getLogger("huizhili.worker").setLevel(logging.INFO)
    click.echo("worker: running jobs", err=True)
    try:
        run_worker(context.sessions, context.settings, stop, poll_seconds=poll)
    except KeyboardInterrupt:
        sys.exit(130)


def _as_job(context: _Context, kind: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """Run long work as a job of this command's own, showing its progress; exit 1 with its error if it fails.

    Recorded in the jobs table like the server's jobs, and run by the same code, but here and
    now: the command needs no worker running and returns when the work is done.
    """
    from huizhili.jobs import claim, submit
    from huizhili.jobs.queue import worker_name
    from huizhili.network.finder import NetworkCache
    from huizhili.policy.principal import UNRESTRICTED
    from huizhili.worker import run_job

    with transaction(context.sessions) as session:
        job = submit(session, kind, parameters, UNRESTRICTED)
        claimed = claim(session, worker_name(), job.id)
    assert claimed is not None  # submitted and claimed in one transaction
    shown: list[str] = []

    def progress(stage: str, count: int) -> None:
        shown.append(stage)
        _progress(stage, count)

    ended = run_job(context.sessions, context.settings, NetworkCache(context.settings.data_dir / "cache"), claimed, progress)
    if shown and sys.stderr.isatty():
        click.echo("", err=True)  # end the progress line
    _last_stage.clear()
    if ended.state != "succeeded" or ended.result is None:
        error = ended.error or {}
        message, record = error.get("message", ended.state), error.get("record")
        click.echo(f"error: {message}" + (f" [record: {record}]" if record and record not in message else ""), err=True)
        sys.exit(1)
    return ended.result


@main.group(name="import")
def import_() -> None:
    """Import data into the digital base (all or nothing per file)."""


@import_.command(name="osm")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--clip", metavar="AREA", help="Keep only what lies in this area (code or name), e.g. 徐汇区.")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def import_osm_command(path: Path, clip: str | None, as_json: bool) -> None:
    """Import buildings, facilities, walkable ways and boundaries from an .osm.pbf/.osm file."""
    context = _run(_Context)
    _print_report(_as_job(context, "import", {"target": "osm", "path": str(path.absolute()), "clip": clip, "file_name": str(path)}), as_json)


@import_.command(name="file")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--as", "target", required=True, type=click.Choice(["facility", "building", "parcel", "device", "area"]), help="What each record becomes.")
@click.option("--map", "mappings", multiple=True, metavar="FIELD=COLUMN", help="Take FIELD from COLUMN (repeatable); lon=/lat= name coordinate columns.")
@click.option("--set", "constants", multiple=True, metavar="FIELD=VALUE", help="Give every record FIELD=VALUE (repeatable), e.g. kind=park.")
@click.option("--only", "only", multiple=True, metavar="COLUMN=VALUE", help="Import only records whose COLUMN is VALUE (repeatable; values of one column are alternatives).")
@click.option("--crs", "source_crs", default=None, help="wgs84, gcj02, bd09, cgcs2000 or EPSG:<code> (default: the file's own, else wgs84).")
@click.option("--within", metavar="AREA", help="Report and skip records outside this area (code or name).")
@click.option("--tolerance", type=float, default=500.0, show_default=True, help="Metres outside the boundary still accepted.")
@click.option("--layer", help="Layer of a GeoPackage.")
@click.option("--source", "source_name", help="Name of the source (default: the file name); re-importing a source replaces its records.")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def import_file_command(
    path: Path, target: str, mappings: tuple[str, ...], constants: tuple[str, ...], only: tuple[str, ...], source_crs: str,
    within: str | None, tolerance: float, layer: str | None, source_name: str | None, as_json: bool,
) -> None:
    """Import a GeoJSON, GeoPackage, Shapefile or CSV file."""
    context = _run(_Context)
    wanted: dict[str, list[str]] = {}
    for column, value in (next(iter(_pairs((item,)).items())) for item in only):
        wanted.setdefault(column, []).append(value)
    parameters = {
        "target": target, "path": str(path.absolute()), "file_name": str(path), "mapping": _pairs(mappings),
        "constants": _pairs(constants), "only": wanted or None, "crs": source_crs, "within": within, "tolerance_m": tolerance, "layer": layer,
        "source_name": source_name,
    }
    _print_report(_as_job(context, "import", parameters), as_json)


@import_.command(name="divisions")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--parent", "parents", multiple=True, metavar="CODE=NAME", help="Create this parent area if missing, e.g. 310104=徐汇区.")
def import_divisions_command(paths: tuple[Path, ...], parents: tuple[str, ...]) -> None:
    """Import official division codes (CSV with code,name): streets, committees."""
    from huizhili.base.importers import import_divisions

    context = _run(_Context)
    with transaction(context.sessions) as session:
        report = _run(lambda: import_divisions(session, list(paths), _pairs(parents)))
    _print_report(report.as_dict(), as_json=False)


def _pairs(items: tuple[str, ...]) -> dict[str, str]:
    """``a=b`` options to a dict, refusing malformed ones."""
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE")
        pairs[key.strip()] = value.strip()
    return pairs


def _print_report(report: dict[str, Any], as_json: bool) -> None:
    """An import report (``ImportReport.as_dict``): a summary line, then what was refused."""
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    click.echo(f"imported {_counts_text(report['counts'])} from {report['source']}")
    for note in report["notes"]:
        click.echo(f"  note: {note}")
    for item in report["outside"]:
        click.echo(f"  outside {item['area']}: {item['record']} {item.get('name') or ''} at {item['lon']},{item['lat']} ({item['distance_km']} km away) — not imported")
    for item in report["rejected"]:
        click.echo(f"  rejected: {item['record']}: {item['reason']}")
    if report["repaired"]:
        click.echo(f"  repaired {len(report['repaired'])} invalid geometries")


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{count:,} {name}" for name, count in counts.items()) or "nothing"


@main.group()
def base() -> None:
    """The digital base: summaries and area assignment."""


@base.command()
@click.option("--area", metavar="CODE|NAME", help="Area to summarise (default: everything).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def summary(area: str | None, as_json: bool) -> None:
    """底数清: counts of buildings, population, facilities by kind and devices per area."""
    from huizhili.base.summary import summarise

    context = _run(_Context)
    with context.sessions() as session:
        result = _run(lambda: summarise(session, area, Scope.system()))
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    rows = [result, *result["children"]]
    kinds = [k for k, v in result.items() if isinstance(v, int) and k not in {"buildings", "population", "households", "devices", "parcels", "facilities"} and v]
    header = ["area", "buildings", "population", "devices", "facilities", *kinds]
    click.echo("\t".join(header))
    for index, row in enumerate(rows):
        name = ("  " if index else "") + f"{row['name']} ({row['code'] or '-'})"
        click.echo("\t".join([name, *(str(row[k] if row[k] is not None else "-") for k in header[1:])]))


@base.command()
def assign() -> None:
    """Recompute the street, committee and grid of every record (after boundaries change)."""
    from huizhili.base.assign import assign_areas

    context = _run(_Context)
    with transaction(context.sessions) as session:
        _run(lambda: assign_areas(session))
    click.echo("area assignment refreshed")


@base.command()
@click.option("--area", required=True, metavar="CODE|NAME", help="A street, or a district (every street with a boundary).")
@click.option("--size", type=float, default=100.0, show_default=True, help="Cell edge in metres (万米单元网格: 100).")
def grid(area: str, size: float) -> None:
    """Cut streets into grid cells (网格) that grid officers are scoped to; records get their cell."""
    from huizhili.base.grid import make_grid

    context = _run(_Context)
    with transaction(context.sessions) as session:
        reports = _run(lambda: make_grid(session, area, size, progress=_progress))
    click.echo(err=True)
    for report in reports:
        click.echo(f"{report.street_name} ({report.street_code}): " + (f"skipped, {report.skipped}" if report.skipped else f"{report.cells} cells"))


ORIGIN_CHOICES = ["auto", "buildings", "all-buildings", "compounds", "grid"]
ORIGINS_HELP = ("Homes walked from: buildings (tagged residential, or building=yes inside residential land use), all-buildings, "
                "compounds (residential land parcels sharing their area's residents), grid; auto: buildings, else compounds, else grid.")


@main.group()
def lifecircle() -> None:
    """The 15-minute life circle: coverage per area, and where to build next."""


@lifecircle.command(name="run")
@click.option("--area", metavar="CODE|NAME", help="Area to analyse, reported per child area (default: every street).")
@click.option("--kind", "kinds", multiple=True, help="Facility kind (repeatable; default: those with facilities nearby).")
@click.option("--distance", "distances", multiple=True, metavar="KIND=METRES", help="Override a kind's walking distance.")
@click.option("--target", "targets", multiple=True, metavar="KIND=SHARE", help="Override a kind's target share (0-1).")
@click.option("--origins", type=click.Choice(ORIGIN_CHOICES), default="auto", show_default=True, help=ORIGINS_HELP)
@click.option("--speed", type=float, default=1.0, show_default=True, help="Walking speed, m/s, for the minute tiers.")
@click.option("--cutoff", type=float, default=None, help="Report distances up to this many metres, farther ones as null (default HUIZHILI_LIFECIRCLE_CUTOFF_M, 2,000).")
def lifecircle_run(area: str | None, kinds: tuple[str, ...], distances: tuple[str, ...], targets: tuple[str, ...], origins: str, speed: float,
                   cutoff: float | None) -> None:
    """Walking distance from every home to each kind of facility; coverage, maps and an HTML report."""
    context = _run(_Context)
    parameters = {
        "area": area, "kinds": list(kinds) or None, "metres": {k: float(v) for k, v in _pairs(distances).items()},
        "targets": {k: float(v) for k, v in _pairs(targets).items()}, "speed_m_per_s": speed, "origins": origins,
        "cutoff_m": cutoff,
    }
    result = _as_job(context, "lifecircle", parameters)
    label = result["area"]["name"] if result["area"] else "all areas"
    click.echo(f"run {result['run_id']}: {label}, {result['origins']:,} {result['origin_source']} origins, "
               f"{result['method']} distances, {result['seconds']:.2f} s")
    click.echo(f"  origins — {result['origin_rule']}")
    for note in result["notes"]:
        click.echo(f"  note: {note}")
    for row in result["headline"]:
        if row["coverage"] is not None:
            target = f" (target {row['target']:.0%})" if row["target"] is not None else ""
            click.echo(f"  {row['kind']:<16} within {row['threshold_m']:>5.0f} m: {row['coverage']:6.1%}{target}")
    columns = [(row["kind"], row["threshold_m"]) for row in result["headline"]]
    click.echo("\t".join(["area", *(f"{kind} ≤{metres:.0f} m" for kind, metres in columns)]))
    table: dict[str, dict[str, float | None]] = {}
    for row in result["by_area"]:
        table.setdefault(f"{row['area_name']} ({row['area_code']})", {})[row["kind"]] = row["coverage"]
    for name, cells in table.items():
        click.echo("\t".join([name, *("-" if cells.get(kind) is None else f"{cells[kind]:.1%}" for kind, _ in columns)]))
    run_id = result["run_id"]
    click.echo(f"report: {context.settings.data_dir / 'runs' / f'lifecircle-{run_id}' / 'report.html'}")


@lifecircle.command(name="siting")
@click.option("--kind", required=True, help="Facility kind to site.")
@click.option("--distance", "threshold", type=float, required=True, help="Walking distance it should serve, metres.")
@click.option("-k", "k", type=int, default=3, show_default=True, help="How many sites to propose.")
@click.option("--area", metavar="CODE|NAME", help="Area to plan for.")
@click.option("--origins", type=click.Choice(ORIGIN_CHOICES), default="auto", show_default=True, help=ORIGINS_HELP)
def lifecircle_siting(kind: str, threshold: float, k: int, area: str | None, origins: str) -> None:
    """Propose k new sites that serve the most residents not yet within the distance."""
    context = _run(_Context)
    result = _as_job(context, "siting", {"kind": kind, "threshold_m": threshold, "k": k, "area": area, "origins": origins})
    click.echo(json.dumps(result, ensure_ascii=False, indent=2))


@main.group()
def services() -> None:
    """Citizen services."""


@services.command(name="nearest")
@click.option("--lon", type=float, required=True)
@click.option("--lat", type=float, required=True)
@click.option("--kind", required=True, help="e.g. sampling_point, health_centre, elderly_canteen.")
@click.option("-k", "k", type=int, default=5, show_default=True)
@click.option("--crs", "source_crs", default="wgs84", show_default=True, help="wgs84, gcj02 (Amap, WeChat) or bd09 (Baidu).")
def services_nearest(lon: float, lat: float, kind: str, k: int, source_crs: str) -> None:
    """The nearest facilities of a kind by walking distance, open ones first."""
    from huizhili.network.finder import NetworkCache, nearest_services

    context = _run(_Context)
    with context.sessions() as session:
        cache = NetworkCache(context.settings.data_dir / "cache")
        result = _run(lambda: nearest_services(session, cache, lon, lat, kind, k, source_crs))
    click.echo(json.dumps(result, ensure_ascii=False, indent=2))


@main.group()
def user() -> None:
    """Users, roles and API keys."""


@user.command(name="add")
@click.argument("username")
@click.option("--role", required=True, help="district_admin, district_commander, street_operator, department_handler, committee_worker, grid_officer, analyst, citizen, device or service.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, help="At least 10 characters, not a common one, not containing the username (prompted when omitted).")
@click.option("--name", "display_name", help="Display name (personal: masked by role).")
@click.option("--phone", help="Phone (personal: masked by role).")
@click.option("--street", "streets", multiple=True, metavar="CODE", help="Street code a street operator covers (repeatable).")
@click.option("--department", metavar="CODE", help="Department of a department handler (one of 'huizhili department list').")
@click.option("--committee", "committees", multiple=True, metavar="CODE", help="Residential committee (12 digits) a committee worker covers (repeatable).")
@click.option("--grid", "grid_cells", multiple=True, metavar="CODE", help="Grid cell a grid officer covers (repeatable).")
def user_add(username: str, role: str, password: str, display_name: str | None, phone: str | None,
             streets: tuple[str, ...], department: str | None, committees: tuple[str, ...], grid_cells: tuple[str, ...]) -> None:
    """Create a user."""
    from huizhili.identity.accounts import create_user

    context = _run(_Context)
    with transaction(context.sessions) as session:
        _run(lambda: create_user(session, username, role, password=password, display_name=display_name, phone=phone,
                                 streets=streets, department=department, committees=committees, grid_cells=grid_cells))
    click.echo(f"user {username} ({role}) created")


@user.command(name="api-key")
@click.argument("username")
@click.option("--name", required=True, help="What uses the key, e.g. 'open311 app'.")
def user_api_key(username: str, name: str) -> None:
    """Issue an API key for a user; it is printed once."""
    from huizhili.identity.accounts import create_api_key

    context = _run(_Context)
    with transaction(context.sessions) as session:
        key_id, key = _run(lambda: create_api_key(session, username, name))
    click.echo(key)
    click.echo(f"API key {key_id} of {username}; revoke it with: huizhili user revoke-key {username} {key_id}", err=True)


@user.command(name="api-keys")
@click.argument("username")
def user_api_keys(username: str) -> None:
    """List a user's API keys (id, name, issued, revoked); the keys themselves are never stored."""
    from huizhili.identity.accounts import api_keys

    context = _run(_Context)
    with transaction(context.sessions) as session:
        keys = _run(lambda: api_keys(session, username))
    for key in keys:
        revoked = f"revoked {key.revoked_at.isoformat()}" if key.revoked_at else "active"
        click.echo(f"{key.id}\t{key.name or ''}\tissued {key.created_at.isoformat()}\t{revoked}")


@user.command(name="revoke-key")
@click.argument("username")
@click.argument("key_id", type=int)
def user_revoke_key(username: str, key_id: int) -> None:
    """Revoke one API key of a user (ids from 'huizhili user api-keys'); refused from the next request on."""
    from huizhili.identity.accounts import revoke_api_key

    context = _run(_Context)
    with transaction(context.sessions) as session:
        _run(lambda: revoke_api_key(session, username, key_id))
    click.echo(f"API key {key_id} of {username} revoked")


@user.command(name="close")
@click.argument("username")
def user_close(username: str) -> None:
    """Close an account: sign-in refused, tokens and keys revoked; name and phone erased after the retention period."""
    from huizhili.identity.accounts import close_account

    context = _run(_Context)
    with transaction(context.sessions) as session:
        _run(lambda: close_account(session, username))
    click.echo(f"account {username} closed; its tokens and keys are revoked")


@main.group()
def department() -> None:
    """The district's departments (委办局), which users, devices and facilities name by code."""


@department.command(name="add")
@click.argument("code")
@click.option("--name", required=True, help="Full Chinese name, e.g. 徐汇区卫生健康委员会.")
@click.option("--name-en", help="English name.")
@click.option("--street", "street_code", help="For a street office (街道办事处): its street's code; cases routed to @street there reach it.")
@click.option("--committee", "committee_code",
              help="For a residential committee's office (居委会): its committee's code; cases routed to @committee there reach it.")
def department_add(code: str, name: str, name_en: str | None, street_code: str | None, committee_code: str | None) -> None:
    """Add a department; CODE is the short name records give, e.g. 卫生健康委."""
    from huizhili.departments import DepartmentSpec, add_department

    context = _run(_Context)
    with transaction(context.sessions) as session:
        _run(lambda: add_department(session, DepartmentSpec(code, name, name_en, street_code, committee_code)))
    click.echo(f"department {code} ({name}) added")


@department.command(name="list")
def department_list() -> None:
    """List the departments: code, name, English name."""
    from huizhili.departments import list_departments

    context = _run(_Context)
    with context.sessions() as session:
        for row in list_departments(session, Scope.system()):
            click.echo(f"{row.code}\t{row.name}\t{row.name_en or ''}")


@main.command()
@click.option("--dry-run", is_flag=True, help="Only count what would be erased or deleted.")
def retention(dry_run: bool) -> None:
    """Apply the retention settings now: erase closed accounts' personal fields, drop old access-log entries and events.

    A running `huizhili worker` does this once a day by itself; it is idempotent.
    """
    context = _run(_Context)
    result = _as_job(context, "retention", {"dry_run": dry_run})
    verb = "would be" if dry_run else "were"
    for outcome in result["outcomes"]:
        before = datetime.fromisoformat(outcome["before"])
        click.echo(f"{outcome['resource']:<12} {outcome['records']:>8,} {verb} {outcome['action']} (ended before {before:%Y-%m-%d %H:%M} UTC)")


@main.group()
def mqtt() -> None:
    """Device credentials and the Mosquitto broker's password and ACL files."""


@mqtt.command(name="device")
@click.argument("code")
def mqtt_device(code: str) -> None:
    """Create a device's broker account; prints username and password once."""
    from huizhili.identity.accounts import create_device_account

    context = _run(_Context)
    with transaction(context.sessions) as session:
        account, password = _run(lambda: create_device_account(session, code))
    click.echo(f"{account.username} {password}")


@mqtt.command(name="service")
@click.argument("username")
def mqtt_service(username: str) -> None:
    """Give a service account (the ingest) a broker password to read all device topics; printed once."""
    from huizhili.identity.broker import issue_service_password

    context = _run(_Context)
    with transaction(context.sessions) as session:
        password = _run(lambda: issue_service_password(session, username))
    click.echo(password)


@mqtt.command(name="config")
@click.argument("folder", type=click.Path(path_type=Path))
def mqtt_config(folder: Path) -> None:
    """Write Mosquitto's passwd and acl files into FOLDER (then SIGHUP the broker)."""
    from huizhili.identity.broker import write_broker_files

    context = _run(_Context)
    with context.sessions() as session:
        passwd, acl = write_broker_files(session, folder)
    click.echo(f"wrote {passwd} and {acl}; in mosquitto.conf: password_file {passwd.resolve()}, acl_file {acl.resolve()}, allow_anonymous false")


@main.group()
def devices() -> None:
    """The device registry: provisioning devices from a spreadsheet, with their broker credentials."""


@devices.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--credentials-out", type=click.Path(dir_okay=False, path_type=Path), default=Path("device-credentials.csv"),
              show_default=True, help="Where new devices' broker usernames and passwords are written (readable by you only).")
def devices_import(file: Path, credentials_out: Path) -> None:
    """Register or update the devices in FILE (CSV: code, kind, lon, lat, …) and issue broker credentials.

    New devices get broker passwords and the broker's passwd and acl files are rewritten. Rows
    that cannot be taken are listed with their line and reason; the rest go in.
    """
    from huizhili.sensing.devices import provision
    from huizhili.spreadsheet import csv_text

    context = _run(_Context)
    settings = context.settings
    with transaction(context.sessions) as session:
        result = _run(lambda: provision(session, file, broker_dir=settings.resolved_broker_dir,
                                        local_timezone=settings.local_timezone, no_data_intervals=settings.no_data_intervals))
        if result.credentials:
            credentials_out.touch(mode=0o600)
            rows = [{"device": d, "username": u, "password": p} for d, u, p in result.credentials]
            credentials_out.write_text(csv_text(rows, ["device", "username", "password"]))
    click.echo(f"{len(result.created)} devices created, {len(result.updated)} updated, {len(result.rejected)} rows refused")
    for refusal in result.rejected:
        click.echo(f"  line {refusal['line']}: {refusal['code'] or '(no code)'}: {refusal['reason']}", err=True)
    if result.credentials:
        click.echo(f"broker credentials of {len(result.credentials)} devices written to {credentials_out} (shown nowhere else)")
    if result.broker_files:
        click.echo(f"broker files rewritten: {result.broker_files[0]}, {result.broker_files[1]}; signal Mosquitto (SIGHUP) to reload")


@main.group()
def sensing() -> None:
    """Sensing: alerts, vital signs, replaying recorded series, scoring series for anomalies."""


@sensing.command(name="detect")
@click.option("--csv", "source", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A timestamp,value CSV (NAB's format).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Where timestamp,value,anomaly_score is written.")
def sensing_detect(source: Path, out: Path) -> None:
    """Score every point of a series for anomaly (0–1) using only the points before it; NAB's result format."""
    from huizhili.sensing.detectors import score_csv

    rows = _run(lambda: score_csv(source, out))
    click.echo(f"scored {rows:,} rows → {out}")


@sensing.command(name="replay")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--device", required=True, help="The device code the values come from.")
@click.option("--metric", required=True, help="The metric they are.")
@click.option("--speed", type=float, default=0.0, show_default=True,
              help="Seconds of the series per second of replay (3600: an hour a second); 0 as fast as it goes.")
@click.option("--to", default=None, help="A running platform to send to: http(s)://HOST:PORT (with --key) or "
              "mqtt://USER:PASSWORD@HOST:PORT (the device's broker account). Default: this platform, in-process.")
@click.option("--key", default=None, help="The device's API key, for --to http(s)://….")
def sensing_replay(file: Path, device: str, metric: str, speed: float, to: str | None, key: str | None) -> None:
    """Replay a timestamp,value CSV as the device's observations.

    In-process, on the series' own clock: alerts, no-data ones too, are raised at the series'
    times, as they would have been live. With --to, sent as the device would send them, over
    HTTP or MQTT, paced by --speed; that platform's clock is its own.
    """
    import time

    from huizhili.sensing.ingest import Limits
    from huizhili.sensing.pipeline import library
    from huizhili.sensing.replay import read_series, replay_in_process, send

    points = _run(lambda: read_series(file))
    started, first, done = time.monotonic(), points[0].at if points else None, [0]

    def pace(point: Any) -> None:
        if speed > 0 and first is not None:
            time.sleep(max(0.0, (point.at - first).total_seconds() / speed - (time.monotonic() - started)))
        done[0] += 1
        if done[0] % 100 == 0:
            _progress("replayed", done[0])

    if to:
        accepted = _run(lambda: send(points, device, metric, to, key=key, on_point=pace))
        click.echo("", err=True)
        click.echo(f"{accepted:,} of {len(points):,} values sent to {to.split('@')[-1]} accepted for {device} {metric}")
        return
    context = _run(_Context)
    stored = _run(lambda: replay_in_process(context.sessions, points, device, metric, Limits.of(context.settings),
                                            library(context.settings), on_point=pace))
    click.echo("", err=True)
    click.echo(f"{stored:,} of {len(points):,} values stored for {device} {metric}")


@sensing.command(name="alerts")
@click.option("--active", is_flag=True, help="Only open or acknowledged alerts.")
def sensing_alerts(active: bool) -> None:
    """The newest alerts: level, state, when, what."""
    from huizhili.policy import Scope
    from huizhili.sensing.alerts import list_alerts
    from huizhili.storage.models import ALERT_LEVELS

    context = _run(_Context)
    with context.sessions() as session:
        for alert in list_alerts(session, Scope.system(), state="active" if active else None, limit=50):
            click.echo(f"{alert.id:>6} {ALERT_LEVELS[alert.level - 1]:<6} {alert.state:<12} {alert.opened_at:%Y-%m-%d %H:%M} "
                       f"{alert.title.get('zh', alert.rule)}")


@sensing.command(name="vitals")
def sensing_vitals() -> None:
    """Each vital sign's current value and level per area."""
    from huizhili.policy import Scope
    from huizhili.sensing.pipeline import library
    from huizhili.sensing.vitals import vital_signs

    context = _run(_Context)
    with context.sessions() as session:
        for sign in vital_signs(session, Scope.system(), library(context.settings).indicators):
            click.echo(f"{sign['zh']:<16} {sign['area_name'] or sign['area_code']:<14} {sign['value']:>8.1f} {sign['unit'] or '':<6} "
                       f"{sign['level'] or '-':<6} {sign['at']}")


@main.group()
def cases() -> None:
    """Cases (一网统管): take reports, list and follow them, take them along the workflow; the owner registry; the calendar."""


def _principal(session: Any, username: str | None) -> Any:
    """The operator himself (the CLI's full rights), or the stored user named by --as, acting with his role and scope."""
    import sqlalchemy as sa

    from huizhili.errors import NotFoundError
    from huizhili.policy import Principal
    from huizhili.policy.principal import UNRESTRICTED
    from huizhili.storage.models import User

    if username is None:
        return UNRESTRICTED
    user = session.scalar(sa.select(User).where(User.username == username, User.active.is_(True)))
    if user is None:
        message = f"no active user {username!r}"
        raise NotFoundError(message)
    return Principal.of(user)


@cases.command(name="report")
@click.option("--title", required=True, help="What is wrong, in a line.")
@click.option("--description", default="", help="The caller's words.")
@click.option("--lon", type=float, help="Longitude (with --lat).")
@click.option("--lat", type=float, help="Latitude (with --lon).")
@click.option("--crs", type=click.Choice(["wgs84", "gcj02", "bd09"]), default="wgs84", show_default=True)
@click.option("--place", help="A place the digital base knows, instead of a position.")
@click.option("--category", help="The category, if the operator chose it (else the case waits for filing).")
@click.option("--name", "reporter_name", help="The caller's name (personal: masked by role).")
@click.option("--phone", "reporter_phone", help="The caller's phone (personal: masked by role).")
@click.option("--channel", type=click.Choice(["hotline", "patrol", "import"]), default="hotline", show_default=True)
@click.option("--ref", "external_ref", help="Its number in the channel's system (a 12345 工单号).")
@click.option("--as", "username", help="Act as this user (his role and scope); default: the operator, with full rights.")
def cases_report(username: str | None, **fields: Any) -> None:
    """Take a report in: a new case, or one more signal of the open case of the same incident."""
    from huizhili.cases.flow import case_flow
    from huizhili.cases.intake import Report, report_case
    from huizhili.policy import scope_for
    from huizhili.storage.models import utcnow

    context = _run(_Context)
    with transaction(context.sessions) as session:
        principal = _run(lambda: _principal(session, username))
        intake = _run(lambda: report_case(session, scope_for(principal), principal, case_flow(context.settings),
                                          Report(**fields), utcnow()))
        case = intake.case
        verb = "linked to open case" if intake.linked else "new case"
        click.echo(f"{verb} {case.number}: {case.state}, {case.category or 'awaiting a category'}, {case.department or 'no unit yet'}"
                   f", due {case.due_at:%Y-%m-%d %H:%M} UTC" if case.due_at else f"{verb} {case.number}: {case.state}")


@cases.command(name="list")
@click.option("--state", help="Only cases in this state.")
@click.option("--overdue", is_flag=True, help="Only cases past their time limit.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
def cases_list(state: str | None, overdue: bool, limit: int) -> None:
    """The newest cases: number, state, category, unit, due time, title."""
    from huizhili.cases.flow import case_flow
    from huizhili.cases.reading import CaseQuery, list_cases

    context = _run(_Context)
    with context.sessions() as session:
        query = CaseQuery(state=state, overdue=True if overdue else None, limit=limit)
        for case in _run(lambda: list_cases(session, Scope.system(), case_flow(context.settings), query)):
            due = f"{case.due_at:%Y-%m-%d %H:%M}" if case.due_at else "-"
            click.echo(f"{case.number} {case.state:<12} {case.category or '-':<8} {case.department or '-':<10} {due} {case.title}")


@cases.command(name="show")
@click.argument("number")
def cases_show(number: str) -> None:
    """One case and its whole trail."""
    from huizhili.cases.reading import case_by_number, trail

    context = _run(_Context)
    with context.sessions() as session:
        case = _run(lambda: case_by_number(session, Scope.system(), number))
        click.echo(f"{case.number} {case.state} {case.category or '-'} {case.department or '-'}: {case.title}")
        for step in trail(session, case):
            click.echo(f"  {step.at:%Y-%m-%d %H:%M:%S} {step.action:<22} {step.actor} ({step.role}) "
                       f"{step.from_state or '-'} → {step.to_state} {step.note or ''}")


@cases.command(name="act")
@click.argument("number")
@click.argument("action")
@click.option("--note")
@click.option("--reason")
@click.option("--department", help="The unit to dispatch to, or that owns it (settle).")
@click.option("--category")
@click.option("--satisfaction", type=click.IntRange(1, 3), help="1 unsatisfied, 2 basically, 3 satisfied.")
@click.option("--until", type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z"]), help="A postponement's new deadline, with its zone.")
@click.option("--into", "into_number", help="The number of the case to merge into.")
@click.option("--signal", "signals", type=int, multiple=True, help="A report (signal id) that splits off; repeat for several.")
@click.option("--photo", "photos", type=click.Path(exists=True, dir_okay=False, path_type=Path), multiple=True,
              help="A photo (JPEG, PNG or WebP) the step documents; repeat for several.")
@click.option("--public-photos", is_flag=True, help="The photos show nothing private: shown with the step if it is public.")
@click.option("--as", "username", help="Act as this user (his role and scope); default: the operator, with full rights.")
def cases_act(number: str, action: str, username: str | None, into_number: str | None, signals: tuple[int, ...],
              photos: tuple[Path, ...], public_photos: bool, **fields: Any) -> None:
    """Take ACTION (accept, handle, verify, close, …) on case NUMBER; refused with the allowed actions named."""
    from huizhili.cases.flow import case_flow
    from huizhili.cases.handling import Step, act
    from huizhili.cases.photos import add_photo, photo_store
    from huizhili.cases.reading import case_by_number
    from huizhili.policy import scope_for
    from huizhili.storage.models import utcnow

    context = _run(_Context)
    with transaction(context.sessions) as session:
        principal = _run(lambda: _principal(session, username))
        scope = scope_for(principal)
        case = _run(lambda: case_by_number(session, scope, number))
        into = _run(lambda: case_by_number(session, scope, into_number).id) if into_number else None
        store = photo_store(context.settings)
        pictures = _run(lambda: tuple(add_photo(session, scope, store, principal, case.id, path.name, path.read_bytes(), utcnow(),
                                                public=public_photos).id for path in photos))
        changed = _run(lambda: act(session, scope, principal, case_flow(context.settings), case.id, action,
                                   Step(into=into, signals=signals or None, photos=pictures or None, **fields), utcnow()))
        click.echo(f"{changed.number}: {changed.state}, {changed.department or 'no unit'}")


@cases.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--map", "mapping", multiple=True, metavar="FIELD=COLUMN",
              help="Which column holds a field (title, description, received_at, category, address, reporter_name, "
                   "reporter_phone, external_ref, lon, lat, place, asset_ref); default the usual 12345 export's header.")
@click.option("--crs", type=click.Choice(["wgs84", "gcj02", "bd09"]), default="wgs84", show_default=True)
def cases_import(file: Path, mapping: tuple[str, ...], crs: str) -> None:
    """Take a 12345 export (CSV or Excel) in as cases, all or nothing: the first bad row is named and nothing is written."""
    from huizhili.cases.flow import case_flow
    from huizhili.cases.hotline_import import import_hotline
    from huizhili.policy.principal import UNRESTRICTED
    from huizhili.storage.models import utcnow

    columns = _pairs(mapping)
    context = _run(_Context)
    with transaction(context.sessions) as session:
        done = _run(lambda: import_hotline(session, UNRESTRICTED, case_flow(context.settings), file, utcnow(),
                                           mapping=columns, crs=crs))
    click.echo(f"{len(done.created)} new cases, {len(done.linked)} rows linked to an open case of the same incident, "
               f"{len(done.skipped)} rows imported before and skipped")


@cases.command(name="train")
@click.option("--csv", "source", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="Categorised messages (UTF-8 CSV with a header).")
@click.option("--text-cols", required=True, help="The columns whose text, joined, is the message, comma-separated (e.g. title,detail).")
@click.option("--label-col", required=True, help="The column with each message's category.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The model file to write (data_dir/models/case-classifier.zip is the one intake uses).")
def cases_train(source: Path, text_cols: str, label_col: str, out: Path) -> None:
    """Train the classifier of reports' categories, cross-validated; the model file holds no code (no pickle)."""
    from huizhili.cases.classifier import save, train_csv

    click.echo(f"training on {source.name} …", err=True)
    model = _run(lambda: train_csv(source, [c.strip() for c in text_cols.split(",") if c.strip()], label_col))
    out.parent.mkdir(parents=True, exist_ok=True)
    save(model, out)
    scores = model.record.cross_validation
    click.echo(f"trained on {model.record.messages} messages, {len(model.labels)} categories; {scores.folds}-fold "
               f"cross-validation: macro-F1 {scores.macro_f1:.3f}, accuracy {scores.accuracy:.3f}; written to {out}")


@cases.command(name="classify")
@click.option("--model", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--csv", "source", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--text-cols", required=True, help="The message's columns, comma-separated, as when the model was trained.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The CSV written: the input's rows in order, with prediction and confidence.")
def cases_classify(model: Path, source: Path, text_cols: str, out: Path) -> None:
    """Categorise every message of a CSV with a trained model."""
    from huizhili.cases.classifier import classify_csv, load

    classifier = _run(lambda: load(model))
    predictions = _run(lambda: classify_csv(classifier, source, [c.strip() for c in text_cols.split(",") if c.strip()], out))
    click.echo(f"{len(predictions)} messages categorised into {out}")


@cases.command(name="kpis")
@click.option("--by", type=click.Choice(["department", "street", "committee", "category", "channel", "month", "day"]),
              default="street", show_default=True)
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Cases received from this local day (default 30 days ago).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Cases received before this local day (default now).")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the table as CSV.")
@click.option("--png", "png_out", type=click.Path(dir_okay=False, path_type=Path), help="Also draw the on-time rate per group.")
def cases_kpis(by: str, since: datetime | None, until: datetime | None, csv_out: Path | None, png_out: Path | None) -> None:
    """综合评价: closure, on-time, rework and satisfaction rates and handling hours per group."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from huizhili.cases.evaluation import Period, chart, evaluate
    from huizhili.cases.flow import case_flow
    from huizhili.spreadsheet import csv_text
    from huizhili.storage.models import utcnow

    context = _run(_Context)
    zone = ZoneInfo(context.settings.local_timezone)
    end = until.replace(tzinfo=zone) if until else utcnow()
    period = Period(since.replace(tzinfo=zone) if since else end - timedelta(days=30), end)
    with context.sessions() as session:
        rows = _run(lambda: evaluate(session, Scope.system(), case_flow(context.settings), by, period))
    click.echo(f"{'group':<16} {'cases':>6} {'patrol':>6} {'closed':>6} {'结案率':>7} {'按期率':>7} {'返工率':>7} {'满意率':>7} {'P90 h':>7}")
    for row in rows:
        rates = [f"{row[k]:.0%}" if row[k] is not None else "-" for k in ("closure_rate", "on_time_rate", "rework_rate", "satisfaction_rate")]
        p90 = f"{row['p90_hours']:.1f}" if row["p90_hours"] is not None else "-"
        click.echo(f"{str(row['name'] or '-'):<16} {row['cases']:>6} {row['patrol']:>6} {row['closed']:>6} "
                   + " ".join(f"{r:>7}" for r in rates) + f" {p90:>7}")
    if csv_out:
        csv_out.write_text(csv_text(rows, list(rows[0]) if rows else ["key"]), encoding="utf-8")
    if png_out:
        png_out.write_bytes(chart(rows, "on_time_rate", f"{period.start:%Y-%m-%d} – {period.end:%Y-%m-%d}"))


@cases.command(name="hotspots")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Cases received from this local day (default 30 days ago).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Cases received before this local day (default now).")
@click.option("--category", help="Only cases of this category.")
@click.option("--street", help="Only cases in this street (its code).")
@click.option("--radius", "radius_m", type=float, default=150.0, show_default=True, help="Metres within which cases are neighbours.")
@click.option("--min-cases", type=int, default=5, show_default=True, help="Cases within the radius that make a hotspot.")
@click.option("--open-only", is_flag=True, help="Only cases still being worked on.")
@click.option("--csv", "csv_out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the hotspots as CSV.")
@click.option("--png", "png_out", type=click.Path(dir_okay=False, path_type=Path), help="Also draw them on a map.")
def cases_hotspots(since: datetime | None, until: datetime | None, csv_out: Path | None, png_out: Path | None,
                   **filters: Any) -> None:
    """热点: where cases cluster (DBSCAN within --radius), most cases first, for proactive discovery."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from huizhili.cases.evaluation import Period
    from huizhili.cases.flow import case_flow
    from huizhili.cases.hotspots import hotspot_map, hotspots, hotspots_csv
    from huizhili.storage.models import utcnow

    context = _run(_Context)
    zone = ZoneInfo(context.settings.local_timezone)
    end = until.replace(tzinfo=zone) if until else utcnow()
    period = Period(since.replace(tzinfo=zone) if since else end - timedelta(days=30), end)
    flow = case_flow(context.settings)
    with context.sessions() as session:
        found = _run(lambda: hotspots(session, Scope.system(), flow, period, **filters))
        png = _run(lambda: hotspot_map(session, Scope.system(), flow, period, **filters)) if png_out else None
    click.echo(f"{'#':>3} {'cases':>6} {'open':>5} {'lon':>11} {'lat':>10} {'r (m)':>6}  {'street':<12} categories")
    for h in found:
        street = (h.streets[0].name or h.streets[0].code or "-") if h.streets else "-"
        kinds = ", ".join(f"{c.zh} {c.cases}" for c in h.categories)
        click.echo(f"{h.rank:>3} {h.cases:>6} {h.open_cases:>5} {h.lon:>11.6f} {h.lat:>10.6f} {h.radius_m:>6.0f}  {street:<12} {kinds}")
    if csv_out:
        csv_out.write_text(hotspots_csv(found), encoding="utf-8")
    if png_out and png is not None:
        png_out.write_bytes(png)


@cases.command(name="owners")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def cases_owners(file: Path) -> None:
    """Load the owner registry from FILE (CSV: ref, kind, lon, lat, owner_department), all or nothing."""
    from huizhili.cases.owners import import_owners

    context = _run(_Context)
    with transaction(context.sessions) as session:
        count = _run(lambda: import_owners(session, file))
    click.echo(f"{count} assets registered with their owners")


@cases.command(name="calendar")
@click.argument("notice", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--year", type=click.IntRange(2000, 2100), required=True, help="The year the notice schedules.")
def cases_calendar(notice: Path, year: int) -> None:
    """Load a year's public holidays from the State Council's notice (its text, as published) into the calendar.

    The schedule is checked (each weekday against its date, each holiday's day count) and kept
    in data_dir/holidays/<year>.toml, where deadlines are counted from then on.
    """
    from huizhili.cases.calendar import parse_notice, write_year

    context = _run(_Context)
    schedule = _run(lambda: parse_notice(notice.read_text(encoding="utf-8"), year))
    path = write_year(schedule, context.settings.data_dir / "holidays")
    click.echo(f"{year}: {len(schedule.holidays)} holidays, "
               f"{sum(len(h.makeup_working_days) for h in schedule.holidays)} make-up working days, written to {path}")
    for holiday in schedule.holidays:
        makeup = ", ".join(f"{d:%m-%d}" for d in holiday.makeup_working_days) or "none"
        click.echo(f"  {holiday.name} {holiday.first:%m-%d}–{holiday.last:%m-%d} (make-up days: {makeup})")


@main.group()
def db() -> None:
    """Database schema."""


@db.command()
def upgrade() -> None:
    """Apply pending migrations (every command does this too)."""
    context = _run(_Context)
    click.echo(f"database at {context.settings.resolved_database_url} is up to date")


@main.group()
def programmes() -> None:
    """Programmes (旧改, 架空线入地, 邻里汇 …), their projects and progress, and the district's targets."""


@programmes.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(["programmes", "projects"]), required=True, help="What the list holds.")
@click.option("--valid-only", is_flag=True, help="Write the good rows and name the bad ones (default: all or nothing).")
@click.option("--as", "username", help="Import as this user (his role and scope); default: the operator, with full rights.")
def programmes_import(file: Path, kind: str, valid_only: bool, username: str | None) -> None:
    """Import a programme or project list (CSV or Excel): all or nothing, the first bad row named; or --valid-only."""
    from huizhili.policy import scope_for
    from huizhili.programmes.importing import import_list

    context = _run(_Context)
    with transaction(context.sessions) as session:
        scope = scope_for(_run(lambda: _principal(session, username)))
        done = _run(lambda: import_list(session, scope, file, kind, valid_only=valid_only))
    click.echo(f"{len(done.written)} {kind} written 已写入, {len(done.refused)} rows refused 拒绝")
    for row in done.refused:
        click.echo(f"  line {row.line}: {row.error}")


@programmes.command(name="list")
def programmes_list() -> None:
    """Every programme: code, kind, unit, period, and its projects by status."""
    from huizhili.programmes.records import list_programmes

    context = _run(_Context)
    with context.sessions() as session:
        for programme, counts in list_programmes(session, Scope.system()):
            statuses = ", ".join(f"{status} {count}" for status, count in counts.items() if count)
            click.echo(f"{programme.code:<14} {programme.kind:<22} {programme.owner_department or '-':<8} "
                       f"{programme.period_start or '-'}–{programme.period_end or '-'} {programme.name} ({statuses or 'no projects'})")


@programmes.command(name="show")
@click.argument("code")
def programmes_show(code: str) -> None:
    """One programme's projects: id, number, status, street, planned and done amounts, name."""
    from huizhili.programmes.records import get_programme, list_projects

    context = _run(_Context)
    with context.sessions() as session:
        programme = _run(lambda: get_programme(session, Scope.system(), code))
        click.echo(f"{programme.code} {programme.name} / {programme.name_en or '-'}")
        _, projects = list_projects(session, Scope.system(), programme=code, limit=10_000)
        for project in projects:
            click.echo(f"  {project.id:>6} {project.source_ref:<10} {project.status:<12} {project.street_code or '-':<10} "
                       f"planned {json.dumps(project.quantities)} done {json.dumps(project.done)} {project.name}")


@programmes.command(name="progress")
@click.argument("project_id", type=int)
@click.option("--status", type=click.Choice(["planned", "in_progress", "done", "suspended"]), required=True)
@click.option("--done", "amounts", multiple=True, metavar="UNIT=AMOUNT",
              help="Done by now, cumulative (households, m2, km, count); repeat for several.")
@click.option("--note", help="What happened.")
@click.option("--evidence", help="Where the evidence is: a photo's or document's file name or address.")
@click.option("--as", "username", help="Report as this user (his role and scope); default: the operator, with full rights.")
def programmes_progress(project_id: int, status: str, amounts: tuple[str, ...], note: str | None, evidence: str | None,
                        username: str | None) -> None:
    """Report PROJECT_ID's progress (appended, never changed)."""
    from zoneinfo import ZoneInfo

    from huizhili.policy import scope_for
    from huizhili.programmes.records import ProgressReport, record_progress
    from huizhili.storage.models import utcnow

    done = {}
    for unit, amount in _pairs(amounts).items():
        try:
            done[unit] = float(amount)
        except ValueError as error:
            raise click.BadParameter(f"{amount!r} is not a number 不是数字", param_hint="--done") from error
    context = _run(_Context)
    now = utcnow()
    with transaction(context.sessions) as session:
        principal = _run(lambda: _principal(session, username))
        entry = _run(lambda: record_progress(session, scope_for(principal), principal, project_id,
                                             ProgressReport(status=status, done=done, note=note, evidence=evidence), now,
                                             now.astimezone(ZoneInfo(context.settings.local_timezone)).date()))
        click.echo(f"project {project_id}: {entry.status}, done {json.dumps(entry.done)} (report {entry.id})")


@programmes.command(name="targets")
@click.argument("code", required=False)
@click.option("--json", "as_json", is_flag=True, help="The whole status as JSON.")
def programmes_targets(code: str | None, as_json: bool) -> None:
    """Every target (or CODE's): value, goal, forecast to the deadline and status, per district and street."""
    from huizhili.cases.flow import case_flow
    from huizhili.programmes.targets import get_target, target_status, targets_status
    from huizhili.storage.models import utcnow

    context = _run(_Context)
    flow = case_flow(context.settings)
    with context.sessions() as session:
        scope = Scope.system()
        found = ([_run(lambda: target_status(session, scope, get_target(session, scope, code), utcnow(), flow))] if code
                 else targets_status(session, scope, utcnow(), flow))
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    for target in found:
        click.echo(f"{target['code']} {target['name']} / {target['name_en'] or '-'}: goal {target['goal']:g} {target['unit']} "
                   f"by {target['deadline']}")
        for row in target["rows"]:
            value = "-" if row["value"] is None else f"{row['value']:g}"
            ahead = "-" if row["forecast"] is None else f"{row['forecast']:g}"
            click.echo(f"  {row['area_code']:<10} {row['area_name']:<12} now {value:<8} forecast {ahead:<8} {row['status'] or '-'}")


def _load_programmes_demo(context: _Context) -> None:
    """The demo's programmes and targets (the district's goals, illustrative projects), after its first life circle."""
    from huizhili.programmes.demo import load_programmes_demo

    with transaction(context.sessions) as session:
        loaded = _run(lambda: load_programmes_demo(session))
    click.echo(f"programmes: {loaded.programmes} programmes, {loaded.projects} projects, {loaded.progress} progress reports, "
               f"{loaded.targets} targets")
