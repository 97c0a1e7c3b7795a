"""Sending a clip unredacted is an explicit choice of its owner, and the public request
log counts every clip sent that way (and only those)."""

from __future__ import annotations

from pathlib import Path

import av
from fastapi.testclient import TestClient
from tests.factories import (
    asked_owners,
    run_jobs,
)

from doorstep.runtime import Runtime

LAT, LNG = 39.9526, -75.1652


def _logged(client: TestClient, request_id: str) -> dict[str, object]:
    rows = client.get("/api/v1/transparency/requests").json()["requests"]
    [row] = [r for r in rows if r["id"] == request_id]
    return dict(row)


def test_unredacted_clips_are_counted_in_the_public_log(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    asked = asked_owners(client, runtime, tmp_path, count=2)
    officer, request_id = asked.officer, asked.request_id
    (alice, alice_event), (bob, bob_event) = asked.owners
    share = f"/api/v1/inbox/requests/{request_id}/share"
    r = client.post(share, headers=alice.headers, json={"event_ids": [alice_event["id"]]})
    assert r.status_code == 200, r.text
    r = client.post(
        share,
        headers=bob.headers,
        json={"event_ids": [bob_event["id"]], "redaction": {"unredacted": True}},
    )
    assert r.status_code == 200, r.text
    assert _logged(client, request_id)["unredacted_clips"] == 0  # nothing has gone out yet
    run_jobs(runtime)
    row = _logged(client, request_id)
    assert row["shared"] == 2 and row["unredacted_clips"] == 1
    page = client.get("/transparency/requests").text
    assert 'data-label="Sent unredacted" class="num">1<' in page

    # The agency sees which clip was sent as recorded; the copy still carries no tags.
    evidence = client.get(f"/api/v1/requests/{request_id}/evidence", headers=officer.headers)
    chosen = {e["redaction"]["choices"]["unredacted"]: e for e in evidence.json()}
    assert set(chosen) == {True, False}
    assert chosen[True]["redaction"]["detectors"] == []
    assert chosen[False]["redaction"]["detectors"]
    video = client.get(chosen[True]["video_url"], headers=officer.headers).content
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(video)
    with av.open(str(copy)) as container:
        # Only the MP4's own structure (file type box, handler, language); no tags.
        assert set(container.metadata) <= {"major_brand", "minor_version", "compatible_brands"}
        [stream] = container.streams
        assert dict(stream.metadata) == {"language": "und", "handler_name": "VideoHandler"}


def test_bad_redaction_choices_are_refused_and_share_nothing(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    asked = asked_owners(client, runtime, tmp_path)
    request_id = asked.request_id
    [(owner, event)] = asked.owners
    share = f"/api/v1/inbox/requests/{request_id}/share"
    for bad, code in (
        ({"manual_boxes": [{"box": [50, 50, 10, 10], "end_s": 2}]}, "bad_box"),
        ({"manual_boxes": [{"box": [1, 1, 9, 9], "start_s": 3, "end_s": 2}]}, "bad_time_span"),
        ({"removals": [{"start_s": 0}]}, "bad_removal"),
    ):
        r = client.post(
            share, headers=owner.headers, json={"event_ids": [event["id"]], "redaction": bad}
        )
        assert r.status_code == 400 and r.json()["error"]["code"] == code, r.text
    assert client.get("/api/v1/shared", headers=owner.headers).json() == []
