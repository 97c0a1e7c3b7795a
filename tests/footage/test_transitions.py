"""The transition table of a footage request (footage/lifecycle.py), read as data: the
statuses it leads to, and the refusal each action gives a request in another status."""

from __future__ import annotations

import uuid

import pytest

from doorstep.errors import Conflict, Forbidden
from doorstep.footage import lifecycle
from doorstep.footage.lifecycle import TRANSITIONS, Action
from doorstep.footage.models import FootageRequest, RequestStatus

FINAL = {RequestStatus.closed, RequestStatus.withdrawn, RequestStatus.rejected}


def test_every_status_is_reached_and_only_final_ones_lead_nowhere() -> None:
    sources = {s for t in TRANSITIONS.values() for s in t.sources}
    targets = {t.target for t in TRANSITIONS.values()}
    assert sources | targets == set(RequestStatus)
    assert set(RequestStatus) - sources == FINAL


@pytest.mark.parametrize(
    ("action", "status", "code"),
    [
        (Action.submit, RequestStatus.active, "not_a_draft"),
        (Action.approve, RequestStatus.draft, "not_pending_approval"),
        (Action.publish, RequestStatus.pending_approval, "not_pending_review"),
        (Action.reject, RequestStatus.active, "not_pending_review"),
        (Action.close, RequestStatus.pending_review, "not_active"),
        (Action.expire, RequestStatus.closed, "not_active"),
        (Action.withdraw, RequestStatus.active, "already_published"),
    ],
)
def test_an_action_on_a_request_in_another_status_is_refused(
    action: Action, status: RequestStatus, code: str
) -> None:
    request = FootageRequest(status=status, created_by=uuid.uuid4())
    with pytest.raises(Conflict) as refused:
        lifecycle.check(request=request, action=action, actor_id=uuid.uuid4())
    assert refused.value.code == code


def test_the_author_does_not_approve_his_own_request() -> None:
    author = uuid.uuid4()
    request = FootageRequest(status=RequestStatus.pending_approval, created_by=author)
    lifecycle.check(request=request, action=Action.approve, actor_id=uuid.uuid4())
    with pytest.raises(Forbidden) as refused:
        lifecycle.check(request=request, action=Action.approve, actor_id=author)
    assert refused.value.code == "self_approval"
