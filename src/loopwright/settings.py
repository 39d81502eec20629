"""Typed configuration: one object, validated at start-up, passed explicitly.

Every field can come from a ``LOOPWRIGHT_<NAME>`` environment variable. Nothing here is a
module-level singleton: the CLI builds a ``Settings`` and hands it to ``create_app``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

NOTIFIED_EVENT_POLL_S = 5.0
"""``event_poll_s`` by default where PostgreSQL notifications carry the events."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOOPWRIGHT_", extra="ignore")

    data_dir: Path = Field(default=Path(".loopwright"), description="SQLite files and secrets")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default: SQLite in data_dir"
    )
    db_pool_size: int = Field(
        default=20,
        ge=1,
        description="PostgreSQL connections a server or worker process keeps open to the app"
        " database (it opens as many again under load), and its DBOS pool's size",
    )
    system_database_url: str | None = Field(
        default=None, description="DBOS system database; default: beside the app database"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    operator_key: SecretStr | None = Field(
        default=None, description="bearer key for operator endpoints (POST /v1/stores)"
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    sse_heartbeat_s: float = Field(default=15.0, gt=0)
    event_poll_s: float = Field(
        default=1.0,
        gt=0,
        description="how often subscribers look in the log for other processes' events (a"
        " safety poll when a notifier carries them); default: 1 s, 5 s on PostgreSQL with"
        " pg_notify",
    )
    relay: bool = Field(
        default=True,
        description="hand events to the other server processes of the same database on this"
        " machine over local sockets, so their readers see every run live",
    )
    pg_notify: bool = Field(
        default=True,
        description="on PostgreSQL, carry events between the server and worker processes of"
        " every machine with LISTEN/NOTIFY, so their readers see every run live",
    )
    listen_database_url: str | None = Field(
        default=None,
        description="where the LISTEN connection goes (one per process); default: the app"
        " database. LISTEN needs a session: behind a transaction-pooling PgBouncer, point this"
        " at PostgreSQL itself",
    )
    reorder_s: float = Field(
        default=0.05,
        ge=0,
        description="how long a reader waits for an event a peer process relays late before"
        " it reads the log instead",
    )
    key_cache_s: float = Field(
        default=5.0, ge=0, description="how long a resolved API key is trusted without a lookup"
    )
    create_demo: bool = True
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("LOOPWRIGHT_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    anthropic_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("LOOPWRIGHT_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY"),
    )
    google_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("LOOPWRIGHT_GOOGLE_API_KEY", "GOOGLE_API_KEY")
    )
    log_level: str = "info"
    log_format: Literal["console", "json"] = Field(
        default="console",
        description="console: readable lines; json: one JSON object per line, with the"
        " request, store, session and run ids",
    )
    metrics: bool = Field(default=True, description="record Prometheus metrics (/metrics)")
    metrics_token: SecretStr | None = Field(
        default=None, description="bearer token /metrics asks for; default: /metrics is open"
    )
    otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "LOOPWRIGHT_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
        ),
        description="OTLP/HTTP traces URL (e.g. http://127.0.0.1:4318/v1/traces); default: no"
        " traces",
    )
    otlp_headers: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "LOOPWRIGHT_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
        ),
        description="headers for the OTLP endpoint, name=value,name=value (a backend's key)",
    )
    trace_content: bool = Field(
        default=False,
        description="put prompts, completions, tool arguments and results in spans",
    )

    openai_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("LOOPWRIGHT_OPENAI_BASE_URL", "OPENAI_BASE_URL"),
    )
    anthropic_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("LOOPWRIGHT_ANTHROPIC_BASE_URL", "ANTHROPIC_BASE_URL"),
    )
    google_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("LOOPWRIGHT_GOOGLE_BASE_URL", "GOOGLE_BASE_URL"),
    )
    secret_keys: SecretStr | None = Field(
        default=None,
        description="comma-separated Fernet keys, newest first; default: data_dir/secret.key",
    )
    model_timeout_s: float = Field(default=120.0, gt=0, description="one model request")
    tool_calls_per_min: int = Field(
        default=120, ge=1, description="calls per minute of one tool in one store"
    )
    tool_timeout_s: float = Field(default=30.0, gt=0, description="one tool call")
    store_concurrency: int = Field(
        default=5, ge=1, description="concurrent runs per store, across all processes"
    )
    worker_concurrency: int = Field(default=200, ge=1, description="concurrent runs per worker")
    executor_id: str = Field(
        default="local",
        description="stable id of this worker slot, unique among the live workers on the"
        " database (a worker refuses to start beside a live one of the same id)",
    )
    heartbeat_s: float = Field(
        default=1.0, gt=0, description="how often a worker records that it is alive"
    )
    heartbeat_expiry_s: float = Field(
        default=5.0,
        gt=0,
        description="a worker silent this long is declared dead: a live one fences it and"
        " recovers its runs",
    )
    dbos_application_version: str = Field(
        default="loopwright-run-1",
        description="DBOS's application version: workers recover only the workflows of their"
        " own; change it only when the run workflow's DBOS operations change",
    )
    processes: int = Field(
        default=1,
        ge=1,
        le=64,
        description="server processes sharing the port (API and worker each); more use more cores",
    )
    process_index: int = Field(
        default=0, ge=0, description="set by the supervisor: which of the processes this is"
    )
    sweep_s: float = Field(default=5.0, gt=0, description="how often queued runs are re-checked")
    cancel_watch_s: float = Field(
        default=0.5,
        gt=0,
        description="how often a worker looks in the database for cancellations of its runs"
        " (those made on this machine reach it at once through the relay)",
    )
    egress_allow: str = Field(
        default="",
        description="CIDRs and host names store-defined URLs may reach despite the SSRF guard",
    )
    failpoint: str | None = Field(default=None, description="tests only: SIGKILL at this point")
    schedule_poll_s: float = Field(
        default=1.0, gt=0, description="how often a worker looks for schedules changed elsewhere"
    )
    schedule_grace_s: float = Field(
        default=60.0,
        ge=0,
        description="a due time found later than this was missed (servers down): its"
        " schedule's missed-run policy decides",
    )
    public_url: str | None = Field(
        default=None, description="the server's address as callers see it (webhook URLs)"
    )
    webhook_max_bytes: int = Field(
        default=262_144, ge=1, description="the largest webhook body accepted (413 above)"
    )
    callback_attempts: int = Field(
        default=8, ge=1, description="completion callback attempts before it is given up"
    )
    callback_backoff_s: float = Field(
        default=2.0, gt=0, description="the first retry's delay; doubled at each attempt"
    )
    smtp_port: int | None = Field(
        default=None, ge=0, le=65535, description="the SMTP listener's port; unset: no listener"
    )
    smtp_host: str = Field(default="127.0.0.1", description="the SMTP listener's address")
    email_domain: str = Field(
        default="localhost",
        description="mail to <agent>@<store>.<email_domain> becomes a message to the agent",
    )
    agent_message_depth: int = Field(
        default=4, ge=1, description="how many agent-to-agent hops a chain of messages may take"
    )
    agent_message_fanout: int = Field(
        default=10, ge=1, description="how many messages one run may send to other agents"
    )
    smtp_relay: str | None = Field(
        default=None,
        description="host:port of the SMTP server that mails answers back to e-mail senders"
        " (threaded by In-Reply-To); unset: no replies",
    )
    callback_poll_s: float = Field(
        default=5.0,
        gt=0,
        description="how often a worker looks for callbacks to send beyond those it is woken"
        " for (a run ending, its own retries): runs whose process died before sending",
    )

    @model_validator(mode="after")
    def _slow_safety_poll(self) -> Settings:
        """With LISTEN/NOTIFY carrying every process's events, the poll only catches a lost
        notification: look less often unless told."""
        if "event_poll_s" not in self.model_fields_set and self.pg_notify and not self.is_sqlite:
            self.event_poll_s = NOTIFIED_EVENT_POLL_S
        return self

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def process_executor_id(self) -> str:
        """This process's DBOS executor: ``executor_id`` for the first process, with
        ``-<index>`` for the others; a restarted process keeps its id and so recovers its
        own workflows."""
        if self.process_index == 0:
            return self.executor_id
        return f"{self.executor_id}-{self.process_index}"

    @property
    def app_database_url(self) -> str:
        if self.database_url:
            return normalize_async_url(self.database_url)
        return f"sqlite:///{self.data_dir / 'loopwright.db'}"

    def environment_providers(self) -> frozenset[str]:
        """Server-wide providers enabled by an API key in the environment; offline always."""
        keyed = {
            "openai": self.openai_api_key,
            "anthropic": self.anthropic_api_key,
            "google": self.google_api_key,
        }
        return frozenset({"offline"} | {name for name, key in keyed.items() if key})

    @property
    def is_sqlite(self) -> bool:
        return self.app_database_url.startswith("sqlite")

    @property
    def dbos_system_url(self) -> str:
        """DBOS's system database: beside the app database unless set explicitly."""
        if self.system_database_url:
            return self.system_database_url
        app = self.app_database_url
        if app.startswith("sqlite"):
            return f"sqlite:///{self.data_dir / 'dbos.sqlite'}"
        # the same server, user and options (``sslmode``, a socket ``host``), another database
        parts = urlsplit(app.replace("postgresql+psycopg://", "postgresql://", 1))
        return urlunsplit(parts._replace(path=f"{parts.path}_dbos"))

    def provider_base_url(self, kind: str) -> str | None:
        return {
            "openai": self.openai_base_url,
            "anthropic": self.anthropic_base_url,
            "google": self.google_base_url,
        }.get(kind)

    def provider_api_key(self, kind: str) -> str | None:
        key = {
            "openai": self.openai_api_key,
            "anthropic": self.anthropic_api_key,
            "google": self.google_api_key,
        }.get(kind)
        return key.get_secret_value() if key else None

    def otlp_header_map(self) -> dict[str, str]:
        if self.otlp_headers is None:
            return {}
        pairs = (p.partition("=") for p in self.otlp_headers.get_secret_value().split(","))
        return {k.strip(): v.strip() for k, _, v in pairs if k.strip()}

    def ensure_data_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)


def normalize_async_url(url: str) -> str:
    """Accept the URLs people paste (``postgres://``, ``postgresql://``, ``sqlite:///``)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def sync_url(async_url: str) -> str:
    """The same database through a synchronous driver (Alembic, CLI one-shots)."""
    if async_url.startswith("sqlite+aiosqlite://"):
        return "sqlite://" + async_url[len("sqlite+aiosqlite://") :]
    return async_url
