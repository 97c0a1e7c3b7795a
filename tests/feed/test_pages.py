"""The feed's pages, driven through their HTML forms."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from doorstep import geo
from doorstep.feed.models import Comment, Home, Post, Report, ReportReason
from doorstep.jobs import job_registry
from doorstep.notify.worker import Worker
from doorstep.runtime import Runtime
from tests.factories import (
    HOME_LAT,
    HOME_LNG,
    HTML,
    csrf_of,
    form_error,
    make_camera,
    make_person,
    make_post,
    sample_clip,
    set_home,
    sign_in,
    upload_clip,
)


def test_home_form_then_the_feed(client: TestClient, runtime: Runtime) -> None:
    person = make_person(runtime)
    csrf = sign_in(client, person.user.email)
    page = client.get("/feed", headers=HTML)
    assert page.status_code == 200 and 'id="no-home"' in page.text

    form = client.get("/feed/home", headers=HTML)
    assert 'id="home-map"' in form.text and 'src="/vendor/leaflet/leaflet.js"' in form.text
    assert 'name="radius_mi" value="1.0"' in form.text
    r = client.post("/feed/home", data={"csrf_token": csrf, "latitude": "", "longitude": ""})
    assert r.status_code == 400 and "Place your home on the map" in form_error(r.text)
    r = client.post(
        "/feed/home",
        data={
            "csrf_token": csrf,
            "latitude": str(HOME_LAT),
            "longitude": str(HOME_LNG),
            "radius_mi": "9",
        },
    )
    assert r.status_code == 400 and form_error(r.text).startswith("Radius")
    r = client.post(
        "/feed/home",
        data={
            "csrf_token": csrf,
            "latitude": str(HOME_LAT),
            "longitude": str(HOME_LNG),
            "radius_mi": "2.5",
            "alert_categories": ["crime", "lost_found_pet"],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/feed?notice=home_saved"
    with runtime.db.transaction() as session:
        home = session.get(Home, person.user.id)
        assert home is not None and round(home.radius_m) == round(2.5 * 1609.344)
        assert home.alert_categories == ["crime", "lost_found_pet"]
    again = client.get("/feed/home", headers=HTML)
    assert 'value="crime" checked' in again.text and f'value="{HOME_LAT}"' in again.text

    author = make_person(runtime)
    set_home(runtime, author)
    posts = [make_post(runtime, author, title=f"Post number {i}") for i in range(32)]
    page = client.get("/feed", headers=HTML)
    assert page.status_code == 200 and "Post number 31" in page.text
    assert "Post number 1<" not in page.text  # page two
    older = re.search(r'href="(/feed\?cursor=[^"]+)" rel="next"', page.text)
    assert older
    second = client.get(older.group(1).replace("&amp;", "&"), headers=HTML)
    assert "Post number 1<" in second.text and "Post number 0<" in second.text
    assert "Post number 31" not in second.text
    filtered = client.get("/feed?category=community", headers=HTML)
    assert "No posts match these filters." in filtered.text
    bad = client.get("/feed?from=yesterday", headers=HTML)
    assert bad.status_code == 400 and "not a date" in form_error(bad.text)
    assert len(posts) == 32


def test_map_page_carries_coarse_cells_for_the_map(client: TestClient, runtime: Runtime) -> None:
    person = make_person(runtime)
    set_home(runtime, person)
    post = make_post(runtime, person, title="Loose dog on 5th")
    sign_in(client, person.user.email)
    page = client.get("/feed/map", headers=HTML)
    assert page.status_code == 200
    assert 'id="feed-map"' in page.text and 'src="/static/feed.js"' in page.text
    data = re.search(
        r'<script type="application/json" id="feed-geojson">(.*?)</script>', page.text, re.S
    )
    assert data
    geojson = json.loads(data.group(1))
    (feature,) = geojson["features"]
    assert feature["geometry"] == json.loads(json.dumps(geo.cell_geojson(post.coarse_cell)))
    assert "Loose dog on 5th" in page.text  # the list under the map works without tiles


def test_post_with_clip_comment_edit_report_delete(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    author = make_person(runtime)
    set_home(runtime, author)
    cam = make_camera(runtime, author.user, name="Porch")
    clip = upload_clip(client, cam, sample_clip(tmp_path)).json()["clip"]
    csrf = sign_in(client, author.user.email)

    form = client.get(f"/posts/new?clip={clip['id']}", headers=HTML)
    assert f'value="{clip["id"]}" checked' in form.text and "Porch" in form.text
    r = client.post(
        "/posts/new",
        data={
            "csrf_token": csrf,
            "category": "crime",
            "title": "Package taken from the porch",
            "body": "Around noon.",
            "person_behavior": "Walked up the steps and took the box.",
            "person_clothing": "green rain jacket",
            "person_build": "tall, thin",
            "clip_id": clip["id"],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    post_url = r.headers["location"].split("?")[0]
    post_id = post_url.rsplit("/", 1)[1]
    page = client.get(post_url, headers=HTML)
    assert "Preparing the clip" in page.text and f"/media/posts/{post_id}/clip.mp4" not in page.text
    Worker(runtime, job_registry(runtime.settings, periodic=False)).drain()  # the clip's copy
    page = client.get(post_url, headers=HTML)
    assert f'src="/media/posts/{post_id}/clip.mp4"' in page.text
    assert "green rain jacket" in page.text and "Walked up the steps" in page.text
    assert "Report this post" not in page.text  # not his own

    r = client.post(
        f"{post_url}/edit",
        data={
            "csrf_token": csrf,
            "category": "crime",
            "title": "Package taken from the porch",
            "body": "Around noon; the box was found later.",
            "person_behavior": "Walked up the steps and took the box.",
            "person_clothing": "green rain jacket",
            "person_build": "tall, thin",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(post_url, headers=HTML)
    assert 'class="edited"' in page.text
    assert f'src="/media/posts/{post_id}/clip.mp4"' in page.text  # the clip and its copy kept

    neighbor = make_person(runtime)
    set_home(runtime, neighbor)
    client.cookies.clear()
    csrf = sign_in(client, neighbor.user.email)
    page = client.get(post_url, headers=HTML)
    assert "Report this post" in page.text and "Profiling" in page.text
    r = client.post(
        f"{post_url}/comments",
        data={"csrf_token": csrf, "body": "Glad it turned up"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    with runtime.db.transaction() as session:
        comment = session.scalar(select(Comment))
        assert comment is not None
    r = client.post(
        f"/comments/{comment.id}/edit",
        data={"csrf_token": csrf, "body": "Glad!"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(post_url, headers=HTML)
    assert "Glad!" in page.text and page.text.count('class="edited"') == 2

    r = client.post(
        f"{post_url}/report",
        data={"csrf_token": csrf, "reason": "profiling", "note": "describes looks"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith("notice=reported")
    r = client.post(f"{post_url}/report", data={"csrf_token": csrf, "reason": "profiling"})
    assert r.status_code == 409 and "already reported" in form_error(r.text)
    with runtime.db.transaction() as session:
        report = session.scalar(select(Report))
        assert report is not None and report.reason == ReportReason.profiling

    r = client.post(
        f"/comments/{comment.id}/delete", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303
    assert client.post(f"{post_url}/delete", data={"csrf_token": csrf}).status_code == 403

    client.cookies.clear()
    csrf = sign_in(client, author.user.email)
    r = client.post(f"{post_url}/delete", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/feed/mine?notice=post_deleted"
    with runtime.db.transaction() as session:
        assert session.scalar(select(Post)) is None


def test_pages_need_sign_in_and_csrf(client: TestClient, runtime: Runtime) -> None:
    r = client.get("/feed", headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/signin?next=/feed")
    person = make_person(runtime)
    set_home(runtime, person)
    sign_in(client, person.user.email)
    r = client.post(
        "/posts/new",
        data={"csrf_token": "wrong", "category": "safety", "title": "Hello", "body": "World"},
    )
    assert r.status_code == 403
    assert csrf_of(client.get("/posts/new", headers=HTML).text)
