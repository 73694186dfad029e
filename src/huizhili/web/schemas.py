"""Response and request shapes of the API, apart from the storage tables."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from huizhili.events import CURSOR_PATTERN, START
from huizhili.identity.passwords import MIN_LENGTH as MIN_PASSWORD_LENGTH
from huizhili.identity.roles import ROLES
from huizhili.storable import text_problem


class Feature(BaseModel):
    """A GeoJSON Feature in WGS84."""

    type: Literal["Feature"] = "Feature"
    id: int
    geometry: dict[str, Any] | None
    properties: dict[str, Any]


class FeatureCollection(BaseModel):
    """One page of a layer as GeoJSON, with the total matched (OGC API Features style)."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    numberMatched: int  # noqa: N815 (GeoJSON / OGC API spelling)
    numberReturned: int  # noqa: N815
    features: list[Feature]


class AreaCounts(BaseModel):
    """底数清 counts of one area; one extra integer key per facility kind (e.g. ``park``)."""

    model_config = ConfigDict(extra="allow")

    code: str | None
    name: str
    level: str | None
    buildings: int
    population: int | None
    population_source: str | None
    households: int | None
    devices: int
    parcels: int
    facilities: int


class AreaSummary(AreaCounts):
    """Counts of an area and of each of its children."""

    children: list[AreaCounts]


class ImportReportOut(BaseModel):
    """What an import wrote and what it refused, record by record."""

    importer: str
    source: str
    counts: dict[str, int]
    outside: list[dict[str, Any]]
    rejected: list[dict[str, Any]]
    repaired: list[dict[str, Any]]
    notes: list[str]
    run_id: int | None


class FacilityKind(BaseModel):
    """A facility kind and what it covers."""

    kind: str
    description: str


class DepartmentOut(BaseModel):
    """A district department (委办局): the code records give, and its names."""

    code: str
    name: str
    name_en: str | None


class Problem(BaseModel):
    """An error: what went wrong, and which record when an import broke."""

    detail: str
    record: str | None = Field(None, description="The record that broke an import, if any.")


class Strict(BaseModel):
    """Request bodies refuse fields they do not define, infinite or NaN numbers, and unstorable text."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        if problem := text_problem(value):
            raise ValueError(problem)
        return value


class ImportForm(Strict):
    """The fields sent with an uploaded file (multipart form), beside ``file`` itself."""

    target: Literal["osm", "facility", "building", "parcel", "device", "area"]
    mapping: str = Field("{}", max_length=4000, description='JSON object, field → column, e.g. {"name": "名称"}.')
    constants: str = Field("{}", max_length=4000, description='JSON object, field → value, e.g. {"kind": "park"}.')
    crs: str | None = Field(None, max_length=40, description="Source CRS; default the file's own, else WGS84.")
    within: str | None = Field(None, max_length=200, description="Drop and report records far outside this area.")
    clip: str | None = Field(None, max_length=200, description="OSM only: keep what lies in this area.")


class TokenOut(BaseModel):
    """OAuth2 token response: an opaque access token (1 h) and a refresh token (14 days)."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class RefreshIn(Strict):
    """A refresh token to trade for a new pair."""

    refresh_token: str = Field(min_length=10, max_length=200)


# A Literal built from data is no static type: type checkers see a plain str, pydantic (and so the
# OpenAPI document) the enumeration of the roles.
if TYPE_CHECKING:
    RoleName = str
else:
    RoleName = Literal[tuple(ROLES)]
"""One of :data:`huizhili.identity.roles.ROLES`, enumerated in the OpenAPI document."""


class UserIn(Strict):
    """A user to create; scoped roles need their streets, department, committees or grid cells."""

    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    role: RoleName
    password: str | None = Field(None, min_length=MIN_PASSWORD_LENGTH, max_length=200)
    display_name: str | None = Field(None, max_length=100)
    phone: str | None = Field(None, max_length=32, pattern=r"^[0-9+\- ]+$")
    streets: list[str] = Field(default_factory=list, max_length=50)
    department: str | None = Field(None, max_length=100, description="A department's code (GET /api/departments).")
    committees: list[str] = Field(default_factory=list, max_length=50, description="12-digit residential committee codes.")
    grid_cells: list[str] = Field(default_factory=list, max_length=500)


class UserOut(BaseModel):
    """A user as the caller may see them (personal fields masked by role)."""

    id: int
    username: str
    role: str
    display_name: str | None
    phone: str | None
    streets: list[str]
    department: str | None
    committees: list[str]
    grid_cells: list[str]
    active: bool
    closed_at: datetime | None = Field(description="When the account was closed (its name and phone are erased after the retention period).")


class Me(BaseModel):
    """The signed-in caller and what they may do."""

    username: str
    role: str
    streets: list[str]
    department: str | None
    committees: list[str]
    grid_cells: list[str]
    permissions: list[str]


class ContactOut(BaseModel):
    """How to reach a person: shown unmasked only to roles with read:personal, and logged."""

    id: int
    username: str
    display_name: str | None
    phone: str | None


class ApiKeyIn(Strict):
    """A name for a new API key (which client or device uses it)."""

    name: str = Field(min_length=1, max_length=100)


class SecretOut(BaseModel):
    """A secret shown once: store it now, it cannot be read again."""

    username: str
    secret: str


class ApiKeyIssued(SecretOut):
    """A new API key, shown once, and the id it is listed and revoked by."""

    key_id: int


class ApiKeyOut(BaseModel):
    """An API key as listed: never the key itself, which is stored only as its hash."""

    id: int
    name: str | None
    created_at: datetime
    revoked_at: datetime | None


class AccessLogEntry(BaseModel):
    """One read of unmasked personal data, or one sign-in attempt (resource ``sign_in``)."""

    id: int
    at: str
    username: str
    action: str
    resource: str
    record_ids: list[int]
    fields: list[str]
    address: str | None = Field(description="The caller's address, for sign-in attempts (resource sign_in).")


class FacilityStatusIn(Strict):
    """A change of a facility's live status; omitted fields keep their value."""

    is_open: bool | None = None
    queue_level: Literal["none", "short", "medium", "long"] | None = None
    note: str | None = Field(None, max_length=300)


Origins = Annotated[
    Literal["auto", "buildings", "all-buildings", "compounds", "grid"],
    Field(description="Which rule chooses the homes walked from: buildings (tagged residential, or building=yes inside "
          "residential land use), all-buildings, compounds (residential land parcels, sharing their area's residents), "
          "grid, or auto (buildings, else compounds, else grid)."),
]


class LifeCircleIn(Strict):
    """A life-circle run: which area, kinds, origins; standards overridable per kind."""

    area: str | None = Field(None, max_length=200, description="Code or name; default every street.")
    kinds: list[str] | None = Field(None, max_length=30, description="Facility kinds; default those with facilities nearby.")
    metres: dict[str, float] = Field(default_factory=dict, max_length=30, description="Kind → walking distance, metres.")
    targets: dict[str, float] = Field(default_factory=dict, max_length=30, description="Kind → target share, 0–1.")
    speed_m_per_s: float = Field(1.0, gt=0.1, le=3.0, description="Walking speed for the minute tiers.")
    origins: Origins = "auto"
    cutoff_m: float | None = Field(
        None, gt=0, le=20000,
        description="Report every walking distance up to this many metres, farther ones as null; default the setting "
        "HUIZHILI_LIFECIRCLE_CUTOFF_M (2,000).",
    )


class CoverageRow(BaseModel):
    """Share of residents (or area) within one distance of one kind, in one area."""

    area_code: str
    area_name: str | None = None
    kind: str
    threshold_m: float
    population: float
    covered_population: float
    coverage: float | None
    target: float | None


class LifeCircleOut(BaseModel):
    """A stored life-circle run with its coverage table and output files."""

    run_id: int
    created_at: str
    created_by: str
    area_code: str | None
    method: Literal["network", "estimated"]
    origins: int
    seconds: float
    parameters: dict[str, Any]
    coverage: list[CoverageRow]
    files: list[str]


class SitingIn(Strict):
    """Where to build ``k`` new facilities of a kind to serve the most residents within a distance."""

    kind: str = Field(max_length=40)
    threshold_m: float = Field(gt=0, le=5000)
    k: int = Field(3, ge=1, le=50)
    area: str | None = Field(None, max_length=200)
    origins: Origins = "auto"


class LineString(BaseModel):
    """A GeoJSON LineString in WGS84 lon/lat."""

    type: Literal["LineString"] = "LineString"
    coordinates: list[tuple[float, float]]


class NearbyService(BaseModel):
    """A facility by walking distance, with opening hours and live status."""

    id: int
    name: str | None
    kind: str
    address: str | None
    phone: str | None
    opening_hours: str | None
    is_open: bool | None
    queue_level: str | None
    status_note: str | None
    status_updated_at: str | None
    lon: float
    lat: float
    walking_distance_m: float
    walking_minutes: float
    straight_line_m: float
    estimated: bool
    closed: bool
    notice: str | None
    route: LineString | None = Field(
        None,
        description="The walk from the origin along the streets to the facility, as long as walking_distance_m; "
        "null unless asked for (route=true) and walked on the network (not estimated).",
    )


class NearestOut(BaseModel):
    """The nearest services from a point (WGS84 origin after conversion)."""

    origin: dict[str, float]
    kind: str
    method: Literal["network", "estimated"]
    results: list[NearbyService]


class EventOut(BaseModel):
    """A change the caller may watch: a facility's status, an alert, a case."""

    id: int
    cursor: str = Field(description="Opaque; pass it as ``after`` to resume after this event.")
    at: str
    kind: str = Field(description="What happened, e.g. ``facility.status``.")
    resource: str
    record_id: int | None
    street_code: str | None
    committee_code: str | None
    grid_code: str | None
    payload: dict[str, Any] = Field(description="The record as it is after the change (a GeoJSON Feature for facilities).")


class EventPageOut(BaseModel):
    """Events after the asked cursor, oldest first, and the cursor to ask after next time."""

    events: list[EventOut]
    cursor: str = Field(description="Opaque; pass it as ``after`` for the next page.")


class StreamSubscription(Strict):
    """The first message on ``/api/stream``: where to start, and a credential if no header carried one."""

    after: str | None = Field(
        None, pattern=CURSOR_PATTERN,
        description=f"Send events after this cursor (an event's or a page's; ``{START}``: the oldest kept); omitted: only those from now on.",
    )
    token: str | None = Field(None, min_length=10, max_length=200, description="Access token or API key (browsers cannot set headers).")


class JobProgressOut(BaseModel):
    """How far a running job has got: its stage, a count within it, when it said so."""

    stage: str
    count: int
    at: datetime


class JobErrorOut(BaseModel):
    """Why a job failed, and the bad record where one is to blame (nothing it did was kept)."""

    message: str
    record: str | None = None


class JobOut(BaseModel):
    """A job: long work done by a worker. Poll ``links.self`` until ``state`` is succeeded, failed or cancelled."""

    id: int
    kind: Literal["import", "lifecircle", "siting", "retention"]
    state: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: JobProgressOut | None = Field(None, description="While running: the latest progress.")
    result: dict[str, Any] | None = Field(
        None,
        description="When succeeded. import: the import report (ImportReportOut). lifecircle: run_id, area, method, "
        "origins, origin_source, origin_rule, seconds, cutoff_m, notes, headline (kind, threshold_m, coverage, target), "
        "by_area (area_code, area_name, kind, threshold_m, coverage: each reporting area at each kind's standard) and "
        "files. siting: kind, threshold_m, method, origins, origin_rule, population, covered_before, coverage_before and sites (lon, lat, adds, coverage_after). "
        "retention: dry_run and outcomes (resource, action, records, before).",
    )
    error: JobErrorOut | None = None
    links: dict[str, str] = Field(description="self: this job; result: where the result lives, once there is one.")


class ObservationsIn(BaseModel):
    """Observations sent over HTTP, each as a device would publish it over MQTT, naming its device.

    An item is ``{"device": code, "ts": ISO 8601 or Unix seconds, "metric": name, "value": number}``
    or ``{"device": code, "ts": …, "values": {metric: number, …}}``. Items are judged one by one:
    a bad one is kept as a dead letter with its reason and the rest are stored.
    """

    observations: list[dict[str, Any]] = Field(min_length=1, max_length=10000)


class Refusal(BaseModel):
    """An item that was not stored (kept as a dead letter), by its index in the request."""

    index: int
    reason: str


class ObservationsOut(BaseModel):
    """What was stored: new observations, repeats of stored ones (not stored again), and refusals."""

    stored: int
    duplicates: int
    rejected: list[Refusal]


class SeriesOut(BaseModel):
    """A device's series: ``points`` are ``[t, mean, min, max, count, last]``, oldest first."""

    device: str
    metric: str
    unit: str
    resolution: str
    since: datetime
    until: datetime
    points: list[list[Any]]
    truncated: bool


class DeadLetterOut(BaseModel):
    """A message the ingest refused: why, and its first bytes."""

    id: int
    received_at: datetime
    channel: str
    topic: str | None
    device_code: str | None
    reason: str
    size: int
    raw: str


class AlertOut(BaseModel):
    """An alert: what rule raised it about what, its level (blue–red) and state, who responds, and its evidence."""

    id: int
    rule: str
    subject: str
    level: str
    state: str
    title: dict[str, str]
    value: float | None
    department: str | None
    opened_at: datetime
    raised_at: datetime | None
    respond_by: datetime | None
    resolved_at: datetime | None
    resolution: str | None
    acknowledged_by: str | None
    closed_by: str | None
    note: str | None
    committee_code: str | None
    street_code: str | None
    district_code: str | None
    evidence: dict[str, Any]


class AlertAction(BaseModel):
    """What to do with an alert: acknowledge it, resolve it by hand, or close a resolved one with a note."""

    action: Literal["acknowledge", "resolve", "close"]
    note: str | None = Field(None, max_length=2000)

    @field_validator("note")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        problem = text_problem(value)
        if problem:
            raise ValueError(f"note {problem}")
        return value


class VitalSign(BaseModel):
    """An area's current value and warning level of one indicator (数字体征)."""

    indicator: str
    zh: str
    en: str
    unit: str | None
    area_code: str
    area_name: str | None
    area_level: str | None
    at: datetime
    value: float | None
    level: str | None
    sources: int


class Contact(BaseModel):
    """Someone to call for a household: a daughter, a neighbour."""

    name: str = Field(min_length=1, max_length=100)
    phone: str = Field(min_length=3, max_length=40, pattern=r"^[0-9+\- ]+$")
    relation: str | None = Field(None, max_length=40)


class HouseholdIn(BaseModel):
    """A lone elderly household joining the watch: its committee, how it consented, the devices watching over it."""

    committee: str = Field(min_length=12, max_length=12, pattern=r"^[0-9]{12}$", description="Its residential committee's code.")
    consent_note: str = Field(min_length=1, max_length=500, description="How consent was given: the signed form and its number.")
    devices: list[str] = Field(min_length=1, max_length=10)
    name: str | None = Field(None, max_length=100)
    address: str | None = Field(None, max_length=300)
    phone: str | None = Field(None, max_length=40, pattern=r"^[0-9+\- ]+$")
    contacts: list[Contact] = Field(default_factory=list, max_length=5)
    responder_department: str = Field("民政局", min_length=1, max_length=100)

    @field_validator("consent_note", "name", "address", "responder_department")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        problem = text_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class HouseholdOut(BaseModel):
    """A household under watch; name, address, phone and contacts masked unless you may read personal data."""

    id: int
    name: str | None
    address: str | None
    phone: str | None
    contacts: list[dict[str, Any]] | None
    committee_code: str | None
    street_code: str | None
    responder_department: str
    consent_at: datetime
    consent_recorded_by: str
    consent_note: str | None
    left_at: datetime | None
    devices: list[str]


class VitalPoint(BaseModel):
    """One hour of an area's vital sign: its latest value in the hour and the level it stood at."""

    at: datetime
    value: float | None
    level: str | None
    sources: int


class _Storable(BaseModel):
    """A request whose texts are checked storable (no NUL, no lone surrogates) before any domain sees them."""

    @field_validator("*")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        if isinstance(value, str) and (problem := text_problem(value)):
            raise ValueError(problem)
        return value


class AlertCaseIn(BaseModel):
    """The category of the case an operator opens for an alert."""

    category: str = Field(min_length=1, max_length=40, description="One of the case categories (GET /api/cases/workflow lists the flow).")


class CaseIn(_Storable):
    """A report to take in as a case: what is wrong and where (a position, or a place the digital base knows)."""

    title: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=10_000)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    crs: Literal["wgs84", "gcj02", "bd09"] = Field("wgs84", description="The system lon/lat are given in (phones' maps use GCJ-02 or BD-09).")
    place: str | None = Field(None, max_length=200, description="A place the digital base knows (a service point, a street), instead of a position.")
    address: str | None = Field(None, max_length=300)
    category: str | None = Field(None, max_length=40, description="Chosen by a person; without it the classifier suggests one.")
    channel: Literal["hotline", "patrol"] = Field("hotline", description="A grid officer's reports are always patrol finds (自发现).")
    reporter_name: str | None = Field(None, max_length=100)
    reporter_phone: str | None = Field(None, max_length=40, pattern=r"^[0-9+\- ]+$")
    external_ref: str | None = Field(None, max_length=64, description="Its number in another system, e.g. a 12345 工单号.")
    asset_ref: str | None = Field(None, max_length=100, description="The number on the asset's plate (a manhole cover), if any.")


class CaseOut(BaseModel):
    """A case as staff see it; the reporter's name and phone masked unless you may read personal data."""

    model_config = ConfigDict(extra="allow")

    id: int
    number: str | None
    channel: str
    state: str
    state_name: dict[str, str]
    stage: str
    category: str | None
    title: str
    department: str | None
    reporter_name: str | None
    reporter_phone: str | None
    received_at: datetime
    due_at: datetime | None
    due_estimated: bool
    stage_due_at: datetime | None
    street_code: str | None
    actions: list[str] = Field(description="The workflow's actions that leave the case's state now.")
    linked: bool | None = Field(None, description="On intake: the report joined an open case of the same incident.")


class CaseLinked(BaseModel):
    """A report that joined the open case of its incident, one the reporter may not read: its number, to follow it publicly."""

    number: str | None
    linked: bool


class CaseDetail(CaseOut):
    """A case with its whole trail (every step, append-only), its signals and its ownership disputes."""

    trail: list[dict[str, Any]]
    signals: list[dict[str, Any]]
    photos: list[dict[str, Any]]
    disputes: list[dict[str, Any]]


class CasePhotoOut(BaseModel):
    """A photo of a case: what it is, who sent it, the step it documents; where it was taken only with ``read:personal``."""

    id: int
    step: str | None = Field(description="The step it documents; none while it waits to be attached.")
    action_id: int | None
    content_type: str
    bytes: int
    width: int
    height: int
    uploaded_by: str
    uploaded_at: datetime
    taken_at: datetime | None
    taken_lon: float | None
    taken_lat: float | None
    public: bool = Field(description="Shown with its step on the public timeline, where the step is public.")


class CaseActionIn(_Storable):
    """A step to take on a case; which fields the action needs is the workflow's data (``GET /api/cases/workflow``)."""

    action: str = Field(min_length=1, max_length=32, pattern=r"^[a-z_]+$")
    note: str | None = Field(None, max_length=2000)
    reason: str | None = Field(None, max_length=2000)
    department: str | None = Field(None, max_length=100)
    category: str | None = Field(None, max_length=40)
    satisfaction: int | None = Field(None, ge=1, le=3, description="1 unsatisfied, 2 basically satisfied, 3 satisfied.")
    until: datetime | None = Field(None, description="A postponement's new deadline, with its time zone.")
    into: int | None = Field(None, ge=1, le=2**62, description="The case to merge into.")
    signals: list[Annotated[int, Field(ge=1, le=2**62)]] | None = Field(
        None, max_length=1000, description="The reports that split off into a case of their own.")
    photos: list[Annotated[int, Field(ge=1, le=2**62)]] | None = Field(
        None, max_length=20, description="Photos you uploaded for this case (POST /api/cases/{id}/photos), attached to this step.")


class PublicCase(BaseModel):
    """What anyone holding a tracking number sees: no reporter, no description, no notes, no exact position."""

    number: str
    merged_into: str | None
    state: str
    state_name: dict[str, str]
    open: bool
    category: str | None
    street: str | None
    unit: str | None
    unit_name: dict[str, str] | None = Field(description="The responsible unit's name in zh and en: who is coming. Never a person's.")
    received_at: datetime
    due_at: datetime | None
    due_estimated: bool
    seconds_left: float | None
    overdue: bool
    closed_at: datetime | None
    signals: int
    timeline: list[dict[str, Any]]


class CaseLayer(BaseModel):
    """The open cases of the map, as columns: the i-th case is ``id[i]``, ``lon[i]``, ``lat[i]``, … (no personal field)."""

    stages: list[str] = Field(description="The stages that ``stage`` indexes.")
    id: list[int]
    lon: list[float] = Field(description="WGS84, rounded to 5 decimals (about a metre).")
    lat: list[float]
    stage: list[int] = Field(description="Index into ``stages``: whose turn it is.")
    due: list[int | None] = Field(description="The case's time limit in Unix seconds; null without one.")


class DeviceLayerKind(BaseModel):
    """A device kind as the map names it, with its main metric (the value drawn) and that metric's unit."""

    kind: str
    zh: str
    en: str
    metric: str | None
    metric_zh: str | None
    metric_en: str | None
    unit: str | None


class DeviceLayer(BaseModel):
    """The devices of the map, as columns: the i-th device is ``id[i]``, ``lon[i]``, ``lat[i]`` and so on."""

    kinds: list[DeviceLayerKind] = Field(description="The kinds that ``kind`` indexes.")
    statuses: list[str] = Field(description="The statuses that ``status`` indexes.")
    levels: list[str] = Field(description="Warning levels, mildest first: ``level`` 1 is ``levels[0]``.")
    id: list[int]
    lon: list[float] = Field(description="WGS84, rounded to 5 decimals (about a metre).")
    lat: list[float]
    kind: list[int]
    status: list[int]
    online: list[int | None] = Field(description="1 online, 0 offline (a no-data alert is open), null when not watched "
                                                 "(not active, or not heard from yet).")
    value: list[float | None] = Field(description="The latest value of the kind's main metric, in its unit; null if none.")
    level: list[int] = Field(description="The highest level of its active alerts (no-data ones aside), 1–4; 0 for none.")
