"""Roles → permissions, and the record filters (scopes) of each role."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from huizhili.errors import AuthenticationError, ForbiddenError
from huizhili.policy.principal import UNRESTRICTED, Principal
from huizhili.storage.models import (
    Alert,
    Area,
    AreaCoded,
    AssetOwner,
    Building,
    Case,
    CaseAction,
    CasePhoto,
    CaseSignal,
    Credential,
    Device,
    Event,
    Facility,
    Household,
    IndicatorValue,
    Job,
    LifeCircleCoverage,
    LifeCircleRun,
    Observation,
    ObservationRollup,
    OwnershipDispute,
    Parcel,
    Project,
    ProjectProgress,
    User,
)

PERMISSIONS: dict[str, str] = {
    "read:public": "Areas, facilities and their live status: what citizens see without signing in.",
    "read:base": "Buildings, parcels and the 底数清 summaries.",
    "read:devices": "Sensing devices and their observations.",
    "read:alerts": "Vital signs of areas (数字体征) and the alerts raised on them and on devices.",
    "handle:alerts": "Acknowledging, resolving and closing alerts: in one's areas, or one's department's.",
    "write:observations": "Sending observations over HTTP: a device its own, a gateway's service account any device's.",
    "read:households": "Lone elderly households under watch (consent, contacts): its committee and street, the responding department, commanders.",
    "manage:households": "Recording a household's consent to join the watch, and its leaving: committee and street staff.",
    "read:cases": "Cases (一网统管) in one's scope — one's areas, one's department's — with their trail and signals (citizens follow "
    "theirs by tracking number, publicly).",
    "report:cases": "Reporting a case: a hotline call, a patrol find (自发现), a citizen's own report.",
    "handle:cases": "Taking a case along the workflow; which steps a role may take is the workflow's data (cases/workflow.toml).",
    "read:programmes": "Renewal programmes, their projects and progress in one's scope, and the district's targets with their status.",
    "write:programmes": "Importing programmes and projects and reporting projects' progress: in one's streets, or one's department's.",
    "read:users": "The user directory (personal fields masked unless read:personal).",
    "read:personal": "Unmasked personal fields, to call a person back (commanders, operators and handlers "
    "dispatching cases; never analysts or service accounts); every such read is logged.",
    "write:imports": "Importing files into the digital base.",
    "run:analysis": "Running life-circle analyses and site proposals (stored as runs).",
    "write:facility_status": "Setting a facility's live status (open, queue): in one's streets or cells, or of one's department's facilities.",
    "manage:users": "Creating users and API keys; reading the access log.",
    "manage:devices": "Provisioning devices, their credentials and broker configuration; reading the ingest's dead letters.",
    "self": "One's own account.",
}
"""Every permission an endpoint can require."""

_STAFF_READ = {"read:public", "read:base", "read:devices", "read:alerts", "read:users", "read:cases", "read:programmes", "self"}
_PROGRAMMES = {"write:programmes"}
_PLANNING = {"run:analysis"}
_CASES = {"report:cases", "handle:cases"}
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "anonymous": frozenset({"read:public"}),
    "district_admin": frozenset(PERMISSIONS),
    "district_commander": frozenset(_STAFF_READ | _PLANNING | _CASES | _PROGRAMMES | {"read:personal", "write:facility_status", "handle:alerts",
                                                                        "read:households"}),
    "street_operator": frozenset(_STAFF_READ | _PLANNING | _CASES | _PROGRAMMES | {"read:personal", "write:facility_status", "handle:alerts",
                                                                     "read:households", "manage:households"}),
    "department_handler": frozenset(_STAFF_READ | _PROGRAMMES | {"read:personal", "write:facility_status", "handle:alerts", "read:households",
                                                   "handle:cases"}),
    "hotline_operator": frozenset({"read:public", "read:base", "read:cases", "read:personal", "self"} | _CASES),
    "committee_worker": frozenset(_STAFF_READ | {"read:personal", "handle:alerts", "read:households", "manage:households",
                                                 "report:cases"}),
    "grid_officer": frozenset(_STAFF_READ | _CASES),
    "analyst": frozenset(_STAFF_READ | _PLANNING),
    "citizen": frozenset({"read:public", "self", "report:cases"}),
    "device": frozenset({"self", "write:observations"}),
    "service": frozenset({"read:public", "read:base", "read:devices", "write:observations", "report:cases", "self"}),
}
"""What each role may do; scopes then narrow which records."""

_AREA_ROLES = frozenset({"street_operator", "committee_worker", "grid_officer"})
"""Roles that see only the records filed under their own areas."""


def may(principal: Principal, permission: str) -> bool:
    """Whether the principal's role grants ``permission``."""
    return permission in ROLE_PERMISSIONS.get(principal.role, frozenset())


def require(principal: Principal, permission: str) -> None:
    """Refuse unless the role grants ``permission``.

    Raises
    ------
    AuthenticationError
        If an anonymous caller needs to sign in.
    ForbiddenError
        If a signed-in caller's role lacks the permission.
    """
    if may(principal, permission):
        return
    if principal.role == "anonymous":
        message = "sign in first: this needs credentials"
        raise AuthenticationError(message)
    message = f"role {principal.role} may not do this ({permission})"
    raise ForbiddenError(message)


@dataclass(frozen=True)
class Scope:
    """Which records a principal may see, as SQL conditions per table."""

    principal: Principal

    @property
    def limited_to_areas(self) -> bool:
        """Whether the principal sees only some areas (and so must name one to analyse)."""
        return self.principal.role in _AREA_ROLES

    @classmethod
    def system(cls) -> "Scope":
        """The scope of the platform itself — the command line and workers — which sees every record."""
        return cls(UNRESTRICTED)

    def condition(self, model: Any) -> sa.ColumnElement[bool]:
        """A WHERE condition limiting ``model`` to what the principal may see.

        Every table has exactly one rule (:data:`READ_RULES`); a table without one is refused,
        never shown whole.

        Raises
        ------
        ForbiddenError
            If the table has no rule (a new table must be given one before anything reads it).
        """
        table = getattr(model, "__tablename__", None)
        rule = READ_RULES.get(table) if table else None
        if rule is None:
            message = f"no scope rule for table {table!r}: refused until the policy layer has one"
            raise ForbiddenError(message)
        return rule(self)

    def reported(self) -> sa.ColumnElement[bool]:
        """The cases the principal reported himself (his report first, or one linked to them), whatever else he may read.

        A citizen follows his own reports — a request for help included, which is never public —
        without reading anyone else's; staff read cases through :meth:`condition`.
        """
        p = self.principal
        if p.user_id is None:
            return sa.false()
        linked = sa.select(CaseSignal.case_id).where(CaseSignal.reporter_user_id == p.user_id, CaseSignal.linked_by != "comment")
        return sa.or_(Case.reporter_user_id == p.user_id, Case.id.in_(linked))

    def writable(self, model: Any) -> sa.ColumnElement[bool]:
        """A WHERE condition limiting ``model`` to the records the principal may change.

        Narrower than reading: a street operator changes records in her streets, committee staff
        in their committees, a grid officer in his cells, a department handler only records his
        department owns (``owner_department``);
        district-wide roles change anything their permission allows, every other role nothing.
        The endpoint's permission is checked first; this says which records.
        """
        p = self.principal
        if p.role in {"district_admin", "district_commander"}:
            return sa.true()
        if p.role in _AREA_ROLES:
            # A record filed under no area (a district programme) is no area's to change.
            return self._by_area(model) if hasattr(model, "street_code") else sa.false()
        owner = getattr(model, "owner_department", None)
        if p.role == "department_handler" and owner is not None and p.department:
            return owner == p.department  # type: ignore[no-any-return]
        return sa.false()

    def _event_departments(self) -> sa.ColumnElement[bool]:
        """A department handler sees the events of records his department owns, not other departments'.

        Events of records that belong to no department, and public ones, stay visible.
        """
        p = self.principal
        if p.role != "department_handler":
            return sa.true()
        # An alert or case without a unit (a silent device no one owns, a case returned to the dispatcher) is not his either.
        unowned = sa.and_(Event.department.is_(None), Event.resource.not_in(("alerts", "cases")))
        return sa.or_(unowned, Event.department == p.department, Event.permission == "read:public")

    def _by_area(self, model: type[AreaCoded]) -> sa.ColumnElement[bool]:
        """A street operator sees records filed under her streets, committee staff under their committees, a grid officer under his cells."""
        p = self.principal
        if p.role == "street_operator":
            return model.street_code.in_(sorted(p.streets))
        if p.role == "committee_worker":
            return model.committee_code.in_(sorted(p.committees))
        if p.role == "grid_officer":
            return model.grid_code.in_(sorted(p.grid_cells))
        return sa.true()

    def _areas(self) -> sa.ColumnElement[bool]:
        return self._area_codes(Area.code)

    def _area_codes(self, column: Any) -> sa.ColumnElement[bool]:
        """A street operator sees her streets and what lies below them, committee staff their committees and their cells, a grid officer his cells."""
        p = self.principal
        if p.role == "street_operator":
            return _within_codes(column, p.streets)
        if p.role == "committee_worker":
            return _committees_and_cells(column, p.committees)
        if p.role == "grid_officer":
            return column.in_(sorted(p.grid_cells))  # type: ignore[no-any-return]
        return sa.true()

    def _runs(self) -> sa.ColumnElement[bool]:
        """Scoped users see the analyses of their own areas and of the areas below them."""
        p = self.principal
        if p.role == "street_operator":
            return _within_codes(LifeCircleRun.area_code, p.streets)
        if p.role == "committee_worker":
            return _committees_and_cells(LifeCircleRun.area_code, p.committees)
        if p.role == "grid_officer":
            return _within_codes(LifeCircleRun.area_code, p.grid_cells)
        return sa.true()

    def _devices(self) -> sa.ColumnElement[bool]:
        p = self.principal
        if p.role in _AREA_ROLES:
            return self._by_area(Device)
        if p.role == "department_handler":
            return Device.owner_department == p.department
        if p.role == "device":
            return Device.code == p.device_code
        return sa.true() if may(p, "read:devices") else sa.false()

    def _alerts(self) -> sa.ColumnElement[bool]:
        """Alerts in one's areas; a department handler those his department must respond to.

        An alert a household's device raised tells where a lone elderly person lives and how:
        it is read only by those who may read the household itself (:meth:`_households`).
        """
        p = self.principal
        if not may(p, "read:alerts"):
            return sa.false()
        if p.role in _AREA_ROLES:
            seen = self._by_area(Alert)
        elif p.role == "department_handler":
            seen = Alert.department == p.department
        else:
            seen = sa.true()
        households = sa.select(Household.id).where(self._households())
        return sa.and_(seen, sa.or_(Alert.household_id.is_(None), Alert.household_id.in_(households)))

    def _households(self) -> sa.ColumnElement[bool]:
        """Its own committee (and street), the department that responds, the district's commanders; nobody else."""
        p = self.principal
        if not may(p, "read:households"):
            return sa.false()
        if p.role in {"street_operator", "committee_worker"}:
            return self._by_area(Household)
        if p.role == "department_handler":
            return Household.responder_department == p.department
        return sa.true()

    def _cases(self) -> sa.ColumnElement[bool]:
        """Cases in one's areas; a department handler those his department is responsible for.

        A case a household's device raised tells where a lone elderly person lives: it is read
        only by those who may read the household itself, as its alerts are.
        """
        p = self.principal
        if not may(p, "read:cases"):
            return sa.false()
        if p.role in _AREA_ROLES:
            seen = self._by_area(Case)
        elif p.role == "department_handler":
            seen = Case.department == p.department
        else:
            seen = sa.true()
        households = sa.select(Household.id).where(self._households())
        return sa.and_(seen, sa.or_(Case.household_id.is_(None), Case.household_id.in_(households)))

    def _of_cases(self, column: Any) -> sa.ColumnElement[bool]:
        """Rows that belong to a case: seen with the case."""
        return column.in_(sa.select(Case.id).where(self._cases()))  # type: ignore[no-any-return]

    def _users(self) -> sa.ColumnElement[bool]:
        """Staff see colleagues who share their scope; administrators and commanders see all."""
        p = self.principal
        if p.role in {"district_admin", "district_commander", "analyst"}:
            return sa.true()
        if p.role == "department_handler":
            return User.department == p.department
        if p.user_id is None:
            return sa.false()
        return User.id == p.user_id


def _events(scope: Scope) -> sa.ColumnElement[bool]:
    """Events the role has the permission for, in its areas, and of its department's records; a case's only with the case."""
    permissions = sorted(ROLE_PERMISSIONS.get(scope.principal.role, ()))
    cases = sa.or_(Event.resource != "cases", Event.record_id.in_(sa.select(Case.id).where(scope._cases())))
    return sa.and_(Event.permission.in_(permissions), scope._by_area(Event), scope._event_departments(), cases)


def _own_or_administered(scope: Scope) -> sa.ColumnElement[bool]:
    """A user's own credentials; administrators see everyone's (never the secrets: only hashes are kept)."""
    p = scope.principal
    if may(p, "manage:users"):
        return sa.true()
    return Credential.user_id == p.user_id if p.user_id is not None else sa.false()


def _own_jobs(scope: Scope) -> sa.ColumnElement[bool]:
    """A user's own jobs; administrators and the platform see all of them."""
    p = scope.principal
    if p.role == "district_admin":
        return sa.true()
    return Job.user_id == p.user_id if p.user_id is not None else sa.false()


def _projects(scope: Scope) -> sa.ColumnElement[bool]:
    """Projects filed under one's areas; district-wide staff and department handlers see all, as they see the base."""
    return scope._by_area(Project) if may(scope.principal, "read:programmes") else sa.false()


Rule = Callable[[Scope], sa.ColumnElement[bool]]
"""A table's read rule: the filter on its rows that a scope may see."""


def _with_permission(permission: str) -> Rule:
    """A rule that shows the whole table to roles with ``permission`` and nothing to others."""
    return lambda scope: sa.true() if may(scope.principal, permission) else sa.false()


READ_RULES: dict[str, Rule] = {
    "areas": Scope._areas,
    "buildings": lambda scope: scope._by_area(Building),
    "parcels": lambda scope: scope._by_area(Parcel),
    "facilities": lambda scope: scope._by_area(Facility),
    "devices": Scope._devices,
    "walk_ways": lambda _scope: sa.true(),  # the public street network
    "import_runs": _with_permission("write:imports"),
    "users": Scope._users,
    "credentials": _own_or_administered,
    "access_log": _with_permission("manage:users"),
    "events": _events,
    "lifecircle_runs": Scope._runs,
    "lifecircle_coverage": lambda scope: LifeCircleCoverage.run_id.in_(sa.select(LifeCircleRun.id).where(scope._runs())),
    "data_versions": lambda _scope: sa.true(),  # counters, no content
    "jobs": _own_jobs,
    "departments": lambda _scope: sa.true(),  # the district's bureaus: public, like the facilities they run
    "observations": lambda scope: Observation.device_id.in_(sa.select(Device.id).where(scope._devices())),
    "observation_rollups": lambda scope: ObservationRollup.device_id.in_(sa.select(Device.id).where(scope._devices())),
    "dead_letters": _with_permission("manage:devices"),
    "alerts": Scope._alerts,
    "rule_states": _with_permission("manage:devices"),  # the engine's working memory
    "households": Scope._households,
    "webhook_cursors": _with_permission("manage:devices"),
    "cases": Scope._cases,
    "case_actions": lambda scope: scope._of_cases(CaseAction.case_id),
    "case_signals": lambda scope: scope._of_cases(CaseSignal.case_id),
    "case_photos": lambda scope: scope._of_cases(CasePhoto.case_id),
    "ownership_disputes": lambda scope: scope._of_cases(OwnershipDispute.case_id),
    "asset_owners": lambda scope: scope._by_area(AssetOwner) if may(scope.principal, "read:base") else sa.false(),
    "indicator_values": lambda scope: (
        scope._area_codes(IndicatorValue.area_code) if may(scope.principal, "read:alerts") else sa.false()
    ),
    "programmes": _with_permission("read:programmes"),
    "projects": _projects,
    "project_progress": lambda scope: ProjectProgress.project_id.in_(sa.select(Project.id).where(_projects(scope))),
    "targets": _with_permission("read:programmes"),  # the district's published goals; their status rows go by area
}
"""The one read rule of every table.

Street operators, committee staff and grid officers see only what is filed under their areas.
Department handlers read the district's whole digital base — buildings, parcels, areas and
facilities — because a department's work crosses streets: the health commission plans health
centres for every street and the greening bureau tends parks wherever they are, and that base
holds no personal data. What a department holds of its own stays its own: only its devices,
its users and the non-public events of its records; and it changes only what it owns
(:meth:`Scope.writable`)."""


def _within_codes(column: Any, codes: frozenset[str]) -> sa.ColumnElement[bool]:
    """Codes that are one of ``codes`` or start with one (official codes nest by prefix)."""
    return sa.or_(*(column.startswith(code) for code in sorted(codes))) if codes else sa.false()


def _committees_and_cells(column: Any, committees: frozenset[str]) -> sa.ColumnElement[bool]:
    """Codes that are one of ``committees`` or of an area directly below one.

    Grid cells are coded ``<street code>G<nnnn>`` under the committee that holds them, so unlike
    streets and committees their codes do not start with their parent's: they go by parent.
    """
    codes = sorted(committees)
    return sa.or_(column.in_(codes), column.in_(sa.select(Area.code).where(Area.parent_code.in_(codes))))


def scope_for(principal: Principal) -> Scope:
    """The scope of a principal."""
    return Scope(principal)
