"""Facility kinds and the one table that maps OpenStreetMap tags to them.

The table is documented in ``docs/osm-kinds.md``; a test keeps the two in step.
"""

from collections.abc import Mapping

FACILITY_KINDS: dict[str, str] = {
    "park": "Park or public garden (公园绿地)",
    "health_centre": "Community health centre or clinic (社区卫生服务中心)",
    "hospital": "Hospital (医院)",
    "pharmacy": "Pharmacy (药店)",
    "school": "Primary or secondary school (中小学)",
    "kindergarten": "Kindergarten or nursery (幼儿园)",
    "elderly_canteen": "Elderly canteen (长者食堂 / 老年助餐点)",
    "elderly_care": "Elderly care home or day centre (养老院 / 日间照料中心)",
    "market": "Market or supermarket (菜市场 / 超市)",
    "culture": "Library, community or arts centre, museum, theatre (文化设施)",
    "sports": "Sports centre, pitch or fitness point (体育设施)",
    "metro_station": "Metro station (地铁站)",
    "bus_stop": "Bus stop (公交站)",
    "sampling_point": "Nucleic-acid sampling point (核酸采样点)",
    "toilet": "Public toilet (公厕)",
    "police": "Police station (派出所)",
    "community_service": "Community service or town-hall service centre (社区事务受理中心)",
}
"""Every facility kind the platform knows, with a one-line description."""

OSM_TAG_KINDS: tuple[tuple[str, str, str], ...] = (
    # (key, value, kind); the first matching row wins, so specific rows come first.
    ("social_facility:for", "senior", "elderly_care"),
    ("amenity", "nursing_home", "elderly_care"),
    ("social_facility", "nursing_home", "elderly_care"),
    ("social_facility", "assisted_living", "elderly_care"),
    ("leisure", "park", "park"),
    ("leisure", "garden", "park"),
    ("leisure", "nature_reserve", "park"),
    ("healthcare", "centre", "health_centre"),
    ("amenity", "clinic", "health_centre"),
    ("amenity", "doctors", "health_centre"),
    ("healthcare", "sample_collection", "sampling_point"),
    ("amenity", "hospital", "hospital"),
    ("amenity", "pharmacy", "pharmacy"),
    ("amenity", "school", "school"),
    ("amenity", "kindergarten", "kindergarten"),
    ("amenity", "childcare", "kindergarten"),
    ("amenity", "marketplace", "market"),
    ("shop", "supermarket", "market"),
    ("shop", "greengrocer", "market"),
    ("amenity", "library", "culture"),
    ("amenity", "community_centre", "culture"),
    ("amenity", "arts_centre", "culture"),
    ("amenity", "theatre", "culture"),
    ("tourism", "museum", "culture"),
    ("leisure", "sports_centre", "sports"),
    ("leisure", "fitness_centre", "sports"),
    ("leisure", "fitness_station", "sports"),
    ("leisure", "pitch", "sports"),
    ("leisure", "swimming_pool", "sports"),
    ("station", "subway", "metro_station"),
    ("highway", "bus_stop", "bus_stop"),
    ("amenity", "toilets", "toilet"),
    ("amenity", "police", "police"),
    ("amenity", "townhall", "community_service"),
    ("amenity", "social_facility", "community_service"),
)
"""OSM ``key=value`` → facility kind, in priority order."""

ELDERLY_CANTEEN_WORDS = ("长者食堂", "老年助餐", "助餐点", "elderly canteen")
"""Name fragments that make a food amenity an elderly canteen (OSM has no tag for it)."""

RESIDENTIAL_BUILDING_VALUES = frozenset(
    {"residential", "apartments", "house", "detached", "semidetached_house", "terrace",
     "dormitory", "bungalow"}
)
"""``building=*`` values that count as homes for population estimates."""

OTHER_USE_KEYS = frozenset({"amenity", "shop", "office", "craft", "tourism", "leisure", "healthcare", "man_made"})
"""Tags that give a plain ``building=yes`` a use other than a home, even inside residential land use."""


def kind_for_tags(tags: Mapping[str, str]) -> str | None:
    """The facility kind of an OSM object, or None when it is not a facility.

    Parameters
    ----------
    tags
        The object's OSM tags.

    Returns
    -------
    str or None
        A key of :data:`FACILITY_KINDS`.
    """
    name = tags.get("name", "")
    if tags.get("amenity") in {"restaurant", "fast_food", "food_court", "social_facility"} and any(
        word in name for word in ELDERLY_CANTEEN_WORDS
    ):
        return "elderly_canteen"
    for key, value, kind in OSM_TAG_KINDS:
        if tags.get(key) == value:
            return kind
    return None


def building_use(tags: Mapping[str, str]) -> str:
    """A building's use from its ``building=*`` tag: ``residential``, the tag value, or ``unknown``."""
    value = tags.get("building", "yes")
    if value in RESIDENTIAL_BUILDING_VALUES:
        return "residential"
    return "unknown" if value == "yes" else value
