"""The district's departments (委办局): records that users, devices and facilities point to.

A department handler sees and changes what his department owns, so a department named by
free text that nobody else spells the same way would hand him nothing, silently. As records
with foreign keys, an unknown department is refused where it is written, naming the record.

A department may stand for a street's office (街道办事处) or a residential committee's (居委会):
the unit that cases lying there are routed to (``@street``, ``@committee`` in the routing table).
"""

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from huizhili.errors import ConflictError, ValidationError
from huizhili.policy import Scope
from huizhili.storable import text_problem
from huizhili.storage.models import Area, Department

CODE_MAX_LENGTH = 100


@dataclass(frozen=True)
class DepartmentSpec:
    """A department to create or update: its code (the short name records use), names, and the area of a street's or committee's office."""

    code: str
    name: str
    name_en: str | None = None
    street_code: str | None = None
    committee_code: str | None = None


def add_department(session: Session, spec: DepartmentSpec) -> Department:
    """Create a department.

    Raises
    ------
    ValidationError
        If the code or a name is blank, too long or not storable text, or the street or
        committee of an office is no stored area of that level, or both are given.
    ConflictError
        If a department has this code already, or its street or committee has an office already.
    """
    _check(spec)
    _check_offices(session, [spec])
    if session.get(Department, spec.code) is not None:
        message = f"department {spec.code!r} exists already"
        raise ConflictError(message)
    department = Department(code=spec.code, name=spec.name, name_en=spec.name_en, street_code=spec.street_code,
                            committee_code=spec.committee_code)
    session.add(department)
    session.flush()
    return department


def upsert_departments(session: Session, specs: Iterable[DepartmentSpec]) -> int:
    """Create departments or update their names and offices' areas by code; returns how many were written.

    Raises
    ------
    ValidationError
        If a code or a name is blank, too long or not storable text, or an office's street or
        committee is no stored area of that level, or both are given.
    ConflictError
        If an office's street or committee has another department as its office already.
    """
    written = list(specs)
    for spec in written:
        _check(spec)
    _check_offices(session, written)
    for spec in written:
        department = session.get(Department, spec.code) or Department(code=spec.code)
        department.name, department.name_en = spec.name, spec.name_en
        department.street_code, department.committee_code = spec.street_code, spec.committee_code
        session.add(department)
    session.flush()
    return len(written)


def list_departments(session: Session, scope: Scope) -> list[Department]:
    """The departments the scope shows, by code."""
    return list(session.scalars(sa.select(Department).where(scope.condition(Department)).order_by(Department.code)))


def street_offices(session: Session) -> dict[str, str]:
    """Street code → the code of its street office (街道办事处), the unit cases there are routed to."""
    rows = session.execute(sa.select(Department.street_code, Department.code).where(Department.street_code.is_not(None)))
    return {street: code for street, code in rows if street is not None}


def committee_office(session: Session, committee_code: str) -> str | None:
    """The code of the residential committee's office (居委会) of ``committee_code``, the unit cases there are routed to; None if it has none."""
    # One lookup on the unique column: a district has hundreds of committees, and this is asked per case.
    return session.scalar(sa.select(Department.code).where(Department.committee_code == committee_code))


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


def _check_offices(session: Session, specs: list[DepartmentSpec]) -> None:
    """Refuse an office standing for both a street and a committee, for an area that is no stored street or committee, or for one that has an office."""
    for spec in specs:
        if spec.street_code is not None and spec.committee_code is not None:
            message = (f"部门 {spec.code!r} 不能既是街道办事处又是居委会 — department {spec.code!r} is the office of a street "
                       f"({spec.street_code}) or of a committee ({spec.committee_code}), not both")
            raise ValidationError(message)
    streets = _stored(session, "street", [spec.street_code for spec in specs])
    committees = _stored(session, "committee", [spec.committee_code for spec in specs])
    for spec in specs:
        if spec.street_code is not None and spec.street_code not in streets:
            message = (f"部门 {spec.code!r}：没有代码为 {spec.street_code!r} 的街道 — department {spec.code!r}: "
                       f"no street coded {spec.street_code!r} is stored (import the divisions first)")
            raise ValidationError(message)
        if spec.committee_code is not None and spec.committee_code not in committees:
            message = (f"部门 {spec.code!r}：没有代码为 {spec.committee_code!r} 的居委会 — department {spec.code!r}: "
                       f"no residential committee coded {spec.committee_code!r} is stored (import the divisions first)")
            raise ValidationError(message)
    _check_unclaimed(session, specs)


def _check_unclaimed(session: Session, specs: list[DepartmentSpec]) -> None:
    """Refuse an office for a street or committee that another department is the office of already."""
    # Offices are hundreds at most: reading them all is one small query. Area codes are unique across levels.
    rows = session.execute(sa.select(Department.code, Department.street_code, Department.committee_code)
                           .where(sa.or_(Department.street_code.is_not(None), Department.committee_code.is_not(None))))
    holders = {area: code for code, street, committee in rows for area in (street, committee) if area is not None}
    for spec in specs:
        for area in (spec.street_code, spec.committee_code):
            holder = holders.setdefault(area, spec.code) if area is not None else spec.code
            if holder != spec.code:
                message = (f"部门 {spec.code!r}：{area} 已有办事机构 {holder!r} — department {spec.code!r}: "
                           f"{area} has an office already, {holder!r}")
                raise ConflictError(message)


def _stored(session: Session, level: str, codes: list[str | None]) -> set[str]:
    """Those of ``codes`` that are stored areas of ``level``."""
    wanted = sorted({code for code in codes if code is not None})
    return set(session.scalars(sa.select(Area.code).where(Area.level == level, Area.code.in_(wanted)))) if wanted else set()
