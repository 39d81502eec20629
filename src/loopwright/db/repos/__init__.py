"""Store-scoped repositories: every function takes a non-optional ``store_id``."""
