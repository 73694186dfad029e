"""What the case flow runs on, loaded once: the workflow, the categories and routing table, the holiday calendar.

It reads the sensing scenario library too, for what a sensor case's verification asks.

Passed down to every case function (as the sensing library is), so a district's own files
are read and checked once per process, and a test can hand in its own.
"""

from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from huizhili.cases.calendar import OfficeHours, WorkCalendar, load_calendar
from huizhili.cases.categories import Categories, load_categories
from huizhili.cases.classifier import Classifier, load
from huizhili.cases.workflow import Workflow, load_workflow
from huizhili.config import Settings
from huizhili.policy import Principal
from huizhili.sensing.rules import load_scenarios

PLATFORM = Principal(username="platform", role="system")
"""The platform acting on its own — filing and dispatching what it could classify, escalating late cases."""


@dataclass(frozen=True)
class CaseFlow:
    """The workflow, the categories, the holiday calendar, the office hours, and the classifier with its threshold."""

    workflow: Workflow
    categories: Categories
    calendar: WorkCalendar
    office: OfficeHours
    classifier: Classifier | None = None
    confident: float = 0.6
    """Below this probability a classified report waits for a person to choose its category."""
    field_photo: frozenset[str] = frozenset()
    """The sensing scenarios whose cases verify only with a photo taken on site (``verification = "field_photo"``)."""

    @property
    def timezone(self) -> str:
        """The district's zone: tracking numbers carry its date, deadlines its office hours."""
        return str(self.office.zone)


def case_flow(settings: Settings) -> CaseFlow:
    """The flow of these settings: the district's own workflow, categories and holiday years where given, else the shipped ones.

    A district's holiday years (``huizhili cases calendar``) are kept in ``data_dir/holidays``;
    its classifier is ``case_classifier_model``, else ``data_dir/models/case-classifier.zip``
    where one was trained (``huizhili cases train``, or the demo's), else none: then every case
    waits for a person to choose its category. A model file replaced is read again.
    """
    model = settings.case_classifier_model or settings.data_dir / "models" / DEFAULT_MODEL
    stamp = model.stat().st_mtime_ns if model.is_file() else None
    flow = _loaded(settings.workflow_file, settings.case_categories_file, settings.data_dir / "holidays",
                   settings.local_timezone, model if stamp is not None or settings.case_classifier_model else None, stamp,
                   settings.scenarios_file)
    return replace(flow, confident=settings.case_classifier_confidence)


DEFAULT_MODEL = "case-classifier.zip"
"""The model file a data folder's classifier is kept in."""

DEMO_TRAINING = Path(__file__).with_name("demo") / "classifier_training.csv"
"""The demo classifier's messages: illustrative ones written for the demo (their README says so), never real cases."""


@lru_cache(maxsize=8)
def _loaded(workflow_file: Path | None, categories_file: Path | None, holidays: Path, timezone: str, model: Path | None,
            _stamp: int | None, scenarios_file: Path | None) -> CaseFlow:
    return CaseFlow(load_workflow(workflow_file), load_categories(categories_file),
                    load_calendar(holidays if holidays.is_dir() else None), OfficeHours(zone=timezone),
                    load(model) if model is not None else None,
                    field_photo=frozenset(s.id for s in load_scenarios(scenarios_file) if s.verification == "field_photo"))
