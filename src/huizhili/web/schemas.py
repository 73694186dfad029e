"""Response and request shapes of the API, apart from the storage tables."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


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


class Problem(BaseModel):
    """An error: what went wrong, and which record when an import broke."""

    detail: str
    record: str | None = Field(None, description="The record that broke an import, if any.")
