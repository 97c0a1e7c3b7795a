"""The authorization matrix, generated from the OpenAPI document.

Every operation is called as every principal. An operation with path parameters gets the
ids of real objects that belong to a second resident and a second agency (tests/fuzz/
world.py), so the answer must be a refusal: 401, 403 or 404, never a 2xx, never a 5xx.
An operation without path parameters acts on the caller's own things; there anonymous
callers and camera tokens must be refused, and role-gated operations must refuse the
other roles. A new endpoint is covered without a new test; if it is meant to be open to
others, it goes into one of the tables below with the reason."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fuzz.bodies import body_for
from tests.fuzz.document import operation, operations
from tests.fuzz.world import World

pytestmark = pytest.mark.fuzz

PRINCIPALS = ("anonymous", "camera", "resident", "officer", "moderator", "admin")
USERS = frozenset({"resident", "officer", "moderator", "admin"})
MODERATORS = frozenset({"moderator", "admin"})
EVERYONE = frozenset(PRINCIPALS)
REFUSED = {401, 403, 404}

# Operations on another person's or agency's object that a principal may call, and why.
# The answer then only has to be below 500 (a 409 for an action that does not apply to the
# object's state is fine).
OPEN_ON_OTHERS: dict[str, tuple[frozenset[str], str]] = {
    "PUT /api/v1/users/{user_id}/role": (frozenset({"admin"}), "the admin assigns roles"),
    "GET /api/v1/agencies/{agency_id}": (EVERYONE, "a verified agency's profile is public"),
    "POST /api/v1/agencies/{agency_id}/status": (
        frozenset({"admin"}),
        "the admin verifies and suspends agencies",
    ),
    "GET /api/v1/posts/{post_id}": (USERS, "a published post is read by every signed-in user"),
    "GET /api/v1/posts/{post_id}/comments": (USERS, "comments of a published post are read"),
    "POST /api/v1/posts/{post_id}/comments": (USERS, "neighbours comment on each other's posts"),
    "POST /api/v1/posts/{post_id}/reports": (USERS, "anyone signed in reports a post"),
    "POST /api/v1/comments/{comment_id}/reports": (USERS, "anyone signed in reports a comment"),
    "POST /api/v1/posts/{post_id}/hide": (MODERATORS, "moderation"),
    "POST /api/v1/posts/{post_id}/restore": (MODERATORS, "moderation"),
    "POST /api/v1/posts/{post_id}/approve": (MODERATORS, "moderation"),
    "POST /api/v1/posts/{post_id}/reject": (MODERATORS, "moderation"),
    "POST /api/v1/posts/{post_id}/reports/dismiss": (MODERATORS, "moderation"),
    "POST /api/v1/comments/{comment_id}/hide": (MODERATORS, "moderation"),
    "POST /api/v1/comments/{comment_id}/restore": (MODERATORS, "moderation"),
    "POST /api/v1/comments/{comment_id}/reports/dismiss": (MODERATORS, "moderation"),
    "POST /api/v1/agencies/{agency_id}/tips": (USERS, "a resident sends a tip to any agency"),
    "POST /api/v1/requests/{request_id}/review": (
        MODERATORS,
        "moderators review every agency's requests",
    ),
    "PUT /api/v1/agencies/{agency_id}/mute": (USERS, "an owner mutes any agency"),
    "DELETE /api/v1/agencies/{agency_id}/mute": (USERS, "an owner unmutes any agency"),
    "GET /api/v1/agencies/{agency_id}/policy": (EVERYONE, "an agency's policy is public"),
    "PATCH /api/v1/agencies/{agency_id}/policy": (
        frozenset({"admin"}),
        "the admin sets an agency's overrides (audited)",
    ),
    "PUT /api/v1/agencies/{agency_id}/statement": (
        frozenset({"admin"}),
        "the admin records an agency's statement (audited)",
    ),
    "GET /api/v1/transparency/agencies/{agency_id}": (EVERYONE, "the transparency report"),
    "GET /api/v1/agencies/{agency_id}/statement": (EVERYONE, "an agency's statement is public"),
    "GET /api/v1/transparency/datasets/{kind}": (EVERYONE, "accountability figures are public"),
    "GET /api/v1/transparency/datasets/{kind}/agencies.csv": (EVERYONE, "so is their CSV"),
    "GET /api/v1/agencies/{agency_id}/identifiers": (EVERYONE, "an agency's aliases are public"),
    "POST /api/v1/agencies/{agency_id}/identifiers": (
        frozenset({"admin"}),
        "the admin records an agency's aliases and codes (audited)",
    ),
    "DELETE /api/v1/agencies/{agency_id}/identifiers/{identifier_id}": (
        frozenset({"admin"}),
        "the admin removes them (audited)",
    ),
    "POST /api/v1/transparency/releases/{release_id}/withdraw": (
        frozenset({"admin"}),
        "the admin withdraws a dataset's release (audited, public)",
    ),
}

# Operations without path parameters that anonymous callers (and device tokens) may call.
PUBLIC: dict[str, str] = {
    "POST /api/v1/users": "sign-up",
    "POST /api/v1/tokens": "exchanging credentials for a token",
    "GET /api/v1/agencies": "the list of verified agencies",
    "GET /api/v1/policy": "the instance's request policy is public",
    "GET /api/v1/policy/history": "so are its earlier versions",
    "GET /api/v1/transparency/agencies": "the transparency report",
    "GET /api/v1/transparency/agencies/active-per-month": "the transparency report",
    "GET /api/v1/transparency/requests": "the public request log",
    "GET /api/v1/transparency/audit/head": "the audit chain's head is published",
    "GET /api/v1/transparency/audit/heads": "so are the daily heads",
    "GET /api/v1/transparency/datasets": "the accountability datasets and their releases",
    "GET /api/v1/transparency/releases": "every release, withdrawn ones too",
}

# Operations without path parameters that only some roles may call.
ROLE_GATED: dict[str, frozenset[str]] = {
    "GET /api/v1/moderation/queue": MODERATORS,
    "GET /api/v1/moderation/pending": MODERATORS,
    "GET /api/v1/moderation/settings": MODERATORS,
    "PUT /api/v1/moderation/settings": MODERATORS,
    "GET /api/v1/review-queue": MODERATORS,
    "PATCH /api/v1/policy": frozenset({"admin"}),
    "GET /api/v1/transparency/review": frozenset({"admin"}),
    "POST /api/v1/transparency/review/links": frozenset({"admin"}),
    "GET /api/v1/requests": frozenset({"officer"}),
    "POST /api/v1/requests": frozenset({"officer"}),
}


def _key(method: str, path: str) -> str:
    return f"{method} {path}"


def _path_names(method: str, path: str) -> list[str]:
    return [p["name"] for p in operation(method, path).get("parameters", []) if p["in"] == "path"]


def test_the_tables_name_only_operations_that_exist() -> None:
    known = {_key(m, p) for m, p in operations()}
    assert set(OPEN_ON_OTHERS) <= known, set(OPEN_ON_OTHERS) - known
    assert set(PUBLIC) <= known, set(PUBLIC) - known
    assert set(ROLE_GATED) <= known, set(ROLE_GATED) - known
    # the open-on-others table is for operations on someone's object, the others are not
    assert all(_path_names(*k.split(" ", 1)) for k in OPEN_ON_OTHERS)
    assert not any(_path_names(*k.split(" ", 1)) for k in (*PUBLIC, *ROLE_GATED))


def _expectation(method: str, path: str, principal: str) -> tuple[set[int] | None, str]:
    """The statuses allowed (None: anything below 500) and why."""
    key = _key(method, path)
    if _path_names(method, path):
        allowed, reason = OPEN_ON_OTHERS.get(key, (frozenset(), ""))
        if principal in allowed:
            return None, reason
        return REFUSED, "someone else's object"
    if key in PUBLIC:
        return None, PUBLIC[key]
    if principal in ("anonymous", "camera"):
        # (every device endpoint has a camera id in its path: handled above)
        return {401}, "needs a user's API token"
    if key in ROLE_GATED and principal not in ROLE_GATED[key]:
        return {401, 403, 404}, "needs another role"
    return None, "the caller's own things"


def _call(world: World, method: str, path: str, principal: str) -> Any:
    url = path
    for name in _path_names(method, path):
        url = url.replace("{" + name + "}", world.foreign[name])
    body = body_for(method, path)
    kwargs: dict[str, Any] = {"headers": world.headers[principal]}
    if body is not None:
        kwargs["json"] = body
    return world.client.request(method, url, **kwargs)


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize(("method", "path"), operations(), ids=lambda v: str(v))
def test_every_operation_refuses_what_is_not_the_callers(
    world: World, method: str, path: str, principal: str
) -> None:
    expected, reason = _expectation(method, path, principal)
    response = _call(world, method, path, principal)
    where = f"{method} {path} as {principal} ({reason}): {response.status_code} {response.text}"
    assert response.status_code < 500, where
    if expected is not None:
        assert response.status_code in expected, where
