"""One storage layer for the embedded (SQLite) and server (PostgreSQL + PostGIS) modes."""
