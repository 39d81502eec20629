"""The event log (append, read after a cursor) and its live fan-out."""
