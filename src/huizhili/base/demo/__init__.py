"""The Xuhui District demo: official divisions, street boundaries, health centres and metro stations.

The files sit beside this module with their credits and licences (``xuhui/SOURCES.md``).
"""

from pathlib import Path

from sqlalchemy.orm import Session

from huizhili.base.areas import AreaSpec, upsert_areas
from huizhili.base.importers import ImportReport, import_divisions, import_file

XUHUI = Path(__file__).with_name("xuhui")
SHANGHAI_CODE, XUHUI_CODE = "310100", "310104"


def load_xuhui(session: Session) -> list[ImportReport]:
    """Load (or reload: every step replaces what it wrote before) the Xuhui demo.

    Returns
    -------
    list of ImportReport
        One per file, in loading order.
    """
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
