"""Users, API keys and the access log, for administrators; the directory, masked by role, for staff."""

from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from huizhili.errors import NotFoundError, ValidationError
from huizhili.identity.accounts import (
    api_keys,
    close_account,
    create_api_key,
    create_user,
    revoke_api_key,
)
from huizhili.policy import scope_for
from huizhili.policy.privacy import present
from huizhili.spreadsheet import csv_text
from huizhili.storage.models import AccessLog, User, as_utc
from huizhili.web.deps import ManageUsers, ReadPersonal, ReadUsers, SessionDep, SettingsDep
from huizhili.web.schemas import (
    AccessLogEntry,
    ApiKeyIn,
    ApiKeyIssued,
    ApiKeyOut,
    ContactOut,
    UserIn,
    UserOut,
)

router = APIRouter(tags=["identity"])

_USER_FIELDS = list(UserOut.model_fields)


def _visible_users(session: SessionDep, principal: Any, limit: int, offset: int, action: str) -> list[dict[str, Any]]:
    """The users the caller may see, as they may see them."""
    rows = session.scalars(
        sa.select(User).where(scope_for(principal).condition(User)).order_by(User.id).limit(limit).offset(offset)
    ).all()
    records = [{field: getattr(user, field) for field in _USER_FIELDS} for user in rows]
    return present(session, principal, "users", records, action)


@router.get("/users", response_model=list[UserOut])
def list_users(
    session: SessionDep,
    settings: SettingsDep,
    principal: ReadUsers,
    limit: int = Query(100, ge=1, le=1_000_000),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> list[dict[str, Any]]:
    """Users the caller's scope shows; names and phones masked unless the role needs them (then logged)."""
    return _visible_users(session, principal, min(limit, settings.page_size_max), offset, "list")


@router.get("/users/export.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
def export_users(session: SessionDep, principal: ReadUsers) -> Response:
    """The same directory as CSV, with the same scope and masking."""
    records = _visible_users(session, principal, 1_000_000, 0, "export")
    lists = ("streets", "committees", "grid_cells")
    rows = ({**r, **{field: " ".join(r[field]) for field in lists}} for r in records)
    return Response(csv_text(rows, _USER_FIELDS), media_type="text/csv; charset=utf-8")


@router.get("/users/{username}/contact", response_model=ContactOut)
def user_contact(
    session: SessionDep,
    principal: ReadPersonal,
    username: str = Path(min_length=1, max_length=64),
) -> dict[str, Any]:
    """A colleague's name and phone, unmasked, to call them back; within the caller's scope, and logged."""
    user = session.scalar(sa.select(User).where(User.username == username, scope_for(principal).condition(User)))
    if user is None:
        message = f"no user {username!r}"
        raise NotFoundError(message)
    record = {"id": user.id, "username": user.username, "display_name": user.display_name, "phone": user.phone}
    return present(session, principal, "users", [record], "contact")[0]


@router.post("/users", response_model=UserOut, status_code=201)
def add_user(body: UserIn, session: SessionDep, _: ManageUsers) -> dict[str, Any]:
    """Create a user with a role and, for scoped roles, their streets, department, committees or grid cells."""
    user = create_user(session, **body.model_dump())
    return {field: getattr(user, field) for field in _USER_FIELDS}


@router.post("/users/{username}/api-keys", response_model=ApiKeyIssued, status_code=201)
def add_api_key(
    body: ApiKeyIn,
    session: SessionDep,
    _: ManageUsers,
    username: str = Path(min_length=1, max_length=64),
) -> dict[str, Any]:
    """Issue an API key for a user (Open311 client, service); shown once, with the id to revoke it by."""
    key_id, secret = create_api_key(session, username, body.name)
    return {"username": username, "secret": secret, "key_id": key_id}


@router.get("/users/{username}/api-keys", response_model=list[ApiKeyOut])
def list_api_keys(
    session: SessionDep,
    _: ManageUsers,
    username: str = Path(min_length=1, max_length=64),
) -> list[dict[str, Any]]:
    """A user's API keys, revoked ones included (names and dates; the keys are never stored)."""
    return [
        {"id": key.id, "name": key.name, "created_at": key.created_at, "revoked_at": key.revoked_at}
        for key in api_keys(session, username)
    ]


@router.delete("/users/{username}/api-keys/{key_id}", status_code=204)
def delete_api_key(
    session: SessionDep,
    _: ManageUsers,
    username: str = Path(min_length=1, max_length=64),
    key_id: int = Path(ge=1, le=2**62),
) -> None:
    """Revoke one API key: refused from the next request on (409 if it already is)."""
    revoke_api_key(session, username, key_id)


@router.post("/users/{username}/close", response_model=UserOut)
def close_user(
    session: SessionDep,
    principal: ManageUsers,
    username: str = Path(min_length=1, max_length=64),
) -> dict[str, Any]:
    """Close an account: sign-in refused and its tokens and keys revoked at once; personal fields erased later."""
    user = close_account(session, username, closed_by=principal.username)
    return present(session, principal, "users", [{field: getattr(user, field) for field in _USER_FIELDS}], "close")[0]


@router.get("/access-log", response_model=list[AccessLogEntry])
def access_log(
    session: SessionDep,
    _: ManageUsers,
    username: Annotated[str | None, Query(max_length=64, description="Only reads by this user.")] = None,
    resource: Annotated[str | None, Query(max_length=40, description="Only reads of this resource (e.g. users).")] = None,
    since: Annotated[datetime | None, Query(description="Only reads at or after this time (ISO 8601; no zone: UTC).")] = None,
    until: Annotated[datetime | None, Query(description="Only reads before this time (ISO 8601; no zone: UTC).")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[dict[str, Any]]:
    """Reads of unmasked personal data and sign-in attempts, newest first, filtered by reader, resource and period.

    Sign-in attempts have resource ``sign_in`` and action ``sign_in`` or ``sign_in_failed``, with
    the caller's address; ``username`` is the name tried (attempts refused during a delay are not kept).
    """
    query = sa.select(AccessLog)
    if username is not None:
        query = query.where(AccessLog.username == username)
    if resource is not None:
        query = query.where(AccessLog.resource == resource)
    if since is not None:
        query = query.where(AccessLog.at >= _utc(since))
    if until is not None:
        query = query.where(AccessLog.at < _utc(until))
    rows = session.scalars(query.order_by(AccessLog.at.desc(), AccessLog.id.desc()).limit(limit).offset(offset)).all()
    return [
        {"id": r.id, "at": r.at.isoformat(), "username": r.username, "action": r.action, "resource": r.resource,
         "record_ids": r.record_ids, "fields": r.fields, "address": r.address}
        for r in rows
    ]


def _utc(moment: datetime) -> datetime:
    """A query time as aware UTC (no zone: UTC).

    Raises
    ------
    ValidationError
        If the time has no UTC equivalent (year 1 east of Greenwich, year 9999 west of it).
    """
    try:
        return as_utc(moment)
    except OverflowError as error:
        message = f"{moment.isoformat()} is out of range"
        raise ValidationError(message) from error
