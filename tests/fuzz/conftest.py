"""One populated instance per test module and database: building the principals costs
seconds (argon2, TOTP, a footage request through its whole flow), so a module's hundreds
of generated calls share it. Each module gets a database of its own."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from doorstep.app import create_app
from doorstep.runtime import Runtime
from tests.conftest import PG_ADMIN_URL, _pg_connect, make_settings
from tests.fuzz.world import World, build_world


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def world_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path_factory.mktemp("fuzz-sqlite") / "doorstep.db"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    from doorstep.migrate import upgrade

    name = f"doorstep_fuzz_{uuid.uuid4().hex[:10]}"
    with _pg_connect(PG_ADMIN_URL) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with _pg_connect(PG_ADMIN_URL) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def world(world_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp_path = tmp_path_factory.mktemp("fuzz-world")
    # Webhooks point at TEST-NET-1 (never reached: no worker runs here), allowlisted as an
    # operator would allow an on-premises receiver; this machine resolves no public name.
    runtime = Runtime(make_settings(tmp_path, world_db, webhook_allowed_networks=["192.0.2.0/24"]))
    try:
        with TestClient(create_app(runtime), base_url="https://testserver") as client:
            yield build_world(runtime, client, tmp_path / "clips")
    finally:
        runtime.close()


def backend_of(world: World) -> str:
    return "sqlite" if world.runtime.settings.database_url.startswith("sqlite") else "postgres"
