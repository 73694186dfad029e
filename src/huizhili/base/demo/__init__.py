"""The Xuhui District demo: departments, divisions, boundaries, census figures, services and real streets.

The district's bureaus (written here, as the district's own list) and an office per street and
residential committee, official divisions and street boundaries, the district's census figures,
health centres, metro stations, Xuhui's real streets (OpenStreetMap) and the residential
compounds (小区), parks and gardens among them as points. The files sit beside this module with
their credits and licences (``xuhui/SOURCES.md``).

Compounds and parks are the centroids of OSM land-use areas, without outlines or residents:
compounds become residential parcels, which a life-circle run walks from as homes sharing the
district's residents equally (an estimate, and the run says so); parks and gardens become
``park`` facilities, reached at their centroid. Only those inside the district's streets are
kept, as only its streets are walked (``clip``).
"""

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from huizhili.base.areas import AreaSpec, upsert_areas
from huizhili.base.importers import ImportReport, import_divisions, import_file, import_osm
from huizhili.departments import DepartmentSpec, upsert_departments
from huizhili.storage.models import Area

XUHUI = Path(__file__).with_name("xuhui")
SHANGHAI_CODE, XUHUI_CODE = "310100", "310104"

XUHUI_DEPARTMENTS = (
    DepartmentSpec("卫生健康委", "徐汇区卫生健康委员会", "Xuhui District Health Commission"),
    DepartmentSpec("绿化市容局", "徐汇区绿化和市容管理局", "Xuhui District Greening and City Appearance Bureau"),
    DepartmentSpec("建设管理委", "徐汇区建设和管理委员会", "Xuhui District Construction and Management Commission"),
    DepartmentSpec("房管局", "徐汇区房屋管理局", "Xuhui District Housing Administration Bureau"),
    DepartmentSpec("城管执法局", "徐汇区城市管理行政执法局", "Xuhui District City Management and Law Enforcement Bureau"),
    DepartmentSpec("生态环境局", "徐汇区生态环境局", "Xuhui District Ecology and Environment Bureau"),
    DepartmentSpec("民政局", "徐汇区民政局", "Xuhui District Civil Affairs Bureau"),
    DepartmentSpec("公安分局", "上海市公安局徐汇分局", "Xuhui Branch of the Shanghai Public Security Bureau"),
    DepartmentSpec("市场监管局", "徐汇区市场监督管理局", "Xuhui District Administration for Market Regulation"),
    DepartmentSpec("应急管理局", "徐汇区应急管理局", "Xuhui District Emergency Management Bureau"),
    DepartmentSpec("教育局", "徐汇区教育局", "Xuhui District Education Bureau"),
    DepartmentSpec("城运中心", "徐汇区城市运行管理中心", "Xuhui District City Operation Management Centre"),
)
"""The district bureaus whose devices, facilities and staff the demo and its users name, by short name."""
XUHUI_CENSUS: dict[str, Any] = {
    "source": "7th national population census (2020-11-01), Xuhui District, as transcribed from the county census yearbook",
    "year": 2020,
    "residents": {"value": 1_113_078, "estimated": False},
    "aged_65_and_over_share": {"value": 0.2061, "estimated": False},
    "family_households": {"value": 414_874, "estimated": False},
    "persons_per_family_household": {"value": 2.36, "estimated": False},
    "not_published": "residents per street or compound: a life-circle run shares the district's residents equally "
    "over its compounds, an estimate it says so",
}
"""The district's census figures, none of them estimates; per-street counts are not published in open form."""

LAND_USE = XUHUI / "landuse-centroids.csv"


def _street_offices(session: Session) -> list[DepartmentSpec]:
    """A unit per street and town (街道办事处, 镇人民政府): where street-level cases are routed."""
    streets = session.execute(sa.select(Area.code, Area.name).where(Area.level == "street", Area.parent_code == XUHUI_CODE))
    return [
        DepartmentSpec(name, f"徐汇区{name}{'人民政府' if name.endswith('镇') else '办事处'}",
                       f"{name} {'town government' if name.endswith('镇') else 'street office'}", street_code=code)
        for code, name in streets
    ]


def _committee_offices(session: Session) -> list[DepartmentSpec]:
    """A unit per residential committee (居委会) of the district: where elderly help requests are routed.

    Coded ``<street><committee>`` (徐家汇街道东塘居委会), unique in the district where committee
    names alone need not be. A virtual community (虚拟社区, a statistical unit of the
    development zone) has no committee and gets no office. The demo's committees have no
    boundaries: a case lies in one, and reaches its office, where a committee's boundary or a
    grid cell under it is imported; elsewhere it goes to the street office (the fallback).
    """
    street = aliased(Area)
    committees = session.execute(
        sa.select(Area.code, Area.name, street.name).join(street, street.code == Area.parent_code)
        .where(Area.level == "committee", street.parent_code == XUHUI_CODE, Area.name.endswith("居委会"))
    )
    return [
        DepartmentSpec(f"{street_name}{name}", f"徐汇区{street_name}{name.removesuffix('居委会')}居民委员会",
                       f"{name.removesuffix('居委会')} residents' committee, {street_name}", committee_code=code)
        for code, name, street_name in committees
    ]


def load_xuhui(session: Session) -> list[ImportReport]:
    """Load (or reload: every step replaces what it wrote before) the Xuhui demo.

    Returns
    -------
    list of ImportReport
        One per file (the land-use centroids twice: compounds, then parks), in loading order.
    """
    upsert_departments(session, XUHUI_DEPARTMENTS)
    census = XUHUI_CENSUS
    upsert_areas(
        session,
        [
            AreaSpec(code=SHANGHAI_CODE, name="上海市", level="city", source="division codes"),
            AreaSpec(code=XUHUI_CODE, name="徐汇区", level="district", parent_code=SHANGHAI_CODE, source="division codes",
                     population=census["residents"]["value"], households=census["family_households"]["value"],
                     statistics_year=census["year"], properties={"statistics": census}),
        ],
    )
    inside_xuhui: dict[str, Any] = {"within": XUHUI_CODE, "tolerance_m": 0.0, "mapping": {"id": "osm_id"}}
    divisions = import_divisions(session, [XUHUI / "divisions-streets.csv", XUHUI / "divisions-committees.csv"])
    upsert_departments(session, [*_street_offices(session), *_committee_offices(session)])
    return [
        divisions,
        import_file(
            session,
            XUHUI / "streets.geojson",
            "area",
            mapping={"code": "statCode"},
            constants={"level": "street", "parent_code": XUHUI_CODE},
        ),
        import_file(
            session,
            XUHUI / "health-centres-bd09.csv",
            "facility",
            mapping={"lon": "bd09_lon", "lat": "bd09_lat"},
            constants={"kind": "health_centre"},
            source_crs="bd09",
        ),
        import_file(session, XUHUI / "metro-stations.geojson", "facility", constants={"kind": "metro_station"}),
        import_osm(session, XUHUI / "xuhui-roads.osm.gz", clip=XUHUI_CODE),
        import_file(session, LAND_USE, "parcel", only={"landuse_type": ["residential"]},
                    constants={"land_use": "residential"}, **inside_xuhui),
        import_file(session, LAND_USE, "facility", only={"landuse_type": ["park", "garden"]},
                    constants={"kind": "park"}, **inside_xuhui),
    ]
