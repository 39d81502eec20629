"""The web console's static assets (HTML, ES modules, CSS, vendored libraries).

No Python logic lives here: the server's ``routes.ui`` serves these files. They ship as package
data, so an installed wheel serves the same UI as a checkout."""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
"""The root of the files served under ``/ui/``."""
