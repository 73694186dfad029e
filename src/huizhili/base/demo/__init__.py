"""The Xuhui District demo: departments, official divisions, street boundaries, health centres and metro stations.

The files sit beside this module with their credits and licences (``xuhui/SOURCES.md``); the
departments are written here, as the district's own list of its bureaus.
"""

from pathlib import Path

from sqlalchemy.orm import Session

from huizhili.base.areas import AreaSpec, upsert_areas
from huizhili.base.importers import ImportReport, import_divisions, import_file
from huizhili.departments import DepartmentSpec, upsert_departments

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


def load_xuhui(session: Session) -> list[ImportReport]:
    """Load (or reload: every step replaces what it wrote before) the Xuhui demo.

    Returns
    -------
    list of ImportReport
        One per file, in loading order.
    """
    upsert_departments(session, XUHUI_DEPARTMENTS)
    upsert_areas(
        session,
        [
            AreaSpec(code=SHANGHAI_CODE, name="上海市", level="city", source="division codes"),
            AreaSpec(code=XUHUI_CODE, name="徐汇区", level="district", parent_code=SHANGHAI_CODE, source="division codes"),
        ],
    )
    return [
        import_divisions(session, [XUHUI / "divisions-streets.csv", XUHUI / "divisions-committees.csv"]),
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
    ]
