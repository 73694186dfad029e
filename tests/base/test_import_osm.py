"""OpenStreetMap import of central Helsinki, checked against a plain pyosmium pass over the file.

Done when: the Helsinki extract gives its buildings, parks and amenities with the right kinds,
walkable ways only, population estimates for homes; a broken file changes nothing; ``clip``
keeps only what lies in an area; an extract meeting no area is an area of its own; boundaries
taken from the file file the stored records under them.
"""

from dataclasses import dataclass, field

import osmium
import pytest
import shapely
import sqlalchemy as sa
from conftest import HELSINKI, row_counts

from huizhili.base.areas import EXTENT_SOURCE, AreaSpec, upsert_areas
from huizhili.base.importers import import_file, import_osm
from huizhili.base.importers.osm import is_walkable
from huizhili.errors import ImportFailed
from huizhili.storage.engine import transaction
from huizhili.storage.models import Area, Building, Facility, ImportRun, Parcel, WalkWay

# Part of central Helsinki (the extract spans lon 24.935-24.953, lat 60.164-60.179).
WEST_HELSINKI = shapely.Polygon(
    [(24.930, 60.160), (24.946, 60.160), (24.946, 60.172), (24.938, 60.180), (24.930, 60.180)]
)


@dataclass
class OsmFile:
    """The raw objects of an OSM file, read with nothing but pyosmium."""

    node_ids: set[int] = field(default_factory=set)
    nodes: dict[int, dict[str, str]] = field(default_factory=dict)
    ways: dict[int, tuple[list[int], dict[str, str]]] = field(default_factory=dict)
    relations: dict[int, tuple[list[int], dict[str, str]]] = field(default_factory=dict)

    def complete(self, refs: list[int]) -> bool:
        """Whether every node of a way is in the file."""
        return all(ref in self.node_ids for ref in refs)

    def areas(self, key: str, values: set[str] | None = None, *, complete: bool = True) -> set[str]:
        """Refs of closed ways and multipolygons tagged ``key`` (any value but ``no`` unless
        ``values``); by default only those whose nodes and member ways are all in the file."""

        def tagged(tags: dict[str, str]) -> bool:
            return tags.get(key) in values if values else tags.get(key, "no") != "no"

        found = {
            f"osm:way/{way_id}"
            for way_id, (refs, tags) in self.ways.items()
            if tagged(tags)
            and len(refs) >= 4
            and refs[0] == refs[-1]
            and (self.complete(refs) or not complete)
        }
        found |= {
            f"osm:relation/{relation_id}"
            for relation_id, (members, tags) in self.relations.items()
            if tags.get("type") == "multipolygon"
            and tagged(tags)
            and (
                all(m in self.ways and self.complete(self.ways[m][0]) for m in members)
                or not complete
            )
        }
        return found

    def points(self, key: str, values: set[str]) -> set[str]:
        """``osm:node/…`` of nodes tagged key=value."""
        return {
            f"osm:node/{node_id}" for node_id, tags in self.nodes.items() if tags.get(key) in values
        }


@pytest.fixture(scope="module")
def osm_file() -> OsmFile:
    scanned = OsmFile()
    for obj in osmium.FileProcessor(str(HELSINKI)):
        if obj.is_node():
            scanned.node_ids.add(obj.id)
            if obj.tags:
                scanned.nodes[obj.id] = dict(obj.tags)
        elif obj.is_way():
            scanned.ways[obj.id] = ([node.ref for node in obj.nodes], dict(obj.tags))
        elif obj.is_relation():
            scanned.relations[obj.id] = (
                [m.ref for m in obj.members if m.type == "w"],
                dict(obj.tags),
            )
    return scanned


def facility_refs(sessions, kind: str) -> set[str]:
    with sessions() as session:
        return set(session.scalars(sa.select(Facility.source_ref).where(Facility.kind == kind)))


@pytest.mark.parametrize(
    ("name", "source_ref", "kind"),
    [
        ("Simonpuistikko", "osm:way/8042613", "park"),
        ("Ressun lukio", "osm:way/37264738", "school"),
        ("Apteekki Eliel", "osm:node/1369465553", "pharmacy"),
        ("S-Market Hakaniemi", "osm:node/349041876", "market"),
        ("Rautatientori", "osm:node/418089207", "metro_station"),
    ],
)
def test_named_places_get_their_kind(helsinki, name, source_ref, kind):
    with helsinki() as session:
        found = session.execute(
            sa.select(Facility.name, Facility.kind).where(Facility.source_ref == source_ref)
        ).all()
    assert found == [(name, kind)]


def test_pharmacies_are_every_pharmacy_of_the_file(helsinki, osm_file):
    expected = osm_file.points("amenity", {"pharmacy"}) | osm_file.areas("amenity", {"pharmacy"})
    assert len(expected) == 6
    assert facility_refs(helsinki, "pharmacy") == expected


def test_toilets_are_every_public_toilet_of_the_file(helsinki, osm_file):
    expected = osm_file.points("amenity", {"toilets"}) | osm_file.areas("amenity", {"toilets"})
    assert len(expected) == 18
    assert facility_refs(helsinki, "toilet") == expected


def test_parks_are_every_park_and_garden_of_the_file(helsinki, osm_file):
    green = {"park", "garden", "nature_reserve"}
    expected = osm_file.points("leisure", green) | osm_file.areas("leisure", green)
    assert len(expected) == 13
    assert facility_refs(helsinki, "park") == expected


def test_buildings_are_every_building_area_that_can_be_assembled(helsinki, osm_file):
    with helsinki() as session:
        stored = set(session.scalars(sa.select(Building.source_ref)))
    assert stored == osm_file.areas("building")


def test_report_notes_the_building_areas_cut_off_by_the_extract(helsinki, osm_file):
    cut_off = osm_file.areas("building", complete=False) - osm_file.areas("building")
    with helsinki() as session:
        notes = session.scalar(sa.select(ImportRun.report))["notes"]
    assert len(cut_off) == 54
    assert any("54" in note and "building" in note for note in notes), notes


def test_walk_ways_leave_out_roads_a_pedestrian_may_not_use(helsinki):
    with helsinki() as session:
        highways = set(session.scalars(sa.select(WalkWay.highway).distinct()))
    assert highways.isdisjoint(
        {"motorway", "motorway_link", "trunk", "trunk_link", "construction", "proposed"}
    )


def test_ways_under_construction_are_not_walk_ways_even_for_pedestrians(helsinki, osm_file):
    construction = {
        way_id
        for way_id, (_, tags) in osm_file.ways.items()
        if tags.get("highway") == "construction"
    }
    with helsinki() as session:
        walked = set(
            session.scalars(sa.select(WalkWay.osm_id).where(WalkWay.osm_id.in_(construction)))
        )
    assert len(construction) == 3
    assert walked == set()


def test_every_open_footway_of_the_file_is_a_walk_way(helsinki, osm_file):
    # Footways, lines and areas (walked along their outline) alike, without foot=no/private or
    # access=no/private.
    blocked = {"no", "private"}
    open_footways = {
        way_id
        for way_id, (refs, tags) in osm_file.ways.items()
        if tags.get("highway") == "footway"
        and tags.get("foot") not in blocked
        and (
            tags.get("foot") in {"yes", "designated", "permissive"}
            or tags.get("access") not in blocked
        )
        and osm_file.complete(refs)
    }
    with helsinki() as session:
        footways = set(
            session.scalars(sa.select(WalkWay.osm_id).where(WalkWay.highway == "footway"))
        )
    assert len(open_footways) > 900
    assert open_footways <= footways


def test_pedestrian_streets_mapped_as_areas_are_walked_along_their_outline(helsinki, osm_file):
    areas = {
        way_id: refs
        for way_id, (refs, tags) in osm_file.ways.items()
        if tags.get("highway") == "pedestrian" and tags.get("area") == "yes" and osm_file.complete(refs)
    }
    with helsinki() as session:
        rows = session.execute(sa.select(WalkWay.osm_id, WalkWay.node_ids).where(WalkWay.osm_id.in_(areas)))
        walked = {osm_id: node_ids for osm_id, node_ids in rows}
    assert {53185129, 25361147, 47233630} <= set(areas)  # Aleksanterinkatu, twice, and Keskuskatu
    assert walked == areas


def test_pedestrian_squares_mapped_as_multipolygons_are_walked_along_their_rings(helsinki, osm_file):
    senate_square = 2919121  # Senaatintori: a relation of untagged outer ways
    members, _ = osm_file.relations[senate_square]
    with helsinki() as session:
        rings = session.scalars(sa.select(WalkWay.node_ids).where(WalkWay.osm_id == -senate_square)).all()
    assert rings and all(ring[0] == ring[-1] for ring in rings)
    assert {node for ring in rings for node in ring} == {node for way in members for node in osm_file.ways[way][0]}


@pytest.mark.parametrize(
    ("tags", "walkable"),
    [
        ({"highway": "pedestrian", "area": "yes"}, True),
        ({"highway": "service", "tunnel": "yes", "access": "destination"}, False),
        ({"highway": "service", "tunnel": "yes"}, False),
        ({"highway": "service", "layer": "-2"}, False),
        ({"highway": "service", "tunnel": "yes", "foot": "yes"}, True),
        ({"highway": "service", "tunnel": "building_passage"}, True),
        ({"highway": "service", "access": "destination"}, True),
        ({"highway": "footway", "tunnel": "yes", "layer": "-1"}, True),
        ({"highway": "unclassified", "tunnel": "yes"}, True),
    ],
)
def test_underground_service_roads_are_walked_only_when_open_to_foot(tags, walkable):
    assert is_walkable(tags) is walkable


def test_no_service_tunnel_of_the_file_is_a_walk_way(helsinki, osm_file):
    tunnels = {
        way_id
        for way_id, (_, tags) in osm_file.ways.items()
        if tags.get("highway") == "service" and tags.get("tunnel") == "yes"
    }
    with helsinki() as session:
        walked = set(session.scalars(sa.select(WalkWay.osm_id).where(WalkWay.osm_id.in_(tunnels))))
    assert 609208668 in tunnels  # the delivery tunnel under the centre, access=destination
    assert walked == set()


def test_walk_ways_have_one_coordinate_per_node_id(helsinki):
    # The walk network pairs node ids with coordinates; ways cut at the extract edge must agree too.
    with helsinki() as session:
        ways = session.scalars(sa.select(WalkWay)).all()
    mismatched = [w.osm_id for w in ways if len(w.node_ids) != len(w.geometry.coords)]
    assert mismatched == []


def homes_by_plain_pass(path):
    """(tagged, inside) refs of the homes in an OSM file, by pyosmium and shapely alone: buildings tagged
    residential, and plain building=yes (no tag of another use) whose point on surface lies in landuse=residential."""
    wkb = osmium.geom.WKBFactory()
    residential, plain, tagged = [], {}, set()
    for area in osmium.FileProcessor(str(path)).with_locations().with_areas().with_filter(osmium.filter.EntityFilter(osmium.osm.AREA)):
        try:
            shape = shapely.from_wkb(wkb.create_multipolygon(area))
        except RuntimeError:
            continue
        ref = f"osm:{'way' if area.from_way() else 'relation'}/{area.orig_id()}"
        tags = dict(area.tags)
        if tags.get("landuse") == "residential":
            residential.append(shape)
        if tags.get("building") in {"residential", "apartments", "house", "detached", "semidetached_house", "terrace",
                                    "dormitory", "bungalow"}:
            tagged.add(ref)
        elif tags.get("building") == "yes" and not {"amenity", "shop", "office", "craft", "tourism", "leisure",
                                                    "healthcare", "man_made"} & tags.keys():
            plain[ref] = shape.point_on_surface()
    land = shapely.union_all(residential)
    return tagged, {ref for ref, point in plain.items() if land.contains(point)}


def test_homes_are_residential_buildings_and_plain_buildings_inside_residential_land_use(helsinki):
    tagged, inside = homes_by_plain_pass(HELSINKI)
    with helsinki() as session:
        homes = session.execute(
            sa.select(Building.source_ref, Building.population, Building.population_estimated).where(Building.use == "residential")
        ).all()
    assert (len(tagged), len(inside)) == (21, 38)
    assert {ref for ref, _, _ in homes} == tagged | inside
    assert all(population > 0 and estimated is True for _, population, estimated in homes)


def test_residential_land_use_is_kept_as_parcels(helsinki):
    with helsinki() as session:
        parcels = session.execute(sa.select(Parcel.land_use, Parcel.source_ref, Parcel.area_m2)).all()
    assert len(parcels) == 13
    assert all(use == "residential" and ref.startswith(("osm:way/", "osm:relation/")) and m2 > 100 for use, ref, m2 in parcels)


def osm_squares(squares):
    """An OSM XML document of closed square ways: (way id, west, south, size in degrees, tags), nodes first, ids in order."""
    nodes, ways = [], []
    for way_id, x, y, size, tags in sorted(squares, key=lambda square: square[0]):
        corners = [(x, y), (x + size, y), (x + size, y + size), (x, y + size)]
        nodes += [f'<node id="{way_id * 10 + i}" lon="{lon}" lat="{lat}"/>' for i, (lon, lat) in enumerate(corners)]
        refs = "".join(f'<nd ref="{way_id * 10 + i}"/>' for i in (0, 1, 2, 3, 0))
        ways.append(f'<way id="{way_id}">{refs}' + "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items()) + "</way>")
    return '<?xml version="1.0"?><osm version="0.6">' + "".join(sorted(nodes, key=lambda n: int(n.split('"')[1]))) + "".join(ways) + "</osm>"


def test_a_shop_inside_a_compound_is_not_a_home(sessions, tmp_path):
    path = tmp_path / "compound.osm"
    path.write_text(osm_squares([
        (900, 121.430, 31.190, 0.004, {"landuse": "residential"}),
        (1, 121.431, 31.191, 0.0003, {"building": "yes"}),
        (2, 121.432, 31.192, 0.0003, {"building": "yes", "shop": "convenience"}),
        (3, 121.436, 31.191, 0.0003, {"building": "yes"}),
    ]))
    with transaction(sessions) as session:
        report = import_osm(session, path)
        uses = dict(session.execute(sa.select(Building.source_ref, Building.use)).all())
    assert uses == {"osm:way/1": "residential", "osm:way/2": "unknown", "osm:way/3": "unknown"}
    assert "1 buildings tagged building=yes inside residential land use counted as homes" in report.notes
    assert report.counts["parcels"] == 1


@pytest.mark.parametrize("broken", ["truncated", "not_osm"])
def test_a_broken_file_fails_and_changes_nothing(helsinki, tmp_path, broken):
    path = tmp_path / "broken.osm.pbf"
    data = HELSINKI.read_bytes()
    path.write_bytes(
        data[: len(data) // 2]
        if broken == "truncated"
        else b'{"type": "FeatureCollection"}\n' * 100
    )
    before = row_counts(helsinki)
    with pytest.raises(ImportFailed, match="broken.osm.pbf: not a readable OSM file"):
        with transaction(helsinki) as session:
            import_osm(session, path)
    assert row_counts(helsinki) == before


@pytest.fixture
def west_helsinki(sessions):
    with transaction(sessions) as session:
        upsert_areas(
            session,
            [
                AreaSpec(
                    code="091-W", name="West Helsinki", level="district", geometry=WEST_HELSINKI
                )
            ],
        )
    return sessions


def test_clip_keeps_only_what_lies_in_the_area(west_helsinki):
    with transaction(west_helsinki) as session:
        import_osm(session, HELSINKI, clip="West Helsinki")
    with west_helsinki() as session:
        anchors = [
            *session.execute(sa.select(Building.lon, Building.lat)),
            *session.execute(sa.select(Facility.lon, Facility.lat)),
        ]
    lon, lat = zip(*anchors, strict=True)
    assert len(anchors) > 100
    assert shapely.intersects_xy(WEST_HELSINKI, lon, lat).all()


def test_clip_keeps_fewer_records_than_the_whole_extract(west_helsinki):
    with transaction(west_helsinki) as session:
        whole = import_osm(session, HELSINKI).counts
    with transaction(west_helsinki) as session:
        clipped = import_osm(session, HELSINKI, clip="091-W").counts
    assert 0 < clipped["buildings"] < whole["buildings"]
    assert 0 < clipped["facilities"] < whole["facilities"]


def test_an_extract_meeting_no_stored_area_becomes_a_district_of_its_extent(helsinki):
    with helsinki() as session:
        extent = session.scalar(sa.select(Area).where(Area.code == "osm-helsinki"))
        lon, lat, districts = zip(*session.execute(sa.select(Building.lon, Building.lat, Building.district_code)), strict=True)
        notes = session.scalar(sa.select(ImportRun.report))["notes"]
    assert (extent.name, extent.level, extent.parent_code, extent.source) == ("helsinki (OSM extract)", "district", None, EXTENT_SOURCE)
    assert shapely.intersects_xy(extent.geometry, lon, lat).all()
    assert set(districts) == {"osm-helsinki"}
    assert any("district osm-helsinki" in note and "--area osm-helsinki" in note for note in notes), notes


def test_importing_the_extract_again_keeps_one_district_of_its_extent(helsinki):
    with transaction(helsinki) as session:
        import_osm(session, HELSINKI)
    with helsinki() as session:
        assert session.scalars(sa.select(Area.code)).all() == ["osm-helsinki"]


def test_an_extract_meeting_a_stored_area_is_no_area_of_its_own(west_helsinki):
    with transaction(west_helsinki) as session:
        report = import_osm(session, HELSINKI)
    with west_helsinki() as session:
        assert session.scalars(sa.select(Area.code)).all() == ["091-W"]
    assert "areas" not in report.counts


TESTVILLE_OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="hand">
  <node id="1" version="1" lat="60.160" lon="24.930"/>
  <node id="2" version="1" lat="60.160" lon="24.946"/>
  <node id="3" version="1" lat="60.180" lon="24.946"/>
  <node id="4" version="1" lat="60.180" lon="24.930"/>
  <way id="10" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/></way>
  <relation id="100" version="1">
    <member type="way" ref="10" role="outer"/>
    <tag k="type" v="boundary"/><tag k="boundary" v="administrative"/><tag k="name" v="Testville"/>
  </relation>
</osm>
"""


def test_boundaries_taken_from_the_file_hold_the_records_stored_before(sessions, tmp_path):
    (tmp_path / "testville.osm").write_text(TESTVILLE_OSM, encoding="utf-8")
    (tmp_path / "parks.csv").write_text("name,lon,lat\ninside,24.94,60.17\noutside,24.95,60.17\n", encoding="utf-8")
    with transaction(sessions) as session:
        upsert_areas(session, [AreaSpec(code="900100", name="Testville", level="district")])
        import_file(session, tmp_path / "parks.csv", "facility", constants={"kind": "park"})
    with transaction(sessions) as session:
        report = import_osm(session, tmp_path / "testville.osm")
    with sessions() as session:
        placed = session.execute(sa.select(Facility.name, Facility.district_code).order_by(Facility.name)).all()
    assert report.counts["boundaries"] == 1
    assert placed == [("inside", "900100"), ("outside", None)]
