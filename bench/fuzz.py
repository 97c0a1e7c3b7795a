"""Fuller fuzzing: schemathesis over every operation, as every principal, plus stateful links.

    .venv/bin/python -m bench.fuzz --db sqlite|postgres [--examples 100] [--principals ...]

Builds the populated instance the test suite fuzzes (tests/fuzz/world.py: anonymous, a
resident, an officer with two-factor sign-in, a moderator, an admin, a camera token, and a
stranger and a second agency whose objects the others may not touch) on a fresh database:
a SQLite file, or a PostgreSQL database of its own (doorstep_bench_fuzz_<random> or --database
NAME, dropped at the end unless --keep) on the server of --pg-url. Then for each principal:

1. every operation (the camera token: the device endpoints) gets --examples generated
   cases, positive and negative, a well-formed id pointed at a real object of the stranger;
2. stateful links: the ids of what the principal created in pass 1 (a 2xx answer with an
   ``id`` from ``POST .../<things>``) are fed into the path parameters of the operations
   that take them (``{thing_id}``), and those get --examples cases each.

Every answer is checked: 5xx, a body that does not match the documented schema, a status
the operation does not document. Totals per principal and database, and each distinct
failure (operation, check, status), are printed and written to
bench/results/fuzz-<db>-<UTC timestamp>.json. The CI-sized run is tests/fuzz/.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The world is built with the test suite's factories.
sys.path.insert(0, str(ROOT))

import schemathesis  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis import APIOperation, Case, GenerationMode  # noqa: E402
from schemathesis.core.result import Ok  # noqa: E402
from tests.conftest import PG_ADMIN_URL, make_settings  # noqa: E402
from tests.fuzz.calls import call  # noqa: E402
from tests.fuzz.document import openapi_document  # noqa: E402
from tests.fuzz.world import DEVICE_PATHS, PEOPLE, World, build_world  # noqa: E402

from bench import databases, output  # noqa: E402
from bench.machine import machine  # noqa: E402
from doorstep.app import create_app  # noqa: E402
from doorstep.migrate import upgrade  # noqa: E402
from doorstep.runtime import Runtime  # noqa: E402

PRINCIPALS = (*PEOPLE, "camera")


def _thing_id(path: str) -> str | None:
    """``/api/v1/posts/{post_id}/comments`` makes comments: ``comment_id``."""
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if "{" in last:
        return None
    last = last.replace("-", "_")
    singular = last[:-3] + "y" if last.endswith("ies") else last.removesuffix("s")
    return f"{singular}_id"


def _path_names(operation: APIOperation[Any, Any, Any, Any]) -> list[str]:
    return [p.name for p in operation.path_parameters]


class Tally:
    """What one principal's calls got back."""

    def __init__(self) -> None:
        self.calls = 0
        self.statuses: Counter[int] = Counter()
        self.checks: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.failures: dict[tuple[str, str, int], int] = {}
        self.created: dict[str, str] = {}

    def record(
        self,
        operation: APIOperation[Any, Any, Any, Any],
        case: Case[Any],
        status: int,
        failures: list[str],
    ) -> None:
        self.calls += 1
        self.statuses[status] += 1
        for name in failures:
            self.checks[name] += 1
            key = (operation.label, name, status)
            self.failures[key] = self.failures.get(key, 0) + 1

    def summary(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "server_errors": self.checks["server_error"],
            "schema_mismatches": self.checks["schema_mismatch"],
            "undocumented_statuses": self.checks["undocumented_status"],
            "exceptions": dict(self.errors),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "stateful_ids": sorted(self.created),
            "failures": [
                {"operation": op, "check": check, "status": status, "calls": n}
                for (op, check, status), n in sorted(self.failures.items())
            ],
        }


def _strategy(operation: APIOperation[Any, Any, Any, Any], fixed: dict[str, str] | None) -> Any:
    modes = [operation.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed)]
    # An operation with nothing to negate has no negative cases.
    with contextlib.suppress(Exception):
        modes.append(operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=fixed))
    return st.one_of(modes)


def _fuzz_operation(
    world: World,
    principal: str,
    operation: APIOperation[Any, Any, Any, Any],
    tally: Tally,
    *,
    examples: int,
    run_seed: int,
    fixed: dict[str, str] | None,
) -> None:
    @seed(run_seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_strategy(operation, fixed))
    def fuzz(case: Case[Any]) -> None:
        try:
            outcome = call(case, world, principal, aim_ids=fixed is None)
        except Exception as exc:  # the app raised through the transport: count it as a 5xx
            tally.errors[type(exc).__name__] += 1
            tally.record(operation, case, 500, ["server_error"])
            return
        tally.record(operation, case, outcome.status, outcome.failures)
        body = outcome.body
        thing = _thing_id(operation.path)
        if (
            operation.method.upper() == "POST"
            and 200 <= outcome.status < 300
            and thing
            and isinstance(body, dict)
            and "id" in body
        ):
            tally.created.setdefault(thing, str(body["id"]))

    fuzz()


def _operations(principal: str) -> list[APIOperation[Any, Any, Any, Any]]:
    schema = schemathesis.openapi.from_dict(openapi_document())
    found = [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]
    if principal == "camera":
        return [op for op in found if op.path in DEVICE_PATHS]
    return found


def fuzz_principal(
    world: World, principal: str, *, examples: int, run_seed: int, stateful: bool = True
) -> dict[str, Any]:
    tally = Tally()
    operations = _operations(principal)
    for operation in operations:
        _fuzz_operation(
            world, principal, operation, tally, examples=examples, run_seed=run_seed, fixed=None
        )
    linked = 0
    if stateful:
        if principal == "camera":
            tally.created["camera_id"] = str(world.own_camera_id)
        for operation in operations:
            names = _path_names(operation)
            if names and all(n in tally.created for n in names):
                linked += 1
                fixed = {n: tally.created[n] for n in names}
                _fuzz_operation(
                    world,
                    principal,
                    operation,
                    tally,
                    examples=examples,
                    run_seed=run_seed,
                    fixed=fixed,
                )
    result = tally.summary()
    result["operations"] = len(operations)
    result["linked_operations"] = linked
    return result


@output.warnings_only
def run(
    *,
    db: str,
    examples: int = 100,
    principals: tuple[str, ...] = PRINCIPALS,
    pg_url: str = PG_ADMIN_URL,
    run_seed: int = 11,
    stateful: bool = True,
    database: str | None = None,
    keep: bool = False,
) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="doorstep-bench-fuzz-"))
    name = database or databases.scratch_name("fuzz")
    try:
        with databases.scratch_database(
            db, folder=folder, pg_url=pg_url, name=name, keep=keep
        ) as url:
            upgrade(url)
            # The world's webhook points at TEST-NET-1, allowlisted as on-premises (never reached).
            runtime = Runtime(make_settings(folder, url, webhook_allowed_networks=["192.0.2.0/24"]))
            try:
                results: dict[str, Any] = {
                    "benchmark": "fuzz",
                    "started_at": datetime.now(UTC).isoformat(),
                    "machine": machine(),
                    "database": db,
                    "examples_per_operation": examples,
                    "seed": run_seed,
                    "schemathesis": importlib.metadata.version("schemathesis"),
                }
                return results | _fuzz_all(
                    runtime,
                    folder,
                    db,
                    principals,
                    examples=examples,
                    run_seed=run_seed,
                    stateful=stateful,
                )
            finally:
                runtime.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _fuzz_all(
    runtime: Runtime,
    folder: Path,
    db: str,
    principals: tuple[str, ...],
    *,
    examples: int,
    run_seed: int,
    stateful: bool,
) -> dict[str, Any]:
    """Every principal in turn against one app and world; per principal and in total."""
    found_by: dict[str, Any] = {}
    clock = time.perf_counter()
    with TestClient(create_app(runtime), base_url="https://testserver") as client:
        world = build_world(runtime, client, folder / "clips")
        for principal in principals:
            started = time.perf_counter()
            found = fuzz_principal(
                world, principal, examples=examples, run_seed=run_seed, stateful=stateful
            )
            found["seconds"] = round(time.perf_counter() - started, 1)
            found_by[principal] = found
            print(
                f"{db} {principal}: {found['calls']} calls, "
                f"{found['server_errors']} 5xx, {found['schema_mismatches']} schema "
                f"mismatches, {found['undocumented_statuses']} undocumented statuses",
                file=sys.stderr,
            )
    return {
        "principals": found_by,
        "seconds": round(time.perf_counter() - clock, 1),
        "totals": {
            key: sum(p[key] for p in found_by.values())
            for key in ("calls", "server_errors", "schema_mismatches", "undocumented_statuses")
        },
    }


def summary(results: dict[str, Any]) -> str:
    lines = [
        f"fuzz on {results['database']}, {results['examples_per_operation']} examples "
        "per operation and principal, plus stateful links",
        f"{'principal':<10} {'calls':>7} {'5xx':>6} {'schema':>7} {'undoc':>7}",
    ]
    for name, p in results["principals"].items():
        lines.append(
            f"{name:<10} {p['calls']:>7} {p['server_errors']:>6} "
            f"{p['schema_mismatches']:>7} {p['undocumented_statuses']:>7}"
        )
    t = results["totals"]
    lines.append(
        f"{'total':<10} {t['calls']:>7} {t['server_errors']:>6} "
        f"{t['schema_mismatches']:>7} {t['undocumented_statuses']:>7}"
    )
    for name, p in results["principals"].items():
        for f in p["failures"]:
            if f["check"] != "undocumented_status":
                lines.append(f"  {name}: {f['operation']} {f['check']} {f['status']} x{f['calls']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pg-url", default=PG_ADMIN_URL, help="any database on the server")
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--principals", default=",".join(PRINCIPALS))
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--no-stateful", action="store_true")
    databases.add_options(parser, "fuzz")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    results = run(
        db=args.db,
        examples=args.examples,
        principals=tuple(p for p in args.principals.split(",") if p),
        pg_url=args.pg_url,
        run_seed=args.seed,
        stateful=not args.no_stateful,
        database=args.database,
        keep=args.keep,
    )
    path = output.write_results(f"fuzz-{args.db}", results, args.out)
    print(summary(results))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
