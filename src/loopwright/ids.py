"""Identifiers: a short type prefix, then a time-ordered random body.

Ids sort by creation time, so "newest first" pagination can use the id as its cursor.
"""

from __future__ import annotations

import re
import secrets
import time

_counter_state = {"ms": 0, "seq": 0}

STORE_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$")


def new_id(prefix: str) -> str:
    """``prefix_`` + 12 hex digits of milliseconds + 4 of a per-ms counter + 8 random."""
    now_ms = time.time_ns() // 1_000_000
    if now_ms <= _counter_state["ms"]:
        _counter_state["seq"] += 1
        now_ms = _counter_state["ms"]
    else:
        _counter_state["ms"], _counter_state["seq"] = now_ms, 0
    return f"{prefix}_{now_ms:012x}{_counter_state['seq'] & 0xFFFF:04x}{secrets.token_hex(4)}"


def new_api_key() -> str:
    return "lw_" + secrets.token_urlsafe(32)
