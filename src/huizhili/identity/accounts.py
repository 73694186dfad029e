"""Users, sign-in and credentials.

Tokens are opaque and revocable rather than JWTs: a token is a random secret whose SHA-256 is
stored with its expiry, so signing out, disabling a user or revoking a leaked key takes effect
on the very next request, and no signing key has to be managed. Access tokens live one hour,
refresh tokens fourteen days; API keys (Open311 clients, devices) until revoked.
"""

import functools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from huizhili.departments import unknown_departments
from huizhili.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    RecordedRefusal,
    SignInDelayed,
    ValidationError,
)
from huizhili.identity import attempts
from huizhili.identity.passwords import refusal_reason
from huizhili.identity.roles import ROLES, SCOPE_FIELD
from huizhili.identity.secrets import (
    hash_password,
    mosquitto_hash,
    new_secret,
    secret_digest,
    verify_password,
)
from huizhili.storage.models import Area, Credential, Device, User, utcnow

ACCESS_LIFETIME = timedelta(hours=1)
REFRESH_LIFETIME = timedelta(days=14)
USERNAME_MAX_LENGTH = 64


@dataclass(frozen=True)
class TokenPair:
    """What sign-in returns: a short-lived access token and a refresh token."""

    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"


def create_user(
    session: Session,
    username: str,
    role: str,
    *,
    password: str | None = None,
    display_name: str | None = None,
    phone: str | None = None,
    streets: Iterable[str] = (),
    department: str | None = None,
    committees: Iterable[str] = (),
    grid_cells: Iterable[str] = (),
) -> User:
    """Create a user, checking the role and that scoped roles are bound to existing areas and departments.

    Raises
    ------
    ValidationError
        Unknown role, a password :func:`~huizhili.identity.passwords.refusal_reason` refuses,
        missing scope, unknown area codes or an unknown department.
    ConflictError
        If the username is taken.
    """
    if not 1 <= len(username) <= USERNAME_MAX_LENGTH or username != username.strip():
        message = f"a username has 1 to {USERNAME_MAX_LENGTH} characters and no surrounding spaces"
        raise ValidationError(message)
    if role not in ROLES:
        message = f"unknown role {role!r}; roles: {', '.join(ROLES)}"
        raise ValidationError(message)
    if password is not None and (reason := refusal_reason(password, username)):
        raise ValidationError(reason)
    streets, committees, grid_cells = sorted(set(streets)), sorted(set(committees)), sorted(set(grid_cells))
    scope = {"streets": streets, "department": department, "committees": committees, "grid_cells": grid_cells}
    if role in SCOPE_FIELD and not scope[SCOPE_FIELD[role]]:
        message = f"a {role} must be given {SCOPE_FIELD[role]}"
        raise ValidationError(message)
    _check_areas(session, streets, "street")
    _check_areas(session, committees, "committee")
    _check_areas(session, grid_cells, "grid")
    if unknown_departments(session, [department]):
        message = f"user {username!r}: no department {department!r}; add it first (huizhili department add) or pick one of GET /api/departments"
        raise ValidationError(message)
    if session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        message = f"username {username!r} is taken"
        raise ConflictError(message)
    user = User(
        username=username,
        role=role,
        password_hash=hash_password(password) if password else None,
        display_name=display_name,
        phone=phone,
        streets=streets,
        department=department,
        committees=committees,
        grid_cells=grid_cells,
    )
    session.add(user)
    session.flush()
    return user


def _check_areas(session: Session, codes: list[str], level: str) -> None:
    """Refuse scope codes that are not areas of ``level``."""
    if not codes:
        return
    found = set(session.scalars(sa.select(Area.code).where(Area.code.in_(codes), Area.level == level)))
    if missing := sorted(set(codes) - found):
        message = f"no {level} with code {', '.join(missing)}"
        raise ValidationError(message)


def sign_in(session: Session, username: str, password: str, *, address: str) -> TokenPair:
    """Check a password and issue a token pair; every attempt is logged with the caller's address.

    An unknown, closed or password-less account is checked against a dummy hash, so the answer
    takes as long as for a real account and does not tell which usernames exist. Failures slow
    further attempts (:mod:`huizhili.identity.attempts`).

    Raises
    ------
    RecordedRefusal
        Same message for unknown user, wrong password and closed account (the failure is kept).
    SignInDelayed
        If failures for the account or the address ask for a pause first.
    """
    attempts.one_at_a_time(session, username)
    if (wait := attempts.wait_needed(session, username, address)) is not None:
        seconds, counter = wait
        message = f"too many failed sign-ins for {counter}; try again in {seconds} s"
        raise SignInDelayed(message, retry_after=seconds)
    user = session.scalar(sa.select(User).where(User.username == username))
    user_id = user.id if user is not None else None
    stored = user.password_hash if user is not None and user.active else None
    matches = verify_password(stored or _dummy_hash(), password)
    if user is None or stored is None or not matches:
        attempts.log_attempt(session, username, address, attempts.FAILED, user_id)
        message = "wrong username or password"
        raise RecordedRefusal(message)
    attempts.log_attempt(session, username, address, attempts.SUCCEEDED, user_id)
    return _issue_pair(session, user, family=new_family())


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random secret, made with the same cost as users' hashes, to verify against."""
    return hash_password(new_secret())


def new_family() -> str:
    """An id shared by the tokens of one sign-in and all its refreshes."""
    return uuid.uuid4().hex


def refresh(session: Session, refresh_token: str) -> TokenPair:
    """Trade a refresh token for a new pair; the old refresh token is revoked (rotation).

    A refresh token presented after it was rotated out or revoked has been copied: every token
    of its sign-in is revoked (the thief's and the user's alike), and the user signs in again.

    Raises
    ------
    RecordedRefusal
        If the token was used before (the family's revocation is kept).
    AuthenticationError
        If the refresh token is unknown or expired, or its account closed.
    """
    credential = session.scalar(
        sa.select(Credential).where(Credential.secret_sha256 == secret_digest(refresh_token), Credential.kind == "refresh")
    )
    if credential is None or (credential.expires_at and credential.expires_at <= utcnow()):
        message = "invalid or expired credentials"
        raise AuthenticationError(message)
    # Revoke it only if still live: of two refreshes racing with one token, the second finds it
    # revoked (PostgreSQL re-checks the row once the first commits) and counts as reuse.
    # A plain UPDATE answers a CursorResult; Session.execute is typed Result for every statement
    # (SQLAlchemy's advice, sqlalchemy/sqlalchemy#12813, is to cast where rowcount is needed).
    rotated = cast(CursorResult[Any], session.execute(
        sa.update(Credential).where(Credential.id == credential.id, Credential.revoked_at.is_(None)).values(revoked_at=utcnow())
    ))
    if rotated.rowcount != 1:
        if credential.family is not None:
            _revoke(session, Credential.family == credential.family)
        message = "this refresh token was already used; every token of its sign-in is revoked, sign in again"
        raise RecordedRefusal(message)
    user = session.get_one(User, credential.user_id)
    if not user.active:
        message = "account disabled"
        raise AuthenticationError(message)
    return _issue_pair(session, user, family=credential.family or new_family())


def _issue_pair(session: Session, user: User, *, family: str) -> TokenPair:
    """A fresh access token and refresh token for ``user``, of one token family."""
    access, refresh_secret = new_secret(), new_secret()
    now = utcnow()
    session.add_all(
        [
            Credential(user_id=user.id, kind="access", secret_sha256=secret_digest(access), expires_at=now + ACCESS_LIFETIME,
                       family=family),
            Credential(user_id=user.id, kind="refresh", secret_sha256=secret_digest(refresh_secret),
                       expires_at=now + REFRESH_LIFETIME, family=family),
        ]
    )
    session.flush()
    return TokenPair(access, refresh_secret, int(ACCESS_LIFETIME.total_seconds()))


def create_api_key(session: Session, username: str, name: str) -> tuple[int, str]:
    """A new API key for a user (an Open311 client, a device): its id, and the key, shown once.

    Only the key's hash is stored; the id is how it is listed and revoked.

    Raises
    ------
    NotFoundError
        If there is no such user.
    """
    user = _user(session, username)
    key = new_secret()
    credential = Credential(user_id=user.id, kind="api_key", secret_sha256=secret_digest(key), name=name)
    session.add(credential)
    session.flush()
    return credential.id, key


def api_keys(session: Session, username: str) -> list[Credential]:
    """A user's API keys, revoked ones included, oldest first (their hashes never leave).

    Raises
    ------
    NotFoundError
        If there is no such user.
    """
    user = _user(session, username)
    query = sa.select(Credential).where(Credential.user_id == user.id, Credential.kind == "api_key")
    return list(session.scalars(query.order_by(Credential.id)))


def revoke_api_key(session: Session, username: str, key_id: int) -> Credential:
    """Revoke one of a user's API keys; it is refused from the next request on.

    Raises
    ------
    NotFoundError
        If the user has no such key.
    ConflictError
        If the key is already revoked.
    """
    user = _user(session, username)
    credential = session.scalar(
        sa.select(Credential).where(Credential.id == key_id, Credential.user_id == user.id, Credential.kind == "api_key")
    )
    if credential is None:
        message = f"{username!r} has no API key {key_id}"
        raise NotFoundError(message)
    if credential.revoked_at is not None:
        message = f"API key {key_id} of {username!r} is already revoked"
        raise ConflictError(message)
    credential.revoked_at = utcnow()
    session.flush()
    return credential


def authenticate(session: Session, secret: str) -> User:
    """The active user behind a bearer token or API key.

    Raises
    ------
    AuthenticationError
        If the secret is unknown, expired, revoked, or its user is disabled.
    """
    credential = _live_credential(session, secret, kinds=("access", "api_key"))
    user = session.get_one(User, credential.user_id)
    if not user.active:
        message = "account disabled"
        raise AuthenticationError(message)
    return user


def revoke(session: Session, secret: str) -> None:
    """Sign out the credential ``secret``: a token with every token of its sign-in, or an API key.

    Unknown secrets are ignored.
    """
    credential = session.scalar(sa.select(Credential).where(Credential.secret_sha256 == secret_digest(secret)))
    if credential is None:
        return
    if credential.family is not None:
        _revoke(session, Credential.family == credential.family)
    else:
        _revoke(session, Credential.id == credential.id)


def _revoke(session: Session, which: sa.ColumnElement[bool]) -> None:
    """Revoke the live credentials matching ``which``."""
    session.execute(sa.update(Credential).where(which, Credential.revoked_at.is_(None)).values(revoked_at=utcnow()))


def close_account(session: Session, username: str, *, closed_by: str | None = None) -> User:
    """Close an account: it can no longer sign in, its tokens and keys stop at once.

    Its name and phone are erased after ``retention_closed_account_days`` (``huizhili retention``);
    the account row stays, so the access log and records it touched keep their author.

    Raises
    ------
    NotFoundError
        If there is no such user.
    ConflictError
        If the account is already closed, or someone tries to close their own.
    """
    user = _user(session, username)
    if username == closed_by:
        message = "you cannot close your own account; ask another administrator"
        raise ConflictError(message)
    if not user.active:
        message = f"account {username!r} is already closed"
        raise ConflictError(message)
    now = utcnow()
    user.active = False
    user.closed_at = now
    _revoke(session, Credential.user_id == user.id)
    session.flush()
    return user


def _live_credential(session: Session, secret: str, kinds: tuple[str, ...]) -> Credential:
    """The unexpired, unrevoked credential of one of ``kinds`` matching ``secret``."""
    credential = session.scalar(
        sa.select(Credential).where(Credential.secret_sha256 == secret_digest(secret), Credential.kind.in_(kinds))
    )
    now = utcnow()
    if credential is None or credential.revoked_at is not None or (credential.expires_at and credential.expires_at <= now):
        message = "invalid or expired credentials"
        raise AuthenticationError(message)
    return credential


def _user(session: Session, username: str) -> User:
    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        message = f"no user {username!r}"
        raise NotFoundError(message)
    return user


def create_device_account(session: Session, device_code: str) -> tuple[User, str]:
    """A device's own account and MQTT password (returned once), bound to an existing device.

    Raises
    ------
    NotFoundError
        If the device does not exist.
    ConflictError
        If it already has an account.
    """
    device = session.scalar(sa.select(Device).where(Device.code == device_code))
    if device is None:
        message = f"no device {device_code!r}"
        raise NotFoundError(message)
    if session.scalar(sa.select(User.id).where(User.device_code == device_code)) is not None:
        message = f"device {device_code!r} already has credentials; revoke them first"
        raise ConflictError(message)
    password = new_secret()
    user = create_user(session, f"device-{device_code}", "device", streets=(), department=device.owner_department)
    user.device_code = device_code
    user.mqtt_password_hash = mosquitto_hash(password)
    session.flush()
    return user, password
