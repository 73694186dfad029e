"""Devices from a file: keyed by source like every other target, codes unique across sources.

Done when: a device file imports with its fields and streets, importing it again replaces
its devices (reported), and a code another source already holds, or one given twice, fails
naming the record with nothing written.
"""

import pytest
import sqlalchemy as sa
from conftest import row_counts

from huizhili.base.importers import import_file
from huizhili.errors import ImportFailed
from huizhili.storage.engine import transaction
from huizhili.storage.models import Device

SENSORS = "id,code,sensor_kind,owner_department,lon,lat\n1,PM-001,pm25,生态环境局,121.437,31.192\n2,NS-001,noise,绿化市容局,121.452,31.166\n"


def import_devices(sessions, path, **options):
    with transaction(sessions) as session:
        return import_file(session, path, "device", **options)


def stored_devices(sessions) -> list[tuple]:
    with sessions() as session:
        return [tuple(r) for r in session.execute(sa.select(Device.source_ref, Device.code, Device.sensor_kind, Device.owner_department, Device.street_code).order_by(Device.code))]


@pytest.fixture
def sensors(tmp_path):
    path = tmp_path / "sensors.csv"
    path.write_text(SENSORS, encoding="utf-8")
    return path


def test_a_device_file_imports_with_fields_and_streets(xuhui, sensors):
    report = import_devices(xuhui, sensors)
    assert report.counts == {"devices": 2}
    assert stored_devices(xuhui) == [
        ("sensors:2", "NS-001", "noise", "绿化市容局", "310104016"),
        ("sensors:1", "PM-001", "pm25", "生态环境局", "310104014"),
    ]


def test_importing_a_device_file_again_replaces_its_devices(xuhui, sensors):
    import_devices(xuhui, sensors)
    sensors.write_text(SENSORS.replace("pm25,生态环境局", "pm10,生态环境局"), encoding="utf-8")
    report = import_devices(xuhui, sensors)
    assert report.counts == {"devices": 2, "replaced_devices": 2}
    assert [(code, kind) for _, code, kind, _, _ in stored_devices(xuhui)] == [("NS-001", "noise"), ("PM-001", "pm10")]


def test_an_unknown_department_fails_naming_the_record_and_writes_nothing(xuhui, sensors):
    sensors.write_text(SENSORS.replace("noise,绿化市容局", "noise,绿化局"), encoding="utf-8")
    before = row_counts(xuhui)
    with pytest.raises(ImportFailed, match="sensors.csv: line 3: no department '绿化局'") as failure:
        import_devices(xuhui, sensors)
    assert failure.value.record == "line 3"
    assert row_counts(xuhui) == before


def test_a_code_another_source_holds_fails_naming_the_record_and_writes_nothing(xuhui, sensors):
    import_devices(xuhui, sensors)
    before = row_counts(xuhui)
    with pytest.raises(ImportFailed, match="sensors.csv: line 2: device code 'PM-001' is already held by a device of another source") as failure:
        import_devices(xuhui, sensors, source_name="other-sensors")
    assert failure.value.record == "line 2"
    assert row_counts(xuhui) == before


def test_a_code_given_twice_fails_naming_the_second_record(sessions, tmp_path):
    path = tmp_path / "sensors.csv"
    path.write_text(SENSORS + "3,PM-001,pm25,生态环境局,121.44,31.19\n", encoding="utf-8")
    before = row_counts(sessions)
    with pytest.raises(ImportFailed, match="sensors.csv: line 4: device code 'PM-001' is also given to line 2") as failure:
        import_devices(sessions, path)
    assert failure.value.record == "line 4"
    assert row_counts(sessions) == before and before["devices"] == 0
