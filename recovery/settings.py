"""One settings class for the whole service, read from `RECOVERY_*` variables."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Literal

from pydantic import (
    Field,
    IPvAnyNetwork,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEVELOPMENT_MNEMONIC = "test test test test test test test test test test test junk"


class Settings(BaseSettings):
    """Service settings; every field can be set as `RECOVERY_<FIELD>`."""

    model_config = SettingsConfigDict(
        env_prefix="RECOVERY_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
        # A validation error names the field and the rule; it never echoes the input.
        hide_input_in_errors=True,
    )

    environment: Literal["development", "production"] = "development"
    database_url: str = "sqlite:///./recovery.db"
    # Extra policy overlays by name ("devnet") or path, merged onto the shipped catalogue.
    policy_overlays: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # RPC endpoints per network id: RECOVERY_RPC__BSC=http://a,http://b
    rpc: dict[str, Annotated[list[str], NoDecode]] = Field(default_factory=dict)
    rpc_timeout_seconds: float = 5.0
    # An endpoint failing 3 requests in a row rests this long before it is tried again,
    # doubling with each rest that ends in another failure, up to the longest rest.
    rpc_rest_seconds: float = Field(default=5.0, gt=0)
    rpc_max_rest_seconds: float = Field(default=300.0, gt=0)
    # Secret: prints as `**********`; read it with `.get_secret_value()`.
    mnemonic: SecretStr | None = None
    # 4,000 characters of free text, each escaped in JSON as 12 bytes, fit.
    max_body_bytes: int = 65_536
    verification_deadline_seconds: int = 6 * 3600
    scheduler_enabled: bool = True
    # Scheduler jobs: a claimed case stays leased to one process this long (a crashed
    # process's claim lapses after it); one cycle claims at most this many cases; a
    # `worker` serves /metrics on this port when set.
    lease_seconds: float = Field(default=60.0, gt=0)
    check_batch_size: int = Field(default=1000, ge=1)
    worker_metrics_port: int | None = None
    # One JSON object per log line (json), or lines for people (text); None: text in
    # development, json anywhere else.
    log_format: Literal["json", "text"] | None = None
    # Payouts: a worker holds a case this long and renews the lease at every step (a
    # worker that finds its lease gone signs nothing); a payout unmined this long is
    # re-signed on its nonce with fees 12.5% higher, never above the network's cap
    # (wei per gas; RECOVERY_PAYOUT_FEE_CAP_WEI__BSC=20000000000; without one, four times
    # the first fee); one unmined this long goes to `quarantined` for an operator.
    payout_lease_seconds: float = Field(default=120.0, gt=0)
    payout_bump_after_seconds: float = Field(default=300.0, gt=0)
    payout_stall_after_seconds: float = Field(default=3600.0, gt=0)
    payout_fee_cap_wei: dict[str, int] = Field(default_factory=dict)
    # /metrics needs `Authorization: Bearer <metrics token>` when one is set; with a
    # metrics port, `serve` answers it on that address instead (no token there: keep it
    # private) and the API's /metrics is a 404. Outside development `serve` needs one of
    # the two. Its database figures are read at most once per refresh interval.
    metrics_token: SecretStr | None = None
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_refresh_seconds: float = Field(default=15.0, ge=0)
    # Rate limits in requests a minute (0: off), each a token bucket holding a minute's
    # worth; every process keeps its own buckets, so N processes allow N times these.
    # Clients behind the trusted proxies (addresses or networks) are told by
    # X-Forwarded-For.
    rate_limit_per_key: int = Field(default=600, ge=0)
    rate_limit_per_client: int = Field(default=1200, ge=0)
    rate_limit_unauthenticated: int = Field(default=60, ge=0)
    rate_limit_filing: int = Field(default=60, ge=0)
    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = Field(default_factory=list)
    # An API process remembers a key it has checked this long (0: asks the database on
    # every request). A key revoked through a process stops working there at once, and on
    # every other process within this many seconds.
    auth_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    # A console session with no request for this long is over; sign in again.
    # Discovery: each served network's new blocks are scanned for mis-sent deposits to
    # registered addresses. A cycle reads at most `discovery_max_range` blocks; addresses
    # go `discovery_chunk_size` to an eth_getLogs OR-list, and with more chunks than
    # `discovery_whole_range_after` the range's every Transfer log is read and matched
    # here. A network's first scan starts at its head, or at
    # RECOVERY_DISCOVERY_START_BLOCK__<NETWORK> (a backfill).
    discovery_enabled: bool = True
    discovery_max_range: int = Field(default=1000, ge=1, le=100_000)
    discovery_chunk_size: int = Field(default=1000, ge=1, le=10_000)
    discovery_whole_range_after: int = Field(default=8, ge=0)
    discovery_start_block: dict[str, int] = Field(default_factory=dict)
    console_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)

    @field_validator("policy_overlays", mode="before")
    @classmethod
    def _split_overlays(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("rpc", mode="before")
    @classmethod
    def _split_endpoints(cls, value: object) -> object:
        if isinstance(value, dict):
            return {
                str(network).lower(): (
                    [u.strip() for u in urls.split(",") if u.strip()]
                    if isinstance(urls, str)
                    else urls
                )
                for network, urls in value.items()
            }
        return value

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        # Plain `postgresql://` means the psycopg 3 driver we ship.
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            return "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @field_validator("mnemonic")
    @classmethod
    def _no_development_mnemonic(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        if value is None or info.data.get("environment", "development") == "development":
            return value
        from chains.signers.development import is_development_mnemonic

        if is_development_mnemonic(value.get_secret_value()):
            raise ValueError(
                "is a public development mnemonic (anvil, hardhat, truffle or ganache, "
                "compared ignoring case and spacing); outside development set one of your own"
            )
        return value

    @field_validator("policy_overlays")
    @classmethod
    def _no_devnet_overlay(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if not value or info.data.get("environment", "development") == "development":
            return value
        from policies.errors import PolicyFileError
        from policies.loader import devnet_overlays

        try:
            marks = devnet_overlays(value)
        except PolicyFileError as error:
            raise ValueError(f"{error.source} cannot be loaded: {error.problem}") from None
        if marks:
            marked = "; ".join(
                f"overlay {index + 1} marks {', '.join(networks)} as devnet"
                for index, networks in marks.items()
            )
            raise ValueError(
                f"{marked}; devnet overlays (by name, path or content) are for development only"
            )
        return value

    @model_validator(mode="after")
    def _rests_in_order(self) -> Settings:
        if self.rpc_max_rest_seconds < self.rpc_rest_seconds:
            raise ValueError(
                "RECOVERY_RPC_MAX_REST_SECONDS must be at least RECOVERY_RPC_REST_SECONDS"
            )
        return self

    @property
    def logs_as(self) -> Literal["json", "text"]:
        """The log format in effect: the setting, else text in development, json elsewhere."""
        if self.log_format is not None:
            return self.log_format
        return "text" if self.environment == "development" else "json"

    @property
    def is_sqlite(self) -> bool:
        """True when the database is a SQLite file (single-process mode)."""
        return self.database_url.startswith("sqlite")


@cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
