"""Grid cells cut from real street boundaries: they tile the street, carry records, never change under officers."""

import pytest
import shapely
import sqlalchemy as sa

from huizhili.base.geodesy import area_m2
from huizhili.base.grid import SLIVER_SHARE, make_grid
from huizhili.errors import ConflictError, ValidationError
from huizhili.identity.accounts import create_user
from huizhili.storage.engine import transaction
from huizhili.storage.models import Area, Facility

XUJIAHUI = "310104014"


@pytest.mark.parametrize("size", [100, 150, 250])
def test_cells_tile_the_street_without_gaps_overlaps_or_scraps(xuhui, size):
    with transaction(xuhui) as session:
        [report] = make_grid(session, "徐家汇街道", size_m=size)
    with xuhui() as session:
        street = session.scalar(sa.select(Area).where(Area.code == XUJIAHUI))
        cells = session.scalars(sa.select(Area).where(Area.level == "grid").order_by(Area.code)).all()
    assert report.cells == len(cells) > 20
    assert [c.code for c in cells] == [f"{XUJIAHUI}G{n:04d}" for n in range(1, len(cells) + 1)]
    assert {c.parent_code for c in cells} == {XUJIAHUI}, "the demo's committees have no boundaries"
    union = shapely.union_all([c.geometry for c in cells])
    assert area_m2(union) == pytest.approx(area_m2(street.geometry), rel=1e-3)
    assert sum(area_m2(c.geometry) for c in cells) == pytest.approx(area_m2(union), rel=1e-3)
    tree = shapely.STRtree([c.geometry for c in cells])
    for cell in cells:
        if area_m2(cell.geometry) < 0.99 * SLIVER_SHARE * size * size:
            touching = [j for j in tree.query(cell.geometry) if cells[j] is not cell]
            shared = [cell.geometry.intersection(cells[j].geometry).length for j in touching]
            assert not any(length > 0 for length in shared), f"{cell.code} is a scrap beside a neighbour"
    first, last = cells[0].geometry.centroid, cells[-1].geometry.centroid
    assert first.y > last.y, "numbered from the north"


def test_records_carry_their_cell_and_officers_can_be_scoped_to_it(xuhui):
    with transaction(xuhui) as session:
        make_grid(session, "徐家汇街道", size_m=250)
        station = session.scalar(sa.select(Facility).where(Facility.name == "徐家汇"))
        cell = session.scalar(sa.select(Area).where(Area.code == station.grid_code))
        assert cell.geometry.covers(shapely.Point(station.lon, station.lat))
        officer = create_user(session, "grid_li", "grid_officer", grid_cells=[cell.code])
        assert officer.grid_cells == [cell.code]
        elsewhere = session.scalars(sa.select(Facility.grid_code).where(Facility.street_code != XUJIAHUI)).all()
        assert elsewhere and set(elsewhere) == {None}


def test_a_district_run_reports_streets_without_boundaries_and_never_regenerates(xuhui):
    with transaction(xuhui) as session:
        reports = make_grid(session, "徐汇区", size_m=1000)
    skipped = [r for r in reports if r.skipped]
    assert len(reports) == 14 and [r.skipped for r in skipped] == ["no boundary"] * len(skipped)
    assert sum(r.cells for r in reports) > 40
    with xuhui() as session:
        before = session.scalar(sa.select(sa.func.count()).select_from(Area).where(Area.level == "grid"))
    for area in ("徐家汇街道", "徐汇区"):
        with transaction(xuhui) as session, pytest.raises(ConflictError, match="not regenerated"):
            make_grid(session, area, size_m=100)
    with xuhui() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Area).where(Area.level == "grid")) == before


@pytest.mark.parametrize(("area", "size"), [("徐家汇街道", 5), ("徐家汇街道", 1e6), ("310104014001", 100), ("徐家汇街道", 20)])
def test_bad_sizes_and_levels_are_refused(xuhui, area, size):
    with transaction(xuhui) as session, pytest.raises(ValidationError):
        make_grid(session, area, size_m=size)


def test_a_street_is_still_broken_down_by_its_committees(xuhui):
    from huizhili.base.summary import summarise
    from huizhili.policy import Scope

    with transaction(xuhui) as session:
        make_grid(session, "徐家汇街道", size_m=250)
        children = summarise(session, XUJIAHUI, Scope.system())["children"]
    assert children and all(len(child["code"]) == 12 and "G" not in child["code"] for child in children)
