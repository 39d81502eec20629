"""How uvicorn serves the app: one place for the settings both ``serve`` paths share.

The event loop is asyncio's own, not uvloop (uvicorn's default when it is installed, as
``uvicorn[standard]`` installs it). Measured on one pinned core at c=200 (``bench.per_core
--concurrency 200 --seconds 15``, 3 rounds against uvloop): a turn's first event p50 1.25-1.45 s
against 4.5-5.9 s, end-to-end p99 7.7-8.8 s against 8.6-13 s, the same at c=1 and c=10. Under
load uvloop takes one new connection off the listening socket per loop iteration, so a client
that opens a connection (an event stream per turn) waited ~5.6 s before its request was even
read, while requests on kept-alive connections got in within ~100 ms; asyncio's accept takes
every pending connection at once (``tests/test_http_server.py``).
"""

from __future__ import annotations

from typing import Any

import uvicorn

from loopwright.server.logs import configure
from loopwright.settings import Settings

EVENT_LOOP = "asyncio"


def uvicorn_config(app: Any, settings: Settings, **options: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        loop=EVENT_LOOP,
        log_level=settings.log_level,
        log_config=configure(settings),
        **options,
    )
