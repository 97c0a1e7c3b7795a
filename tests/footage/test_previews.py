"""The owner's preview of the copy an agency would receive: through the API and the pages,
his alone, and sharing from it with exactly the choices he previewed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.factories import (
    HTML,
    asked_owners,
    browser,
    form_error,
    make_person,
    run_jobs,
    sign_in,
)

from doorstep.footage.models import Evidence
from doorstep.runtime import Runtime

LAT, LNG = 39.9526, -75.1652


def _asked_owner(client: TestClient, runtime: Runtime, tmp_path: Path) -> tuple[Any, str, str]:
    asked = asked_owners(client, runtime, tmp_path)
    [(owner, event)] = asked.owners
    return owner, asked.request_id, str(event["id"])


def test_preview_through_the_api_is_the_owners_alone(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    owner, request_id, event_id = _asked_owner(client, runtime, tmp_path)
    base = f"/api/v1/inbox/requests/{request_id}/events/{event_id}/previews"
    choices = {"manual_boxes": [{"box": [4, 4, 40, 30], "start_s": 0, "end_s": 1}]}
    r = client.post(base, headers=owner.headers, json=choices)
    assert r.status_code == 202 and r.json()["status"] == "preparing", r.text
    preview_id = r.json()["id"]
    assert r.json()["video_url"] is None
    run_jobs(runtime)
    ready = client.get(f"{base}/{preview_id}", headers=owner.headers).json()
    assert ready["status"] == "ready" and ready["progress"] == 1.0
    assert ready["manifest"]["hidden"]["manual_boxes"] == 1
    assert ready["manifest"]["manual_boxes"][0]["box"] == [4.0, 4.0, 40.0, 30.0]
    video = client.get(ready["video_url"], headers=owner.headers)
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    # The same choices again: the same preview, nothing made twice.
    again = client.post(base, headers=owner.headers, json=choices).json()
    assert again["id"] == preview_id and again["status"] == "ready"
    # Nobody else sees it, and nothing reached the agency.
    stranger = make_person(runtime)
    assert client.get(ready["video_url"], headers=stranger.headers).status_code == 404
    assert client.post(base, headers=stranger.headers, json={}).status_code == 404
    assert client.get(f"{base}/not-a-preview", headers=owner.headers).status_code == 404
    with runtime.db.read_only() as session:
        assert session.scalars(select(Evidence)).all() == []


def test_preview_page_then_share_with_the_previewed_choices(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    owner, request_id, event_id = _asked_owner(client, runtime, tmp_path)
    page = browser(client)
    csrf = sign_in(page, owner, runtime)
    answer = page.get(f"/requests/{request_id}/answer", headers=HTML).text
    here = f"/requests/{request_id}/events/{event_id}/preview"
    assert f'href="{here}"' in answer and 'name="hide_faces"' in answer
    form = {
        "csrf_token": csrf,
        "event_id": event_id,
        "redaction_form": "1",
        "hide_faces": "1",
        "hide_zones": "1",
        "boxes": "not a box",
    }
    r = page.post(here, data=form, headers=HTML)
    assert r.status_code == 400 and "Box line 1" in form_error(r.text)
    r = page.post(here, data={**form, "boxes": "4 4 40 30 0 1.5"}, follow_redirects=False)
    assert r.status_code == 303
    shown = page.get(r.headers["location"], headers=HTML).text
    assert "Preparing the preview" in shown and 'http-equiv="refresh"' in shown
    run_jobs(runtime)
    shown = page.get(r.headers["location"], headers=HTML).text
    assert f'name="csrf_token" value="{csrf}"' in shown  # the form carries its token
    assert 'id="original"' in shown and 'id="redacted"' in shown
    assert re.search(r"Hidden: 0 faces?,\s+0 text regions?,\s+0 privacy zones?,\s+1 box", shown)
    assert ">4 4 40 30 0 1.5<" in shown  # the box, shown again to edit
    assert 'name="hide_text" value="1" checked' not in shown  # text left as he chose
    # Share from the preview: the agency's copy is made with the same choices.
    r = page.post(
        f"/requests/{request_id}/share",
        data={**form, "boxes": "4 4 40 30 0 1.5", "remove_track": "face-7"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    with runtime.db.read_only() as session:
        item = session.scalars(select(Evidence)).one()
        chosen = dict(item.redaction_request or {})
    assert chosen["faces"] is True and chosen["text"] is False and chosen["zones"] is True
    assert chosen["manual_boxes"] == [{"box": [4.0, 4.0, 40.0, 30.0], "start_s": 0.0, "end_s": 1.5}]
    assert chosen["removals"] == [{"track_id": "face-7"}]
    assert runtime.storage.keys(prefix="previews/") == []  # done with once shared
    run_jobs(runtime)
    history = page.get("/requests/shared", headers=HTML).text
    assert "Hidden in the agency's copy: 0 face(s), 0 text region(s)" in history
    assert "1 box(es) you drew; 1 detection(s) you left visible" in history
