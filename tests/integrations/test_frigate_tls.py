"""The Frigate bridge over MQTT with TLS: a real Mosquitto with a TLS listener, and a CA,
server and client certificates made by the test."""

from __future__ import annotations

import asyncio
import datetime as dt
import getpass
import json
import ssl
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from structlog.testing import capture_logs

from doorstep.integrations.frigate import FrigateBridge
from doorstep.integrations.frigate_config import BridgeConfig, BridgeConfigError, parse_config
from doorstep.runtime import Runtime
from tests.factories import make_camera, make_person
from tests.integrations.support import (
    LiveServer,
    OwnBroker,
    async_wait_until,
    frigate_review,
    hours_ago,
    review_id,
)

# ---------------------------------------------------------------- certificates


@dataclass
class Issued:
    cert: Path
    key: Path


class Authority:
    """A certificate authority of the test's own; issues server and client certificates."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder = folder
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (
            self._builder(self.name, self.key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )
        self.file = folder / f"{name.replace(' ', '-')}.pem"
        self.file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    def _builder(self, subject: x509.Name, public_key: Any) -> x509.CertificateBuilder:
        now = dt.datetime.now(dt.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
        )

    def issue(self, stem: str, *, dns_name: str | None = None, client: bool = False) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_name or stem)])
        builder = self._builder(subject, key.public_key()).add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]
            ),
            critical=False,
        )
        if dns_name is not None:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False
            )
        cert = builder.sign(self.key, hashes.SHA256())
        issued = Issued(self.folder / f"{stem}.pem", self.folder / f"{stem}.key")
        issued.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        issued.key.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        issued.key.chmod(0o600)
        return issued


@dataclass
class Pki:
    ca: Authority
    server: Issued  # names "localhost" only, not 127.0.0.1
    client: Issued
    stranger: Authority  # a CA that signed nothing the broker uses


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    folder = tmp_path / "pki"
    folder.mkdir()
    ca = Authority(folder, "doorstep test CA")
    return Pki(
        ca=ca,
        server=ca.issue("broker", dns_name="localhost"),
        client=ca.issue("bridge", client=True),
        stranger=Authority(folder, "someone else CA"),
    )


# ---------------------------------------------------------------- the broker


class TlsBroker(OwnBroker):
    """Mosquitto with only a TLS listener, asking every client for a certificate of our CA."""

    def __init__(self, folder: Path, pki: Pki) -> None:
        super().__init__(folder)
        self.config.write_text(
            f"user {getpass.getuser()}\n"
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            f"cafile {pki.ca.file}\ncertfile {pki.server.cert}\nkeyfile {pki.server.key}\n"
            "require_certificate true\n"
            f"log_dest file {folder}/mosquitto.log\n"
        )


@pytest.fixture
def tls_broker(tmp_path: Path, pki: Pki) -> Iterator[TlsBroker]:
    broker = TlsBroker(tmp_path / "broker", pki)
    broker.start()
    yield broker
    broker.stop()


def _config(
    tmp: Path, server: LiveServer, broker: TlsBroker, cameras: dict[str, Any], **mqtt: Any
) -> BridgeConfig:
    return parse_config(
        {
            "mode": "local_first",
            "state_dir": str(tmp / "bridge-state"),
            "doorstep": {"url": server.url, "poll_uploads_s": 0.2},
            "mqtt": {
                "host": "localhost",
                "port": broker.port,
                "client_id": f"b-{uuid.uuid4().hex}",
                "reconnect_min_s": 0.2,
                "reconnect_max_s": 0.5,
                "keepalive_s": 5,
                **mqtt,
            },
            "delivery": {"retry_base_s": 0.05, "retry_max_s": 0.3, "poll_s": 0.1},
            "cameras": cameras,
        }
    )


@asynccontextmanager
async def running(config: BridgeConfig) -> AsyncIterator[FrigateBridge]:
    bridge = FrigateBridge(config)
    stop = asyncio.Event()
    task = asyncio.create_task(bridge.run(stop))
    try:
        yield bridge
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        bridge.close()


def _frigate_side(pki: Pki) -> ssl.SSLContext:
    """How Frigate (or any publisher) talks to this broker: our CA and a client certificate."""
    context = ssl.create_default_context(cafile=str(pki.ca.file))
    context.load_cert_chain(str(pki.client.cert), str(pki.client.key))
    return context


# ---------------------------------------------------------------- tests


async def test_the_bridge_receives_a_review_over_mutual_tls(
    runtime: Runtime, live_server: LiveServer, tls_broker: TlsBroker, pki: Pki, tmp_path: Path
) -> None:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user)
    config = _config(
        tmp_path,
        live_server,
        tls_broker,
        {"front_door": {"camera_id": str(cam.camera.id), "token": cam.token}},
        ca_file=str(pki.ca.file),
        cert_file=str(pki.client.cert),
        key_file=str(pki.client.key),
    )
    assert config.mqtt.tls
    t0 = hours_ago(1)
    review = review_id(t0)

    async with running(config) as bridge:
        await asyncio.wait_for(bridge.connected.wait(), 15)
        async with aiomqtt.Client(
            "localhost",
            tls_broker.port,
            tls_context=_frigate_side(pki),
            identifier=f"test-frigate-{uuid.uuid4().hex[:8]}",
        ) as frigate:
            message = frigate_review(review, "front_door", "end", start=t0, end=t0 + 12)
            await frigate.publish("frigate/reviews", json.dumps(message), qos=1)
        await async_wait_until(
            lambda: [e.device_ref for e in live_server.events(cam.camera.id)],
            timeout_s=30,
            what="the reported event",
        )

    assert [e.device_ref for e in live_server.events(cam.camera.id)] == [f"frigate:review:{review}"]


async def _refusal(config: BridgeConfig) -> str:
    """Run the bridge until its first connection attempt fails; the error it logged."""
    with capture_logs() as logs:
        async with running(config) as bridge:
            failure = await async_wait_until(
                lambda: next((e for e in logs if e["event"] == "frigate_mqtt_disconnected"), None),
                timeout_s=15,
                what="a failed connection",
            )
            assert not bridge.connected.is_set()
    assert not any(e["event"] == "frigate_mqtt_connected" for e in logs)
    return str(failure["error"])


async def test_a_broker_not_signed_by_the_configured_ca_is_refused(
    runtime: Runtime, live_server: LiveServer, tls_broker: TlsBroker, pki: Pki, tmp_path: Path
) -> None:
    cam = make_camera(runtime, make_person(runtime).user)
    config = _config(
        tmp_path,
        live_server,
        tls_broker,
        {"front_door": {"camera_id": str(cam.camera.id), "token": cam.token}},
        ca_file=str(pki.stranger.file),
        cert_file=str(pki.client.cert),
        key_file=str(pki.client.key),
    )

    error = await _refusal(config)

    assert "certificate verify failed" in error


async def test_a_broker_certificate_for_another_name_is_refused_unless_told(
    runtime: Runtime, live_server: LiveServer, tls_broker: TlsBroker, pki: Pki, tmp_path: Path
) -> None:
    # The broker's certificate names "localhost"; reached as 127.0.0.1 it does not match.
    cam = make_camera(runtime, make_person(runtime).user)
    cameras = {"front_door": {"camera_id": str(cam.camera.id), "token": cam.token}}
    files = {
        "ca_file": str(pki.ca.file),
        "cert_file": str(pki.client.cert),
        "key_file": str(pki.client.key),
    }
    strict = _config(tmp_path, live_server, tls_broker, cameras, host="127.0.0.1", **files)

    error = await _refusal(strict)
    assert "certificate verify failed" in error and "127.0.0.1" in error

    lenient = _config(
        tmp_path,
        live_server,
        tls_broker,
        cameras,
        host="127.0.0.1",
        tls_insecure_hostname=True,
        **files,
    )
    async with running(lenient) as bridge:
        await asyncio.wait_for(bridge.connected.wait(), 15)


def test_tls_settings_are_read_and_checked(tmp_path: Path, pki: Pki) -> None:
    base: dict[str, Any] = {
        "doorstep": {"url": "https://doorstep.example.org"},
        "cameras": {"c": {"camera_id": str(uuid.uuid4()), "token": "dsc_x"}},
    }
    (tmp_path / "ca.pem").write_bytes(pki.ca.file.read_bytes())

    plain = parse_config({**base, "mqtt": {"host": "mqtt.lan"}})
    assert not plain.mqtt.tls and plain.mqtt.port == 1883 and plain.mqtt.tls_context() is None

    # A relative path is read next to the configuration file; TLS brokers listen on 8883.
    tls = parse_config(
        {**base, "mqtt": {"host": "mqtt.lan", "ca_file": "ca.pem"}}, base_dir=tmp_path
    )
    assert tls.mqtt.tls and tls.mqtt.port == 8883 and tls.mqtt.ca_file == tmp_path / "ca.pem"
    context = tls.mqtt.tls_context()
    assert context is not None and context.check_hostname
    assert context.verify_mode == ssl.CERT_REQUIRED

    system_cas = parse_config({**base, "mqtt": {"tls": True}})
    assert system_cas.mqtt.tls and system_cas.mqtt.tls_context() is not None

    for mqtt, message in [
        ({"ca_file": "missing.pem"}, "no such file"),
        ({"key_file": str(pki.client.key)}, "needs mqtt.cert_file"),
        ({"tls": False, "ca_file": str(pki.ca.file)}, "tls = false"),
        ({"tls": "yes"}, "true or false"),
        ({"ca_file": str(pki.client.key)}, "mqtt.ca_file"),  # not a certificate
        ({"cert_file": str(pki.client.cert), "key_file": str(pki.server.key)}, "cert_file"),
    ]:
        with pytest.raises(BridgeConfigError, match=message):
            parse_config({**base, "mqtt": mqtt}, base_dir=tmp_path)
