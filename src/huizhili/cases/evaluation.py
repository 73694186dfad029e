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
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sqlalchemy.orm import Session

from huizhili.cases.flow import CaseFlow
from huizhili.errors import ValidationError
from huizhili.network.maps import map_font
from huizhili.policy import Scope
from huizhili.storage.models import Area, Case

GROUPINGS = ("department", "street", "committee", "category", "channel", "month", "week", "day")
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
    ended = ("closed", "evaluated")
    rows = session.execute(
        sa.select(_group_column(by).label("key"), Case.channel, Case.state, Case.received_at, Case.closed_at,
                  Case.due_at, Case.rework_count, Case.satisfaction)
        .where(scope.condition(Case), Case.received_at >= period.start, Case.received_at < period.end,
               Case.state.not_in(("not_filed", "merged")),
               Case.category.in_(categories) if categories is not None else sa.true())
    ).all()
    groups: dict[Any, list[Any]] = {}
    for row in rows:
        key = _local_period(row.received_at, by, flow) if by in ("month", "week", "day") else row.key
        groups.setdefault(key, []).append(row)
    names = _names(session, by)
    out = []
    for key, members in groups.items():
        closed = [r for r in members if r.state in ended and r.closed_at is not None]
        hours = np.array([(r.closed_at - r.received_at).total_seconds() / 3600 for r in closed])
        verdicts = [r.satisfaction for r in members if r.satisfaction is not None]
        out.append({
            "key": key, "name": names.get(key, key), "cases": len(members),
            "patrol": sum(r.channel == "patrol" for r in members), "closed": len(closed),
            "closure_rate": _share(len(closed), len(members)),
            "on_time_rate": _share(sum(r.due_at is None or r.closed_at <= r.due_at for r in closed), len(closed)),
            "rework_rate": _share(sum(r.rework_count > 0 for r in closed), len(closed)),
            "mean_hours": round(float(hours.mean()), 2) if len(hours) else None,
            "p90_hours": round(float(np.percentile(hours, 90)), 2) if len(hours) else None,
            "satisfaction_rate": _share(sum(v >= 2 for v in verdicts), len(verdicts)),
            "mean_satisfaction": round(sum(verdicts) / len(verdicts), 2) if verdicts else None,
        })
    return sorted(out, key=lambda g: (-g["cases"], str(g["key"])))


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
    public = [c.code for c in flow.categories.categories.values() if c.public]
    rows = evaluate(session, Scope.system(), flow, level, period, categories=public)
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


def _group_column(by: str) -> Any:
    columns = {"department": Case.department, "street": Case.street_code, "committee": Case.committee_code,
               "category": Case.category, "channel": Case.channel}
    return columns.get(by, sa.literal(None))


def _local_period(moment: datetime, by: str, flow: CaseFlow) -> str:
    local = moment.astimezone(ZoneInfo(flow.timezone))
    if by == "month":
        return f"{local:%Y-%m}"
    if by == "week":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{local:%Y-%m-%d}"


def _names(session: Session, by: str) -> dict[Any, Any]:
    if by in ("street", "committee"):
        return dict(session.execute(sa.select(Area.code, Area.name).where(Area.level == by)).all())
    return {}


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None

