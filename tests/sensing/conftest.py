"""Fixtures of the sensing tests: devices provisioned in the Xuhui demo."""

from pathlib import Path

import pytest
import sqlalchemy as sa
from samples import DEVICES_CSV
from sqlalchemy.orm import Session, sessionmaker

from huizhili.sensing.devices import Provisioned, provision
from huizhili.storage.engine import transaction
from huizhili.storage.models import Device


@pytest.fixture
def provisioned(xuhui: sessionmaker[Session], tmp_path: Path) -> Provisioned:
    """The sample devices provisioned into the demo, with their broker credentials."""
    path = tmp_path / "devices.csv"
    path.write_text(DEVICES_CSV, encoding="utf-8")
    with transaction(xuhui) as session:
        return provision(session, path, broker_dir=tmp_path / "broker", local_timezone="Asia/Shanghai", no_data_intervals=3)


@pytest.fixture
def device_passwords(provisioned: Provisioned) -> dict[str, str]:
    """Device code → its broker password."""
    return {code: password for code, _, password in provisioned.credentials}


@pytest.fixture
def devices(xuhui: sessionmaker[Session], provisioned: Provisioned) -> dict[str, int]:
    """The sample devices: code → id."""
    with xuhui() as session:
        return dict(session.execute(sa.select(Device.code, Device.id).where(Device.source_ref.is_(None))).all())
