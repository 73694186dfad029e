"""The sensing demo: two devices with real recorded series, replayed so that their latest values are now.

The Xuhui station's PM2.5 from 15 November 2013 up to the evening of the 6 December smog, and a
fortnight of a Melbourne busy street's pedestrian counts as a 徐家汇 busy point (Xuhui publishes
none), both moved in time so that they end at the current hour. Replayed through the real
pipeline on their own clock, they leave what a running platform would show: current values and
vital signs, alerts raised and resolved along the way, and the red PM2.5 warning still open.
The files and their licences are listed in this folder's ``README.md``.
"""

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from huizhili.config import Settings
from huizhili.sensing.devices import provision
from huizhili.sensing.ingest import Limits
from huizhili.sensing.pipeline import library
from huizhili.sensing.replay import read_series, replay_in_process
from huizhili.storage.engine import transaction
from huizhili.storage.models import utcnow

FOLDER = Path(__file__).parent
SERIES = (
    ("XH-PM25-DEMO", "pm25", "pm25-xuhui-2013-11-15_2013-12-31.csv", datetime.fromisoformat("2013-12-06T18:00:00+08:00")),
    ("XJH-CROWD-DEMO", "people", "pedestrians-melbourne-bourke-st-2016-03-01_2016-03-14.csv", None),
)
"""Device, metric, file, and where the replay stops (None: the file's end)."""


def load_sensing_demo(sessions: sessionmaker[Session], settings: Settings, now: datetime | None = None) -> dict[str, int]:
    """Provision the demo devices and replay their series to end at the current hour; values stored per device."""
    with transaction(sessions) as session:
        provision(session, FOLDER / "devices.csv", broker_dir=settings.resolved_broker_dir,
                  local_timezone=settings.local_timezone, no_data_intervals=settings.no_data_intervals)
    hour = (now or utcnow()).replace(minute=0, second=0, microsecond=0)
    limits, rules = Limits.of(settings), library(settings)
    stored = {}
    for device, metric, name, until in SERIES:
        points = [p for p in read_series(FOLDER / name) if until is None or p.at <= until]
        shift = hour - points[-1].at
        moved = [replace(p, at=p.at + shift) for p in points]
        stored[device] = replay_in_process(sessions, moved, device, metric, limits, rules, tick=timedelta(hours=1),
                                           commit_each=False)
    return stored



