"""What a layer publishes is declared, field by field: a new column is never published by accident."""

import sqlalchemy as sa

from huizhili.base.features import LAYERS, NOT_PUBLISHED, PUBLIC_FIELDS


def test_every_column_of_every_layer_is_declared_public_or_not():
    for layer, model in LAYERS.items():
        columns = {column.key for column in sa.inspect(model).columns}
        declared = set(PUBLIC_FIELDS[layer]) | NOT_PUBLISHED[layer]
        assert columns == declared, f"{layer}: decide whether {sorted(columns ^ declared)} is published"


def test_the_api_publishes_exactly_the_declared_fields(client, role_headers):
    feature = client.get("/api/facilities", params={"limit": 1}, headers=role_headers["district_admin"]).json()["features"][0]
    assert set(feature["properties"]) == {*PUBLIC_FIELDS["facilities"], "extra"}
