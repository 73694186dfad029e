"""Steering SQLite's query planner in the case reads that walk a period: terms kept to filtering.

The platform keeps no planner statistics (no ``ANALYZE``), and without them SQLite takes the
index of any equality or ``IN`` as the most selective way in — ``household_id IS NULL`` (the
household read rule, true of nearly every case), a state, a category. A period's cases were
then read through such an index, from every case ever received, one table lookup each.
Prefixed with a unary ``+``, the way SQLite's query planner documentation gives for this, a
term no longer offers an index, and the period's range on ``received_at`` is the way in
(``ix_cases_by_receipt`` holds what the reads filter and count on). PostgreSQL keeps
statistics and plans for itself.
"""

from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql import operators

from huizhili.storage.engine import is_postgis

_T = TypeVar("_T")


def filter_only(session: Session, term: sa.ColumnElement[_T] | InstrumentedAttribute[_T]) -> sa.ColumnElement[_T]:
    """``term`` as SQLite may not use an index for (``+term``); on PostgreSQL ``term`` itself."""
    element: sa.ColumnElement[Any] = term.expression if isinstance(term, InstrumentedAttribute) else term
    if is_postgis(session):
        return element
    return sa.UnaryExpression(element.self_group(), operator=operators.custom_op("+"), type_=element.type)
