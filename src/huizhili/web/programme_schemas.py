"""Request and response shapes of the programmes API (``routers/programmes.py``), apart from the tables."""

from typing import Any, Literal

from pydantic import BaseModel, Field

from huizhili.web.schemas import Feature, _Storable


class ProgrammeOut(BaseModel):
    """A programme and how many of its projects in the caller's scope are in each status."""

    code: str
    kind: str
    kind_name: str
    kind_name_en: str
    name: str
    name_en: str | None
    owner_department: str | None
    period_start: str | None
    period_end: str | None
    projects: dict[str, int]


class ProgressIn(_Storable):
    """A progress report: the project's status after it, amounts done by now (cumulative, not since the last), a note, evidence."""

    status: Literal["planned", "in_progress", "done", "suspended"]
    done: dict[Literal["households", "m2", "km", "count"], float] = Field(
        default_factory=dict, description="Done by now, cumulative: {households|m2|km|count: amount}; a report 'done' without it marks all planned done.")
    note: str | None = Field(None, max_length=4000)
    evidence: str | None = Field(None, max_length=500, description="Where the evidence is: a photo's or document's file name or address.")


class ProgressOut(BaseModel):
    """One progress report, as stored (append-only)."""

    id: int
    project_id: int
    at: str
    author: str
    status: str
    done: dict[str, float]
    note: str | None
    evidence: str | None


class ProjectDetail(Feature):
    """A project as a GeoJSON feature, with its progress reports oldest first."""

    progress: list[ProgressOut]


class RefusedRowOut(BaseModel):
    """A row not written: its line in the file (the header is line 1) and why."""

    line: int
    error: str


class ListImportOut(BaseModel):
    """What an import of a programme or project list wrote, and which rows it refused (with valid_only)."""

    kind: str
    file_name: str
    written: list[str]
    refused: list[RefusedRowOut]


class TargetRowOut(BaseModel):
    """A target in one area: value now, goal, history, trend, forecast to the deadline and status."""

    area_code: str
    area_name: str
    level: str
    value: float | None
    goal: float | None
    history: list[dict[str, Any]]
    trend_per_year: float | None
    forecast: float | None
    status: Literal["met", "on_track", "at_risk", "late"] | None
    basis: str


class TargetOut(BaseModel):
    """A target with its status in its own area and in each street of it the caller may see."""

    code: str
    name: str
    name_en: str | None
    area_code: str
    measure: str
    programme: str | None
    quantity: str | None
    source: str | None
    source_kind: str | None
    threshold_m: float | None
    goal: float
    unit: str
    baseline: float | None
    baseline_date: str | None
    deadline: str
    rows: list[TargetRowOut]
