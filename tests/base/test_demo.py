"""The Xuhui District demo: divisions, street boundaries, census figures, services, real streets.

Done when: the demo gives 313 committees and 14 street-level areas (12 with a boundary), 13
community health centres each inside its own street, the district's census figures, Xuhui's
streets clipped to it with its compounds and parks, and loading it again duplicates nothing.
"""

import shapely
import sqlalchemy as sa
from conftest import row_counts

from huizhili.base.areas import area_geometry
from huizhili.base.demo import load_xuhui
from huizhili.storage.engine import transaction
from huizhili.storage.models import Area, Facility, Parcel, WalkWay

STREETS_WITHOUT_BOUNDARY = {"310104012": "虹梅路街道", "310104501": "漕河泾新兴技术开发区"}


def streets(sessions) -> list[Area]:
    with sessions() as session:
        return list(session.scalars(sa.select(Area).where(Area.level == "street")))


def health_centres(sessions) -> list[Facility]:
    with sessions() as session:
        return list(session.scalars(sa.select(Facility).where(Facility.kind == "health_centre")))


def short_name(centre_name: str) -> str:
    """'徐汇区斜土街道社区卫生服务中心' → '斜土', shared with the street's name '斜土路街道'."""
    return centre_name.removeprefix("徐汇区").split("街道")[0]


def test_the_demo_has_313_committees(xuhui):
    with xuhui() as session:
        committees = session.scalar(sa.select(sa.func.count()).where(Area.level == "committee"))
    assert committees == 313


def test_the_demo_has_14_street_level_areas_12_with_a_boundary(xuhui):
    found = streets(xuhui)
    without = {street.code: street.name for street in found if street.geometry is None}
    assert len(found) == 14
    assert without == STREETS_WITHOUT_BOUNDARY


def test_street_boundaries_are_polygons_in_xuhui(xuhui):
    bounded = [street.geometry for street in streets(xuhui) if street.geometry is not None]
    assert {g.geom_type for g in bounded} == {"Polygon"}
    assert all(121.38 < g.bounds[0] and g.bounds[2] < 121.48 for g in bounded)
    assert all(31.10 < g.bounds[1] and g.bounds[3] < 31.23 for g in bounded)


def test_the_demo_has_13_community_health_centres(xuhui):
    names = sorted(short_name(centre.name) for centre in health_centres(xuhui))
    assert names == sorted(
        [
            "斜土",
            "枫林",
            "徐家汇",
            "天平",
            "湖南",
            "龙华",
            "田林",
            "康健",
            "虹梅",
            "漕河泾",
            "长桥",
            "凌云",
            "华泾",
        ]
    )


def own_street(centre: Facility, candidates: list[Area]) -> Area:
    """The street or town (not the development zone) named after the centre's short name."""
    [street] = [
        s
        for s in candidates
        if s.name.startswith(short_name(centre.name)) and s.name.endswith(("街道", "镇"))
    ]
    return street


def test_each_health_centre_lies_in_its_own_street(xuhui):
    candidates = streets(xuhui)
    checked = {}
    for centre in health_centres(xuhui):
        street = own_street(centre, candidates)
        if street.geometry is not None:
            checked[centre.name] = (
                street.geometry.contains(centre.geometry),
                centre.street_code == street.code,
            )
    assert len(checked) == 12
    assert checked == {name: (True, True) for name in checked}


def test_the_health_centre_without_a_street_boundary_is_the_one_in_hongmei(xuhui):
    unplaced = [c.name for c in health_centres(xuhui) if c.street_code is None]
    assert unplaced == ["徐汇区虹梅街道社区卫生服务中心"]


def test_reloading_the_demo_duplicates_nothing(xuhui):
    before = row_counts(xuhui)
    with transaction(xuhui) as session:
        reports = load_xuhui(session)
    after = row_counts(xuhui)
    assert {**after, "import_runs": 0} == {**before, "import_runs": 0}
    assert after["import_runs"] == before["import_runs"] + len(reports)


def test_the_district_carries_its_census_figures_none_of_them_estimates(xuhui):
    with xuhui() as session:
        district = session.scalar(sa.select(Area).where(Area.code == "310104"))
    statistics = district.properties["statistics"]
    assert (district.population, district.households, district.statistics_year) == (1_113_078, 414_874, 2020)
    assert {name: (f["value"], f["estimated"]) for name, f in statistics.items() if isinstance(f, dict)} == {
        "residents": (1_113_078, False),
        "aged_65_and_over_share": (0.2061, False),
        "family_households": (414_874, False),
        "persons_per_family_household": (2.36, False),
    }
    assert statistics["source"].startswith("7th national population census (2020-11-01)")


def test_the_demo_walks_xuhuis_real_streets_clipped_to_the_district(xuhui):
    with xuhui() as session:
        district = area_geometry(session, session.scalar(sa.select(Area).where(Area.code == "310104")))
        ways = session.execute(sa.select(WalkWay.osm_id, WalkWay.geometry)).all()
    assert len(ways) == 2148
    assert shapely.intersects(district, [geometry for _, geometry in ways]).all()


def test_compounds_are_residential_parcels_and_parks_are_facilities_inside_the_districts_streets(xuhui):
    with xuhui() as session:
        compounds = session.execute(sa.select(Parcel.source_ref, Parcel.land_use, Parcel.street_code)).all()
        parks = session.execute(sa.select(Facility.source_ref, Facility.properties, Facility.street_code).where(Facility.kind == "park")).all()
    assert len(compounds) == 683 and {use for _, use, _ in compounds} == {"residential"}
    assert len(parks) == 140 and {extra["landuse_type"] for _, extra, _ in parks} == {"park", "garden"}
    assert all(ref.startswith("landuse-centroids:way_") and street is not None for ref, _, street in [*compounds, *parks])
