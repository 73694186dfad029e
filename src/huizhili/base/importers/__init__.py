"""Importers: files in, records of the digital base out, all or nothing.

Every importer runs inside one transaction: a file that breaks part-way writes nothing and
the error names the record that broke. What was refused (outside the area, irreparable
geometry) is listed in the :class:`ImportReport` and kept in ``import_runs``.
"""

from huizhili.base.importers._common import ImportReport
from huizhili.base.importers.divisions import import_divisions
from huizhili.base.importers.osm import import_osm
from huizhili.base.importers.tabular import TARGETS, import_file

__all__ = ["TARGETS", "ImportReport", "import_divisions", "import_file", "import_osm"]
