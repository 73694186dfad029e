"""The web interface: the JSON/GeoJSON API (and, later, the pages) over the domains."""
