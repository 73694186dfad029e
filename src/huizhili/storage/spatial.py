"""The one interface for spatial filters: PostGIS in server mode, a shapely STRtree in embedded mode."""

import json
import weakref
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa
from shapely.geometry.base import BaseGeometry
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from huizhili.storage.engine import is_postgis
from huizhili.storage.geometry import WGS84_SRID
from huizhili.storage.versions import VERSIONED_TABLES, versions

_TREES: "weakref.WeakKeyDictionary[Engine, dict[str, tuple[Any, shapely.STRtree, np.ndarray]]]" = (
    weakref.WeakKeyDictionary()
)


def intersecting(session: Session, model: Any, geometry: BaseGeometry) -> sa.ColumnElement[bool]:
    """A filter for rows of ``model`` whose geometry intersects ``geometry`` (WGS84).

    In server mode PostGIS answers with its GiST index; in embedded mode an STRtree over the
    table, rebuilt only when the table has changed, gives the matching ids.
    """
    if is_postgis(session):
        shape = sa.func.ST_GeomFromText(geometry.wkt, WGS84_SRID)
        return sa.func.ST_Intersects(model.geometry, shape)
    tree, ids = _tree(session, model)
    matches = ids[tree.query(geometry, predicate="intersects")]
    # One JSON parameter instead of one per id: SQLite caps bound parameters.
    listed: sa.Select[Any] = sa.select(sa.column("value")).select_from(sa.func.json_each(json.dumps(matches.tolist())))
    return model.id.in_(listed)  # type: ignore[no-any-return]


def _tree(session: Session, model: Any) -> tuple[shapely.STRtree, np.ndarray]:
    """The cached STRtree of a table, keyed by its data version where it has one, else a cheap fingerprint of its contents."""
    engine = session.get_bind()
    if model.__tablename__ in VERSIONED_TABLES:
        fingerprint: tuple[Any, ...] = (versions(session).get(model.__tablename__),)
    else:
        fingerprint = tuple(
            session.execute(sa.select(sa.func.count(), sa.func.max(model.id), sa.func.max(model.updated_at))).one()
        )
    cached = _TREES.setdefault(engine, {}).get(model.__tablename__)  # type: ignore[arg-type]
    if cached is not None and cached[0] == fingerprint:
        return cached[1], cached[2]
    rows = session.execute(sa.select(model.id, model.geometry).where(model.geometry.is_not(None))).all()
    ids = np.array([row[0] for row in rows], dtype=np.int64)
    tree = shapely.STRtree([row[1] for row in rows])
    _TREES[engine][model.__tablename__] = (fingerprint, tree, ids)  # type: ignore[index]
    return tree, ids
