"""Tables of the platform. One declarative base; migrations in ``storage/migrations``.

These are storage models only: the API's request and response shapes live apart, in
``huizhili.web.schemas``.
"""

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    JSON,
    BigInteger,
    FetchedValue,
    Float,
    ForeignKey,
    FromClause,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from huizhili.storage.geometry import Geometry
from huizhili.storage.timestamps import UtcDateTime

AREA_LEVELS = ("city", "district", "street", "committee", "grid")
"""Levels of the area hierarchy, outermost first."""


def utcnow() -> datetime:
    """Aware UTC now: stored timestamps never depend on the server's zone."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """An input time as aware UTC, where a missing zone is documented to mean UTC (storage refuses naive times)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


ID = BigInteger().with_variant(Integer, "sqlite")
"""Ids and references to them: 64-bit on PostgreSQL, where 32-bit ones last about 30 hours at
20,000 rows a second; SQLite's ``INTEGER`` is 64-bit already, and only it is the rowid."""


class Base(DeclarativeBase):
    """Declarative base of all tables: a plain ``Mapped[int]`` (an id or a reference) is an :data:`ID`."""

    type_annotation_map = {dict[str, Any]: JSON, BaseGeometry: Geometry, datetime: UtcDateTime, int: ID}


class Area(Base):
    """A district, street/town (街镇), residential committee (居委会) or grid cell, with its statistics."""

    __tablename__ = "areas"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    level: Mapped[str] = mapped_column(String(16), index=True)
    parent_code: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("areas.code", ondelete="RESTRICT"), index=True
    )
    geometry: Mapped[BaseGeometry | None]
    population: Mapped[int | None] = mapped_column(Integer, doc="Official resident count.")
    households: Mapped[int | None] = mapped_column(Integer)
    statistics_year: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str | None] = mapped_column(String(200))
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AreaCoded:
    """A record filed under areas: its district, street, committee and grid codes.

    The policy layer scopes every such table by these columns (``huizhili.policy.rules``).
    """

    @declared_attr
    def district_code(cls) -> Mapped[str | None]:
        return mapped_column(String(32), index=True)

    @declared_attr
    def street_code(cls) -> Mapped[str | None]:
        return mapped_column(String(32), index=True)

    @declared_attr
    def committee_code(cls) -> Mapped[str | None]:
        return mapped_column(String(32), index=True)

    @declared_attr
    def grid_code(cls) -> Mapped[str | None]:
        return mapped_column(String(32), index=True)


class AreaAssigned(AreaCoded):
    """A record with a place: its shape, anchor point, area codes (filled by ``base.assign``), extras."""

    geometry: Mapped[BaseGeometry]
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    lon: Mapped[float] = mapped_column(Float, doc="WGS84 longitude of a representative point.")
    lat: Mapped[float] = mapped_column(Float, doc="WGS84 latitude of a representative point.")

    if TYPE_CHECKING:
        # Every such table has these: its own name, id and source_ref, and __table__ from the
        # declarative base. Declared for type checkers only, so code may take any
        # ``type[AreaAssigned]``; mapped here, id and source_ref would follow the table's own columns.
        __tablename__: str
        __table__: ClassVar[FromClause]
        id: Mapped[int]
        source_ref: Mapped[str | None]


class Building(AreaAssigned, Base):
    """A building footprint with its use and population statistics (never individuals)."""

    __tablename__ = "buildings"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    name: Mapped[str | None] = mapped_column(String(300))
    use: Mapped[str] = mapped_column(String(40), default="unknown", index=True)
    floors: Mapped[int | None] = mapped_column(Integer)
    year: Mapped[int | None] = mapped_column(Integer)
    households: Mapped[int | None] = mapped_column(Integer)
    population: Mapped[int | None] = mapped_column(Integer)
    population_estimated: Mapped[bool] = mapped_column(default=False)


class Parcel(AreaAssigned, Base):
    """A land parcel (地块) with its land use."""

    __tablename__ = "parcels"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    name: Mapped[str | None] = mapped_column(String(300))
    land_use: Mapped[str] = mapped_column(String(40), default="unknown", index=True)
    area_m2: Mapped[float] = mapped_column(Float)


class Facility(AreaAssigned, Base):
    """A service point of a typed kind, with opening hours and a live status."""

    __tablename__ = "facilities"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str | None] = mapped_column(String(300))
    address: Mapped[str | None] = mapped_column(String(500))
    phone: Mapped[str | None] = mapped_column(String(100))
    opening_hours: Mapped[str | None] = mapped_column(String(300))
    is_open: Mapped[bool | None] = mapped_column(doc="Live status; None when unknown.")
    queue_level: Mapped[str | None] = mapped_column(String(16))
    status_note: Mapped[str | None] = mapped_column(String(300))
    status_updated_at: Mapped[datetime | None]
    owner_department: Mapped[str | None] = mapped_column(
        String(100),
        ForeignKey("departments.code", ondelete="RESTRICT", name="fk_facilities_owner_department"),
        index=True,
        doc="The department that runs it: its handlers may set its status.",
    )


class Device(AreaAssigned, Base):
    """A sensing device (神经元) and the department that owns it."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    sensor_kind: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str | None] = mapped_column(String(300))
    owner_department: Mapped[str | None] = mapped_column(
        String(100), ForeignKey("departments.code", ondelete="RESTRICT", name="fk_devices_owner_department"), index=True
    )
    installed_at: Mapped[datetime | None] = mapped_column(
        doc="Observations timed before it are refused; without it, those older than the ingest's age limit."
    )
    status: Mapped[str] = mapped_column(String(16), default="active", index=True, doc="One of DEVICE_STATUSES.")
    owner: Mapped[str | None] = mapped_column(
        String(300), doc="The unit that owns or maintains it (业主单位), told of its alerts."
    )
    metrics: Mapped[dict[str, Any]] = mapped_column(
        default=dict, doc="What it measures: metric → {unit, interval_s, min, max} (``huizhili.sensing.devices``)."
    )
    interval_s: Mapped[int | None] = mapped_column(
        Integer, doc="How often it is expected to report, in seconds; None for devices that report only events."
    )
    capacity: Mapped[float | None] = mapped_column(Float, doc="A busy point's capacity in people (crowd density).")
    last_seen_at: Mapped[datetime | None] = mapped_column(doc="When its latest observation arrived.")
    silent_after: Mapped[datetime | None] = mapped_column(
        index=True, doc="When it counts as silent if nothing more arrives: the no-data clock."
    )
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("households.id", ondelete="SET NULL", name="fk_devices_household_id"), index=True,
        doc="The consenting household it watches over (lone-elderly scenarios), if any.",
    )


class Household(AreaCoded, Base):
    """A lone elderly resident's household that joined the watch by recorded consent (独居老人关爱).

    Its name, address, phone and contacts are personal fields (``policy.privacy``): masked for
    whoever lacks ``read:personal``, every unmasked read logged, and the table is read only by its
    own committee and street, the department that responds, and the district's commanders. When
    the household leaves, they are erased at once; the record of consent stays.
    """

    __tablename__ = "households"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(100))
    address: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(40))
    contacts: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, doc="Who to call: [{name, phone, relation}].")
    responder_department: Mapped[str] = mapped_column(
        String(100), ForeignKey("departments.code", ondelete="RESTRICT", name="fk_households_responder_department"),
        doc="The department that responds to its alerts (民政局 by default).",
    )
    consent_at: Mapped[datetime]
    consent_recorded_by: Mapped[str] = mapped_column(String(64))
    consent_note: Mapped[str | None] = mapped_column(Text, doc="How consent was given (signed form, its number).")
    left_at: Mapped[datetime | None]
    left_recorded_by: Mapped[str | None] = mapped_column(String(64))


DEVICE_STATUSES = ("active", "maintenance", "retired")
"""A device's life: reporting and watched; in maintenance (stored, no alerts); retired (refused)."""


class Observation(Base):
    """One value of one metric of one device at one instant; stored once, whatever is sent twice."""

    __tablename__ = "observations"
    __table_args__ = {"sqlite_with_rowid": False}

    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    metric: Mapped[str] = mapped_column(String(40), primary_key=True)
    observed_at: Mapped[datetime] = mapped_column(primary_key=True)
    value: Mapped[float] = mapped_column(Float)


ROLLUP_RESOLUTIONS = {"minute": 60, "hour": 3600, "day": 86400}
"""Resolutions kept beside the raw observations, in seconds."""


class ObservationRollup(Base):
    """Count, minimum, maximum, sum and last value of one series in one minute, hour or (local) day."""

    __tablename__ = "observation_rollups"
    __table_args__ = {"sqlite_with_rowid": False}

    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    metric: Mapped[str] = mapped_column(String(40), primary_key=True)
    resolution: Mapped[int] = mapped_column(Integer, primary_key=True, doc="Bucket length in seconds.")
    bucket: Mapped[datetime] = mapped_column(primary_key=True, doc="The bucket's start.")
    count: Mapped[int] = mapped_column(Integer)
    minimum: Mapped[float] = mapped_column(Float)
    maximum: Mapped[float] = mapped_column(Float)
    total: Mapped[float] = mapped_column(Float)
    last: Mapped[float] = mapped_column(Float)
    last_at: Mapped[datetime]


class DeadLetter(Base):
    """A message the ingest could not store, with why and its raw bytes (bounded), for an operator to see."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    channel: Mapped[str] = mapped_column(String(8), doc="'mqtt' or 'http'.")
    topic: Mapped[str | None] = mapped_column(String(300))
    device_code: Mapped[str | None] = mapped_column(String(64), index=True, doc="The device it names, known or not.")
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary, doc="The message's first bytes (DEAD_LETTER_RAW_BYTES).")
    size: Mapped[int] = mapped_column(Integer, doc="The whole message's size in bytes.")


ALERT_LEVELS = ("blue", "yellow", "orange", "red")
"""Warning levels, mildest first (蓝 黄 橙 红); stored as 1–4."""

ALERT_STATES = ("open", "acknowledged", "resolved", "closed")
"""An alert's life: open, acknowledged by an operator, resolved (by recovery or by hand), closed with a note."""


class Alert(AreaCoded, Base):
    """A warning raised by a rule about one subject (a device's series, an area's indicator).

    At most one alert per rule and subject is active (open or acknowledged): ``active`` is 1
    then and NULL after, under a unique index.
    """

    __tablename__ = "alerts"
    __table_args__ = (Index("ux_alerts_active", "rule", "subject", "active", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(80), index=True, doc="The rule or scenario that raised it.")
    subject: Mapped[str] = mapped_column(String(200), doc="What it is about: device:<code>/<metric> or area:<code>.")
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"), index=True)
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("households.id", ondelete="SET NULL", name="fk_alerts_household_id"), index=True,
        doc="The household whose device raised it: then it is read as the household is (policy.rules).",
    )
    department: Mapped[str | None] = mapped_column(String(100), index=True, doc="Who must respond.")
    level: Mapped[int] = mapped_column(Integer, doc="1–4: blue, yellow, orange, red (ALERT_LEVELS).")
    state: Mapped[str] = mapped_column(String(16), default="open", index=True)
    active: Mapped[int | None] = mapped_column(Integer, default=1)
    title: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="What happened, {zh, en}.")
    value: Mapped[float | None] = mapped_column(Float, doc="The latest value judged.")
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="The window of points that raised it, and the rule's parameters.")
    opened_at: Mapped[datetime] = mapped_column(index=True, doc="When the condition was met (data time).")
    raised_at: Mapped[datetime] = mapped_column(default=utcnow, doc="When the platform raised it.")
    respond_by: Mapped[datetime | None] = mapped_column(doc="The scenario's response time limit.")
    escalated_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(16), doc="'recovered' or 'by hand'.")
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RuleState(Base):
    """What a rule remembers of one subject between observations (its window, its detector), persisted with them."""

    __tablename__ = "rule_states"

    rule: Mapped[str] = mapped_column(String(80), primary_key=True)
    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookCursor(Base):
    """How far a webhook has been delivered in the event feed (``huizhili.sensing.webhooks``)."""

    __tablename__ = "webhook_cursors"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    cursor: Mapped[str] = mapped_column(String(60), doc="The last event delivered (an event cursor).")
    delivered: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0, doc="Failed attempts at the next event, since the last success.")
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class IndicatorValue(Base):
    """A vital sign (数字体征) of one area at one instant, with its warning level (0 none, 1–4 blue–red)."""

    __tablename__ = "indicator_values"
    __table_args__ = {"sqlite_with_rowid": False}

    indicator: Mapped[str] = mapped_column(String(60), primary_key=True)
    area_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime] = mapped_column(primary_key=True)
    value: Mapped[float | None] = mapped_column(Float)
    level: Mapped[int] = mapped_column(Integer, default=0)
    sources: Mapped[int] = mapped_column(Integer, default=0, doc="How many series it was computed from.")


class WalkWay(Base):
    """An OSM way a pedestrian may use, kept with its node ids to build the walk network."""

    __tablename__ = "walk_ways"

    id: Mapped[int] = mapped_column(primary_key=True)
    osm_id: Mapped[int] = mapped_column(BigInteger, index=True)
    highway: Mapped[str] = mapped_column(String(40))
    name: Mapped[str | None] = mapped_column(String(300))
    node_ids: Mapped[list[int]] = mapped_column(JSON)
    geometry: Mapped[BaseGeometry]


class ImportRun(Base):
    """One import: what came in, what was refused and why (kept for audit)."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    importer: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    report: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Department(Base):
    """A district department (委办局), or a street's or residential committee's office, that users, devices and facilities belong to.

    A record rather than free text, so that a misspelt department is refused where it is
    written instead of quietly giving its handlers nothing to see.
    """

    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(String(100), primary_key=True, doc="Its short name, e.g. 卫生健康委: what records point to.")
    name: Mapped[str] = mapped_column(String(200), doc="Full Chinese name.")
    name_en: Mapped[str | None] = mapped_column(String(200))
    street_code: Mapped[str | None] = mapped_column(
        String(32), unique=True, doc="For a street office (街道办事处): its street, so cases there can be routed to it."
    )
    committee_code: Mapped[str | None] = mapped_column(
        String(32), unique=True,
        doc="For a residential committee's office (居委会): its committee, so cases there can be routed to it.",
    )


class User(Base):
    """A person or machine that signs in: staff, citizens, devices and services.

    ``streets``, ``department``, ``committees`` and ``grid_cells`` scope what the role may see
    (see ``huizhili.policy``).
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(32), index=True)
    display_name: Mapped[str | None] = mapped_column(String(100), doc="Personal: masked by role.")
    phone: Mapped[str | None] = mapped_column(String(32), doc="Personal: masked by role.")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    mqtt_password_hash: Mapped[str | None] = mapped_column(
        String(200), doc="Mosquitto PBKDF2-SHA512 hash, for device accounts only."
    )
    streets: Mapped[list[str]] = mapped_column(JSON, default=list)
    department: Mapped[str | None] = mapped_column(
        String(100), ForeignKey("departments.code", ondelete="RESTRICT", name="fk_users_department"), index=True
    )
    committees: Mapped[list[str]] = mapped_column(JSON, default=list)
    grid_cells: Mapped[list[str]] = mapped_column(JSON, default=list)
    device_code: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    closed_at: Mapped[datetime | None] = mapped_column(
        doc="When the account was closed; its personal fields are erased after the retention period."
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Credential(Base):
    """An opaque bearer secret (access or refresh token, API key), stored only as its SHA-256."""

    __tablename__ = "credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    family: Mapped[str | None] = mapped_column(
        String(32), index=True, doc="Tokens of one sign-in and its refreshes: revoked together on logout or reuse."
    )


class AccessLog(Base):
    """Who saw unmasked personal data, when, and of which records (PIPL accountability)."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(40))
    resource: Mapped[str] = mapped_column(String(40))
    record_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    address: Mapped[str | None] = mapped_column(String(64), index=True, doc="Client address, for sign-in attempts.")


class Event(AreaCoded, Base):
    """A change that people watch live — a facility's status, an alert, a case.

    Written in the same transaction as the change, so watchers see exactly what was committed,
    in the order of their position (``txid``, ``id``) (``huizhili.events``); scoped like any
    area-coded record.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_position", "txid", "id"),  # the read path: after a position, in position order
        {"sqlite_autoincrement": True},  # ids never reused after pruning: cursors stay valid
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    txid: Mapped[int] = mapped_column(
        BigInteger,
        server_default=FetchedValue(),
        doc="The writing transaction's id on PostgreSQL (the column's default, pg_current_xact_id()), "
        "0 on SQLite, whose writers commit one at a time in id order; set by the database on every insert.",
    )
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(40))
    permission: Mapped[str] = mapped_column(String(40), doc="The permission a watcher needs to see it.")
    resource: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    department: Mapped[str | None] = mapped_column(
        String(100), index=True, doc="The department the changed record belongs to, if any."
    )


class LifeCircleRun(Base):
    """One life-circle analysis: its parameters, whether distances were walked or estimated, its outputs."""

    __tablename__ = "lifecircle_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))
    area_code: Mapped[str | None] = mapped_column(String(32))
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    distance_method: Mapped[str] = mapped_column(String(16), doc="'network' or 'estimated'.")
    origins: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    output_dir: Mapped[str | None] = mapped_column(Text)


class LifeCircleCoverage(Base):
    """Coverage of one facility kind at one threshold in one area, for one run."""

    __tablename__ = "lifecircle_coverage"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("lifecircle_runs.id", ondelete="CASCADE"), index=True)
    area_code: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    threshold_m: Mapped[float] = mapped_column(Float)
    population: Mapped[float] = mapped_column(Float)
    covered_population: Mapped[float] = mapped_column(Float)
    coverage: Mapped[float | None] = mapped_column(Float, doc="Share of population covered, 0–1; None without population.")
    target: Mapped[float | None] = mapped_column(Float, doc="The standard's target share, 0–1.")


class DataVersion(Base):
    """How often a table that caches are built from has changed (``huizhili.storage.versions``)."""

    __tablename__ = "data_versions"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


JOB_STATES = ("queued", "running", "succeeded", "failed", "cancelled")
"""A job's life: queued until a worker claims it, running, then one of the three ends."""


class Job(Base):
    """Long work — an import, an analysis and its report — done by a worker, not by a request (``huizhili.jobs``).

    Its result is written in the same transaction as the work itself, so a job that says
    ``succeeded`` has its data stored, and one whose worker stopped kept nothing.
    """

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True, doc="Who asked; None for the command line."
    )
    created_by: Mapped[str] = mapped_column(String(64))
    system: Mapped[bool] = mapped_column(
        default=False, doc="Asked by the platform itself (the command line, the worker's schedule): runs unscoped."
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    worker: Mapped[str | None] = mapped_column(String(100), doc="host:pid of the process that ran it.")
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, doc="message, and the bad record where one is to blame.")


class Case(AreaCoded, Base):
    """A case (案件/工单) of the unified case flow: one incident, however many signals reported it.

    ``state`` moves only along the workflow (``cases/workflow.toml``), every move an append-only
    :class:`CaseAction`. The first reporter's name and phone are personal fields (``policy.privacy``).
    """

    __tablename__ = "cases"
    __table_args__ = (
        # Cases by receipt, newest first as lists show them (received_at, id), with what evaluation
        # counts, groups and scopes by and what Open311's lists filter on: a period's cases are read
        # from the index alone, and filtered before their rows are (cases.evaluation, cases.open311).
        Index("ix_cases_by_receipt", "received_at", "id", "state", "closed_at", "due_at", "channel", "rework_count",
              "satisfaction", "category", "department", "street_code", "committee_code", "grid_code", "household_id",
              "merged_into_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(24), unique=True, doc="The tracking number given to the reporter.")
    channel: Mapped[str] = mapped_column(String(16), index=True, doc="How it came: hotline, open311, sensor, patrol, import.")
    external_ref: Mapped[str | None] = mapped_column(String(64), index=True, doc="Its number in the channel's own system (a 12345 工单号).")
    state: Mapped[str] = mapped_column(String(24), index=True)
    previous_state: Mapped[str | None] = mapped_column(String(24), doc="Where a suspended case resumes.")
    category: Mapped[str | None] = mapped_column(String(40), index=True)
    category_source: Mapped[str | None] = mapped_column(String(16), doc="'model', 'person' or 'sensor'.")
    category_confidence: Mapped[float | None] = mapped_column(Float)
    suggestions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, doc="The classifier's top 3: [{category, confidence}].")
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str | None] = mapped_column(String(300))
    lon: Mapped[float | None] = mapped_column(Float, index=True, doc="WGS84, converted from GCJ-02 or BD-09 where given so.")
    lat: Mapped[float | None] = mapped_column(Float, index=True)
    asset_ref: Mapped[str | None] = mapped_column(String(100), doc="The asset it concerns (a manhole cover's number), if known.")
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="Answers to its category's questions (Open311 attributes).")
    department: Mapped[str | None] = mapped_column(
        String(100), ForeignKey("departments.code", ondelete="RESTRICT", name="fk_cases_department"), index=True,
        doc="The unit responsible now.",
    )
    routed_by: Mapped[str | None] = mapped_column(String(16), doc="How the unit was found: registry, routing, fallback, person.")
    reporter_name: Mapped[str | None] = mapped_column(String(100), doc="Personal: masked by role.")
    reporter_phone: Mapped[str | None] = mapped_column(String(40), doc="Personal: masked by role.")
    reporter_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    alert_id: Mapped[int | None] = mapped_column(
        ForeignKey("alerts.id", ondelete="SET NULL", name="fk_cases_alert_id"), index=True, doc="The alert episode it was opened for."
    )
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("households.id", ondelete="SET NULL", name="fk_cases_household_id"), index=True,
        doc="The household whose device raised it: then it is read as the household is (policy.rules).",
    )
    received_at: Mapped[datetime] = mapped_column(doc="Indexed first in ix_cases_by_receipt.")
    dispatched_at: Mapped[datetime | None]
    handled_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None] = mapped_column(index=True)
    due_at: Mapped[datetime | None] = mapped_column(doc="When the whole case must be closed (its 12345 time limit).")
    due_estimated: Mapped[bool] = mapped_column(default=False, doc="The deadline passes years the holiday calendar does not know.")
    stage_due_at: Mapped[datetime | None] = mapped_column(doc="When the current stage must be done.")
    checkpoints: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, default=list, doc="The deadline clock's coming points: [{at, kind: warning|overdue, of: case|stage}]."
    )
    next_check_at: Mapped[datetime | None] = mapped_column(index=True, doc="The earliest checkpoint, where the clock looks next.")
    warned_at: Mapped[datetime | None] = mapped_column(doc="When 80 % of the case's time limit had passed.")
    overdue_at: Mapped[datetime | None] = mapped_column(doc="When the case ran past its time limit.")
    escalated_at: Mapped[datetime | None]
    escalation: Mapped[str | None] = mapped_column(Text, doc="Why it went to the district command.")
    closure_proposed_at: Mapped[datetime | None] = mapped_column(
        doc="When the platform proposed it for verification because its sensor recovered (once per case).")
    postponement: Mapped[dict[str, Any] | None] = mapped_column(JSON, doc="A postponement asked for and awaiting approval.")
    suspended_at: Mapped[datetime | None]
    satisfaction: Mapped[int | None] = mapped_column(Integer, doc="The callback's verdict: 1 unsatisfied, 2 basically, 3 satisfied.")
    rework_count: Mapped[int] = mapped_column(Integer, default=0)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT", name="fk_cases_merged_into_id"))
    created_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CaseAction(Base):
    """One step in a case's life — who, in which role, when, from and to which state, with what note.

    Append-only: the database refuses updates and deletes (triggers of migration 0015).
    """

    __tablename__ = "case_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    department: Mapped[str | None] = mapped_column(String(100), doc="The responsible unit after the step.")
    note: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="What the step decided: a reason, a new unit, a date.")
    public: Mapped[bool] = mapped_column(default=False, doc="Shown on the case's public timeline.")


class CasePhoto(Base):
    """A photo of a case: the picture is a file under ``photo_dir`` named by its SHA-256, stripped of all metadata.

    Uploaded first, then attached to the step it documents (``action_id``): a handling report,
    a field verification. The position and time its EXIF gave are kept here, not in the file,
    and the position is a personal field (``policy.privacy``): the phone was somebody's.
    """

    __tablename__ = "case_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    action_id: Mapped[int | None] = mapped_column(ForeignKey("case_actions.id", ondelete="RESTRICT"), index=True,
                                                  doc="The step it documents; none while only uploaded.")
    sha256: Mapped[str] = mapped_column(String(64), doc="Of the stored file, which is named by it.")
    content_type: Mapped[str] = mapped_column(String(32))
    bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime]
    taken_at: Mapped[datetime | None] = mapped_column(doc="When the camera says it was taken (EXIF), if it says.")
    taken_lon: Mapped[float | None] = mapped_column(Float, doc="Personal: where the camera was (EXIF GPS, WGS84).")
    taken_lat: Mapped[float | None] = mapped_column(Float, doc="Personal: where the camera was (EXIF GPS, WGS84).")
    public: Mapped[bool] = mapped_column(default=False, doc="Its uploader says it shows nothing private: shown with its public step.")


class CaseSignal(Base):
    """A report of a case's incident: the first one, and every later call, message or alert linked to it."""

    __tablename__ = "case_signals"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime]
    text: Mapped[str] = mapped_column(Text, default="")
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    reporter_name: Mapped[str | None] = mapped_column(String(100), doc="Personal: masked by role.")
    reporter_phone: Mapped[str | None] = mapped_column(String(40), doc="Personal: masked by role.")
    reporter_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    alert_id: Mapped[int | None] = mapped_column(
        ForeignKey("alerts.id", ondelete="SET NULL", name="fk_case_signals_alert_id"), unique=True,
        doc="The alert episode it is: each is taken in once, whichever worker's clock sees it first.",
    )
    external_ref: Mapped[str | None] = mapped_column(String(64))
    linked_by: Mapped[str] = mapped_column(String(16), doc="'first', 'nearby' (same category, radius and window), 'merge', 'split' or 'comment' (a reporter's word on his case).")


class AssetOwner(AreaAssigned, Base):
    """The owner registry: an asset on the street (a manhole cover, a lamp, a tree, a bin) and the unit that owns it."""

    __tablename__ = "asset_owners"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    ref: Mapped[str] = mapped_column(String(100), unique=True, doc="The number on its plate.")
    source_ref: Mapped[str | None] = mapped_column(String(200))
    owner_department: Mapped[str] = mapped_column(
        String(100), ForeignKey("departments.code", ondelete="RESTRICT", name="fk_asset_owners_owner_department"), index=True
    )


class OwnershipDispute(Base):
    """A unit's claim that a case is not its own: the case went to the fallback unit at once; this waits to be settled."""

    __tablename__ = "ownership_disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    disputed_by: Mapped[str] = mapped_column(String(100), doc="The unit that said it is not its own.")
    fallback: Mapped[str] = mapped_column(String(100), doc="The unit that took the case over.")
    reason: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime]
    settle_by: Mapped[datetime] = mapped_column(index=True)
    settled_at: Mapped[datetime | None]
    settled_owner: Mapped[str | None] = mapped_column(String(100), doc="Who the district decided owns it.")
    settled_by: Mapped[str | None] = mapped_column(String(64))
    escalated_at: Mapped[datetime | None] = mapped_column(doc="When, unsettled past its time, it went to the district command.")


PROJECT_STATUSES = ("planned", "in_progress", "done", "suspended")
"""A project's life: planned, under way, done, or suspended (stopped for now)."""


class Programme(Base):
    """A renewal programme (零星旧改, 架空线入地, 邻里汇 …): a kind of work the district does, by a unit, over a period."""

    __tablename__ = "programmes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(40), index=True, doc="One of the kinds of programmes/kinds.toml.")
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    owner_department: Mapped[str | None] = mapped_column(
        String(100), ForeignKey("departments.code", ondelete="RESTRICT", name="fk_programmes_owner_department"), index=True,
        doc="The responsible unit: its handlers may change the programme.",
    )
    period_start: Mapped[date | None]
    period_end: Mapped[date | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Project(AreaAssigned, Base):
    """One project of a programme, placed by its geometry (a building's point, a road's line, an area) and area-coded like every record.

    ``quantities`` are what it plans ({unit: amount}: households, m2, km, count); ``done`` what
    its latest progress report says is done, cumulative. Progress itself is append-only
    (:class:`ProjectProgress`); ``status`` and ``done`` follow it.
    """

    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("programme_id", "source_ref", name="uq_projects_programme_id_source_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id", ondelete="RESTRICT"), index=True)
    source_ref: Mapped[str | None] = mapped_column(String(64), index=True, doc="Its number in the office's list (项目编号).")
    name: Mapped[str] = mapped_column(String(300))
    owner_department: Mapped[str | None] = mapped_column(
        String(100), ForeignKey("departments.code", ondelete="RESTRICT", name="fk_projects_owner_department"), index=True,
        doc="The responsible unit (责任单位): its handlers report the project's progress.",
    )
    status: Mapped[str] = mapped_column(String(16), default="planned", index=True, doc="One of PROJECT_STATUSES.")
    planned_start: Mapped[date | None]
    planned_end: Mapped[date | None]
    actual_start: Mapped[date | None]
    actual_end: Mapped[date | None]
    quantities: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="Planned amounts: {households|m2|km|count: number}.")
    done: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="Amounts done, cumulative, as the latest progress report says.")


class ProjectProgress(Base):
    """One progress report on a project: when, by whom, what it says is done (cumulative), its status, a note and evidence.

    Append-only: the database refuses updates and deletes (triggers of migration 0020).
    """

    __tablename__ = "project_progress"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="RESTRICT"), index=True)
    at: Mapped[datetime] = mapped_column(index=True)
    author: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), doc="The project's status after the report.")
    done: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="Amounts done by then, cumulative: {unit: number}.")
    note: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[str | None] = mapped_column(String(500), doc="Where the evidence is: a photo's or document's file name or address.")


class Target(Base):
    """A district or street target: a measured quantity with a goal, baseline and deadline.

    ``measure`` ``sum`` adds a project quantity over a programme; ``live`` computes it from the
    platform (``source``: park coverage from the latest life-circle run, on-time case closure,
    facility counts). ``programmes.targets`` computes its status.
    """

    __tablename__ = "targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    area_code: Mapped[str] = mapped_column(
        String(32), ForeignKey("areas.code", ondelete="RESTRICT", name="fk_targets_area_code"), index=True,
        doc="The district or street the goal is for.",
    )
    measure: Mapped[str] = mapped_column(String(8), doc="'sum' or 'live'.")
    programme_id: Mapped[int | None] = mapped_column(ForeignKey("programmes.id", ondelete="RESTRICT"), index=True,
                                                     doc="A summed target's programme.")
    quantity: Mapped[str | None] = mapped_column(String(16), doc="A summed target's project quantity: households, m2, km, count.")
    source: Mapped[str | None] = mapped_column(String(40), doc="A live target's source (programmes.catalogue.LIVE_SOURCES).")
    source_kind: Mapped[str | None] = mapped_column(String(40), doc="The facility kind a live source counts or covers.")
    threshold_m: Mapped[float | None] = mapped_column(Float, doc="A coverage target's walking distance, metres.")
    goal: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16), doc="What the goal counts: households, km, share (0–1), facilities …")
    baseline: Mapped[float | None] = mapped_column(Float, doc="The value when the target was set.")
    baseline_date: Mapped[date | None]
    deadline: Mapped[date]
