"""The case layer of the operations map: every open case in the caller's scope, only what the map draws.

The dashboard draws tens of thousands of cases as points and as a density, coloured by their
time limit. A case list (``reading.list_cases``) carries everything about a case, its reporter
included, and is paged; the map needs position, stage and due time. So this is one query that
selects only those columns, and answers them as column arrays — a list per column rather than an
object per case, the stages named once — which holds no personal field by construction.
"""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.cases.flow import CaseFlow
from huizhili.policy import Scope
from huizhili.storage.engine import is_postgis
from huizhili.storage.models import Case

DECIMALS = 5
"""Longitude and latitude are rounded to 5 decimals, about a metre: enough to draw, and shorter on the wire."""


def case_layer(session: Session, scope: Scope, flow: CaseFlow, area: str | None = None) -> dict[str, Any]:
    """The open, located cases the caller may see (optionally in one area), as columns.

    Parameters
    ----------
    session
        An open session.
    scope
        The caller's; its read rule for cases is applied as for every case list.
    flow
        The workflow in force: which states are open, and their stages.
    area
        A district, street, committee or grid code; None for every area of the scope.

    Returns
    -------
    dict
        ``stages`` (the stage names), and one list per column, in the same order: ``id``,
        ``lon``, ``lat`` (WGS84, rounded to :data:`DECIMALS`), ``stage`` (an index into
        ``stages``) and ``due`` (the case's time limit in Unix seconds, or None).
    """
    open_states = [s for s in flow.workflow.states.values() if s.open]
    stages = sorted({s.stage for s in open_states})
    stage = sa.case({s.id: stages.index(s.stage) for s in open_states}, value=Case.state)
    conditions = [scope.condition(Case), Case.state.in_([s.id for s in open_states]), Case.lon.is_not(None), Case.lat.is_not(None)]
    if area is not None:
        conditions.append(sa.or_(Case.district_code == area, Case.street_code == area,
                                 Case.committee_code == area, Case.grid_code == area))
    rows = session.execute(sa.select(Case.id, Case.lon, Case.lat, stage, _unix_seconds(session, Case.due_at))
                           .where(*conditions).order_by(Case.id)).all()
    ids, lons, lats, stage_of, due = (list(column) for column in zip(*rows, strict=True)) if rows else ([], [], [], [], [])
    return {"stages": stages, "id": ids, "lon": [round(x, DECIMALS) for x in lons], "lat": [round(y, DECIMALS) for y in lats],
            "stage": stage_of, "due": due}


def _unix_seconds(session: Session, column: Any) -> sa.ColumnElement[int | None]:
    """A time column as whole Unix seconds, computed by the database (no datetime made per row)."""
    if is_postgis(session):
        return sa.cast(sa.func.floor(sa.func.extract("epoch", column)), sa.BigInteger)
    # Stored as UTC text (storage.timestamps), which strftime reads as UTC.
    return sa.cast(sa.func.strftime("%s", column), sa.Integer)
