"""The district's departments (委办局): records that users, devices and facilities point to.

A department handler sees and changes what his department owns, so a department named by
free text that nobody else spells the same way would hand him nothing, silently. As records
with foreign keys, an unknown department is refused where it is written, naming the record.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.errors import ConflictError, ValidationError
from huizhili.policy import Scope
from huizhili.storable import text_problem
from huizhili.storage.models import Department

CODE_MAX_LENGTH = 100


@dataclass(frozen=True)
class DepartmentSpec:
    """A department to create or update: its code (the short name records use), names, and the street of a street office."""

    code: str
    name: str
    name_en: str | None = None
    street_code: str | None = None


def add_department(session: Session, spec: DepartmentSpec) -> Department:
    """Create a department.

    Raises
    ------
    ValidationError
        If the code or a name is blank, too long or not storable text.
    ConflictError
        If a department has this code already.
    """
    _check(spec)
    if session.get(Department, spec.code) is not None:
        message = f"department {spec.code!r} exists already"
        raise ConflictError(message)
    department = Department(code=spec.code, name=spec.name, name_en=spec.name_en, street_code=spec.street_code)
    session.add(department)
    session.flush()
    return department


def upsert_departments(session: Session, specs: Iterable[DepartmentSpec]) -> int:
    """Create departments or update their names by code; returns how many were written.

    Raises
    ------
    ValidationError
        If a code or a name is blank, too long or not storable text.
    """
    written = 0
    for spec in specs:
        _check(spec)
        department = session.get(Department, spec.code) or Department(code=spec.code)
        department.name, department.name_en, department.street_code = spec.name, spec.name_en, spec.street_code
        session.add(department)
        written += 1
    session.flush()
    return written


def list_departments(session: Session, scope: Scope) -> list[Department]:
    """The departments the scope shows, by code."""
    return list(session.scalars(sa.select(Department).where(scope.condition(Department)).order_by(Department.code)))


def street_offices(session: Session) -> dict[str, str]:
    """Street code → the code of its street office (街道办事处), the unit cases there are routed to."""
    rows = session.execute(sa.select(Department.street_code, Department.code).where(Department.street_code.is_not(None)))
    return {street: code for street, code in rows if street is not None}


def unknown_departments(session: Session, codes: Iterable[str | None]) -> list[str]:
    """Those of ``codes`` that are no department, sorted (None, meaning no department, is never unknown)."""
    wanted = {code for code in codes if code is not None}
    if not wanted:
        return []
    # A district has tens of departments: reading them all is one small query, however many
    # distinct values a file brings (more than fit in one IN list).
    return sorted(wanted - set(session.scalars(sa.select(Department.code))))


def _check(spec: DepartmentSpec) -> None:
    """Refuse a blank, overlong or unstorable code or name."""
    if not spec.code.strip() or spec.code != spec.code.strip() or len(spec.code) > CODE_MAX_LENGTH:
        message = f"a department code has 1 to {CODE_MAX_LENGTH} characters and no surrounding spaces, not {spec.code!r}"
        raise ValidationError(message)
    if not spec.name.strip() or len(spec.name) > 200 or (spec.name_en is not None and len(spec.name_en) > 200):
        message = f"department {spec.code!r} needs a name of 1 to 200 characters (and an English one of at most 200)"
        raise ValidationError(message)
    if problem := text_problem([spec.code, spec.name, spec.name_en]):
        message = f"department {spec.code!r}: a text value {problem}"
        raise ValidationError(message)
