"""Settings, read from ``DOORSTEP_*`` environment variables.

The defaults are the embedded instance: a SQLite file and a local media
directory under ``data_dir``. Production sets a PostgreSQL URL and an
``s3://bucket/prefix`` media URL.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# A host name in an allowlist: labels of letters, digits and hyphens.
_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$",
    re.I,
)


def _comma_list(value: Any) -> Any:
    """A comma-separated setting as a list of its non-empty entries (other values as they
    are, for pydantic to refuse)."""
    entries = value.split(",") if isinstance(value, str) else value
    if not isinstance(entries, list | tuple):
        return entries
    return [str(e).strip() for e in entries if str(e).strip()]


# The most deliveries of one batch a worker sends at once (``worker_send_lanes``).
MAX_SEND_LANES = 64


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOORSTEP_", extra="ignore")

    data_dir: Path = Path("doorstep-data")
    database_url: str = ""
    media_url: str = ""
    base_url: str = "http://127.0.0.1:8000"
    instance_name: str = "doorstep"
    # The instance's time zone (IANA name): public pages, and anyone with no zone of his own.
    time_zone: str = "UTC"

    # Read replicas (issue 17): PostgreSQL hot standbys, comma-separated SQLAlchemy URLs,
    # that serve read-only requests (the public portal, the feed, timelines, the request
    # log). A replica whose replay lags more than replica_max_lag_s behind is skipped, and
    # one that does not answer is not tried again for replica_retry_s; either way the read
    # goes to the next replica, then the primary. Writes always go to the primary.
    database_replica_urls: Annotated[list[str], NoDecode] = []
    replica_max_lag_s: float = Field(default=5.0, gt=0)
    replica_retry_s: float = Field(default=10.0, ge=0)
    replica_connect_timeout_s: int = Field(default=2, ge=1)

    # S3-compatible object storage (used when media_url starts with s3://)
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_url_expiry_s: int = 300

    # Session cookie; browsers accept Secure cookies on http://127.0.0.1 and localhost.
    cookie_name: str = "doorstep_session"
    cookie_secure: bool = True
    session_days: int = 14

    # Sign-in throttling: failures in the window, per account and per address.
    login_window_s: int = 900
    login_max_failures_per_account: int = 5
    login_max_failures_per_address: int = 20

    # Request bodies (issue 11): every body but a clip upload is at most this many bytes,
    # counted while it streams in; a body that stops arriving is dropped after the idle time.
    max_body_bytes: int = 1024 * 1024
    body_idle_timeout_s: float = 30.0

    # Clip ingest limits
    max_clip_bytes: int = 100 * 1024 * 1024
    max_clip_duration_s: float = 600.0
    min_clip_duration_s: float = 0.2
    max_clip_width: int = 3840
    max_clip_height: int = 2160

    # Clip and event times (issue 11, ingest part): the oldest start a device may report,
    # in days. Unset: each camera's retention, so nothing the retention sweep would delete
    # at once is accepted. A value shorter than a camera's retention tightens it; a longer
    # one cannot keep anything past the retention, so the shorter of the two applies.
    max_clip_age_days: int | None = Field(default=None, ge=1)
    # A camera's local-first events are alerted together: the first opens a window of
    # this many seconds, and one alert after it counts every event in it ("3 motion
    # events at Front door"), instead of one alert per event.
    event_alert_window_s: float = Field(default=30.0, ge=0, le=3600)

    # Group commit of single events (issue 16): a device's POST /events waits up to this
    # many milliseconds for other devices' events, and the group is written in one
    # transaction (one token query, one INSERT); each request answers after that commit.
    # 0: no grouping, one transaction per request. A group holds at most
    # ingest_group_max_events events; a full group is written at once.
    ingest_group_window_ms: float = Field(default=2.0, ge=0, le=10_000)
    ingest_group_max_events: int = Field(default=200, ge=1, le=1000)

    # Kept clips (issue 15): a resident may keep a clip past its camera's retention until
    # he stops keeping it; this is the most clips one resident keeps at once (0: nobody
    # may keep a clip). Each clip is at most max_clip_bytes, so this bounds his storage.
    max_kept_clips: int = Field(default=50, ge=0)

    # Email (SMTP)
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_from: str = "doorstep <alerts@doorstep.invalid>"
    smtp_timeout_s: float = 10.0

    # Web Push: VAPID keys are generated into data_dir on first start unless given.
    vapid_private_key_path: Path | None = None
    vapid_subject: str = "mailto:admin@doorstep.invalid"

    # Map tiles. Pages keep working (without a base map) when the tile server is unreachable.
    tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    tile_attribution: str = "&copy; OpenStreetMap contributors"
    # Named places (neighbourhoods, streets) that pages use to say where a coarse area is:
    # "an area of about 0.7 km² around Fishtown". Semicolon-separated name=latitude,longitude:
    # DOORSTEP_PLACE_NAMES="Fishtown=39.9713,-75.1340;Old City=39.9522,-75.1446". A coarse
    # area takes the name nearest its centre within place_reach_m; without one, its size.
    place_names: Annotated[list[tuple[str, float, float]], NoDecode] = []
    place_reach_m: float = Field(default=1500.0, gt=0)

    # Worker
    worker_poll_s: float = 1.0
    # Jobs claimed at a time; kinds with a batch handler run them together (fewer round
    # trips per job: 194 -> 288 deliveries/s from 20 to 100 in the fan-out benchmark).
    worker_batch: int = 100
    # Deliveries of one batch in flight at once (SMTP sessions, webhook posts): a send
    # mostly waits on the receiver, so one at a time leaves the worker idle.
    worker_send_lanes: int = Field(default=8, ge=1, le=MAX_SEND_LANES)
    worker_lease_s: int = 120
    worker_max_attempts: int = 8
    worker_backoff_base_s: float = 5.0
    worker_backoff_max_s: float = 3600.0
    retention_sweep_s: float = 600.0
    # PostgreSQL: months of motion-event partitions the worker keeps created past the
    # current one (cameras.partitions), checked every event_partitions_check_s.
    event_partitions_ahead_months: int = Field(default=3, ge=1, le=24)
    event_partitions_check_s: float = 3600.0

    # Webhook targets (notify, issue 11 item 6). Residents choose webhook URLs and the
    # worker posts to them from inside the network, so by default only https to public
    # addresses is allowed. Plain http must be turned on; on-premises receivers are
    # allowed by network (CIDR or single address) or by host name, comma-separated:
    # DOORSTEP_WEBHOOK_ALLOWED_NETWORKS="10.0.5.0/24,hooks.lan".
    webhook_allow_http: bool = False
    webhook_allowed_networks: Annotated[list[str], NoDecode] = []

    # Operations: ``/metrics`` answers a request from these networks (CIDR or single
    # addresses, comma-separated), or one carrying ``Authorization: Bearer <token>``.
    # Default: this machine only. Behind a reverse proxy every request comes from the
    # proxy's address: block ``/metrics`` there, or set a token.
    metrics_token: str | None = None
    metrics_allowed_networks: Annotated[list[str], NoDecode] = ["127.0.0.1/32", "::1/128"]

    @field_validator("webhook_allowed_networks", "metrics_allowed_networks", mode="before")
    @classmethod
    def _split_allowlist(cls, value: Any, info: ValidationInfo) -> Any:
        cleaned = _comma_list(value)
        hosts_too = info.field_name == "webhook_allowed_networks"
        for entry in cleaned if isinstance(cleaned, list) else ():
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                if hosts_too and "/" not in entry and ":" not in entry and _HOST_NAME.match(entry):
                    continue
                example = "a network (10.0.0.0/8, 192.168.1.5)"
                wanted = f"neither {example} nor a host name" if hosts_too else f"not {example}"
                raise ValueError(f"{entry!r} is {wanted}") from None
        return cleaned

    @field_validator("database_replica_urls", mode="before")
    @classmethod
    def _split_replicas(cls, value: Any) -> Any:
        cleaned = _comma_list(value)
        for entry in cleaned if isinstance(cleaned, list) else ():
            if not entry.startswith("postgresql"):
                raise ValueError(f"{entry.split(':')[0]!r}: a replica is a PostgreSQL URL")
        return cleaned

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone (an IANA name such as UTC)") from None
        return value

    @field_validator("place_names", mode="before")
    @classmethod
    def _split_places(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        places = []
        for entry in (e.strip() for e in value.split(";")):
            if not entry:
                continue
            name, _, position = entry.rpartition("=")
            latitude, _, longitude = position.partition(",")
            try:
                lat, lng = float(latitude), float(longitude)
            except ValueError:
                lat = lng = float("nan")
            if not name.strip() or not (abs(lat) <= 90 and abs(lng) <= 180):
                raise ValueError(f"{entry!r} is not name=latitude,longitude")
            places.append((name.strip(), lat, lng))
        return places

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'doorstep.db').resolve()}"

    def resolved_media_url(self) -> str:
        if self.media_url:
            return self.media_url
        return f"file://{(self.data_dir / 'media').resolve()}"

    def resolved_vapid_path(self) -> Path:
        return self.vapid_private_key_path or (self.data_dir / "vapid_private.pem")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
