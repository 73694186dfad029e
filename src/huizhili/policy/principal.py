"""Who is asking: the signed-in user's role and scope, or an anonymous citizen."""

from dataclasses import dataclass

from huizhili.storage.models import User


@dataclass(frozen=True)
class Principal:
    """The caller of an action, reduced to what the policy needs."""

    username: str
    role: str
    user_id: int | None = None
    streets: frozenset[str] = frozenset()
    department: str | None = None
    committees: frozenset[str] = frozenset()
    grid_cells: frozenset[str] = frozenset()
    device_code: str | None = None

    @classmethod
    def of(cls, user: User) -> "Principal":
        """The principal of a stored user."""
        return cls(
            username=user.username,
            role=user.role,
            user_id=user.id,
            streets=frozenset(user.streets or ()),
            department=user.department,
            committees=frozenset(user.committees or ()),
            grid_cells=frozenset(user.grid_cells or ()),
            device_code=user.device_code,
        )


ANONYMOUS = Principal(username="anonymous", role="anonymous")
"""Someone who has not signed in: a citizen on the public pages."""

UNRESTRICTED = Principal(username="local", role="district_admin")
"""The operator at the command line, who sees everything (the CLI runs on the server itself)."""
