"""What a request handler can reach: built once per app by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from loopwright.db.database import Database
from loopwright.events.hub import EventHub
from loopwright.server.key_cache import KeyCache
from loopwright.settings import Settings

if TYPE_CHECKING:
    from loopwright.runtime.runner import Runtime


@dataclass
class Services:
    settings: Settings
    db: Database
    hub: EventHub
    runtime: Runtime
    keys: KeyCache
