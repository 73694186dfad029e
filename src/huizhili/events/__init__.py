"""Live events: changes written beside the data they describe, read back in order and in scope.

A change that people watch — a facility opening or closing, an alert raised, a case moving on — is
published with :func:`publish` in the same transaction as the change itself, so no watcher
sees an event whose change was rolled back. Watchers ask for the events after the last
position they saw (:func:`read_events`); the caller's :class:`~huizhili.policy.Scope` filters
them like any other area-coded table, so a street operator's stream holds her streets and
nothing else. Publishers take no lock (``events.reading`` says why none is needed).

Events are a live feed, not an audit trail: they are deleted after ``retention_event_days``
(:func:`prune`, run daily by ``huizhili retention``). Cases keep their own permanent audit table.
"""

from huizhili.events.publishing import publish, publish_many
from huizhili.events.reading import (
    CURSOR_PATTERN,
    START,
    EventPage,
    Position,
    current_position,
    read_events,
)
from huizhili.events.retention import prune

__all__ = ["CURSOR_PATTERN", "START", "EventPage", "Position", "current_position", "prune", "publish", "publish_many", "read_events"]
