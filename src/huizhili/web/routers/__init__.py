"""API routers, one per domain, mounted in ``web.app``."""
