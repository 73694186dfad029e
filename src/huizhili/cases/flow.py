"""What the case flow runs on, loaded once: the workflow, the categories and routing table, the holiday calendar.

Passed down to every case function (as the sensing library is), so a district's own files
are read and checked once per process, and a test can hand in its own.
"""

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from huizhili.cases.calendar import OfficeHours, WorkCalendar, load_calendar
from huizhili.cases.categories import Categories, load_categories
from huizhili.cases.workflow import Workflow, load_workflow
from huizhili.config import Settings
from huizhili.policy import Principal

PLATFORM = Principal(username="platform", role="system")
"""The platform acting on its own — filing and dispatching what it could classify, escalating late cases."""


@dataclass(frozen=True)
class CaseFlow:
    """The workflow, the categories, the holiday calendar and the office hours deadlines are counted in."""

    workflow: Workflow
    categories: Categories
    calendar: WorkCalendar
    office: OfficeHours

    @property
    def timezone(self) -> str:
        """The district's zone: tracking numbers carry its date, deadlines its office hours."""
        return str(self.office.zone)


def case_flow(settings: Settings) -> CaseFlow:
    """The flow of these settings: the district's own workflow, categories and holiday years where given, else the shipped ones.

    A district's holiday years (``huizhili cases calendar load``) are kept in ``data_dir/holidays``.
    """
    return _loaded(settings.workflow_file, settings.case_categories_file, settings.data_dir / "holidays",
                   settings.local_timezone)


@lru_cache(maxsize=8)
def _loaded(workflow_file: Path | None, categories_file: Path | None, holidays: Path, timezone: str) -> CaseFlow:
    return CaseFlow(load_workflow(workflow_file), load_categories(categories_file),
                    load_calendar(holidays if holidays.is_dir() else None), OfficeHours(zone=timezone))
