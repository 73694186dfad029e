"""What every channel calls with what arrived: store it, judge it, update the vital signs, in one transaction."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from sqlalchemy.orm import Session

from huizhili.config import Settings
from huizhili.sensing.alerts import evaluate, recover_heard
from huizhili.sensing.ingest import Ingested, Limits, Message, ingest
from huizhili.sensing.rules import Scenario, load_indicators, load_scenarios
from huizhili.sensing.vitals import update_vitals


@dataclass(frozen=True)
class Library:
    """The scenarios and vital signs the platform judges by."""

    scenarios: tuple[Scenario, ...]
    indicators: tuple[Scenario, ...]


@cache
def _library(path: Path | None) -> Library:
    return Library(tuple(load_scenarios(path)), tuple(load_indicators()))


def library(settings: Settings) -> Library:
    """The district's scenario library (``scenarios_file``, else the shipped one) and the vital signs, read once."""
    return _library(settings.scenarios_file)


def receive(session: Session, messages: Sequence[Message], now: datetime, limits: Limits, rules: Library) -> Ingested:
    """Ingest ``messages``, then judge what was newly stored and update the areas' vital signs; the caller commits."""
    result = ingest(session, messages, now, limits)
    recover_heard(session, result.heard, now, rules.scenarios)
    evaluate(session, result.stored, rules.scenarios, now, result.devices)
    update_vitals(session, result.stored, rules.indicators, now, result.devices)
    return result
