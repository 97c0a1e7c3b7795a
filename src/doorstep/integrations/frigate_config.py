"""The Frigate bridge's configuration: one TOML file (see the README's example)."""

from __future__ import annotations

import os
import ssl
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
    # TLS to the broker: on with ``tls = true`` or when a certificate file is named.
    # ``ca_file`` is the CA that signed the broker's certificate (the system's CAs
    # without it); ``cert_file``/``key_file`` are the bridge's own, for brokers that
    # require client certificates (mutual TLS).
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    # Skips the check that the broker's certificate names ``host`` (the CA is still
    # checked): only for a broker reached by an address its certificate does not list.
    tls_insecure_hostname: bool = False

    def tls_context(self) -> ssl.SSLContext | None:
        """The TLS settings for the broker connection, or None for plain MQTT.

        Raises BridgeConfigError naming a file that cannot be read or is not what it
        should be, so a mistake shows at start, not as a failed handshake later.
        """
        if not self.tls:
            return None
        try:
            context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        except (OSError, ssl.SSLError) as exc:
            raise BridgeConfigError(f"mqtt.ca_file {self.ca_file}: {exc}") from exc
        if self.cert_file is not None:
            try:
                context.load_cert_chain(
                    str(self.cert_file), str(self.key_file) if self.key_file else None
                )
            except (OSError, ssl.SSLError) as exc:
                raise BridgeConfigError(
                    f"mqtt.cert_file {self.cert_file} / key_file {self.key_file}: {exc}"
                ) from exc
        context.check_hostname = not self.tls_insecure_hostname
        return context


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
    cameras = {name: _camera(name, _table(cameras_raw, name), defaults) for name in cameras_raw}
    state_dir = Path(_str(raw, "state_dir", "doorstep-bridge-state")).expanduser()
    return BridgeConfig(
        mode=mode,
        state_dir=state_dir if state_dir.is_absolute() else base_dir / state_dir,
        doorstep_url=_required(doorstep, "url", "doorstep").rstrip("/"),
        frigate_url=_str(frigate, "url", "http://127.0.0.1:5000").rstrip("/"),
        cameras=cameras,
        mqtt=_mqtt(mqtt, base_dir),
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


def _mqtt(raw: dict[str, Any], base_dir: Path) -> MqttSettings:
    files = {name: _path(raw, name, base_dir) for name in ("ca_file", "cert_file", "key_file")}
    tls = raw.get("tls", any(files.values()))
    if not isinstance(tls, bool):
        raise BridgeConfigError("mqtt.tls must be true or false")
    if not tls and any(files.values()):
        raise BridgeConfigError("mqtt: certificate files are set but tls = false")
    if files["key_file"] is not None and files["cert_file"] is None:
        raise BridgeConfigError("mqtt.key_file needs mqtt.cert_file (the client certificate)")
    insecure = raw.get("tls_insecure_hostname", False)
    if not isinstance(insecure, bool):
        raise BridgeConfigError("mqtt.tls_insecure_hostname must be true or false")
    settings = MqttSettings(
        host=_str(raw, "host", "127.0.0.1"),
        port=int(raw.get("port", 8883 if tls else 1883)),
        username=raw.get("username") or None,
        password=_secret(raw, "password", "mqtt"),
        topic_prefix=_str(raw, "topic_prefix", "frigate").rstrip("/"),
        client_id=_str(raw, "client_id", "doorstep-bridge"),
        keepalive_s=int(raw.get("keepalive_s", 60)),
        reconnect_min_s=float(raw.get("reconnect_min_s", 1.0)),
        reconnect_max_s=float(raw.get("reconnect_max_s", 60.0)),
        tls=tls,
        ca_file=files["ca_file"],
        cert_file=files["cert_file"],
        key_file=files["key_file"],
        tls_insecure_hostname=insecure,
    )
    settings.tls_context()  # reads the files now: a wrong one is named at start
    return settings


def _path(raw: dict[str, Any], name: str, base_dir: Path) -> Path | None:
    value = raw.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BridgeConfigError(f"mqtt.{name} must be a file path")
    path = Path(value).expanduser()
    path = path if path.is_absolute() else base_dir / path
    if not path.is_file():
        raise BridgeConfigError(f"mqtt.{name}: no such file {path}")
    return path


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
