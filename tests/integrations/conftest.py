"""Fixtures for the device-side tests (SQLite only: they exercise the device over real
HTTP and MQTT, not the database)."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from doorstep.media.samples import write_sample_clip
from doorstep.runtime import Runtime
from tests.integrations.support import SYSTEM_BROKER, FakeFrigate, LiveServer, OwnBroker


@pytest.fixture
def db_backend() -> str:
    return "sqlite"


@pytest.fixture
def live_server(runtime: Runtime) -> Iterator[LiveServer]:
    """doorstep on 127.0.0.1 (uvicorn in a thread); ``stop()``/``start()`` make an outage."""
    server = LiveServer(runtime)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Generated H.264 clips with known motion (a box crossing from A to B s), made once."""
    folder = tmp_path_factory.mktemp("videos")
    specs: dict[str, dict[str, Any]] = {
        "motion_3_6": {"seconds": 10, "motion": (3.0, 6.0)},
        "noisy_2_4": {"seconds": 9, "motion": (2.0, 4.5), "noise": 6.0, "drift": 4.0, "seed": 3},
        "late_7_9": {"seconds": 10, "motion": (7.0, 9.0), "noise": 4.0, "drift": -3.0, "seed": 5},
        "static": {"seconds": 10, "motion": None, "noise": 8.0, "drift": 5.0, "seed": 2},
        "frigate": {"seconds": 3, "motion": (0.5, 2.5), "seed": 9},
    }
    return {name: write_sample_clip(folder / f"{name}.mp4", **spec) for name, spec in specs.items()}


@pytest.fixture
def frigate_api(videos: dict[str, Path]) -> Iterator[FakeFrigate]:
    fake = FakeFrigate(clip=videos["frigate"])
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def system_broker() -> tuple[str, int]:
    """The Mosquitto at 127.0.0.1:1883 (CI starts it)."""
    try:
        socket.create_connection(SYSTEM_BROKER, timeout=2).close()
    except OSError:
        pytest.fail(
            "no MQTT broker at 127.0.0.1:1883: start it with "
            "`mosquitto -d -c /etc/mosquitto/mosquitto.conf`"
        )
    return SYSTEM_BROKER


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[OwnBroker]:
    """A Mosquitto of our own (persistence on) for a test that restarts the broker."""
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        pytest.fail("the mosquitto binary is needed for the broker-restart test")
    broker = OwnBroker(tmp_path / "broker")
    broker.start()
    yield broker
    broker.stop()
