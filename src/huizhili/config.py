"""Settings, read from the environment (``HUIZHILI_*``) and validated once at start-up.

Build them with :func:`load_settings` and pass them down; nothing reads the environment at
import time, so tests and servers never share state by accident.
"""

from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from huizhili.errors import ConfigurationError


class Settings(BaseSettings):
    """All settings of the platform. Every field is documented in ``docs/settings.md``."""

    model_config = SettingsConfigDict(env_prefix="HUIZHILI_", extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        "development",
        description="Deployment kind: development, test or production; production refuses "
        "`huizhili demo`, which would overwrite real areas.",
    )
    data_dir: Path = Field(
        Path("var"), description="Folder for the embedded database, caches and run outputs."
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; default an embedded SQLite file in data_dir. "
        "Use postgresql+psycopg://… for PostgreSQL + PostGIS.",
    )
    host: str = Field("127.0.0.1", description="Address the web server listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port the web server listens on.")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses (or CIDR ranges) of reverse proxies whose X-Forwarded-For names the caller "
        'as JSON, e.g. ["127.0.0.1"]; empty: the header is ignored and the peer address counts.',
    )
    page_size_default: int = Field(100, ge=1, description="Features per page when none is asked.")
    page_size_max: int = Field(1000, ge=1, description="Largest page a client may ask for.")
    request_max_bytes: int = Field(
        1024 * 1024, ge=1, description="Largest request body accepted, uploads aside (413 beyond)."
    )
    anonymous_requests_per_minute: int = Field(
        120, ge=1, description="Requests per minute one address may make without signing in (429 beyond)."
    )
    upload_max_bytes: int = Field(
        200 * 1024 * 1024, ge=1, description="Largest file accepted by the import endpoint."
    )
    stream_poll_seconds: float = Field(
        0.5, gt=0, le=60, description="How often the live stream looks for new events (and re-checks the watcher's credential)."
    )
    stream_connections_per_address: int = Field(
        10, ge=1, description="Live-stream connections one address may hold at once."
    )
    stream_connections_max: int = Field(
        1000, ge=1, description="Live-stream connections one server process holds at most."
    )
    warm_start: bool = Field(
        True,
        description="Load the walk network, each kind's facilities on it and the compiled searches when the "
        "server starts, so that the first citizen waits no longer than the hundredth; false: on the first request.",
    )
    lifecircle_cutoff_m: float = Field(
        2000.0, gt=0, le=20000,
        description="Life-circle runs report every walking distance up to this many metres, farther ones as null (a run may ask another).",
    )
    retention_closed_account_days: int = Field(
        30, ge=0, description="Days after an account is closed before its name and phone are erased."
    )
    retention_closed_case_days: int = Field(
        730, ge=0, description="Days after a case is closed before its reporters' names and phones are erased (the case and its timeline stay)."
    )
    retention_access_log_days: int = Field(
        1095, ge=180, description="Days the personal-data access log is kept (at least 180: logs are kept six months or more)."
    )
    retention_event_days: int = Field(
        30, ge=1, description="Days live-stream events are kept for watchers catching up; then deleted (a live feed, not an audit trail)."
    )
    mqtt_url: str | None = Field(
        None,
        description="The broker the worker ingests from, mqtt://USER:PASSWORD@HOST:PORT with a service account "
        "(huizhili mqtt service); unset: no MQTT ingest (HTTP ingest always works).",
    )
    mqtt_client_id: str = Field(
        "huizhili-ingest", min_length=1, max_length=64,
        description="The ingest's MQTT client id: the broker keeps its session, and what it has not yet acknowledged, under it.",
    )
    broker_dir: Path | None = Field(
        None, description="Where device provisioning rewrites Mosquitto's passwd and acl files; default data_dir/broker."
    )
    ingest_max_bytes: int = Field(
        16 * 1024, ge=256, description="Largest observation message accepted; larger ones are dead letters."
    )
    ingest_future_s: int = Field(
        300, ge=0, description="Seconds an observation may be timed ahead of the platform's clock (devices' clocks drift)."
    )
    ingest_max_age_days: int = Field(
        30, ge=1,
        description="Days back an observation may be timed, for a device without an install date; a device with one "
        "accepts anything since it was installed (backfill, replays).",
    )
    no_data_intervals: int = Field(
        3, ge=1, description="A device that misses this many of its reporting intervals is silent: a no-data alert."
    )
    retention_raw_days: int = Field(
        30, ge=1, description="Days raw observations are kept; their minute, hour and day rollups stay longer."
    )
    retention_minute_days: int = Field(90, ge=1, description="Days minute rollups are kept.")
    retention_hour_days: int = Field(730, ge=1, description="Days hour rollups are kept (day rollups are kept for good).")
    retention_dead_letter_days: int = Field(30, ge=1, description="Days the ingest's dead letters are kept for operators to see.")
    local_timezone: str = Field(
        "Asia/Shanghai", description="The district's time zone: day rollups start at its midnight; install dates without a zone are read in it."
    )
    alert_webhook_url: str | None = Field(
        None, description="Where the worker POSTs every alert event (opened, escalated, acknowledged, resolved, closed); unset: none."
    )
    alert_webhook_secret: str | None = Field(
        None, min_length=16,
        description="Key of the webhook's HMAC-SHA256 signature (X-Huizhili-Signature); required with alert_webhook_url.",
    )
    scenarios_file: Path | None = Field(
        None, description="The district's own scenario library (TOML, as sensing/scenarios.toml); default the shipped one."
    )
    workflow_file: Path | None = Field(
        None, description="The district's own case workflow (TOML, as cases/workflow.toml): states, transitions, who may take them."
    )
    case_classifier_model: Path | None = Field(
        None, description="The model that classifies reports without a category (huizhili cases train); default data_dir/models/case-classifier.zip where it exists."
    )
    case_classifier_confidence: float = Field(
        0.6, ge=0, le=1, description="Below this probability a classified report waits for a person to choose its category."
    )
    open311_jurisdiction: str = Field(
        "xuhui.sh.cn", min_length=1, max_length=100,
        description="The jurisdiction_id Open311 clients name for this district (one jurisdiction per endpoint).",
    )
    case_categories_file: Path | None = Field(
        None, description="The district's own case categories and routing table (TOML, as cases/categories.toml)."
    )

    photo_dir: Path | None = Field(
        None, description="Where case photos are kept, each file named by its SHA-256; default data_dir/photos."
    )
    photo_max_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="The largest photo upload accepted, in bytes.")
    photo_max_pixels: int = Field(
        40_000_000, ge=10_000, le=89_000_000,
        description="The most pixels a photo may have (a small file can unpack into a huge picture); at most Pillow's own bomb limit."
    )
    photo_waiting_max: int = Field(
        50, ge=1, description="Photos one person may have uploaded and not yet attached to a step; more are refused until he takes it."
    )
    case_citizen_reopen_days: int = Field(
        30, ge=0, description="Within these days of closing, a reporter saying it is not fixed reopens the case himself (Open311 update)."
    )

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgresql")):
            message = f"HUIZHILI_DATABASE_URL must be sqlite:// or postgresql://, not {value!r}"
            raise ValueError(message)
        return value

    @field_validator("local_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ValueError, ZoneInfoNotFoundError) as error:
            message = f"HUIZHILI_LOCAL_TIMEZONE {value!r} is no IANA time zone (e.g. Asia/Shanghai)"
            raise ValueError(message) from error
        return value

    @model_validator(mode="after")
    def _signed_webhook(self) -> "Settings":
        if self.alert_webhook_url and not self.alert_webhook_secret:
            message = "HUIZHILI_ALERT_WEBHOOK_URL needs HUIZHILI_ALERT_WEBHOOK_SECRET: unsigned, anyone could forge alerts"
            raise ValueError(message)
        return self

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to ``sqlite:///<data_dir>/huizhili.sqlite``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'huizhili.sqlite').resolve()}"

    @property
    def resolved_photo_dir(self) -> Path:
        """Where case photos are kept: ``photo_dir`` or ``<data_dir>/photos``."""
        return self.photo_dir or self.data_dir / "photos"

    @property
    def resolved_broker_dir(self) -> Path:
        """Where the broker's files are written: ``broker_dir`` or ``<data_dir>/broker``."""
        return self.broker_dir or self.data_dir / "broker"


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment, with explicit overrides winning.

    Raises
    ------
    ConfigurationError
        If a value is invalid.
    """
    try:
        return Settings(**overrides)
    except ValueError as error:
        message = f"invalid settings: {error}"
        raise ConfigurationError(message) from error
