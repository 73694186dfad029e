"""The worker's case clock: time-limit warnings, overdue flags and escalations on time, sensor alerts taken in as cases, and sensor cases whose alert recovered put to verification."""

import logging
import threading

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from huizhili.cases.deadlines import CLOCK_PAGE, check_deadlines
from huizhili.cases.flow import case_flow
from huizhili.cases.handling import propose_recovered
from huizhili.cases.intake import cases_from_alerts
from huizhili.config import Settings
from huizhili.storage.engine import transaction
from huizhili.storage.models import utcnow

log = logging.getLogger(__name__)

CASE_CLOCK_SECONDS = 1.0
"""How often the clock looks: a warning or an overdue point is passed within about a second of its time."""


def run_case_clock(sessions: sessionmaker[Session], settings: Settings, stop: threading.Event) -> None:
    """Pass due checkpoints, take new sensor alerts in as cases and propose recovered ones, until ``stop``; waits out a database that does not answer."""
    flow = case_flow(settings)
    wait = CASE_CLOCK_SECONDS
    while not stop.wait(wait):
        wait = CASE_CLOCK_SECONDS
        try:
            with transaction(sessions) as session:
                passed = check_deadlines(session, flow, utcnow())
            with transaction(sessions) as session:
                taken = len(cases_from_alerts(session, flow, utcnow()))
            with transaction(sessions) as session:
                proposed = len(propose_recovered(session, flow, utcnow()))
            if passed or taken or proposed:
                log.info("case clock: %d checkpoints passed, %d alerts taken in as cases, %d recovered cases proposed for closure",
                         passed, taken, proposed)
            if passed >= CLOCK_PAGE:
                wait = 0.0
        except sa.exc.OperationalError as error:
            log.warning("database not answering (%s); the case clock waits", error.orig)
            wait = 1.0
        except sa.exc.IntegrityError as error:  # another worker's clock took the same alert first
            log.info("case clock ran into another clock (%s); checking again", error.orig)
