"""Official division codes: Xuhui's streets and committees, with parents that follow from the codes.

Done when: the shipped Xuhui CSVs give 13 streets, 1 development zone and 313 committees under
the right streets; a malformed code or a missing parent fails and writes nothing.
"""

import csv

import pytest
import shapely
import sqlalchemy as sa
from conftest import row_counts

from huizhili.base.areas import AreaSpec, upsert_areas
from huizhili.base.demo import XUHUI
from huizhili.base.importers import import_divisions, import_file
from huizhili.errors import ImportFailed
from huizhili.storage.engine import transaction
from huizhili.storage.models import Area, Facility

STREETS = XUHUI / "divisions-streets.csv"
COMMITTEES = XUHUI / "divisions-committees.csv"
PARENTS = {"310104": "徐汇区"}


def areas(sessions, level: str) -> dict[str, tuple[str, str | None]]:
    """Code → (name, parent code) of the stored areas of one level."""
    with sessions() as session:
        rows = session.execute(
            sa.select(Area.code, Area.name, Area.parent_code).where(Area.level == level)
        )
        return {code: (name, parent) for code, name, parent in rows}


def csv_rows(path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as file:
        return list(csv.DictReader(file))


@pytest.fixture
def xuhui_divisions(sessions):
    with transaction(sessions) as session:
        import_divisions(session, [STREETS, COMMITTEES], PARENTS)
    return sessions


def test_streets_are_the_13_streets_and_the_development_zone(xuhui_divisions):
    streets = areas(xuhui_divisions, "street")
    assert len(streets) == 14
    assert streets["310104003"] == ("天平路街道", "310104")
    assert streets["310104103"] == ("华泾镇", "310104")
    assert streets["310104501"] == ("漕河泾新兴技术开发区", "310104")
    assert {parent for _, parent in streets.values()} == {"310104"}


def test_committees_sit_under_the_street_their_file_names(xuhui_divisions):
    expected = {row["code"]: (row["name"], row["streetCode"]) for row in csv_rows(COMMITTEES)}
    committees = areas(xuhui_divisions, "committee")
    assert len(committees) == 313
    assert committees == expected


def test_a_committee_is_found_under_its_street(xuhui_divisions):
    with xuhui_divisions() as session:
        committee = session.scalar(sa.select(Area).where(Area.code == "310104003001"))
        street = session.scalar(sa.select(Area).where(Area.code == committee.parent_code))
    assert (committee.name, committee.level) == ("上海新村居委会", "committee")
    assert (street.code, street.name, street.level) == ("310104003", "天平路街道", "street")


def test_the_report_counts_every_area_written(sessions):
    with transaction(sessions) as session:
        report = import_divisions(session, [STREETS, COMMITTEES], PARENTS)
    assert report.counts == {"areas": 1 + 14 + 313}


def test_importing_again_updates_rather_than_duplicates(xuhui_divisions):
    before = row_counts(xuhui_divisions)
    with transaction(xuhui_divisions) as session:
        import_divisions(session, [STREETS, COMMITTEES], PARENTS)
    assert row_counts(xuhui_divisions)["areas"] == before["areas"] == 328


def test_a_malformed_code_fails_naming_the_line_and_writes_nothing(sessions, tmp_path):
    lines = COMMITTEES.read_text(encoding="utf-8").splitlines()
    lines[4] = lines[4].replace("310104003004", "31010400300X")  # line 5 of the file
    broken = tmp_path / "committees.csv"
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(
        ImportFailed, match="committees.csv: line 5: code '31010400300X'"
    ) as failure:
        with transaction(sessions) as session:
            import_divisions(session, [STREETS, broken], PARENTS)
    assert failure.value.record == "line 5"
    assert row_counts(sessions)["areas"] == 0


def test_a_committee_whose_street_is_missing_fails_and_writes_nothing(sessions):
    before = row_counts(sessions)
    with pytest.raises(ImportFailed, match="parent 310104003 does not exist"):
        with transaction(sessions) as session:
            import_divisions(session, [COMMITTEES], PARENTS)
    assert row_counts(sessions) == before and before["areas"] == 0


def test_an_unreadable_file_is_named_without_its_folder(sessions, tmp_path):
    with pytest.raises(ImportFailed) as failure, transaction(sessions) as session:
        import_divisions(session, [tmp_path / "streets.csv"])
    assert str(failure.value).startswith("streets.csv: unreadable: ")
    assert str(tmp_path) not in str(failure.value)


def test_divisions_give_stored_records_the_district_of_their_street(sessions, tmp_path):
    parks = tmp_path / "parks.csv"
    parks.write_text("name,lon,lat\n徐家汇公园,121.44,31.19\n", encoding="utf-8")
    with transaction(sessions) as session:
        upsert_areas(session, [AreaSpec(code="310104014", name="徐家汇街道", level="street", geometry=shapely.box(121.43, 31.18, 121.45, 31.20))])
        import_file(session, parks, "facility", constants={"kind": "park"})
    with transaction(sessions) as session:
        import_divisions(session, [STREETS], PARENTS)
    with sessions() as session:
        placed = session.execute(sa.select(Facility.street_code, Facility.district_code)).all()
    assert placed == [("310104014", "310104")]
