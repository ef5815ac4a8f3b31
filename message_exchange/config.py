"""Settings: the only place the environment is read.

Every setting has the ``MX_`` prefix (``MX_DATABASE_URL``, ``MX_SECRET_KEY`` …). The
embedded default is a SQLite file under ``MX_DATA_DIR``; when ``MX_SECRET_KEY`` is not set
there, a key is generated once and kept beside the database (never logged).
"""

from __future__ import annotations

import json
import os
from functools import cached_property
from pathlib import Path
from typing import Annotated

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SECRET_KEY_FILE = "secret.key"


class Settings(BaseSettings):
    """Runtime configuration, read from ``MX_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="MX_", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="Where the embedded SQLite database and its key live.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; default sqlite+aiosqlite:///<data_dir>/mx.db. "
        "PostgreSQL: postgresql+asyncpg://user@host/db.",
    )
    secret_key: SecretStr | None = Field(
        default=None, description="Fernet key encrypting secrets at rest. Generated beside a SQLite database if unset."
    )
    host: str = "127.0.0.1"
    port: int = 8080
    log_level: str = "INFO"
    log_json: bool = True
    opentelemetry: bool = Field(
        default=False,
        description="FastAPI's native OpenTelemetry (spans, metrics, logs) through the globally configured providers. "
        "Off by default: on, every request consults the providers, ~5 % of the API's CPU even with none configured.",
    )
    max_body_bytes: int = Field(default=1_048_576, description="Largest request body accepted; larger → 413.")
    auto_migrate: bool | None = Field(
        default=None, description="Apply migrations when the server starts; default: on for SQLite, off otherwise."
    )
    run_workers: bool = Field(default=True, description="Run job workers inside `mx serve`.")
    worker_concurrency: int = Field(default=8, ge=1, description="Jobs one worker process runs at once.")
    worker_batch_size: int = Field(
        default=200,
        ge=1,
        le=5000,
        description="Most jobs of a batch kind (dispatch, receipts, webhook deliveries) run together.",
    )
    job_lease_seconds: float = Field(default=30.0, gt=0, description="A claimed job is re-claimable after this.")
    job_poll_seconds: float = Field(default=0.5, gt=0, description="Idle poll interval of a worker.")
    job_queue_orphan_seconds: float = Field(
        default=10.0,
        gt=0,
        description="A job kept for a named queue (e.g. an SMPP carrier's bound nodes) that no worker "
        "has taken this long after it was due is taken by any worker.",
    )
    job_max_attempts: int = Field(default=8, ge=1)
    job_backoff_base_seconds: float = Field(default=2.0, gt=0)
    job_backoff_max_seconds: float = Field(default=600.0, gt=0)
    job_modules: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Extra handler modules for workers (comma-separated)."
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'mx.db').resolve()}"

    webhook_allow_private: bool = Field(
        default=False, description="Let webhooks target private/loopback addresses (tests, closed networks)."
    )
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, description="Timeout of one webhook request.")
    webhook_max_attempts: int = Field(default=8, ge=1, description="Attempts before a webhook delivery gives up.")

    sandbox_delivery_delay_seconds: float = Field(
        default=0.5, ge=0, description="How long the sandbox carrier takes to report a delivery receipt."
    )
    connect_link_base_url: str | None = Field(
        default=None,
        description="Base URL of Messaging API v1 short links (/l/<code>); default: the URL the API was called on.",
    )
    help_reply: str = Field(
        default="Reply STOP to unsubscribe.",
        min_length=1,
        description="Auto reply to an inbound HELP or INFO (opt-out keywords).",
    )
    webex_api_base_url: str = Field(
        default="https://webexapis.com/v1/", description="Base URL of the Webex REST API the Webex exchange calls."
    )
    webex_timeout_seconds: float = Field(default=10.0, gt=0, description="Timeout of one Webex API request.")
    public_url: str | None = Field(
        default=None,
        description="Base URL this server is reachable at from outside (Webex webhooks, media links); "
        "default: the URL the bot settings were saved through.",
    )
    msteams_openid_metadata_url: str = Field(
        default="https://login.botframework.com/v1/.well-known/openidconfiguration",
        description="OpenID metadata (its jwks_uri: the keys) that Bot Framework tokens sent to the Teams bridge are "
        "checked against.",
    )
    msteams_token_issuer: str = Field(
        default="https://api.botframework.com", description="Issuer (iss) required of Bot Framework tokens."
    )
    msteams_login_authority: str = Field(
        default="https://login.microsoftonline.com",
        description="Token authority: client-credentials tokens from <authority>/<tenant>/oauth2/v2.0/token.",
    )
    msteams_bot_token_tenant: str = Field(
        default="botframework.com", description="Tenant of the Bot Connector token (the authority path segment)."
    )
    msteams_graph_base_url: str = Field(
        default="https://graph.microsoft.com", description="Microsoft Graph (mapping validation: GET /v1.0/users/{id})."
    )
    msteams_default_service_url: str = Field(
        default="https://smba.trafficmanager.net/teams/",
        description="Bot Connector service URL for a first proactive message before any activity showed one.",
    )
    msteams_allowed_service_hosts: str = Field(
        default="smba.trafficmanager.net,*.trafficmanager.net,*.botframework.com,*.teams.microsoft.com",
        description="Hosts (comma-separated, *.suffix allowed) a Bot Connector serviceUrl may point at.",
    )
    msteams_jwt_leeway_seconds: float = Field(
        default=300.0, ge=0, description="Clock skew allowed when checking Bot Framework token times."
    )
    msteams_timeout_seconds: float = Field(default=10.0, gt=0, description="Timeout of one Microsoft API request.")
    carrier_reload_seconds: float = Field(
        default=2.0, gt=0, description="How often a worker process re-reads carrier connections (no restart needed)."
    )

    @field_validator("job_modules", mode="before")
    @classmethod
    def _split_modules(cls, value: object) -> object:
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @property
    def migrate_on_start(self) -> bool:
        return self.is_sqlite if self.auto_migrate is None else self.auto_migrate

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @cached_property
    def fernet_key(self) -> bytes:
        """The key for secrets at rest; generated once beside a SQLite database."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        if not self.is_sqlite:
            raise RuntimeError("MX_SECRET_KEY must be set when MX_DATABASE_URL is not the embedded SQLite default")
        db_path = Path(self.resolved_database_url.split("///", 1)[1])
        key_file = db_path.parent / SECRET_KEY_FILE
        if key_file.exists():
            return key_file.read_bytes().strip()
        key_file.parent.mkdir(parents=True, exist_ok=True)
        # Written aside then linked: two processes starting together agree on one key and
        # neither can read a half-written file.
        tmp = key_file.with_name(f".{SECRET_KEY_FILE}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(Fernet.generate_key())
        try:
            os.link(tmp, key_file)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        return key_file.read_bytes().strip()
