"""Pure types shared by every layer: no I/O, no database, no server."""
