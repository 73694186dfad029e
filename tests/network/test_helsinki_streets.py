"""Where Helsinki's buildings join the walk network: pedestrian streets mapped as areas are
walked, the delivery tunnel beneath the centre is not; distances checked with networkx."""

import numpy as np
import osmium
import pytest
import sqlalchemy as sa
from helsinki_network import HELSINKI, reference_distances

from huizhili.network.distances import nearest_facility_distance
from huizhili.network.finder import NetworkCache
from huizhili.network.loading import access_points
from huizhili.storage.models import Building

ON_ALEKSANTERINKATU = "osm:way/17430812"
"""A building whose door is on Aleksanterinkatu, a pedestrian street mapped as an area (way 53185129)."""


def way_edges(wanted) -> set[frozenset[int]]:
    """Node pairs of the consecutive nodes of every way of the extract whose tags are ``wanted``."""
    edges = set()
    for obj in osmium.FileProcessor(str(HELSINKI)):
        if obj.is_way() and wanted(obj.tags):
            refs = [node.ref for node in obj.nodes]
            edges |= {frozenset(pair) for pair in zip(refs, refs[1:], strict=False)}
    return edges


def osm_edges(graph, snapped) -> list[frozenset[int]]:
    """The OSM node pair of the edge each snapped point lies on."""
    return [frozenset((graph.node_id[graph.edge_u[e]], graph.node_id[graph.edge_v[e]])) for e in snapped.edge]


def test_a_building_on_a_pedestrian_street_walks_it_to_the_nearest_pharmacy(helsinki, tmp_path):
    with helsinki() as session:
        graph = NetworkCache(tmp_path).graph(session)
        door = session.execute(sa.select(Building.lon, Building.lat).where(Building.source_ref == ON_ALEKSANTERINKATU)).one()
        pharmacies = access_points(session, "pharmacy")
    origin = graph.snap(*door)

    walked = nearest_facility_distance(graph, origin, graph.snap(pharmacies.lon, pharmacies.lat), 3000.0)

    aleksanterinkatu = way_edges(lambda tags: tags.get("name") == "Aleksanterinkatu" and tags.get("area") == "yes")
    assert osm_edges(graph, origin)[0] in aleksanterinkatu
    assert walked[0] == pytest.approx(reference_distances([door], list(zip(pharmacies.lon, pharmacies.lat, strict=True)))[0], abs=0.5)
    assert walked[0] < 300  # 1,769 m through the delivery tunnel when the street was not walked


def test_no_building_or_facility_is_placed_on_a_service_tunnel(helsinki, tmp_path):
    with helsinki() as session:
        graph = NetworkCache(tmp_path).graph(session)
        lon, lat = (np.array(c) for c in zip(*session.execute(sa.select(Building.lon, Building.lat)), strict=True))
        pharmacies = access_points(session, "pharmacy")
    tunnels = way_edges(lambda tags: tags.get("highway") == "service" and tags.get("tunnel") == "yes")
    placed = osm_edges(graph, graph.snap(lon, lat)) + osm_edges(graph, graph.snap(pharmacies.lon, pharmacies.lat))
    assert len(lon) == 446 and len(tunnels) > 100
    assert [edge for edge in placed if edge in tunnels] == []
