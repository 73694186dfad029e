"""Population statistics per building, estimated from the footprint where none is recorded.

Population is only ever held as counts per building, committee or grid cell, never as
individuals.
"""

FLOOR_AREA_PER_HOUSEHOLD_M2 = 90.0
"""Gross floor area of one dwelling, including its share of stairs and corridors."""

PERSONS_PER_HOUSEHOLD = 2.32
"""Shanghai's average household size (7th national census, 2020)."""

DEFAULT_FLOORS = 3
"""Floors assumed for a home whose ``building:levels`` is unknown."""


def estimate_households(footprint_m2: float, floors: int | None) -> int:
    """Households in a residential building from its footprint (m²) and floors."""
    return max(1, round(footprint_m2 * (floors or DEFAULT_FLOORS) / FLOOR_AREA_PER_HOUSEHOLD_M2))


def estimate_population(households: int) -> int:
    """Residents of ``households`` households at the Shanghai average size."""
    return round(households * PERSONS_PER_HOUSEHOLD)
