"""A small, valid request body for any operation, derived from the OpenAPI document.

The authorization matrix sends one: with an invalid body FastAPI answers 422 before the
service looks at whose object it is, and the matrix would test the validator instead of
the ownership rule. Deterministic on purpose (no generator, no seed): a failure names one
exact request."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from doorstep.db import utcnow
from tests.factories import request_body
from tests.fuzz.document import openapi_document, operation
from tests.fuzz.world import LAT, LNG

# Bodies whose rules reach past the schema (an area the policy accepts, a window in the
# past, a webhook on a public host): written out, the rest is derived.
_BY_SCHEMA: dict[str, Any] = {
    "RequestCreate": lambda: request_body(LAT, LNG),
    "EventCreate": lambda: _event(),
    "EventBatch": lambda: {"events": [_event()]},
    "WebhookCreate": lambda: {"url": "https://192.0.2.10/doorstep"},
    "PostCreate": lambda: {
        "category": "safety",
        "title": "Fence knocked over",
        "body": "Someone drove into the fence overnight.",
    },
}


def _event() -> dict[str, Any]:
    start = utcnow() - timedelta(hours=2)
    return {
        "kind": "motion",
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(seconds=30)).isoformat(),
    }


def _resolve(schema: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    ref = schema.get("$ref")
    if ref is None:
        return None, schema
    name = ref.rsplit("/", 1)[-1]
    found: dict[str, Any] = openapi_document()["components"]["schemas"][name]
    return name, found


# A pattern that lists its words, "^(verify|reject)$": the first word is a valid value.
_ALTERNATIVES = re.compile(r"^\^\(([a-z_]+)(\|[a-z_]+)*\)\$$")


def instance(schema: dict[str, Any], name: str = "") -> Any:
    """The smallest value the schema accepts (required properties only); ``name`` is the
    property's, for strings whose format the schema does not declare (an email)."""
    component, schema = _resolve(schema)
    if component in _BY_SCHEMA:
        return _BY_SCHEMA[component]()
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            choices = [s for s in schema[key] if s.get("type") != "null"]
            return instance(choices[0], name)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        return {key: instance(properties[key], key) for key in schema.get("required", [])}
    if kind == "array":
        return [instance(schema.get("items", {})) for _ in range(schema.get("minItems", 0))]
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 0.0))
    if kind == "boolean":
        return False
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "uuid":
            return "00000000-0000-4000-8000-000000000001"
        if fmt == "date-time":
            return (utcnow() - timedelta(hours=1)).isoformat()
        if fmt == "email" or "email" in name:
            return "someone@example.org"
        words = _ALTERNATIVES.match(schema.get("pattern", ""))
        if words:
            return words.group(1)
        return "x" * max(int(schema.get("minLength", 1)), 3)
    return None


def body_for(method: str, path: str) -> Any | None:
    """A valid JSON body for the operation, or None when it takes none."""
    content = operation(method, path).get("requestBody", {}).get("content", {})
    media = content.get("application/json")
    if media is None:
        return None
    return instance(media["schema"])
