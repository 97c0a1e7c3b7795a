"""One generated call: the principal's credentials, real ids where the case has a valid
one, the response checked against the document. Shared by the test suite and
bench/fuzz.py."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz.world import World

# What fails a call: a 5xx, a body that does not match the documented schema (or content
# type), and a status the operation does not document.
CHECKS: list[Callable[..., Any]] = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]
CHECK_NAMES = {
    "not_a_server_error": "server_error",
    "status_code_conformance": "undocumented_status",
    "response_schema_conformance": "schema_mismatch",
    "content_type_conformance": "schema_mismatch",
}


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def aim(case: Case[Any], world: World, principal: str) -> None:
    """Point a well-formed id at a real object: the camera principal's own camera, or for
    a person the stranger's object of that kind (so moderators and admins reach their real
    powers, and everyone else the ownership checks). Malformed ids stay as generated."""
    params = case.path_parameters or {}
    for name, value in list(params.items()):
        if not _is_uuid(value):
            continue
        if principal == "camera" and name == "camera_id":
            params[name] = str(world.own_camera_id)
        elif name in world.foreign:
            params[name] = world.foreign[name]


@dataclass
class Outcome:
    status: int
    failures: list[str]
    body: Any


def call(case: Case[Any], world: World, principal: str, *, aim_ids: bool = True) -> Outcome:
    """Make the call in process and check it; failures as check names (CHECK_NAMES)."""
    if aim_ids:
        aim(case, world, principal)
    headers = dict(world.headers[principal])
    response = case.call(app=world.client.app, base_url="https://testserver", headers=headers)
    failures: list[str] = []
    for check in CHECKS:
        try:
            case.validate_response(response, checks=[check], headers=headers)
        # One failed check is an AssertionError, several a group (not an Exception).
        except (AssertionError, BaseExceptionGroup):
            failures.append(CHECK_NAMES[check.__name__])
    try:
        body = response.json()
    except ValueError:
        body = None
    return Outcome(status=response.status_code, failures=sorted(set(failures)), body=body)
