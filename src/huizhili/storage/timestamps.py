"""A time column that keeps instants: any zone in, aware UTC out, on both backends.

SQLite has no time type: SQLAlchemy's ``DateTime`` writes the wall-clock digits and drops the
zone, so 08:00+08:00 used to come back as 08:00 UTC. This type converts to UTC before writing.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.types import DateTime, TypeDecorator

from huizhili.errors import NaiveTimeError


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes stored as UTC: ``timestamptz`` on PostgreSQL, fixed-width UTC text on SQLite.

    On SQLite the text is ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC, as SQLAlchemy has always written
    it there, so rows stored before read back unchanged and text order is time order in SQL.
    A naive datetime is refused (:class:`~huizhili.errors.NaiveTimeError`): it could mean any
    zone, and guessing is how times end up hours off. Parse inputs with
    ``huizhili.storage.models.as_utc`` where a missing zone is documented to mean UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        """The instant in UTC; naive on SQLite, whose text holds no zone."""
        if value is None:
            return None
        if not isinstance(value, datetime):
            message = f"expected a datetime, got {type(value).__name__}"
            raise TypeError(message)
        if value.tzinfo is None or value.utcoffset() is None:
            message = f"{value.isoformat()} has no zone; give it one (now: datetime.now(UTC))"
            raise NaiveTimeError(message)
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Aware UTC: SQLite's naive text is UTC; PostgreSQL answers in the session's zone."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
