"""The scenario library as data: each scenario's trigger, warning levels, responder and time limit."""

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huizhili.errors import ConfigurationError
from huizhili.storage.models import ALERT_LEVELS

SCENARIOS_FILE = Path(__file__).with_name("scenarios.toml")
INDICATORS_FILE = Path(__file__).with_name("indicators.toml")
RULE_KINDS = ("threshold", "mean", "sum", "rate", "anomaly", "no_data", "facility_status", "case_deadline", "indicator")
"""``case_deadline`` is judged by the case flow; the rest here."""


VERIFICATIONS = ("", "field_photo")
"""What a scenario's case may ask for at verification: nothing beyond the workflow, or a field photo."""


@dataclass(frozen=True)
class Scenario:
    """One high-frequency scenario (高频场景): when it fires, how badly, who responds and by when."""

    id: str
    zh: str
    en: str
    kind: str
    metric: str
    rule: str
    levels: tuple[float | None, ...]
    """Where blue, yellow, orange and red start (None: the scenario has no such level)."""
    direction: str = "above"
    of_capacity: bool = False
    window_s: int = 0
    for_s: int = 0
    hysteresis: float = 0.05
    min_hold_s: int = 300
    intervals: int = 3
    department: str | None = None
    fallback_department: str | None = None
    respond_within_s: int | None = None
    closure: str = ""
    verification: str = ""
    """What verifying its case asks beyond the workflow: "" nothing, "field_photo" a photo with the verify step."""
    extra: dict[str, Any] = field(default_factory=dict)

    def level_of(self, value: float) -> int:
        """The warning level (0 none, 1–4 blue–red) a value reaches."""
        reached = 0
        for number, start in enumerate(self.levels, 1):
            if start is not None and (value >= start if self.direction == "above" else value <= start):
                reached = number
        return reached

    def recovered(self, value: float) -> bool:
        """Whether a value is back past the lowest level by the hysteresis margin."""
        lowest = min((s for s in self.levels if s is not None), key=lambda s: s if self.direction == "above" else -s)
        margin = abs(lowest) * self.hysteresis
        return value < lowest - margin if self.direction == "above" else value > lowest + margin

    def applies_to(self, kind: str, metric: str) -> bool:
        """Whether the scenario watches this kind of device's metric."""
        return self.kind in {kind, "*"} and self.metric in {metric, "*"}


def load_indicators() -> list[Scenario]:
    """The shipped vital signs, each judged like a scenario under the id ``indicator:<id>``."""
    return load_scenarios(INDICATORS_FILE, table="indicator")


def load_scenarios(path: Path | None = None, *, table: str = "scenario") -> list[Scenario]:
    """The scenarios of ``path`` (default the shipped library), checked.

    Raises
    ------
    ConfigurationError
        If a scenario lacks a field, names an unknown rule or level, or repeats an id; names it.
    """
    source = path or SCENARIOS_FILE
    try:
        entries = tomllib.loads(source.read_text(encoding="utf-8")).get(table, [])
    except (OSError, tomllib.TOMLDecodeError) as error:
        message = f"scenario library {source.name}: {error}"
        raise ConfigurationError(message) from error
    scenarios, seen = [], set()
    for entry in entries:
        ident = entry.get("id", "?")
        if table == "indicator":
            entry = {**entry, "id": f"indicator:{ident}", "rule": "indicator"}
        try:
            levels = entry.pop("levels")
            unknown = set(levels) - set(ALERT_LEVELS)
            if unknown or not levels:
                message = f"levels must name some of {', '.join(ALERT_LEVELS)}, not {sorted(unknown)}"
                raise ValueError(message)
            known = {f for f in Scenario.__dataclass_fields__ if f not in {"levels", "extra"}}
            scenario = Scenario(
                levels=tuple(float(levels[name]) if name in levels else None for name in ALERT_LEVELS),
                **{k: v for k, v in entry.items() if k in known},
                extra={k: v for k, v in entry.items() if k not in known},
            )
            if scenario.rule not in RULE_KINDS:
                message = f"rule {scenario.rule!r} is not one of {', '.join(RULE_KINDS)}"
                raise ValueError(message)
            if scenario.verification not in VERIFICATIONS:
                message = f"verification {scenario.verification!r} is not one of {', '.join(map(repr, VERIFICATIONS))}"
                raise ValueError(message)
            if scenario.rule in {"mean", "sum", "rate"} and scenario.window_s <= 0:
                message = f"a {scenario.rule} rule needs window_s"
                raise ValueError(message)
        except (KeyError, TypeError, ValueError) as error:
            message = f"scenario library {source.name}: scenario {ident}: {error}"
            raise ConfigurationError(message) from error
        if scenario.id in seen:
            message = f"scenario library {source.name}: scenario id {scenario.id} is given twice"
            raise ConfigurationError(message)
        seen.add(scenario.id)
        scenarios.append(scenario)
    return scenarios
