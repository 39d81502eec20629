"""The server's logging: every logger to stderr (uvicorn's access log to stdout), and no key or
secret in any line.

Secrets reach log lines through text the server does not write itself: a WebSocket's
``?token=`` in uvicorn's access and handshake lines, a provider's error body that echoes the
key it was sent, an exception's message. So each record is scrubbed as it is made, by a
LogRecord factory: that covers every logger and every handler, including the ones libraries
install themselves (DBOS adds its own). Scrubbed are the values of query parameters and
``key=value`` / ``Header: value`` pairs whose name says secret (token, key, secret, password,
authorization, cookie, ...), ``Bearer``/``Basic`` credentials, Loopwright keys (``lw_…``),
provider key shapes (``sk-…``, ``AIza…``), URL passwords, and the secrets of this process's
settings (operator key, provider keys, encryption keys).
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from uvicorn.config import LOG_LEVELS, LOGGING_CONFIG

from loopwright.settings import Settings
from loopwright.telemetry import context

REDACTED = "[redacted]"

_SECRET_NAME = r"[\w.-]*?(?:token|key|secret|passw(?:or)?d|auth(?:orization)?|cookie|credentials?)"
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # the value of a query parameter, a key=value or "key": "value" pair or a header line
    # whose name ends in a secret's name (not "max_tokens": 5)
    (
        re.compile(
            rf"(?i)(\b{_SECRET_NAME}[\"']?\s*[=:]\s*[\"']?)"
            r"(?!\[redacted\])(?:(?:bearer|basic|token)\s+)?[^\s&#\"',;}\]]+"
        ),
        rf"\g<1>{REDACTED}",
    ),
    # a ('header', 'value') pair, as HTTP libraries log them
    (
        re.compile(rf"(?i)(\(\s*b?[\"']{_SECRET_NAME}[\"']\s*,\s*b?[\"'])[^\"']+"),
        rf"\g<1>{REDACTED}",
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+(?!\[redacted\])[\w.~+/=-]{6,}"), rf"\g<1> {REDACTED}"),
    (re.compile(r"\blw_[\w-]{16,}"), REDACTED),  # Loopwright API keys
    (re.compile(r"\b(?:sk|pk|rk)-[\w-]{16,}"), REDACTED),  # OpenAI, Anthropic and lookalikes
    (re.compile(r"\bAIza[\w-]{30,}"), REDACTED),  # Google API keys
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@"), rf"\g<1>{REDACTED}@"),
]


class Redactor:
    """Replaces secrets in text: by the patterns above and by the literal values given."""

    def __init__(self, literals: Iterable[str] = ()) -> None:
        self._literals = sorted({s for s in literals if len(s) >= 6}, key=len, reverse=True)

    @classmethod
    def for_settings(cls, settings: Settings) -> Redactor:
        values = [
            settings.operator_key,
            settings.openai_api_key,
            settings.anthropic_api_key,
            settings.google_api_key,
        ]
        literals = [v.get_secret_value() for v in values if v is not None]
        if settings.secret_keys is not None:
            literals += settings.secret_keys.get_secret_value().split(",")
        return cls(s.strip() for s in literals)

    def scrub(self, text: str) -> str:
        for literal in self._literals:
            if literal in text:
                text = text.replace(literal, REDACTED)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def scrub_record(self, record: logging.LogRecord) -> None:
        record.msg = self.scrub(record.msg if isinstance(record.msg, str) else str(record.msg))
        if isinstance(record.args, Mapping):
            record.args = {k: self._scrub_arg(v) for k, v in record.args.items()}
        elif record.args:
            record.args = tuple(self._scrub_arg(a) for a in record.args)
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)

    def _scrub_arg(self, arg: object) -> object:
        """Numbers stay numbers (``%d``); other values become scrubbed text if they held any
        secret, and are kept as they are otherwise (``%r`` shows them as before)."""
        if arg is None or isinstance(arg, int | float):
            return arg
        text = arg if isinstance(arg, str) else str(arg)
        scrubbed = self.scrub(text)
        return arg if scrubbed == text else scrubbed


class _ScrubbingFactory:
    def __init__(self, inner: Callable[..., logging.LogRecord], redactor: Redactor) -> None:
        self.inner = inner
        self.redactor = redactor

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        self.redactor.scrub_record(record)
        record.ids = context.current()  # the request, store, session and run it was made for
        return record


def install_redaction(redactor: Redactor) -> None:
    """Scrub every record this process makes from now on (installing again replaces it)."""
    inner = logging.getLogRecordFactory()
    if isinstance(inner, _ScrubbingFactory):
        inner = inner.inner
    logging.setLogRecordFactory(_ScrubbingFactory(inner, redactor))


def configure(settings: Settings) -> dict[str, Any]:
    """Install redaction; return the logging configuration to give uvicorn (``log_config``):
    uvicorn's own, plus the root logger at ``log_level`` so every library's lines are seen,
    except SQLAlchemy's statement echo (its INFO is each statement)."""
    install_redaction(Redactor.for_settings(settings))
    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["named"] = {
        "()": "loopwright.server.log_format.ConsoleFormatter",
        "fmt": "%(levelprefix)s %(name)s: %(message)s",
    }
    if settings.log_format == "json":
        for name in ("default", "access", "named"):
            config["formatters"][name] = {"()": "loopwright.server.log_format.JsonFormatter"}
    config["handlers"]["named"] = {
        "formatter": "named",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    config["root"] = {"handlers": ["named"], "level": LOG_LEVELS[settings.log_level.lower()]}
    config["loggers"]["sqlalchemy.engine"] = {"level": "WARNING"}
    return config
