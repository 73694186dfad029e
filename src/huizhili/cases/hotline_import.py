"""A 12345 hotline export (CSV or Excel) taken in as cases, all or nothing, through the same intake as every call.

Exports name their columns in Chinese and differ between systems, so the columns are mapped:
each of our fields to the export's column holding it (:data:`DEFAULT_MAPPING` is a common
export's header). Every row goes through ``report_case`` — located, linked to the open case of
its incident, filed and dispatched — and the first row that cannot be taken stops the whole
import, naming its line and field, with nothing written. A row whose 工单编号 was taken in
before is skipped, so an export loaded twice does not double its cases.
"""

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.cases.flow import CaseFlow
from huizhili.cases.intake import Report, report_case
from huizhili.errors import HuizhiliError, ImportFailed
from huizhili.policy import Principal, Scope
from huizhili.spreadsheet import read_table, text_cell
from huizhili.storage.models import CaseSignal

DEFAULT_MAPPING = {"external_ref": "工单编号", "received_at": "来电时间", "title": "诉求标题", "description": "诉求内容",
                   "category": "诉求分类", "address": "事发地址", "reporter_name": "来电人", "reporter_phone": "联系电话",
                   "lon": "经度", "lat": "纬度"}
"""Our field → the export's column, for the usual 12345 export header."""

FIELDS = frozenset({*DEFAULT_MAPPING, "place", "asset_ref"})
"""The fields a column may be mapped to."""


@dataclass(frozen=True)
class HotlineImport:
    """What an import did: new cases, rows linked to an open case, rows already imported before."""

    created: list[str] = field(default_factory=list)
    linked: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def import_hotline(session: Session, principal: Principal, flow: CaseFlow, path: Path, now: datetime, *,
                   mapping: dict[str, str] | None = None, crs: str = "wgs84", file_name: str | None = None) -> HotlineImport:
    """Take every row of the export at ``path`` in as a case, or none.

    Raises
    ------
    ImportFailed
        Naming the file's line (or the missing column) and what is wrong; nothing is written.
    """
    name = file_name or path.name
    columns = {**DEFAULT_MAPPING, **(mapping or {})}
    unknown = sorted(set(columns) - FIELDS)
    if unknown:
        message = f"cannot map to {', '.join(unknown)}; fields: {', '.join(sorted(FIELDS))}"
        raise ImportFailed(message, record=name)
    table = read_table(path, name)
    present = {ours: theirs for ours, theirs in columns.items() if theirs in table.columns}
    if "title" not in present and "description" not in present:
        message = f"{name} has neither a title column ({columns['title']}) nor a description column ({columns['description']})"
        raise ImportFailed(message, record=name)
    zone = ZoneInfo(flow.timezone)
    done = HotlineImport()
    seen = set(session.scalars(sa.select(CaseSignal.external_ref).where(CaseSignal.channel == "import",
                                                                          CaseSignal.external_ref.is_not(None))))
    for line, row in zip(range(2, len(table) + 2), table.to_dict("records"), strict=True):
        values = {ours: text_cell(row[theirs]) for ours, theirs in present.items()}
        ref = values.get("external_ref")
        if ref and ref in seen:
            done.skipped.append(ref)
            continue
        try:
            intake = report_case(session, Scope(principal), principal, flow, _report(values, zone, crs), now)
        except (HuizhiliError, ValueError) as error:
            message = f"{name} line {line}: {error}"
            raise ImportFailed(message, record=f"{name}:{line}") from error
        (done.linked if intake.linked else done.created).append(intake.case.number or "")
        if ref:
            seen.add(ref)
    return done






def _report(values: dict[str, str | None], zone: ZoneInfo, crs: str) -> Report:
    """One row as a report; times without a zone are the district's local time (as exports write them)."""
    received = None
    if values.get("received_at"):
        try:
            moment = datetime.fromisoformat(str(values["received_at"]).replace("/", "-"))
        except ValueError as error:
            message = f"来电时间 {values['received_at']!r} is not a date and time"
            raise ValueError(message) from error
        received = moment.replace(tzinfo=zone) if moment.tzinfo is None else moment
    try:
        lon, lat = (float(values[k] or "") if values.get(k) else None for k in ("lon", "lat"))
    except ValueError as error:
        message = f"经度/纬度 {values.get('lon')!r}, {values.get('lat')!r} are not numbers"
        raise ValueError(message) from error
    title = values.get("title") or (values.get("description") or "")[:60]
    return Report(channel="import", title=title, description=values.get("description") or "",
                  lon=lon, lat=lat, crs=crs, place=values.get("place"),
                  address=values.get("address"), category=values.get("category"), reporter_name=values.get("reporter_name"),
                  reporter_phone=values.get("reporter_phone"), external_ref=values.get("external_ref"),
                  asset_ref=values.get("asset_ref"), received_at=received)

