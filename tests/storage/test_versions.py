"""Data versions: every write that changes what caches are built from bumps them, nothing else does."""

import pytest
import shapely
import sqlalchemy as sa

from huizhili.base.status import update_status
from huizhili.policy import scope_for
from huizhili.policy.principal import UNRESTRICTED
from huizhili.storage.engine import create_engine, migrate, session_factory, transaction
from huizhili.storage.models import Facility, WalkWay
from huizhili.storage.versions import versions


def current(sessions):
    with sessions() as session:
        return versions(session)


def test_writes_to_facilities_bump_their_version_and_status_changes_do_not(sessions):
    start = current(sessions)
    with transaction(sessions) as session:
        session.add(Facility(kind="park", geometry=shapely.Point(121.43, 31.19), lon=121.43, lat=31.19, properties={}))
    added = current(sessions)
    assert added["facilities"] > start["facilities"] and added["walk_ways"] == start["walk_ways"]
    with transaction(sessions) as session:
        facility = session.scalar(sa.select(Facility.id))
        update_status(session, facility, is_open=False, scope=scope_for(UNRESTRICTED))
        session.execute(sa.update(Facility).values(queue_level="long"))
    assert current(sessions) == added, "live status is read fresh; it must not empty the caches"
    with transaction(sessions) as session:
        session.execute(sa.update(Facility).values(lon=121.44))
    moved = current(sessions)
    assert moved["facilities"] > added["facilities"]
    with transaction(sessions) as session:
        session.execute(sa.delete(Facility))
    assert current(sessions)["facilities"] > moved["facilities"]


def test_a_rolled_back_write_leaves_the_version_alone(sessions):
    start = current(sessions)
    with pytest.raises(RuntimeError), transaction(sessions) as session:
        session.add(WalkWay(osm_id=1, highway="footway", node_ids=[1, 2],
                            geometry=shapely.LineString([(121.43, 31.19), (121.44, 31.19)])))
        session.flush()
        raise RuntimeError("the import failed half-way")
    assert current(sessions) == start


def test_databases_start_at_different_versions(engine, sessions, tmp_path):
    other = create_engine(f"sqlite:///{tmp_path / 'other.sqlite'}")
    migrate(other)
    assert current(session_factory(other))["walk_ways"] != current(sessions)["walk_ways"]
    other.dispose()
