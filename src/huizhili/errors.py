"""Every named exception of huizhili, each subclassing the nearest builtin.

Domains raise these; the web layer maps them to HTTP statuses in one handler and the CLI
turns them into a one-line message and a non-zero exit.
"""


class HuizhiliError(Exception):
    """Base class of the platform's own errors.

    ``commit_first`` marks a refusal whose own record must be kept (a failed sign-in counted,
    a replayed token's family revoked): the request's transaction commits before the error is
    answered, where any other error rolls everything back.
    """

    commit_first = False


class ValidationError(HuizhiliError, ValueError):
    """An input value is malformed or out of range."""


class NotFoundError(HuizhiliError, LookupError):
    """A record asked for by code, name or id does not exist."""


class AmbiguousError(HuizhiliError, LookupError):
    """A name matches more than one record; ask by code instead."""


class NaiveTimeError(HuizhiliError, ValueError):
    """A time without a zone was to be stored; it could mean any zone, so it is refused."""


class ConflictError(HuizhiliError, ValueError):
    """The request clashes with what exists (a taken username, a second device account)."""


class AuthenticationError(HuizhiliError, PermissionError):
    """No valid credentials: unknown, expired or revoked token, wrong password."""


class RecordedRefusal(AuthenticationError):
    """Credentials refused, and the refusal recorded: committed before the 401 is answered."""

    commit_first = True


class ForbiddenError(HuizhiliError, PermissionError):
    """Valid credentials, but the role or scope does not allow this."""


class RateLimitedError(HuizhiliError, RuntimeError):
    """Too many requests from one address in a short time."""


class SignInDelayed(RateLimitedError):
    """Too many failed sign-ins for an account or from an address: wait ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnavailableError(HuizhiliError, RuntimeError):
    """A service the request needs (the database) is not answering; try again later."""


class ImportFailed(HuizhiliError, ValueError):
    """A file could not be imported; nothing was written. The message names the bad record."""

    def __init__(self, message: str, *, record: str | None = None) -> None:
        super().__init__(message)
        self.record = record


class ConfigurationError(HuizhiliError, RuntimeError):
    """Settings are inconsistent or unsafe for the chosen environment."""


class MissingDependencyError(HuizhiliError, ImportError):
    """An optional extra is needed for this feature; the message names it."""
