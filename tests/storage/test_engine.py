import shapely
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from huizhili.storage.engine import include_name
from huizhili.storage.models import Base, Facility
from huizhili.storage.spatial import intersecting


def test_migrations_build_exactly_the_models(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": include_name})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_geometry_round_trips_as_shapely(session):
    polygon = shapely.Polygon([(121.40, 31.10), (121.41, 31.10), (121.41, 31.11)])
    session.add(Facility(kind="park", name="test park", geometry=polygon, lon=121.405, lat=31.105, properties={}))
    session.commit()
    stored = session.scalar(sa.select(Facility.geometry))
    assert stored.equals(polygon)
    assert stored.geom_type == "Polygon"


def test_intersecting_filter_selects_by_shape_not_by_anchor(session):
    # An L-shaped park whose anchor point lies outside the query box but whose shape crosses it.
    park = shapely.Polygon([(0, 0), (10, 0), (10, 1), (1, 1), (1, 10), (0, 10)])
    session.add_all(
        [
            Facility(kind="park", name="L", geometry=park, lon=0.5, lat=0.5, properties={}),
            Facility(kind="school", name="far", geometry=shapely.Point(20, 20), lon=20, lat=20, properties={}),
        ]
    )
    session.commit()
    box = shapely.box(5, 0.5, 6, 2)
    names = session.scalars(sa.select(Facility.name).where(intersecting(session, Facility, box))).all()
    assert names == ["L"]
