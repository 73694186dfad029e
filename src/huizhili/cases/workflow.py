"""The case workflow as data (``workflow.toml``): states, the transitions between them and who may take each.

A district adapts the workflow without code, by a copy of the file named in the
``workflow_file`` setting; it is checked whole when loaded, so a typo is refused naming the
file and the record instead of stranding cases in a state nothing leaves.
"""

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huizhili.errors import ConflictError, ValidationError
from huizhili.identity.roles import ROLES

SHIPPED = Path(__file__).with_name("workflow.toml")

SAME, PREVIOUS, UNIT, SYSTEM = "@same", "@previous", "@unit", "system"
"""Targets and roles with a meaning of their own: stay, return from suspension, the responsible unit, the platform."""

NEEDS = ("note", "reason", "department", "category", "satisfaction", "until", "into", "signals", "photos")
"""What an action may require its caller to give."""


@dataclass(frozen=True)
class State:
    """A state of a case: its names, whose turn it is (``stage``, for time limits) and whether work goes on."""

    id: str
    zh: str
    en: str
    stage: str
    open: bool


@dataclass(frozen=True)
class Transition:
    """An action that moves a case from one of ``sources`` to ``target``, for the roles named."""

    action: str
    zh: str
    en: str
    sources: frozenset[str]
    target: str
    roles: frozenset[str]
    needs: frozenset[str]
    public: bool
    public_note: bool = False
    """The step's note is written for the reporter: shown with it on the public timeline (others' notes never are)."""


@dataclass(frozen=True)
class Workflow:
    """The states and transitions of the case flow, checked whole."""

    states: dict[str, State]
    transitions: dict[str, Transition]
    source: str

    def transition(self, action: str, state: str) -> Transition:
        """The transition ``action`` from ``state``.

        Raises
        ------
        ConflictError
            If the action does not exist or does not leave this state; the message names the actions that do.
        """
        found = self.transitions.get(action)
        if found is None or state not in found.sources:
            allowed = ", ".join(self.actions_from(state)) or "none"
            message = f"a case that is {state} cannot be '{action}'; allowed now: {allowed}"
            raise ConflictError(message)
        return found

    def actions_from(self, state: str) -> list[str]:
        """The actions people may take from ``state``, in the file's order (those only the platform takes left out)."""
        return [t.action for t in self.transitions.values() if state in t.sources and t.roles != {SYSTEM}]

    def open_states(self) -> list[str]:
        """States in which a case is still being worked on (and its clock runs, unless suspended)."""
        return [s.id for s in self.states.values() if s.open]


def load_workflow(path: Path | None = None) -> Workflow:
    """The workflow of ``path``, or the one shipped with the platform.

    Raises
    ------
    ValidationError
        If the file is not TOML, or a state or transition is incomplete, names an unknown state,
        role or need, or the workflow has no ``received`` state (where every case starts).
    """
    path = path or SHIPPED
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        message = f"{path.name}: cannot read the workflow: {error}"
        raise ValidationError(message) from error
    groups: dict[str, list[str]] = data.get("groups", {})
    states: dict[str, State] = {}
    for index, record in enumerate(data.get("state", []), 1):
        state = State(**_fields(path, f"state {index}", record, ("id", "zh", "en", "stage", "open")))
        states[state.id] = state
    if "received" not in states:
        message = f"{path.name}: the workflow needs a 'received' state, where every case starts"
        raise ValidationError(message)
    transitions: dict[str, Transition] = {}
    for index, record in enumerate(data.get("transition", []), 1):
        where = f"transition {index} ({record.get('action', '?')})"
        fields = _fields(path, where, record, ("action", "zh", "en", "from", "to", "roles"))
        transition = Transition(
            action=fields["action"], zh=fields["zh"], en=fields["en"], sources=frozenset(fields["from"]),
            target=fields["to"], roles=_roles(path, where, fields["roles"], groups),
            needs=frozenset(record.get("needs", [])), public=bool(record.get("public", False)),
            public_note=bool(record.get("public_note", False)),
        )
        _check(path, where, transition, states)
        transitions[transition.action] = transition
    return Workflow(states=states, transitions=transitions, source=path.name)


def _fields(path: Path, where: str, record: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    missing = [name for name in names if name not in record]
    if missing:
        message = f"{path.name}: {where} lacks {', '.join(missing)}"
        raise ValidationError(message)
    return {name: record[name] for name in names}


def _roles(path: Path, where: str, names: list[str], groups: dict[str, list[str]]) -> frozenset[str]:
    """Role names with groups expanded; an unknown name is refused rather than silently allowing nobody."""
    roles: set[str] = set()
    for name in names:
        members = groups.get(name, [name])
        unknown = [m for m in members if m not in ROLES and m not in (UNIT, SYSTEM)]
        if unknown:
            message = f"{path.name}: {where} names unknown roles {', '.join(unknown)}"
            raise ValidationError(message)
        roles.update(members)
    return frozenset(roles)


def _check(path: Path, where: str, transition: Transition, states: dict[str, State]) -> None:
    unknown = sorted(transition.sources - states.keys())
    if transition.target not in states and transition.target not in (SAME, PREVIOUS):
        unknown.append(transition.target)
    if unknown:
        message = f"{path.name}: {where} names unknown states {', '.join(unknown)}"
        raise ValidationError(message)
    bad_needs = sorted(transition.needs - set(NEEDS))
    if bad_needs:
        message = f"{path.name}: {where} needs unknown inputs {', '.join(bad_needs)} (known: {', '.join(NEEDS)})"
        raise ValidationError(message)
