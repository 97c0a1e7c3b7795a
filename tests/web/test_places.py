"""Pages say where a coarse area is in words (and on a small map), never by its H3 id, and
never more finely than the coarse cell."""

from __future__ import annotations

import re
from pathlib import Path

import h3
import pytest
from fastapi.testclient import TestClient
from h3.api import basic_int as h3_int
from tests.conftest import make_settings
from tests.factories import (
    HOME_LAT,
    HOME_LNG,
    HTML,
    active_request,
    make_agency,
    make_camera,
    make_officer,
    make_person,
    make_post,
    set_home,
    set_policy,
    sign_in,
)

from doorstep import geo
from doorstep.accounts.models import Role
from doorstep.config import Settings
from doorstep.runtime import Runtime

# Any H3 cell id as H3 writes it: 15 hexadecimal digits, starting with the mode 8.
H3_ID = re.compile(r"(?<![0-9a-zA-Z_-])8[0-9a-f]{14}(?![0-9a-zA-Z_-])")
HOME_CELL = geo.cell_of(HOME_LAT, HOME_LNG, geo.COARSE_RESOLUTION)
CENTRE_LAT, CENTRE_LNG = geo.cell_center(HOME_CELL)
# Named places of the instance: "Riverside" ~300 m from the home cell's centre, "Hilltop"
# ~900 m away; the cell takes the name nearest its centre.
PLACES = [
    ("Hilltop", CENTRE_LAT + 0.0081, CENTRE_LNG),
    ("Riverside", CENTRE_LAT, CENTRE_LNG + 0.0035),
]
COARSE_NOTE = "A coarse area of a few hundred homes, never an address."


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, place_names=PLACES)


def place_text(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', html)
    assert found, f"no #{element_id} on the page"
    return found.group(1)


def assert_no_h3_id(html: str, *cells: int) -> None:
    assert H3_ID.findall(html) == []
    for cell in cells:
        assert h3_int.int_to_str(cell) not in html


@pytest.mark.parametrize("role", ["owner", "neighbor", "officer", "moderator"])
def test_feed_and_camera_pages_print_no_h3_id(
    client: TestClient, runtime: Runtime, role: str
) -> None:
    author = make_person(runtime)
    set_home(runtime, author)
    post = make_post(runtime, author, title="Bike taken from the rack")
    if role == "officer":
        viewer = make_officer(runtime, make_agency(runtime))
    else:
        viewer = make_person(runtime, role=Role.moderator if role == "moderator" else Role.resident)
    set_home(runtime, viewer)
    camera = make_camera(runtime, viewer.user, latitude=HOME_LAT, longitude=HOME_LNG)
    cells = (post.coarse_cell, camera.camera.coarse_cell, camera.camera.index_cell)
    sign_in(client, viewer, runtime)

    expected = "an area of about 0.7 km² (0.3 sq mi) around Riverside"
    for path in ("/feed", "/feed/map", f"/posts/{post.id}", "/cameras"):
        page = client.get(path, headers=HTML)
        assert page.status_code == 200, (path, page.status_code)
        assert_no_h3_id(page.text, *cells)
        assert expected in page.text, path
    detail = client.get(f"/cameras/{camera.camera.id}", headers=HTML)
    assert detail.status_code == 200
    assert_no_h3_id(detail.text, *cells)
    assert place_text(detail.text, "camera-place") == expected
    post_page = client.get(f"/posts/{post.id}", headers=HTML).text
    assert f'aria-label="Map of where this post is: {expected}"' in post_page

    mine = client.get("/feed/mine", headers=HTML)
    assert mine.status_code == 200
    assert_no_h3_id(mine.text, *cells)

    # The JSON API keeps the cell for machines.
    api = client.get(
        f"/api/v1/posts/{post.id}", headers={"Authorization": f"Bearer {viewer.token}"}
    )
    assert api.status_code == 200 and api.json()["coarse_cell"] == h3_int.int_to_str(HOME_CELL)


def test_the_place_shown_is_no_finer_than_the_coarse_cell(
    client: TestClient, runtime: Runtime
) -> None:
    """Posts from opposite corners of one coarse cell, one by Riverside and one past the
    middle towards Hilltop, show the same words and the same small map: both come from the
    cell alone."""
    children = h3_int.cell_to_children(HOME_CELL, geo.COARSE_RESOLUTION + 2)
    # H3's children do not nest exactly: keep the centres that lie inside the cell.
    centres = [
        (lat, lng)
        for lat, lng in (h3_int.cell_to_latlng(c) for c in children)
        if geo.cell_of(lat, lng, geo.COARSE_RESOLUTION) == HOME_CELL
    ]
    east = max(centres, key=lambda p: p[1])
    north = max(centres, key=lambda p: p[0])
    assert geo.haversine_m(*east, *north) > 400  # far apart inside the cell
    author = make_person(runtime)
    set_home(runtime, author)
    viewer = make_person(runtime)
    set_home(runtime, viewer)
    posts = [make_post(runtime, author, lat=lat, lng=lng) for lat, lng in (east, north)]
    assert {p.coarse_cell for p in posts} == {HOME_CELL}
    sign_in(client, viewer)

    shown = set()
    for post in posts:
        html = client.get(f"/posts/{post.id}", headers=HTML).text
        boundary = re.search(r'data-cell-boundary="([^"]*)"', html)
        assert boundary
        shown.add((place_text(html, "post-place"), boundary.group(1)))
    assert len(shown) == 1
    ((text, _boundary),) = shown
    assert text.startswith("Where: " + geo.describe_cell(HOME_CELL, PLACES) + ".")


def test_describing_a_cell() -> None:
    cell = h3.latlng_to_cell(HOME_LAT, HOME_LNG, geo.COARSE_RESOLUTION)
    assert geo.describe_cell(cell) == "an area of about 0.7 km² (0.3 sq mi)"
    assert geo.describe_cell(HOME_CELL, PLACES).endswith("around Riverside")
    assert geo.place_of(HOME_CELL, PLACES, reach_m=100) is None
    assert geo.place_of(HOME_CELL, PLACES[:1]) == "Hilltop"
    # Every finer cell inside names the same place: the name depends on the cell alone.
    for child in h3_int.cell_to_children(HOME_CELL, geo.COARSE_RESOLUTION + 2):
        parent = geo.parent_cell(int(child), geo.COARSE_RESOLUTION)
        assert geo.describe_cell(parent, PLACES) == geo.describe_cell(HOME_CELL, PLACES)


def test_place_names_setting(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, place_names="Fishtown=39.9713,-75.1340; Old City = 39.9522,-75.1446"
    )
    assert settings.place_names == [
        ("Fishtown", 39.9713, -75.134),
        ("Old City", 39.9522, -75.1446),
    ]
    with pytest.raises(ValueError, match="name=latitude,longitude"):
        Settings(data_dir=tmp_path, place_names="Fishtown=39.9713")
    with pytest.raises(ValueError, match="name=latitude,longitude"):
        Settings(data_dir=tmp_path, place_names="=39.9,-75.1")


def test_the_public_request_log_page_prints_no_h3_id(client: TestClient, runtime: Runtime) -> None:
    officer = make_officer(runtime, make_agency(runtime))
    set_policy(runtime, moderator_review=False)
    active_request(runtime, officer, lat=HOME_LAT, lng=HOME_LNG)
    page = client.get("/transparency/requests", headers=HTML)
    assert page.status_code == 200 and 'id="requests-map-data"' in page.text
    assert_no_h3_id(page.text)
    # The published data keeps the cells, for anyone to recompute the figures.
    (row,) = client.get("/api/v1/transparency/requests").json()["requests"]
    assert row["cells"] and all(h3.is_valid_cell(c) for c in row["cells"])


def test_describing_a_cell_from_the_viewers_home() -> None:
    inside = geo.describe_cell(HOME_CELL, home=(HOME_LAT, HOME_LNG))
    assert inside == "an area of about 0.7 km² (0.3 sq mi) that includes your home"
    # From a home ~1 mile south of the cell's centre, the area lies north.
    south = (CENTRE_LAT - 0.0145, CENTRE_LNG)
    assert geo.describe_cell(HOME_CELL, home=south).endswith(
        ", its centre about 1.0 mi north of your home"
    )
    assert geo.compass_direction(0, 0, -1, -1) == "south-west"
    # A configured name near the cell comes first.
    assert geo.describe_cell(HOME_CELL, PLACES, home=south).endswith("around Riverside")


def test_away_from_named_places_the_feed_says_where_from_the_viewers_home(
    client: TestClient, runtime: Runtime
) -> None:
    author = make_person(runtime)
    set_home(runtime, author)
    viewer = make_person(runtime)
    set_home(runtime, viewer, radius_mi=5.0)
    # ~3.3 km north of the viewer's home, over 1.5 km from every named place.
    post = make_post(runtime, author, lat=HOME_LAT + 0.03, lng=HOME_LNG)
    assert geo.place_of(post.coarse_cell, PLACES) is None
    expected = geo.describe_cell(post.coarse_cell, home=(HOME_LAT, HOME_LNG))
    assert re.search(r", its centre about [12]\.\d mi north of your home$", expected)
    sign_in(client, viewer)
    feed = client.get("/feed", headers=HTML).text
    assert expected in feed
    assert_no_h3_id(feed, post.coarse_cell)
    page = client.get(f"/posts/{post.id}", headers=HTML).text
    assert place_text(page, "post-place") == f"Where: {expected}. {COARSE_NOTE}"
