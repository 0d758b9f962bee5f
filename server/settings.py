"""Configuration from GRANULAR_* environment variables; every field is documented in the README."""

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRANULAR_", extra="ignore")

    mongodb_uri: SecretStr | None = None
    database: str = "granular"
    data_dir: Path = Path(".granular")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    env: Literal["development", "production"] = "development"
    bootstrap_admin_key: SecretStr | None = None
    key_file: Path | None = None
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = 512 * 1024
    db_timeout_ms: int = 10_000
    rate_limit_per_minute: int = Field(default=6_000, ge=1)
    trigger_interval_seconds: float = Field(default=30.0, ge=0)  # 0 turns the evaluator off
    retention_sweep_seconds: float = Field(default=3600.0, ge=0)  # 0 turns the sweep off
    audience_pass_seconds: float = Field(default=900.0, ge=0)  # 0 turns the audience pass off
    db_pool_size: int = Field(default=100, ge=1)
    max_in_flight: int = Field(default=64, ge=1)
    subscriptions_per_key: int = Field(default=100, ge=1)
    # What one ingest transaction holds: a unit of batches ("batch"), or one customer's messages
    # ("customer", for a cluster sharded by profile id); "auto" asks the database whether it is sharded.
    transaction_scope: Literal["auto", "batch", "customer"] = "auto"
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    # A request must arrive whole within this many seconds of its connection opening (or of its first
    # byte on a kept-alive connection), or the connection is closed; open connections are capped.
    read_timeout_seconds: float = Field(default=10.0, gt=0)
    max_connections: int = Field(default=1000, ge=1)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def public_metrics(self) -> bool:
        """/metrics on the API's own listener: only in development without a metrics port."""
        return not self.production and self.metrics_port is None

    @property
    def key_path(self) -> Path:
        return self.key_file or self.data_dir / "keyring.json"
