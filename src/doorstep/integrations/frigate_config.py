"""The Frigate bridge's configuration: one TOML file (see the README's example)."""

from __future__ import annotations

import os
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODES = ("local_first", "upload")
SEVERITIES = ("alert", "detection")
TOPICS = ("reviews", "events")


class BridgeConfigError(ValueError):
    """The configuration file is missing something or holds a wrong value."""


@dataclass(frozen=True)
class ReviewFilter:
    """Which Frigate activity reaches doorstep; an empty list lets everything through."""

    severity: tuple[str, ...] = ("alert",)
    labels: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()

    def admits(self, *, severity: str | None, labels: list[str], zones: list[str]) -> bool:
        if severity is not None and self.severity and severity not in self.severity:
            return False
        if self.labels and not set(self.labels) & set(labels):
            return False
        return not (self.zones and not set(self.zones) & set(zones))


@dataclass(frozen=True)
class CameraLink:
    """A Frigate camera name and the doorstep camera (and ingest token) it feeds."""

    frigate_name: str
    camera_id: uuid.UUID
    token: str = field(repr=False)
    filters: ReviewFilter


@dataclass(frozen=True)
class MqttSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    topic_prefix: str = "frigate"
    client_id: str = "doorstep-bridge"
    keepalive_s: int = 60
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0


@dataclass(frozen=True)
class BridgeConfig:
    mode: str
    state_dir: Path
    doorstep_url: str
    frigate_url: str
    cameras: dict[str, CameraLink]
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    topics: tuple[str, ...] = ("reviews",)
    poll_uploads_s: float = 30.0
    padding_s: float = 2.0
    clip_delay_s: float = 15.0
    max_clip_s: float = 600.0
    retry_base_s: float = 2.0
    retry_max_s: float = 300.0
    delivery_poll_s: float = 5.0
    request_attempts: int = 3
    request_timeout_s: float = 60.0

    def link_for_camera_id(self, camera_id: uuid.UUID) -> CameraLink | None:
        return next((c for c in self.cameras.values() if c.camera_id == camera_id), None)


def load_config(path: Path) -> BridgeConfig:
    """Read and check a bridge TOML file; raises BridgeConfigError with what is wrong."""
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BridgeConfigError(f"{path}: {exc}") from exc
    return parse_config(raw, base_dir=path.parent)


def parse_config(raw: dict[str, Any], *, base_dir: Path = Path()) -> BridgeConfig:
    mode = _str(raw, "mode", "local_first")
    if mode not in MODES:
        raise BridgeConfigError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    doorstep = _table(raw, "doorstep")
    frigate = _table(raw, "frigate")
    mqtt = _table(raw, "mqtt")
    delivery = _table(raw, "delivery")
    defaults = _filters(_table(raw, "filters"), ReviewFilter(), "filters")
    topics = tuple(_strs(frigate, "topics", ["reviews"]))
    for topic in topics:
        if topic not in TOPICS:
            raise BridgeConfigError(f"frigate.topics: {topic!r} is not one of {TOPICS}")
    cameras_raw = _table(raw, "cameras")
    if not cameras_raw:
        raise BridgeConfigError("add at least one [cameras.<frigate camera name>] table")
    cameras = {
        name: _camera(name, _table(cameras_raw, name), defaults) for name in cameras_raw
    }
    state_dir = Path(_str(raw, "state_dir", "doorstep-bridge-state")).expanduser()
    return BridgeConfig(
        mode=mode,
        state_dir=state_dir if state_dir.is_absolute() else base_dir / state_dir,
        doorstep_url=_required(doorstep, "url", "doorstep").rstrip("/"),
        frigate_url=_str(frigate, "url", "http://127.0.0.1:5000").rstrip("/"),
        cameras=cameras,
        mqtt=MqttSettings(
            host=_str(mqtt, "host", "127.0.0.1"),
            port=int(mqtt.get("port", 1883)),
            username=mqtt.get("username") or None,
            password=_secret(mqtt, "password", "mqtt"),
            topic_prefix=_str(mqtt, "topic_prefix", "frigate").rstrip("/"),
            client_id=_str(mqtt, "client_id", "doorstep-bridge"),
            keepalive_s=int(mqtt.get("keepalive_s", 60)),
            reconnect_min_s=float(mqtt.get("reconnect_min_s", 1.0)),
            reconnect_max_s=float(mqtt.get("reconnect_max_s", 60.0)),
        ),
        topics=topics,
        poll_uploads_s=float(doorstep.get("poll_uploads_s", 30.0)),
        request_timeout_s=float(doorstep.get("timeout_s", 60.0)),
        padding_s=float(frigate.get("padding_s", 2.0)),
        clip_delay_s=float(frigate.get("clip_delay_s", 15.0)),
        max_clip_s=float(frigate.get("max_clip_s", 600.0)),
        retry_base_s=float(delivery.get("retry_base_s", 2.0)),
        retry_max_s=float(delivery.get("retry_max_s", 300.0)),
        delivery_poll_s=float(delivery.get("poll_s", 5.0)),
        request_attempts=int(delivery.get("request_attempts", 3)),
    )


def _camera(name: str, raw: dict[str, Any], defaults: ReviewFilter) -> CameraLink:
    where = f"cameras.{name}"
    try:
        camera_id = uuid.UUID(_required(raw, "camera_id", where))
    except ValueError as exc:
        raise BridgeConfigError(f"{where}.camera_id is not a doorstep camera id") from exc
    token = _secret(raw, "token", where)
    if not token:
        raise BridgeConfigError(f"{where}: set token, or token_env naming a variable")
    return CameraLink(name, camera_id, token, _filters(raw, defaults, where))


def _filters(raw: dict[str, Any], base: ReviewFilter, where: str) -> ReviewFilter:
    severity = tuple(_strs(raw, "severity", list(base.severity)))
    for value in severity:
        if value not in SEVERITIES:
            raise BridgeConfigError(f"{where}.severity: {value!r} is not one of {SEVERITIES}")
    return ReviewFilter(
        severity=severity,
        labels=tuple(_strs(raw, "labels", list(base.labels))),
        zones=tuple(_strs(raw, "zones", list(base.zones))),
    )


def _secret(raw: dict[str, Any], name: str, where: str) -> str | None:
    env = raw.get(f"{name}_env")
    if env:
        value = os.environ.get(str(env))
        if value is None:
            raise BridgeConfigError(f"{where}.{name}_env: the variable {env} is not set")
        return value
    value = raw.get(name)
    return str(value) if value else None


def _table(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise BridgeConfigError(f"[{name}] must be a table")
    return value


def _str(raw: dict[str, Any], name: str, default: str) -> str:
    value = raw.get(name, default)
    if not isinstance(value, str):
        raise BridgeConfigError(f"{name} must be a string")
    return value


def _required(raw: dict[str, Any], name: str, where: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value:
        raise BridgeConfigError(f"{where}.{name} is required")
    return value


def _strs(raw: dict[str, Any], name: str, default: list[str]) -> list[str]:
    value = raw.get(name, default)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BridgeConfigError(f"{name} must be a list of strings")
    return list(value)
