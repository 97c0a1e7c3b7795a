"""An active request's post in the neighborhood feed: the owner's notice, told to
neighbors (the same template, its last sentence for those who were not asked)."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.factories import make_agency, make_officer, send_request, set_policy

from doorstep.feed.models import Post
from doorstep.footage.models import FootageRequest
from doorstep.footage.notice import render_notice
from doorstep.runtime import Runtime

LAT, LNG = 39.9526, -75.1652
TO_OWNERS = "Open the request to see your own clips from that window and answer"
TO_NEIGHBORS = "Camera owners in the area were asked directly and can answer on their request page"


def test_the_feed_post_is_the_notice_told_to_neighbors(
    client: TestClient, runtime: Runtime
) -> None:
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    set_policy(runtime, moderator_review=False)
    sent, _ = send_request(client, make_officer(runtime, agency), lat=LAT, lng=LNG)
    request_id = uuid.UUID(sent)
    with runtime.db.read_only() as session:
        post = session.scalars(select(Post).where(Post.footage_request_id == request_id)).one()
        request = session.get_one(FootageRequest, request_id)
        notice = render_notice(request=request, agency=agency)
    assert post.title == f"{agency.name} asks for footage: {request.incident_type.value}"
    lines = notice.body.split("\n")
    assert lines[-1].startswith(TO_OWNERS + ":")
    assert post.body.split("\n") == [*lines[:-1], lines[-1].replace(TO_OWNERS, TO_NEIGHBORS)]
