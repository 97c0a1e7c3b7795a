"""The public portal: request log, agency map and agency pages, without signing in.

Checked on a small known dataset (tests.transparency.portal.build_world): only
requests that went out, totals right, no area finer than the public resolution, and
nothing of an owner, a camera or a position anywhere.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from pathlib import Path

import h3
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.factories import make_person, run_jobs, sample_clip
from tests.transparency.portal import (
    build_world,
    make_public_agency,
    secrets_of,
    set_policy,
)

from doorstep import audit
from doorstep.accounts.models import Role
from doorstep.audit import AuditRecord
from doorstep.footage.models import FootageRequest
from doorstep.runtime import Runtime

PUBLIC_PAGES = (
    "/transparency",
    "/transparency/agencies",
    "/transparency/requests",
    "/transparency/policy",
    "/transparency/audit",
)


def _no_secrets(text: str, secrets: list[str]) -> None:
    leaked = [s for s in secrets if s in text]
    assert leaked == []


def test_request_log_shows_only_sent_requests_with_totals(
    client: TestClient, runtime: Runtime
) -> None:
    world = build_world(client, runtime)
    r = client.get("/api/v1/transparency/requests")
    assert r.status_code == 200
    log = r.json()
    assert log["total"] == 2
    rows = {row["id"]: row for row in log["requests"]}
    assert set(rows) == {world.r1.id, world.r2.id}  # the draft is not in the log
    one, two = rows[world.r1.id], rows[world.r2.id]
    assert (one["asked"], one["shared"], one["declined"], one["no_answer"]) == (2, 1, 1, 0)
    assert (two["asked"], two["shared"], two["declined"], two["no_answer"]) == (1, 0, 0, 1)
    assert one["agency_name"] == "Testville PD" and one["case_number"] == "2026-000101"
    assert one["incident_type"] == "burglary" and one["status"] == "active"
    with runtime.db.transaction() as session:
        stored = session.get(FootageRequest, uuid.UUID(one["id"]))
        assert stored is not None
        stored_cells = sorted(stored.public_cells)
    assert one["cells"] == stored_cells and one["cell_resolution"] == 8
    assert all(h3.get_resolution(c) <= 8 for row in rows.values() for c in row["cells"])

    secrets = secrets_of(world)
    _no_secrets(r.text, secrets)
    for path in (
        *PUBLIC_PAGES,
        "/transparency/requests.csv",
        "/transparency/requests.geojson",
        f"/transparency/agencies/{world.agency.id}",
        f"/api/v1/transparency/agencies/{world.agency.id}",
    ):
        page = client.get(path)
        assert page.status_code == 200, path
        _no_secrets(page.text, secrets)
    html = client.get("/transparency/requests").text
    assert "2026-000101" in html and "2026-000102" in html and "2026-000103" not in html


def test_cells_never_finer_than_the_public_resolution(client: TestClient, runtime: Runtime) -> None:
    world = build_world(client, runtime)
    set_policy(client, runtime, agency_id=world.agency.id, public_h3_resolution=7)
    row = next(
        r
        for r in client.get("/api/v1/transparency/requests").json()["requests"]
        if r["id"] == world.r1.id
    )
    with runtime.db.transaction() as session:
        stored = session.scalars(
            select(FootageRequest.public_cells).where(FootageRequest.id == uuid.UUID(world.r1.id))
        ).one()
    assert row["cell_resolution"] == 7
    assert row["cells"] == sorted({h3.cell_to_parent(c, 7) for c in stored})
    feature = json.loads(client.get("/transparency/requests.geojson").text)["features"][0]
    assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert all(h3.get_resolution(c) <= 7 for c in feature["properties"]["cells"])


def test_downloads_parse_and_the_log_sorts(client: TestClient, runtime: Runtime) -> None:
    world = build_world(client, runtime)
    r = client.get("/transparency/requests.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {row["id"] for row in rows} == {world.r1.id, world.r2.id}
    first = next(row for row in rows if row["id"] == world.r1.id)
    assert (first["asked"], first["shared"], first["declined"]) == ("2", "1", "1")
    assert first["cells"].split() == sorted(first["cells"].split())
    geo = json.loads(client.get("/transparency/requests.geojson").text)
    assert geo["type"] == "FeatureCollection" and len(geo["features"]) == 2
    assert {f["properties"]["case_number"] for f in geo["features"]} == {
        "2026-000101",
        "2026-000102",
    }
    by_shared = client.get("/api/v1/transparency/requests?sort=shared&order=desc").json()
    assert [q["id"] for q in by_shared["requests"]] == [world.r1.id, world.r2.id]
    by_shared = client.get("/api/v1/transparency/requests?sort=shared&order=asc").json()
    assert [q["id"] for q in by_shared["requests"]] == [world.r2.id, world.r1.id]
    page = client.get("/transparency/requests?sort=case&order=asc").text
    assert page.index("2026-000101") < page.index("2026-000102")
    page = client.get("/transparency/requests?sort=case&order=desc").text
    assert page.index("2026-000102") < page.index("2026-000101")
    assert 'aria-sort="descending"' in page
    assert client.get("/transparency/requests?sort=owner").status_code == 400
    assert client.get("/api/v1/transparency/requests?sort=owner_id").status_code == 400
    assert client.get("/api/v1/openapi.json").status_code == 200
    only = client.get(f"/transparency/requests.csv?agency={world.agency.id}").text
    assert len(list(csv.DictReader(io.StringIO(only)))) == 2


def test_agency_map_lists_every_agency_that_took_part(client: TestClient, runtime: Runtime) -> None:
    make_public_agency(runtime, name="Alpha Police Department", state="PA")
    make_public_agency(
        runtime,
        name="Bravo County Sheriff's Office",
        state="NJ",
        lat=40.2,
        lng=-74.7,
        agency_type="sheriff",
        actions=("verify", "suspend"),
    )
    make_public_agency(runtime, name="Charlie PD", state="PA", actions=())
    make_public_agency(
        runtime,
        name="Delta Fire",
        state="PA",
        lat=40.0,
        lng=-76.3,
        agency_type="fire",
        actions=("verify", "end"),
    )

    def names(query: str = "") -> set[str]:
        r = client.get(f"/api/v1/transparency/agencies{query}")
        assert r.status_code == 200, r.text
        return {a["name"] for a in r.json()}

    assert names() == {"Alpha Police Department", "Bravo County Sheriff's Office", "Delta Fire"}
    assert names("?state=pa") == {"Alpha Police Department", "Delta Fire"}
    assert names("?status=suspended") == {"Bravo County Sheriff's Office"}
    assert names("?status=active") == {"Alpha Police Department"}
    assert names("?status=ended&state=PA") == {"Delta Fire"}
    assert client.get("/api/v1/transparency/agencies?status=applied").status_code == 400
    listed = client.get("/api/v1/transparency/agencies?status=ended").json()[0]
    assert listed["started_at"] and listed["ended_at"] and listed["agency_type"] == "fire"

    months = client.get("/api/v1/transparency/agencies/active-per-month").json()
    assert months[-1]["count"] == 3  # all three took part this month, at some time

    page = client.get("/transparency/agencies?state=PA")
    assert page.status_code == 200
    assert "Alpha Police Department" in page.text and "Bravo County" not in page.text
    assert "Charlie PD" not in page.text and '<svg class="bar-chart"' in page.text
    rows = list(csv.DictReader(io.StringIO(client.get("/transparency/agencies.csv").text)))
    assert {r["name"] for r in rows} == names()
    geo = json.loads(client.get("/transparency/agencies.geojson?status=suspended").text)
    (feature,) = geo["features"]
    assert feature["geometry"]["type"] == "Polygon" and feature["properties"]["state"] == "NJ"
    assert len(feature["properties"]["point"]) == 2


def test_agency_page_figures(client: TestClient, runtime: Runtime, tmp_path: Path) -> None:
    world = build_world(client, runtime)
    with runtime.db.transaction() as session:
        # What the feed writes for each official post (its own tests cover the posting).
        audit.record(
            session=session,
            actor=audit.Actor.system(),
            action=audit.AuditAction.FEED_OFFICIAL_POST,
            subject_type="feed_post",
            subject_id="p1",
            is_public=True,
            details={"agency_id": str(world.agency.id), "category": "safety"},
        )
    set_policy(client, runtime, agency_id=world.agency.id, monthly_cap=5)
    # o1's device uploads the clip he shared; the officer views it and exports the bundle.
    cam = world.owners["o1"].camera
    (upload,) = client.get(f"/api/v1/cameras/{cam.camera.id}/uploads", headers=cam.headers).json()
    with sample_clip(tmp_path).open("rb") as fh:
        r = client.post(
            f"/api/v1/cameras/{cam.camera.id}/uploads/{upload['evidence_id']}",
            headers=cam.headers,
            files={"file": ("clip.mp4", fh, "video/mp4")},
        )
    assert r.status_code == 201, r.text
    run_jobs(runtime)  # its redacted copy
    officer = world.officer.headers
    (item,) = client.get(f"/api/v1/requests/{world.r1.id}/evidence", headers=officer).json()
    assert client.get(item["video_url"], headers=officer).status_code == 200
    assert client.post(f"/api/v1/requests/{world.r1.id}/export", headers=officer).status_code == 200
    figures = client.get(f"/api/v1/transparency/agencies/{world.agency.id}").json()
    assert figures["requests_total"] == 2 and figures["requests_last_30_days"] == 2
    assert (figures["asked"], figures["shared"], figures["declined"]) == (3, 1, 1)
    assert abs(figures["share_rate"] - 1 / 3) < 1e-9
    assert figures["clips_shared"] == 1 and figures["official_posts"] == 1
    assert (figures["evidence_views"], figures["evidence_exports"]) == (1, 1)
    assert figures["participating_cameras"] == 3  # o1, o2, o3; o4 refuses, o5 is outside
    assert figures["policy_overrides"] == {"monthly_cap": 5}
    assert figures["evidence_retention_days"] == 180
    assert [m["count"] for m in figures["monthly_requests"]] == [2]

    admin = make_person(runtime, role=Role.admin)
    body = {
        "acceptable_use": "Footage is used only to investigate the case named.",
        "prohibited_uses": ["Facial recognition", " Facial recognition ", "Sharing with ICE"],
        "reason": "Council resolution 7",
    }
    path = f"/api/v1/agencies/{world.agency.id}/statement"
    assert client.put(path, headers=world.officer.headers, json=body).status_code == 403
    r = client.put(path, headers=admin.headers, json=body)
    assert r.status_code == 200, r.text
    assert r.json()["prohibited_uses"] == ["Facial recognition", "Sharing with ICE"]
    assert "immigration_enforcement" in r.json()["refused_by_policy"]
    with runtime.db.transaction() as session:
        change = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "agency.statement_changed")
        ).one()
        assert change.is_public and change.details["reason"] == "Council resolution 7"

    page = client.get(f"/transparency/agencies/{world.agency.id}").text
    for text in (
        "Footage is used only to investigate",
        "Sharing with ICE",
        ">33%<",
        'id="fig-cameras">3<',
        'id="fig-posts">1<',
        'id="fig-exports">1<',
        "monthly cap",
        "2026-000102",
    ):
        assert text in page, text
    never = make_public_agency(runtime, name="Echo PD", actions=())
    assert client.get(f"/transparency/agencies/{never.id}").status_code == 404
    assert client.get(f"/api/v1/transparency/agencies/{never.id}").status_code == 404


def test_policy_page_shows_rules_and_history(client: TestClient, runtime: Runtime) -> None:
    agency = make_public_agency(runtime, name="Foxtrot PD")
    set_policy(client, runtime, max_area_sq_mi=0.3)
    set_policy(client, runtime, agency_id=agency.id, supervisor_approval=True)
    page = client.get("/transparency/policy")
    assert page.status_code == 200
    assert (
        'data-setting="max_area_sq_mi"><td>Largest area of a request (sq mi)</td><td>0.3<'
        in page.text
    )
    assert "Foxtrot PD" in page.text and "Supervisor approval required" in page.text
    assert page.text.count('<td data-label="Reason">test</td>') == 2
