"""The roles of the platform and the scope each is bound to."""

ROLES: dict[str, str] = {
    "district_admin": "District administrator: everything, including users and devices.",
    "district_commander": "District commander (区指挥长): sees and acts on the whole district.",
    "street_operator": "Street operator (街镇): her streets only.",
    "department_handler": "Department handler (委办局): what concerns his department.",
    "hotline_operator": "12345 hotline operator (话务员): takes citizens' calls as cases, calls them back; the whole district.",
    "committee_worker": "Residential committee staff (居委会工作人员): her committees and their grid cells only.",
    "grid_officer": "Grid officer (网格员): his grid cells only.",
    "analyst": "Analyst: reads the whole district, personal data masked, changes nothing.",
    "citizen": "Citizen (市民): public services and his own reports.",
    "device": "Device account: publishes its own observations.",
    "service": "Service account: machine-to-machine reads (e.g. a dashboard wall).",
}
"""Every role, with what it is for."""

SCOPE_FIELD = {
    "street_operator": "streets",
    "department_handler": "department",
    "committee_worker": "committees",
    "grid_officer": "grid_cells",
}
"""Roles that must be bound to a scope, and the user field that holds it."""
