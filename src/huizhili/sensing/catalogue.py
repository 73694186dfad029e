"""What devices measure and which kinds the district deploys, as shipped data (``catalogue.toml``)."""

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CATALOGUE_FILE = Path(__file__).with_name("catalogue.toml")


@dataclass(frozen=True)
class Metric:
    """A measured quantity, its unit and the range a working sensor can report."""

    id: str
    unit: str
    minimum: float
    maximum: float
    zh: str
    en: str


@dataclass(frozen=True)
class DeviceKind:
    """A kind of device: what it reports and how often it is expected to (0: only when something happens)."""

    id: str
    metrics: tuple[str, ...]
    interval_s: int
    zh: str
    en: str


@dataclass(frozen=True)
class Catalogue:
    """Metrics and device kinds by id."""

    metrics: dict[str, Metric]
    kinds: dict[str, DeviceKind]


@cache
def catalogue() -> Catalogue:
    """The shipped catalogue, read once."""
    data = tomllib.loads(CATALOGUE_FILE.read_text(encoding="utf-8"))
    metrics = {
        key: Metric(key, m["unit"], float(m["min"]), float(m["max"]), m["zh"], m["en"]) for key, m in data["metrics"].items()
    }
    kinds = {
        key: DeviceKind(key, tuple(k["metrics"]), int(k["interval_s"]), k["zh"], k["en"]) for key, k in data["kinds"].items()
    }
    unknown = {m for kind in kinds.values() for m in kind.metrics} - set(metrics)
    assert not unknown, f"catalogue.toml: kinds name unknown metrics {sorted(unknown)}"
    return Catalogue(metrics, kinds)
