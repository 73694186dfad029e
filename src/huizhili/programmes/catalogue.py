"""What programmes, projects and targets may say: the programme kinds (``kinds.toml``), quantity units, live sources."""

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

KINDS_FILE = Path(__file__).with_name("kinds.toml")

QUANTITY_UNITS = {"households": ("户", "households"), "m2": ("平方米", "m²"), "km": ("公里", "km"), "count": ("个", "count")}
"""Units a project's quantities are counted in, with their Chinese and English names."""

LIVE_SOURCES = {
    "park_coverage": ("公园绿地服务半径覆盖率（最新生活圈分析）", "share of residents within reach of a park, from the latest life-circle run"),
    "case_on_time": ("按期结案率（案件综合评价）", "on-time case closure rate, from the case evaluation"),
    "facility_count": ("设施数量（底数）", "facilities of one kind, from the digital base"),
}
"""What a live target is computed from, in Chinese and English."""

MEASURES = ("sum", "live")
"""A target is a sum of a project quantity over a programme, or computed live from the platform."""


@dataclass(frozen=True)
class ProgrammeKind:
    """A kind of programme: its names and the quantity its projects are usually counted in."""

    code: str
    zh: str
    en: str
    quantity: str


@cache
def programme_kinds() -> dict[str, ProgrammeKind]:
    """The programme kinds of ``kinds.toml``, by code."""
    with KINDS_FILE.open("rb") as file:
        table = tomllib.load(file)
    return {code: ProgrammeKind(code, entry["zh"], entry["en"], entry["quantity"]) for code, entry in table.items()}
