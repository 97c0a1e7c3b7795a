"""Data versions (``doorstep.versions``): every way the application writes to a tracked
table raises the view's counter once, in the same transaction, and only when it commits."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, text, update

from doorstep import versions
from doorstep.accounts.models import User
from doorstep.agencies.models import Agency
from doorstep.db import COPY_FROM_ROWS, bulk_insert, utcnow
from doorstep.footage.models import Recipient, RecipientStatus
from doorstep.runtime import Runtime
from tests.factories import make_person
from tests.transparency.portal import (
    LAT,
    LNG,
    agency_with_officer,
    owner_with_event,
    send_request,
    set_policy,
)


def version(runtime: Runtime) -> int:
    with runtime.db.transaction() as session:
        return versions.current(session, versions.REQUEST_LOG)


def test_orm_and_statement_writes_raise_the_counter_at_commit(runtime: Runtime) -> None:
    assert version(runtime) == 0
    agency, _officer = agency_with_officer(runtime, lat=LAT, lng=LNG)
    made = version(runtime)
    assert made > 0  # the agency's rows were added

    with runtime.db.transaction() as session:  # an ORM change
        stored = session.get(Agency, agency.id)
        assert stored is not None
        stored.city = "Elsewhere"
    assert version(runtime) == made + 1

    with runtime.db.transaction() as session:  # an UPDATE statement through the session
        session.execute(update(Agency).where(Agency.id == agency.id).values(city="Again"))
    assert version(runtime) == made + 2

    with runtime.db.transaction() as session:  # a read, and a write to an untracked table
        session.get(Agency, agency.id)
        session.execute(update(User).values(display_name="Someone"))
    assert version(runtime) == made + 2

    with pytest.raises(RuntimeError), runtime.db.transaction() as session:  # rolled back
        session.execute(update(Agency).values(city="Never"))
        raise RuntimeError("undo")
    assert version(runtime) == made + 2

    with runtime.db.transaction() as session:  # a savepoint rolled back, the rest commits
        session.execute(update(Agency).values(city="Kept"))
        with pytest.raises(RuntimeError), session.begin_nested():
            session.execute(update(Agency).values(city="Dropped"))
            raise RuntimeError("undo the savepoint")
    assert version(runtime) > made + 2


def test_bulk_inserts_and_cascading_deletes_raise_the_counter(
    client: TestClient, runtime: Runtime
) -> None:
    set_policy(client, runtime, moderator_review=False)
    _agency, officer = agency_with_officer(runtime, lat=LAT, lng=LNG)
    owner_with_event(client, runtime)  # asked by the request
    sent = send_request(client, officer, case_number="VERSIONS-1")
    request_id = uuid.UUID(sent.id)
    people = [make_person(runtime) for _ in range(COPY_FROM_ROWS)]

    before = version(runtime)
    with runtime.db.transaction() as session:  # a COPY on PostgreSQL
        bulk_insert(
            session,
            Recipient,
            [
                {
                    "id": uuid.uuid4(),
                    "request_id": request_id,
                    "owner_id": p.user.id,
                    "camera_ids": [],
                    "status": RecipientStatus.pending,
                    "neighbor_number": n + 2,
                    "reveal_identity": False,
                    "answered_at": None,
                    "reminders_sent": 0,
                    "next_reminder_at": None,
                    "created_at": utcnow(),
                }
                for n, p in enumerate(people)
            ],
        )
    assert version(runtime) == before + 1

    with runtime.db.transaction() as session:  # the database deletes the owner's answer
        session.execute(delete(User).where(User.id == people[0].user.id))
    assert version(runtime) == before + 2

    with runtime.db.transaction() as session:  # SQL as text raises it itself
        session.execute(text("UPDATE footage_recipients SET reminders_sent = 1"))
        versions.bump(session, [versions.REQUEST_LOG])
    assert version(runtime) == before + 3
