"""digital base

Revision ID: 0001
Revises:
Create Date: 2026-11-25 02:40:59.767308
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import huizhili.storage.geometry

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table('areas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('parent_code', sa.String(length=32), nullable=True),
    sa.Column('geometry', huizhili.storage.geometry.Geometry(), nullable=True),
    sa.Column('population', sa.Integer(), nullable=True),
    sa.Column('households', sa.Integer(), nullable=True),
    sa.Column('statistics_year', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=200), nullable=True),
    sa.Column('properties', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_code'], ['areas.code'], ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    with op.batch_alter_table('areas', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_areas_level'), ['level'], unique=False)
        batch_op.create_index(batch_op.f('ix_areas_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_areas_parent_code'), ['parent_code'], unique=False)

    op.create_table('buildings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_ref', sa.String(length=64), nullable=True),
    sa.Column('name', sa.String(length=300), nullable=True),
    sa.Column('use', sa.String(length=40), nullable=False),
    sa.Column('floors', sa.Integer(), nullable=True),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('households', sa.Integer(), nullable=True),
    sa.Column('population', sa.Integer(), nullable=True),
    sa.Column('population_estimated', sa.Boolean(), nullable=False),
    sa.Column('geometry', huizhili.storage.geometry.Geometry(), nullable=False),
    sa.Column('properties', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('district_code', sa.String(length=32), nullable=True),
    sa.Column('street_code', sa.String(length=32), nullable=True),
    sa.Column('committee_code', sa.String(length=32), nullable=True),
    sa.Column('grid_code', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('buildings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_buildings_committee_code'), ['committee_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_buildings_district_code'), ['district_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_buildings_grid_code'), ['grid_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_buildings_source_ref'), ['source_ref'], unique=False)
        batch_op.create_index(batch_op.f('ix_buildings_street_code'), ['street_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_buildings_use'), ['use'], unique=False)

    op.create_table('devices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('sensor_kind', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=True),
    sa.Column('owner_department', sa.String(length=100), nullable=True),
    sa.Column('installed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('geometry', huizhili.storage.geometry.Geometry(), nullable=False),
    sa.Column('properties', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('district_code', sa.String(length=32), nullable=True),
    sa.Column('street_code', sa.String(length=32), nullable=True),
    sa.Column('committee_code', sa.String(length=32), nullable=True),
    sa.Column('grid_code', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_devices_committee_code'), ['committee_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_devices_district_code'), ['district_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_devices_grid_code'), ['grid_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_devices_owner_department'), ['owner_department'], unique=False)
        batch_op.create_index(batch_op.f('ix_devices_sensor_kind'), ['sensor_kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_devices_street_code'), ['street_code'], unique=False)

    op.create_table('facilities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_ref', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=True),
    sa.Column('address', sa.String(length=500), nullable=True),
    sa.Column('phone', sa.String(length=100), nullable=True),
    sa.Column('opening_hours', sa.String(length=300), nullable=True),
    sa.Column('is_open', sa.Boolean(), nullable=True),
    sa.Column('queue_level', sa.String(length=16), nullable=True),
    sa.Column('status_note', sa.String(length=300), nullable=True),
    sa.Column('status_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('geometry', huizhili.storage.geometry.Geometry(), nullable=False),
    sa.Column('properties', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('district_code', sa.String(length=32), nullable=True),
    sa.Column('street_code', sa.String(length=32), nullable=True),
    sa.Column('committee_code', sa.String(length=32), nullable=True),
    sa.Column('grid_code', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_facilities_committee_code'), ['committee_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_facilities_district_code'), ['district_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_facilities_grid_code'), ['grid_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_facilities_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_facilities_source_ref'), ['source_ref'], unique=False)
        batch_op.create_index(batch_op.f('ix_facilities_street_code'), ['street_code'], unique=False)

    op.create_table('import_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('importer', sa.String(length=40), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('parcels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_ref', sa.String(length=64), nullable=True),
    sa.Column('name', sa.String(length=300), nullable=True),
    sa.Column('land_use', sa.String(length=40), nullable=False),
    sa.Column('area_m2', sa.Float(), nullable=False),
    sa.Column('geometry', huizhili.storage.geometry.Geometry(), nullable=False),
    sa.Column('properties', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('district_code', sa.String(length=32), nullable=True),
    sa.Column('street_code', sa.String(length=32), nullable=True),
    sa.Column('committee_code', sa.String(length=32), nullable=True),
    sa.Column('grid_code', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('parcels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_parcels_committee_code'), ['committee_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_parcels_district_code'), ['district_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_parcels_grid_code'), ['grid_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_parcels_land_use'), ['land_use'], unique=False)
        batch_op.create_index(batch_op.f('ix_parcels_source_ref'), ['source_ref'], unique=False)
        batch_op.create_index(batch_op.f('ix_parcels_street_code'), ['street_code'], unique=False)

    op.create_table('walk_ways',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('osm_id', sa.BigInteger(), nullable=False),
    sa.Column('highway', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=True),
    sa.Column('node_ids', sa.JSON(), nullable=False),
    sa.Column('geometry', huizhili.storage.geometry.Geometry(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('walk_ways', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_walk_ways_osm_id'), ['osm_id'], unique=False)



def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('walk_ways', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_walk_ways_osm_id'))

    op.drop_table('walk_ways')
    with op.batch_alter_table('parcels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_parcels_street_code'))
        batch_op.drop_index(batch_op.f('ix_parcels_source_ref'))
        batch_op.drop_index(batch_op.f('ix_parcels_land_use'))
        batch_op.drop_index(batch_op.f('ix_parcels_grid_code'))
        batch_op.drop_index(batch_op.f('ix_parcels_district_code'))
        batch_op.drop_index(batch_op.f('ix_parcels_committee_code'))

    op.drop_table('parcels')
    op.drop_table('import_runs')
    with op.batch_alter_table('facilities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_facilities_street_code'))
        batch_op.drop_index(batch_op.f('ix_facilities_source_ref'))
        batch_op.drop_index(batch_op.f('ix_facilities_kind'))
        batch_op.drop_index(batch_op.f('ix_facilities_grid_code'))
        batch_op.drop_index(batch_op.f('ix_facilities_district_code'))
        batch_op.drop_index(batch_op.f('ix_facilities_committee_code'))

    op.drop_table('facilities')
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_devices_street_code'))
        batch_op.drop_index(batch_op.f('ix_devices_sensor_kind'))
        batch_op.drop_index(batch_op.f('ix_devices_owner_department'))
        batch_op.drop_index(batch_op.f('ix_devices_grid_code'))
        batch_op.drop_index(batch_op.f('ix_devices_district_code'))
        batch_op.drop_index(batch_op.f('ix_devices_committee_code'))

    op.drop_table('devices')
    with op.batch_alter_table('buildings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_buildings_use'))
        batch_op.drop_index(batch_op.f('ix_buildings_street_code'))
        batch_op.drop_index(batch_op.f('ix_buildings_source_ref'))
        batch_op.drop_index(batch_op.f('ix_buildings_grid_code'))
        batch_op.drop_index(batch_op.f('ix_buildings_district_code'))
        batch_op.drop_index(batch_op.f('ix_buildings_committee_code'))

    op.drop_table('buildings')
    with op.batch_alter_table('areas', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_areas_parent_code'))
        batch_op.drop_index(batch_op.f('ix_areas_name'))
        batch_op.drop_index(batch_op.f('ix_areas_level'))

    op.drop_table('areas')
