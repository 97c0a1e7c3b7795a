"""Schemathesis over the whole OpenAPI document, on SQLite and PostgreSQL, as each kind
of principal: anonymous, a resident, an officer with two-factor sign-in, a moderator, an
admin, and a camera's token on the device endpoints.

A call fails the test on a 5xx, on a body that does not match the documented schema and
on a status the operation does not document. Generation is derandomized (the same cases
every run) and only the generate phase runs (no explicit examples, no shrinking), so a
run costs a fixed number of calls: DOORSTEP_FUZZ_EXAMPLES per operation and principal
(default 2). The fuller run, with stateful links and totals, is bench/fuzz.py."""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import Case

from tests.fuzz.calls import CHECKS, aim
from tests.fuzz.document import openapi_document
from tests.fuzz.world import DEVICE_PATHS, PEOPLE, World

pytestmark = pytest.mark.fuzz

EXAMPLES = int(os.environ.get("DOORSTEP_FUZZ_EXAMPLES", "2"))
BUDGET = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    # Generated cases only: explicit examples and shrinking would add calls without bound.
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)

SCHEMA = schemathesis.openapi.from_dict(openapi_document())
DEVICE_SCHEMA = schemathesis.openapi.from_dict(openapi_document()).include(
    func=lambda ctx: ctx.operation.path in DEVICE_PATHS
)


def _call_and_validate(case: Case[Any], world: World, principals: tuple[str, ...]) -> None:
    """The same case as each principal in turn; every principal's failure is reported."""
    failed: list[str] = []
    for principal in principals:
        aim(case, world, principal)
        try:
            case.call_and_validate(
                app=world.client.app,
                base_url="https://testserver",
                headers=dict(world.headers[principal]),
                checks=CHECKS,
            )
        except (AssertionError, BaseExceptionGroup) as exc:
            failed.append(f"--- as {principal}:\n{exc}")
    if failed:
        raise AssertionError("\n".join(failed))


# One test per operation and database; each generated case is sent as every person (the
# generation is the costly part, and the ids are the same for all of them).
@SCHEMA.parametrize()
@BUDGET
def test_every_operation_as_every_person(case: Case[Any], world: World) -> None:
    _call_and_validate(case, world, PEOPLE)


@DEVICE_SCHEMA.parametrize()
@BUDGET
def test_device_endpoints_with_a_camera_token(case: Case[Any], world: World) -> None:
    _call_and_validate(case, world, ("camera",))
