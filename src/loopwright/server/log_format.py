"""How serve's log lines look: ``console`` (uvicorn's coloured prefix, the logger's name, the
message, then the ids the line was made under) or ``json`` (one object per line: time, level,
logger, message, the ids, and the traceback if any). The ids (request, store, session, run)
are taken from ``telemetry.context`` when the record is made (``logs.install_redaction``'s
factory puts them on it as ``record.ids``)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from uvicorn.logging import DefaultFormatter


def _ids(record: logging.LogRecord) -> dict[str, str]:
    found = getattr(record, "ids", None)
    return found if isinstance(found, dict) else {}


class ConsoleFormatter(DefaultFormatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = _ids(record)
        if not ids:
            return line
        return f"{line} [{' '.join(f'{k}={v}' for k, v in ids.items())}]"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_ids(record),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)
