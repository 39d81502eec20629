"""Persistence: tables, the database handle, store-scoped repositories and migrations."""
