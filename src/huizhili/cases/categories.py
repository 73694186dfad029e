"""Case categories and the routing table (``categories.toml``): who is responsible, how fast, what links.

Data a district edits (a copy named in ``case_categories_file``), checked whole when loaded,
so a unit that does not exist is refused naming the category, not found when a case is lost.
"""

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from huizhili.errors import ValidationError

SHIPPED = Path(__file__).with_name("categories.toml")

STREET_OFFICE = "@street"
"""A unit standing for the street office (街道办事处) of the street a case lies in."""
COMMITTEE_OFFICE = "@committee"
"""A unit standing for the office of the residential committee (居委会) a case lies in."""


@dataclass(frozen=True)
class Category:
    """A category of case: its responsible and fallback units, 12345 kind, assets, linking and stage limits."""

    code: str
    service_code: str
    en: str
    hotline_kind: str
    department: str
    fallback: str
    public: bool = True
    attributes: tuple[dict[str, Any], ...] = ()
    asset_kinds: tuple[str, ...] = ()
    asset_radius_m: float = 0.0
    link_radius_m: float = 0.0
    link_window_h: float = 0.0
    scenarios: tuple[str, ...] = ()
    stage_limits: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Categories:
    """Every category, the 12345 limits by kind, the default stage limits and the escalation unit."""

    categories: dict[str, Category]
    hotline_limits: dict[str, str]
    longest_postponement: str
    stage_limits: dict[str, str]
    escalation_unit: str
    source: str

    def get(self, code: str) -> Category:
        """The category ``code``.

        Raises
        ------
        ValidationError
            If there is none; the message lists the known ones.
        """
        found = self.categories.get(code)
        if found is None:
            message = f"unknown category {code!r}; known: {', '.join(self.categories)}"
            raise ValidationError(message)
        return found

    def by_service_code(self, service_code: str) -> Category | None:
        """The category an Open311 service code names, if any."""
        return next((c for c in self.categories.values() if c.service_code == service_code), None)

    def public(self) -> list[str]:
        """The categories whose cases may be listed publicly (Open311, league tables)."""
        return [c.code for c in self.categories.values() if c.public]

    def stage_limit(self, category: Category, stage: str) -> str | None:
        """How long ``stage`` may take for cases of ``category``: its own limit, else the default."""
        return category.stage_limits.get(stage, self.stage_limits.get(stage))



def load_categories(path: Path | None = None) -> Categories:
    """The categories of ``path``, or those shipped with the platform.

    Raises
    ------
    ValidationError
        If the file is not TOML, a category lacks a field, repeats a code, or names a 12345
        kind without a limit.
    """
    path = path or SHIPPED
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        message = f"{path.name}: cannot read the categories: {error}"
        raise ValidationError(message) from error
    limits: dict[str, str] = data.get("hotline_limits", {})
    categories: dict[str, Category] = {}
    for index, record in enumerate(data.get("category", []), 1):
        category = _category(path, index, record)
        if category.code in categories:
            message = f"{path.name}: category {index} repeats the code {category.code!r}"
            raise ValidationError(message)
        if category.hotline_kind not in limits:
            message = f"{path.name}: category {category.code!r} has hotline_kind {category.hotline_kind!r}, which [hotline_limits] lacks"
            raise ValidationError(message)
        categories[category.code] = category
    return Categories(
        categories=categories,
        hotline_limits=limits,
        longest_postponement=str(data.get("postponement", {}).get("longest", "15wd")),
        stage_limits=dict(data.get("stage_limits", {})),
        escalation_unit=str(data.get("escalation", {}).get("unit", "城运中心")),
        source=path.name,
    )


ATTRIBUTE_TYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
"""Open311 attribute data types."""


def _attribute(path: Path, category: str, record: dict[str, Any]) -> dict[str, Any]:
    """An Open311 service attribute, checked: a code, a known datatype, values for the list types."""
    if not record.get("code") or record.get("datatype") not in ATTRIBUTE_TYPES:
        message = f"{path.name}: category {category!r} has an attribute without a code or with a datatype not in {', '.join(ATTRIBUTE_TYPES)}"
        raise ValidationError(message)
    if record["datatype"].endswith("valuelist") and not record.get("values"):
        message = f"{path.name}: category {category!r} attribute {record['code']!r} is a list without values"
        raise ValidationError(message)
    return {"code": str(record["code"]), "datatype": record["datatype"], "required": bool(record.get("required", False)),
            "description": str(record.get("description", "")), "values": list(record.get("values", []))}


def _category(path: Path, index: int, record: dict[str, Any]) -> Category:
    required = ("code", "service_code", "en", "hotline_kind", "department", "fallback")
    missing = [name for name in required if not record.get(name)]
    if missing:
        message = f"{path.name}: category {index} ({record.get('code', '?')}) lacks {', '.join(missing)}"
        raise ValidationError(message)
    for name in ("department", "fallback"):
        if str(record[name]).startswith("@") and record[name] not in (STREET_OFFICE, COMMITTEE_OFFICE):
            message = (f"{path.name}: category {record['code']!r} has {name} {record[name]!r}: "
                       f"a unit starting with @ is {STREET_OFFICE} or {COMMITTEE_OFFICE}")
            raise ValidationError(message)
    try:
        return Category(
            **{name: str(record[name]) for name in required},
            public=bool(record.get("public", True)),
            attributes=tuple(_attribute(path, record["code"], a) for a in record.get("attributes", ())),
            asset_kinds=tuple(record.get("asset_kinds", ())),
            asset_radius_m=float(record.get("asset_radius_m", 0)),
            link_radius_m=float(record.get("link_radius_m", 0)),
            link_window_h=float(record.get("link_window_h", 0)),
            scenarios=tuple(record.get("scenarios", ())),
            stage_limits=dict(record.get("stage_limits", {})),
        )
    except (TypeError, ValueError) as error:
        message = f"{path.name}: category {index} ({record['code']}): {error}"
        raise ValidationError(message) from error
