import numpy as np
import pytest

from huizhili.errors import ValidationError
from huizhili.network import Snapped, WalkGraph, coverage_matrix, greedy_max_coverage


@pytest.fixture
def street() -> WalkGraph:
    """Nodes 0 … 8 in a row, 100 m apart."""
    lon = 24.94 + 0.0018 * np.arange(9)
    return WalkGraph.from_arrays(
        lon, np.full(9, 60.17), np.arange(8), np.arange(1, 9), np.full(8, 100.0)
    )


def at_nodes(nodes: list[int]) -> Snapped:
    """Points standing on nodes of the street (each at the start of the edge it begins)."""
    edge = np.minimum(nodes, 7)
    return Snapped(edge, np.where(np.array(nodes) == 8, 100.0, 0.0), np.zeros(len(nodes)))


def test_greedy_serves_all_unserved_demand_with_two_sites(street):
    # Homes at nodes 0, 1, 2, 4, 7, 8; the existing facility at node 8 already serves 7 and 8.
    demand, weights = at_nodes([0, 1, 2, 4, 7, 8]), [2.0, 10.0, 5.0, 7.0, 4.0, 4.0]
    chosen = greedy_max_coverage(
        street,
        demand,
        weights,
        existing=at_nodes([8]),
        candidates=[0, 1, 2, 4, 6, 8],
        threshold_m=150.0,
        k=3,
    )
    # Node 1 serves 0, 1 and 2 (17); then node 4 serves 4 (7): all 24 unserved, the optimum.
    assert chosen == [(1, 17.0), (4, 7.0)]


def test_coverage_counts_the_walk_along_the_edge_and_to_the_door(street):
    # A home 30 m along edge 4 → 5 and 10 m off it: 40 m from node 4, 80 m from node 5.
    cover = coverage_matrix(street, Snapped([4], [30.0], [10.0]), np.arange(9), 150.0)
    assert np.flatnonzero(cover.toarray()[:, 0]).tolist() == [3, 4, 5]


def test_siting_refuses_weights_that_do_not_match_demand(street):
    with pytest.raises(ValidationError, match="weights"):
        greedy_max_coverage(street, at_nodes([0, 1]), [1.0], at_nodes([]), [0], 100.0, 1)


def test_siting_refuses_candidates_off_the_graph(street):
    with pytest.raises(ValidationError, match="candidates"):
        coverage_matrix(street, at_nodes([0]), [9], 100.0)
