"""The case layer of the operations map: every open case in the caller's scope, only what the map draws.

The dashboard draws tens of thousands of cases as points and as a density, coloured by their
time limit. A case list (``reading.list_cases``) carries everything about a case, its reporter
included, and is paged; the map needs position, stage and due time. So this is one query that
selects only those columns, answered as column arrays — a list per column rather than an object
per case, the stages named once — which holds no personal field by construction. The database
writes the arrays itself (``storage.arrays``): no Python object is made per case.
"""

import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.cases.flow import CaseFlow
from huizhili.policy import Scope
from huizhili.storage.arrays import json_arrays, json_object, rounded, unix_seconds
from huizhili.storage.models import Case

DECIMALS = 5
"""Longitude and latitude are rounded to 5 decimals, about a metre: enough to draw, and shorter on the wire."""


def case_layer(session: Session, scope: Scope, flow: CaseFlow, area: str | None = None) -> str:
    """The open, located cases the caller may see (optionally in one area), as a JSON object of columns.

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
    str
        JSON: ``stages`` (the stage names), and one array per column, in the same order: ``id``,
        ``lon``, ``lat`` (WGS84, rounded to :data:`DECIMALS`), ``stage`` (an index into
        ``stages``) and ``due`` (the case's time limit in Unix seconds, or null).
    """
    open_states = [s for s in flow.workflow.states.values() if s.open]
    stages = sorted({s.stage for s in open_states})
    where = [scope.condition(Case), Case.state.in_([s.id for s in open_states]), Case.lon.is_not(None), Case.lat.is_not(None)]
    if area is not None:
        where.append(sa.or_(Case.district_code == area, Case.street_code == area, Case.committee_code == area, Case.grid_code == area))
    arrays = json_arrays(session, {
        "id": Case.id, "lon": rounded(session, Case.lon, DECIMALS), "lat": rounded(session, Case.lat, DECIMALS),
        "stage": sa.case({s.id: stages.index(s.stage) for s in open_states}, value=Case.state),
        "due": unix_seconds(session, Case.due_at),
    }, where, Case.id)
    return json_object({"stages": stages}, arrays)
