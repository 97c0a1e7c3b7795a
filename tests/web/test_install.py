"""The installable app: the web app manifest, its icons, the offline page, and the
layout that links them."""

from __future__ import annotations

import struct

from fastapi.testclient import TestClient
from tests.factories import HTML, make_person, sign_in

from doorstep.runtime import Runtime

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_manifest_names_the_instance_and_its_icons_load(
    client: TestClient, runtime: Runtime
) -> None:
    r = client.get("/manifest.webmanifest")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/manifest+json")
    manifest = r.json()
    assert manifest["name"] == runtime.settings.instance_name
    assert manifest["start_url"] == "/" and manifest["display"] == "standalone"
    sizes = set()
    for icon in manifest["icons"]:
        image = client.get(icon["src"])
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        width, height = png_size(image.content)
        assert icon["sizes"] == f"{width}x{height}" and width == height
        sizes.add(width)
    assert {192, 512} <= sizes
    assert {"any", "maskable"} == {icon["purpose"] for icon in manifest["icons"]}


def test_every_page_links_the_manifest(client: TestClient, runtime: Runtime) -> None:
    assert '<link rel="manifest" href="/manifest.webmanifest">' in client.get("/signin").text
    sign_in(client, make_person(runtime))
    page = client.get("/notifications", headers=HTML).text
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page


def test_the_offline_page_shows_nothing_of_anyone(client: TestClient, runtime: Runtime) -> None:
    person = make_person(runtime)
    sign_in(client, person)
    r = client.get("/offline", headers=HTML)
    assert r.status_code == 200 and "You are offline" in r.text
    assert person.user.email not in r.text and "csrf_token" not in r.text
    assert "<script" not in r.text


def test_the_service_worker_keeps_the_offline_page(client: TestClient) -> None:
    sw = client.get("/sw.js").text
    assert '"/offline"' in sw and "caches.open" in sw and 'addEventListener("fetch"' in sw
    assert "self.clients.openWindow" in sw and ".focus()" in sw
