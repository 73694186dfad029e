"""Evaluation (综合评价): closure, on-time closure, rework, handling time and satisfaction, per unit, area, category or period.

The measures, over cases received in the period (not filed and merged ones left out, as they
were never cases of their own):

- 结案率 closure rate — closed or evaluated, of all;
- 按期结案率 on-time rate — closed by their due time (an approved postponement moves it), of the closed;
- 返工率 rework rate — sent back for rework at least once, of the closed;
- handling time — received to closed, in hours, mean and 90th percentile;
- 满意率 satisfaction — satisfied or basically satisfied, of those the callback reached; and the mean verdict (1–3).

Grid officers' own finds (自发现, channel ``patrol``) are counted apart (``patrol``), so a unit is
not judged on what it found itself as on what citizens had to report.
"""

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sqlalchemy.orm import Session

from huizhili.cases._planning import filter_only
from huizhili.cases.flow import CaseFlow
from huizhili.errors import ValidationError
from huizhili.network.maps import map_font
from huizhili.policy import Scope
from huizhili.storage.engine import is_postgis
from huizhili.storage.models import Area, Case

GROUPINGS = ("department", "street", "committee", "category", "channel", "month", "day")
"""What the measures can be grouped by."""

MEASURES = ("closure_rate", "on_time_rate", "rework_rate", "satisfaction_rate", "mean_hours", "p90_hours")
"""The measures a chart may show."""

_NAMES = {"closure_rate": ("结案率", "closure rate"), "on_time_rate": ("按期结案率", "on-time rate"),
          "rework_rate": ("返工率", "rework rate"), "satisfaction_rate": ("满意率", "satisfaction"),
          "mean_hours": ("平均办理时长（小时）", "mean hours"), "p90_hours": ("办理时长 P90（小时）", "p90 hours")}


@dataclass(frozen=True)
class Period:
    """Cases received from ``start`` (included) to ``end`` (excluded)."""

    start: datetime
    end: datetime


def evaluate(session: Session, scope: Scope, flow: CaseFlow, by: str, period: Period, *,
             categories: list[str] | None = None) -> list[dict[str, Any]]:
    """The measures per group of ``by`` over the cases in the caller's scope received in ``period``, largest group first.

    ``categories`` narrows them to these categories (a league table counts public ones only).

    Raises
    ------
    ValidationError
        If ``by`` is not one of :data:`GROUPINGS`, or the period ends before it starts.
    """
    if by not in GROUPINGS:
        message = f"group by one of {', '.join(GROUPINGS)}, not {by!r}"
        raise ValidationError(message)
    if period.end <= period.start:
        message = "the period must end after it starts"
        raise ValidationError(message)
    postgres = is_postgis(session)
    key = _group_key(by, flow, postgres).label("key")
    closed = sa.and_(filter_only(session, Case.state).in_(("closed", "evaluated")), Case.closed_at.is_not(None))
    hours = (sa.func.extract("epoch", Case.closed_at - Case.received_at) / 3600 if postgres
             else (sa.func.julianday(Case.closed_at) - sa.func.julianday(Case.received_at)) * 24)
    chosen = sa.and_(filter_only(session, scope.condition(Case)), Case.received_at >= period.start, Case.received_at < period.end,
                     filter_only(session, Case.state).not_in(("not_filed", "merged")),
                     filter_only(session, Case.category).in_(categories) if categories is not None else sa.true())
    counted = sa.func.count
    # PostgreSQL's percentile_cont sorts each group's hours itself; SQLite has no percentile, so it
    # hands each group's hours back as one text for numpy: one pass over the period either way.
    hours_p90 = (sa.func.percentile_cont(0.9).within_group(hours) if postgres else sa.func.group_concat(hours)).filter(closed)
    totals = session.execute(
        sa.select(key, counted().label("cases"), counted().filter(Case.channel == "patrol").label("patrol"),
                  counted().filter(closed).label("closed"),
                  counted().filter(closed, sa.or_(Case.due_at.is_(None), Case.closed_at <= Case.due_at)).label("on_time"),
                  counted().filter(closed, Case.rework_count > 0).label("reworked"),
                  sa.func.avg(hours).filter(closed).label("mean_hours"), hours_p90.label("p90_hours"),
                  counted(Case.satisfaction).label("verdicts"), counted().filter(Case.satisfaction >= 2).label("content"),
                  sa.func.avg(Case.satisfaction).label("mean_satisfaction"))
        .where(chosen).group_by(key)
    ).all()
    names = _names(session, by)
    out = [{
        "key": row.key, "name": names.get(row.key, row.key), "cases": row.cases, "patrol": row.patrol, "closed": row.closed,
        "closure_rate": _share(row.closed, row.cases), "on_time_rate": _share(row.on_time, row.closed),
        "rework_rate": _share(row.reworked, row.closed),
        "mean_hours": round(float(row.mean_hours), 2) if row.mean_hours is not None else None,
        "p90_hours": _p90(row.p90_hours),
        "satisfaction_rate": _share(row.content, row.verdicts),
        "mean_satisfaction": round(float(row.mean_satisfaction), 2) if row.mean_satisfaction is not None else None,
    } for row in totals]
    return sorted(out, key=lambda g: (-g["cases"], str(g["key"])))


def _p90(value: float | str | None) -> float | None:
    """The 90th percentile of a group's handling hours, to 0.01 h: PostgreSQL's own, or numpy's over SQLite's listed hours.

    Both interpolate linearly between the closest ranks; SQLite writes each hour to 15
    significant digits, far finer than the 0.01 h kept.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return round(float(np.percentile(np.array(value.split(","), dtype=np.float64), 90)), 2)
    return round(float(value), 2)


def league(session: Session, flow: CaseFlow, level: str, period: Period) -> list[dict[str, Any]]:
    """Per-street or per-committee league table for citizens: only rates and counts, of public categories, best first.

    Raises
    ------
    ValidationError
        If ``level`` is not street or committee.
    """
    if level not in ("street", "committee"):
        message = "a league is of streets or committees"
        raise ValidationError(message)
    rows = evaluate(session, Scope.system(), flow, level, period, categories=flow.categories.public())
    table = [{k: r[k] for k in ("key", "name", "cases", "closed", "closure_rate", "on_time_rate", "satisfaction_rate")}
             for r in rows if r["key"] is not None]
    ranked = sorted(table, key=lambda r: (-(r["on_time_rate"] or 0), -(r["closure_rate"] or 0), str(r["key"])))
    return [{"rank": rank, **row} for rank, row in enumerate(ranked, 1)]


def chart(rows: list[dict[str, Any]], measure: str, title: str) -> bytes:
    """A bar chart (PNG) of one measure per group, with the group names in a font that draws Chinese.

    Raises
    ------
    ValidationError
        If ``measure`` is not one of :data:`MEASURES`.
    """
    if measure not in MEASURES:
        message = f"chart one of {', '.join(MEASURES)}, not {measure!r}"
        raise ValidationError(message)
    font = map_font()
    shown = [r for r in rows if r[measure] is not None][:30]
    figure = Figure(figsize=(8, max(2.5, 0.32 * len(shown) + 1.2)), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    labels = [str(r["name"] if font.draws(str(r["name"])) else r["key"]) for r in shown]
    values = [r[measure] * 100 if measure.endswith("rate") else r[measure] for r in shown]
    axes.barh(range(len(shown)), values, color="#2b6cb0")
    axes.set_yticks(range(len(shown)), labels, fontproperties=font.sized(9))
    axes.invert_yaxis()
    zh, en = _NAMES[measure]
    unit = " (%)" if measure.endswith("rate") else ""
    axes.set_xlabel(f"{zh} {en}{unit}" if font.cjk else f"{en}{unit}", fontproperties=font.sized(9))
    axes.set_title(title if font.draws(title) else en, fontproperties=font.sized(11))
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _group_key(by: str, flow: CaseFlow, postgres: bool) -> Any:
    """The SQL of a group's key: a column, or the local month or day of receipt.

    PostgreSQL converts to the district's zone itself; SQLite, which has no zones, shifts the UTC
    text by the zone's offset now (exact for zones without summer time, such as Asia/Shanghai).
    """
    columns = {"department": Case.department, "street": Case.street_code, "committee": Case.committee_code,
               "category": Case.category, "channel": Case.channel}
    if by in columns:
        return columns[by]
    if postgres:
        return sa.func.to_char(sa.func.timezone(flow.timezone, Case.received_at), "YYYY-MM" if by == "month" else "YYYY-MM-DD")
    offset = datetime.now(ZoneInfo(flow.timezone)).utcoffset() or timedelta()
    shift = f"{int(offset.total_seconds()):+d} seconds"
    return sa.func.strftime("%Y-%m" if by == "month" else "%Y-%m-%d", Case.received_at, shift)


def _names(session: Session, by: str) -> dict[Any, Any]:
    if by in ("street", "committee"):
        return dict(session.execute(sa.select(Area.code, Area.name).where(Area.level == by)).all())
    return {}


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None

