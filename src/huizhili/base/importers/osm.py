"""OpenStreetMap extracts (``.osm.pbf``, ``.osm``) through pyosmium.

One pass gives buildings, facilities (through the tag table of ``base.kinds``), residential
land use (``landuse=residential``: in China a compound, 小区) as parcels, the ways a pedestrian
may use, and administrative boundaries, which attach to existing areas of the same name.
``clip`` keeps only what lies in one area, so a city-wide extract can feed a district.

Homes are the buildings tagged residential and, because most homes in OSM are drawn as
``building=yes`` blocks inside a ``landuse=residential`` compound, every plain ``building=yes``
inside residential land use that carries no tag of another use (``docs/osm-kinds.md``); both
get residents estimated from footprint and levels (``base.buildings``).

A pedestrian street or square mapped as an area is walked along its outline: a closed way as
the way itself, a multipolygon as one walk way per ring, stored under the relation's id
negated (way and relation ids are separate numberings). Ways join it only at shared nodes; one
crossing the outline without sharing a node passes under or over it (docs/osm-kinds.md).

An extract that meets no stored area is an area of its own, so that it can be analysed
alone: a district coded ``osm-<file name>`` whose boundary is the convex hull of what was
imported from it (:data:`~huizhili.base.areas.EXTENT_SOURCE`).
"""

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import osmium
import shapely
import sqlalchemy as sa
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from huizhili.base.areas import EXTENT_SOURCE, AreaSpec, area_geometry, find_area, upsert_areas
from huizhili.base.importers._common import (
    ImportReport,
    Progress,
    Record,
    finish_run,
    reassign_records,
    repair_geometries,
    without_path,
    write_records,
)
from huizhili.base.kinds import OTHER_USE_KEYS, building_use, kind_for_tags
from huizhili.errors import ImportFailed
from huizhili.policy import Scope
from huizhili.storage.models import Area, Building, Facility, Parcel, WalkWay

WALKABLE_HIGHWAYS = frozenset(
    {
        "footway", "pedestrian", "path", "steps", "living_street", "residential", "service",
        "unclassified", "tertiary", "tertiary_link", "secondary", "secondary_link", "primary",
        "primary_link", "track", "cycleway", "corridor", "road", "crossing",
    }
)
"""``highway=*`` values a pedestrian may use; motorways and trunk roads are left out unless ``foot=yes``."""

_FOOT_ALLOWED = frozenset({"yes", "designated", "permissive"})
_NO_ACCESS = frozenset({"no", "private"})
_NOT_BUILT = frozenset({"construction", "proposed", "abandoned", "razed"})
_AT_STREET_LEVEL = frozenset({"no", "building_passage"})
_PROGRESS_EVERY = 100_000


def is_walkable(tags: Mapping[str, str]) -> bool:
    """Whether a way, or the outline of an area, with these tags may be walked on.

    Underground service roads (delivery tunnels, garage ramps) are left out unless tagged for
    foot: they are connected to the streets, so a building above one would be placed on it and
    walked through the tunnel.
    """
    foot = tags.get("foot")
    if tags.get("highway") in _NOT_BUILT:
        return False
    if foot in _FOOT_ALLOWED:
        return "highway" in tags
    if foot in _NO_ACCESS or tags.get("access") in _NO_ACCESS:
        return False
    if tags.get("highway") == "service" and _underground(tags):
        return False
    return tags.get("highway") in WALKABLE_HIGHWAYS


def _underground(tags: Mapping[str, str]) -> bool:
    """Whether a way runs in a tunnel (not a passage through a building) or below ground level."""
    if tags.get("tunnel", "no") not in _AT_STREET_LEVEL:
        return True
    try:
        return float(tags.get("layer", "0").split(";")[0]) < 0
    except ValueError:
        return False


def import_osm(
    session: Session,
    path: Path,
    *,
    clip: str | None = None,
    file_name: str | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import buildings, facilities, walkable ways and admin boundaries from an OSM file.

    Parameters
    ----------
    session
        Session inside the caller's transaction.
    path
        ``.osm.pbf`` or ``.osm`` (XML) file.
    clip
        Code or name of an area: keep only what lies inside it (ways that cross it are kept
        whole, so the walk network stays connected at the edge). A boundary of that name in the
        file itself is preferred over the stored one, since it is complete. Without ``clip``, an
        extract meeting no stored area becomes a district of its own (``osm-<file name>``).
    file_name
        How messages and the report name the file, e.g. the name an upload was sent under, so
        that no server path shows. Default: its name on disk (the report: its path).
    progress
        Called every 100,000 OSM objects and as rows are written.

    Returns
    -------
    ImportReport
        Counts of buildings, facilities, walk ways and boundaries attached to areas. When
        boundaries were attached or the extract's district made, every stored record is
        assigned to the areas again (noted).

    Raises
    ------
    ImportFailed
        If the file is missing, truncated or not OSM data.
    """
    path = Path(path)
    name = file_name or path.name
    if not path.is_file():
        message = f"{name}: no such file"
        raise ImportFailed(message)
    report = ImportReport(importer="osm", source=file_name or str(path))
    reader = _OsmReader(progress)
    try:
        reader.read(path)
    except (RuntimeError, ValueError) as error:
        message = f"{name}: not a readable OSM file ({without_path(error, path, name)}); nothing was imported"
        raise ImportFailed(message) from error
    buildings = repair_geometries(reader.buildings, report)
    facilities = repair_geometries(reader.facilities, report)
    residential_land = repair_geometries(reader.residential_land, report)
    if homes := _homes_in_residential_land(buildings, residential_land):
        report.notes.append(f"{homes} buildings tagged building=yes inside residential land use counted as homes")
    ways = reader.ways
    if clip is not None:
        area = find_area(session, clip, Scope.system())
        boundary = reader.boundaries.get(area.name) or area_geometry(session, area)
        if boundary is None:
            message = f"area {area.name} has no boundary to clip to; import its boundary first"
            raise ImportFailed(message)
        shapely.prepare(boundary)
        buildings, facilities = _inside(buildings, boundary), _inside(facilities, boundary)
        residential_land = _inside(residential_land, boundary)
        ways = [way for way in ways if boundary.intersects(way.geometry)]
        report.notes.append(f"clipped to {area.name} ({area.code})")
    if reader.incomplete:
        report.notes.append(f"{reader.incomplete} ways or areas skipped: degenerate, or nodes missing from the extract")
    lost = {what: reader.area_candidates[what] - reader.areas_assembled[what] for what in ("building", "facility")}
    if any(lost.values()):
        report.notes.append(
            f"{lost['building']} building and {lost['facility']} facility areas could not be assembled: "
            "members missing from the extract"
        )
    report.counts["buildings"] = len(write_records(session, Building, buildings, report, progress))
    report.counts["facilities"] = len(write_records(session, Facility, facilities, report, progress))
    report.counts["parcels"] = len(write_records(session, Parcel, residential_land, report, progress))
    report.counts["walk_ways"] = _write_ways(session, ways)
    report.counts["boundaries"] = _attach_boundaries(session, reader.boundaries, report)
    extent_made = clip is None and _add_extent_area(session, name, [way.geometry for way in ways], [*buildings, *facilities], report)
    if report.counts["boundaries"] or extent_made:
        reassign_records(session, report)
    return finish_run(session, report)


class _OsmReader:
    """Collects records from one pass over the file."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.buildings: list[Record] = []
        self.facilities: list[Record] = []
        self.residential_land: list[Record] = []
        self.ways: list[WalkWay] = []
        self.boundaries: dict[str, BaseGeometry] = {}
        self.incomplete = 0
        self.area_candidates = {"building": 0, "facility": 0}
        self.areas_assembled = {"building": 0, "facility": 0}
        self._wkb = osmium.geom.WKBFactory()

    def read(self, path: Path) -> None:
        """Walk every node, way and assembled area of the file once."""
        processor = osmium.FileProcessor(str(path)).with_locations().with_areas()
        for seen, obj in enumerate(processor, start=1):
            if self.progress and seen % _PROGRESS_EVERY == 0:
                self.progress("reading OSM", seen)
            try:  # by class, not obj.is_node() and the like: a changeset has none of those
                if isinstance(obj, osmium.osm.Node):
                    self._node(obj)
                elif isinstance(obj, osmium.osm.Way):
                    self._way(obj)
                elif isinstance(obj, osmium.osm.Relation):
                    self._count_candidate(obj, obj.tags.get("type") == "multipolygon")
                elif isinstance(obj, osmium.osm.Area):
                    self._area(obj)
            except (osmium.InvalidLocationError, RuntimeError):  # degenerate or cut-off geometry
                self.incomplete += 1

    def _node(self, node: Any) -> None:
        if not node.tags:
            return
        tags = dict(node.tags)
        kind = kind_for_tags(tags)
        if kind:
            geometry = shapely.from_wkb(self._wkb.create_point(node))
            self.facilities.append(_facility(f"node/{node.id}", kind, tags, geometry))

    def _count_candidate(self, obj: Any, could_be_area: bool) -> None:
        """Count objects that should become building or facility areas, to report those that do not."""
        if could_be_area:
            self.area_candidates["building"] += _is_building(obj.tags)
            self.area_candidates["facility"] += kind_for_tags(dict(obj.tags)) is not None

    def _way(self, way: Any) -> None:
        tags = way.tags
        self._count_candidate(way, len(way.nodes) >= 4 and way.nodes[0].ref == way.nodes[-1].ref)
        if "highway" not in tags or not is_walkable(tags):
            return
        # An extract cuts ways at its edge: keep each run of nodes that have a location, so node
        # ids and coordinates stay paired and no edge jumps across the missing part.
        runs: list[list[Any]] = [[]]
        for node in way.nodes:
            if node.location.valid():
                runs[-1].append((node.ref, node.location.lon, node.location.lat))
            elif runs[-1]:
                runs.append([])
        pieces = [run for run in runs if len(run) >= 2]
        if len(pieces) != 1 or len(pieces[0]) != len(way.nodes):
            self.incomplete += 1
        self.ways.extend(_walk_way(way.id, tags, run) for run in pieces)

    def _area(self, area: Any) -> None:
        tags = dict(area.tags)
        if not area.from_way() and "highway" in tags and is_walkable(tags):  # a closed way is walked in _way
            self.ways.extend(
                _walk_way(-area.orig_id(), tags, [(node.ref, node.lon, node.lat) for node in ring])
                for outer in area.outer_rings()
                for ring in (outer, *area.inner_rings(outer))
            )
        kind = kind_for_tags(tags)
        is_building = _is_building(tags)
        self.areas_assembled["building"] += is_building
        self.areas_assembled["facility"] += kind is not None
        is_boundary = tags.get("boundary") == "administrative" and "name" in tags and not area.from_way()
        is_residential_land = tags.get("landuse") == "residential"
        if not (kind or is_building or is_boundary or is_residential_land):
            return
        geometry = shapely.from_wkb(self._wkb.create_multipolygon(area))
        if len(geometry.geoms) == 1:
            geometry = geometry.geoms[0]
        ref = f"{'way' if area.from_way() else 'relation'}/{area.orig_id()}"
        if is_boundary:
            self.boundaries[tags["name"]] = geometry
        if is_building:
            self.buildings.append(
                Record(
                    ref=ref,
                    geometry=geometry,
                    fields={
                        "name": tags.get("name"),
                        "use": building_use(tags),
                        "floors": _whole(tags.get("building:levels")),
                        "year": _whole(tags.get("start_date", "")[:4]),
                    },
                    properties=_kept_tags(tags),
                    source_ref=f"osm:{ref}",
                )
            )
        if kind:
            self.facilities.append(_facility(ref, kind, tags, geometry))
        if is_residential_land:
            self.residential_land.append(
                Record(ref=ref, geometry=geometry, fields={"name": tags.get("name"), "land_use": "residential"},
                       properties=_kept_tags(tags), source_ref=f"osm:{ref}")
            )


def _homes_in_residential_land(buildings: list[Record], residential_land: list[Record]) -> int:
    """Make every plain ``building=yes`` inside residential land use a home; returns how many.

    A building that carries a tag of another use (``amenity``, ``shop``, ``office`` …) stays
    what it is: a kindergarten or a shop in a compound houses nobody.
    """
    plain = [r for r in buildings if r.properties.get("building") == "yes" and not OTHER_USE_KEYS & r.properties.keys()]
    if not plain or not residential_land:
        return 0
    anchors = shapely.point_on_surface(np.array([r.geometry for r in plain], dtype=object))
    inside, _ = shapely.STRtree([r.geometry for r in residential_land]).query(anchors, predicate="within")
    homes = {int(i) for i in inside}
    for index in homes:
        plain[index].fields["use"] = "residential"
    return len(homes)


def _walk_way(osm_id: int, tags: Any, run: list[tuple[int, float, float]]) -> WalkWay:
    """A walk way through ``run``'s nodes (OSM id, lon, lat), in order."""
    return WalkWay(
        osm_id=osm_id,
        highway=tags.get("highway"),
        name=tags.get("name"),
        node_ids=[ref for ref, _, _ in run],
        geometry=shapely.LineString([(lon, lat) for _, lon, lat in run]),
    )


def _is_building(tags: Any) -> bool:
    """Whether OSM tags describe a building."""
    return "building" in tags and tags.get("building") != "no"


def _facility(ref: str, kind: str, tags: dict[str, str], geometry: BaseGeometry) -> Record:
    """A facility record from an OSM object."""
    address = " ".join(tags[k] for k in ("addr:street", "addr:housenumber") if k in tags) or None
    return Record(
        ref=ref,
        geometry=geometry,
        fields={
            "kind": kind,
            "name": tags.get("name"),
            "address": address,
            "phone": tags.get("phone") or tags.get("contact:phone"),
            "opening_hours": tags.get("opening_hours"),
        },
        properties=_kept_tags(tags),
        source_ref=f"osm:{ref}",
    )


def _kept_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """OSM tags worth keeping beside the mapped fields."""
    return {k: v for k, v in tags.items() if not k.startswith(("source", "note", "fixme"))}


def _whole(value: str | None) -> int | None:
    """A whole number from a tag, or None when the tag is absent or not a number."""
    try:
        return int(float(value)) if value else None
    except ValueError:
        return None


def _inside(records: list[Record], boundary: BaseGeometry) -> list[Record]:
    """Records whose anchor point lies in ``boundary``."""
    if not records:
        return records
    anchors = shapely.point_on_surface(np.array([r.geometry for r in records], dtype=object))  # a point stays itself
    inside = shapely.intersects(boundary, anchors)
    return [r for r, keep in zip(records, inside, strict=True) if keep]


def _write_ways(session: Session, ways: list[WalkWay]) -> int:
    """Replace stored walk ways with the same OSM ids by the new ones."""
    ids = [way.osm_id for way in ways]
    for start in range(0, len(ids), 5000):
        session.execute(sa.delete(WalkWay).where(WalkWay.osm_id.in_(ids[start : start + 5000])))
    session.add_all(ways)
    session.flush()
    return len(ways)


def _attach_boundaries(session: Session, boundaries: Mapping[str, BaseGeometry], report: ImportReport) -> int:
    """Give stored areas without a boundary the OSM boundary of the same name."""
    attached = 0
    for area in session.scalars(sa.select(Area).where(Area.geometry.is_(None), Area.name.in_(list(boundaries)))):
        area.geometry = boundaries[area.name]
        report.notes.append(f"boundary of {area.name} ({area.code}) taken from OSM")
        attached += 1
    session.flush()
    return attached


def _add_extent_area(
    session: Session, file_name: str, ways: list[BaseGeometry], records: list[Record], report: ImportReport
) -> bool:
    """Make the extract's extent a district when it meets no stored area; whether it did.

    The extent is the convex hull of everything imported: where the extract has data, whatever
    its header claims. Importing the same file again redraws it.
    """
    shapes = np.array([*ways, *(r.geometry for r in records)], dtype=object)
    if not len(shapes):
        return False
    extent = shapely.convex_hull(shapely.multipoints(shapely.get_coordinates(shapes)))
    if extent.geom_type != "Polygon":
        report.notes.append("the extract's data lie on a line or a point: no area made of its extent")
        return False
    stored = session.scalars(
        sa.select(Area.geometry).where(Area.geometry.is_not(None), Area.source.is_distinct_from(EXTENT_SOURCE))
    ).all()
    if shapely.intersects(np.array(stored, dtype=object), extent).any():
        return False
    stem = Path(file_name).name.split(".")[0]
    code = f"osm-{re.sub(r'[^0-9a-z]+', '-', stem.lower()).strip('-') or 'extract'}"[:32]
    taken = session.scalar(sa.select(Area).where(Area.code == code))
    if taken is not None and taken.source != EXTENT_SOURCE:
        report.notes.append(f"the extract meets no stored area, but its code {code} is taken by {taken.name}: no area made of its extent")
        return False
    name = f"{stem} (OSM extract)"
    upsert_areas(session, [AreaSpec(code=code, name=name, level="district", geometry=extent, source=EXTENT_SOURCE)])
    report.counts["areas"] = 1
    report.notes.append(f"the extract meets no stored area: its extent is now the district {code}, “{name}”; analyse it with --area {code}")
    return True
