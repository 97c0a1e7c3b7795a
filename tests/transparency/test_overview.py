"""The transparency overview (issue 15, item 9): the agency map and the charts of agencies
and requests per month on the page itself, and the audit log's daily heads shown as soon
as a day is over, with no worker run in between."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.transparency.portal import build_world

from doorstep import audit
from doorstep.db import utcnow
from doorstep.runtime import Runtime
from doorstep.transparency.models import AuditDailyHead


def test_overview_shows_the_map_and_monthly_charts(client: TestClient, runtime: Runtime) -> None:
    world = build_world(client, runtime)
    page = client.get("/transparency")
    assert page.status_code == 200
    data = re.search(
        r'<script type="application/json" id="agency-map-data">(.*?)</script>', page.text, re.S
    )
    assert data is not None
    features = json.loads(data.group(1))["features"]
    assert [f["properties"]["name"] for f in features] == [world.agency.name]
    for chart in ("overview-agencies-chart", "overview-requests-chart"):
        figure = re.search(rf'<figure class="chart" id="{chart}">(.*?)</figure>', page.text, re.S)
        assert figure is not None and "<svg" in figure.group(1), chart
    this_month = utcnow().strftime("%Y-%m")
    # Two requests went out this month (the draft did not); one agency takes part.
    assert f"<tr><td>{this_month}</td><td>1</td><td>2</td></tr>" in page.text
    # Nothing finer than the agency's jurisdiction reaches the page: no owner's position.
    for owner in world.owners.values():
        camera = owner.camera.camera
        for value in (camera.exact_latitude, camera.exact_longitude):
            assert f"{value:.5f}" not in page.text


def test_yesterdays_head_is_shown_once_the_day_is_over(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    yesterday = utcnow().date() - timedelta(days=1)
    moment = datetime.combine(yesterday, datetime.min.time(), UTC) + timedelta(hours=12)
    monkeypatch.setattr(audit.chain, "utcnow", lambda: moment)
    with runtime.db.transaction() as session:
        for i in range(3):
            audit.record(
                session=session,
                actor=audit.Actor.system("tests"),
                action=audit.AuditAction.POLICY_CHANGED,
                subject_type="thing",
                subject_id=str(i),
                is_public=True,
            )
    monkeypatch.undo()
    with runtime.db.read_only() as session:
        assert session.scalar(select(func.count()).select_from(AuditDailyHead)) == 0
    page = client.get("/transparency").text
    assert f"{yesterday.isoformat()} · record 3 · " in page
    with runtime.db.read_only() as session:
        days = list(session.scalars(select(AuditDailyHead.day)))
    assert days == [yesterday] and isinstance(days[0], date)
    assert yesterday.isoformat() in client.get("/transparency/audit").text
