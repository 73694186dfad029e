"""The life circle's standards: for each facility kind, the walk within which every home should have one.

Defaults ship in ``standards.csv``, after Shanghai's 15-minute community life circle
guidance (上海市15分钟社区生活圈规划导则, 2016): 5-, 10- and 15-minute tiers, and parks within
300 m. Minutes become metres at :data:`WALKING_SPEED_M_PER_S`. Any run may override a kind's
distance or target.
"""

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from huizhili.base.kinds import FACILITY_KINDS
from huizhili.errors import ValidationError

WALKING_SPEED_M_PER_S = 1.0
"""3.6 km/h: an unhurried pace that includes elderly residents; five minutes is then 300 m,
the guidance's five-minute radius."""

TIERS_MINUTES = (5, 10, 15)
"""The life circle's tiers, reported for every kind beside its own standard."""

STANDARDS_FILE = Path(__file__).with_name("standards.csv")


@dataclass(frozen=True)
class Standard:
    """Every home should reach a facility of ``kind`` within ``metres``; ``target`` share of population."""

    kind: str
    metres: float
    target: float | None
    basis: str


def load_standards(
    path: Path = STANDARDS_FILE,
    metres: Mapping[str, float] | None = None,
    targets: Mapping[str, float] | None = None,
    speed_m_per_s: float = WALKING_SPEED_M_PER_S,
) -> dict[str, Standard]:
    """The standards table, with per-run overrides.

    Parameters
    ----------
    path
        CSV with ``kind, minutes, metres, target, basis`` (minutes or metres per row).
    metres
        Kind → distance overriding the table's.
    targets
        Kind → target share (0–1) overriding the table's.
    speed_m_per_s
        Walking speed turning minutes into metres.

    Raises
    ------
    ValidationError
        For an unknown kind, a non-positive distance or speed, or a target outside 0–1.
    """
    if not (math.isfinite(speed_m_per_s) and speed_m_per_s > 0):
        message = f"walking speed must be positive, not {speed_m_per_s}"
        raise ValidationError(message)
    standards = {}
    with path.open(encoding="utf-8") as file:
        for row in csv.DictReader(file):
            distance = float(row["metres"]) if row["metres"] else float(row["minutes"]) * 60 * speed_m_per_s
            target = float(row["target"]) if row["target"] else None
            standards[row["kind"]] = Standard(row["kind"], distance, target, row["basis"])
    for kind, value in (metres or {}).items():
        _check_kind(kind)
        if not (math.isfinite(value) and value > 0):
            message = f"distance for {kind} must be a positive number of metres, not {value}"
            raise ValidationError(message)
        standards[kind] = replace(standards.get(kind, Standard(kind, value, None, "run override")), metres=float(value))
    for kind, value in (targets or {}).items():
        _check_kind(kind)
        if not (math.isfinite(value) and 0 <= value <= 1):
            message = f"target for {kind} must be a share between 0 and 1, not {value}"
            raise ValidationError(message)
        if kind not in standards:
            message = f"{kind} has no standard distance; give one with its target"
            raise ValidationError(message)
        standards[kind] = replace(standards[kind], target=float(value))
    return standards


def _check_kind(kind: str) -> None:
    if kind not in FACILITY_KINDS:
        message = f"unknown facility kind {kind!r}"
        raise ValidationError(message)
