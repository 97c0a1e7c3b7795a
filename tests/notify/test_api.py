"""The inbox API: a user reaches his own notifications and nobody else's."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from tests.factories import make_person

from doorstep.notify import service as notify_service
from doorstep.notify.models import Notification
from doorstep.runtime import Runtime


def _alert(runtime: Runtime, user_id: uuid.UUID) -> uuid.UUID:
    with runtime.db.transaction() as session:
        note = notify_service.alert_user(
            session=session, user_id=user_id, topic="test", title="Hello", body="Body"
        )
        assert note is not None
        return note.id


def test_marking_another_users_notification_read_is_not_found(
    client: TestClient, runtime: Runtime
) -> None:
    owner, stranger = make_person(runtime), make_person(runtime)
    note_id = _alert(runtime, owner.user.id)

    r = client.post(f"/api/v1/notifications/{note_id}/read", headers=stranger.headers)
    missing = client.post(f"/api/v1/notifications/{uuid.uuid4()}/read", headers=stranger.headers)

    # The same answer as for an id that does not exist: no existence oracle.
    assert r.status_code == 404 and missing.status_code == 404
    assert r.json() == missing.json()
    assert r.json()["error"]["code"] == "not_found"
    with runtime.db.transaction() as session:
        note = session.get(Notification, note_id)
        assert note is not None and note.read_at is None


def test_marking_ones_own_notification_read(client: TestClient, runtime: Runtime) -> None:
    owner = make_person(runtime)
    note_id = _alert(runtime, owner.user.id)

    r = client.post(f"/api/v1/notifications/{note_id}/read", headers=owner.headers)

    assert r.status_code == 204
    unread = client.get("/api/v1/notifications?unread=true", headers=owner.headers).json()
    assert unread == []
