"""The OpenAPI document: FastAPI's, plus what FastAPI cannot see by itself.

FastAPI documents the success response of each operation and a 422 in its own
validation shape. doorstep answers every refusal in one shape, from its exception
handlers, so this module adds to each operation the refusals it can give, in that
shape, and the credentials it takes. Both are derived from the route itself, so a new
endpoint is described with no edit here:

- its principal comes from the code it runs (its dependencies and endpoint, followed
  through the doorstep functions they call): a user API token (``api_user``), the
  session cookie (``page_visitor``), a camera's ingest token (``authenticate_camera``);
- its refusals are those of the domain errors that code constructs (a ``Conflict`` is a
  409, ``RateLimited`` a 429, ...), plus what the framework answers for any operation of
  its kind: 401/403 behind a principal, 404 with a path id, 422 with parameters or a
  body, 400/413 with a body.

The walk over the code is an over-approximation (a function that builds an error on
one branch counts), which is what a client needs: every status it may see is listed.
"""

from __future__ import annotations

import ast
import inspect
import json
import textwrap
import types
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from typing import Any, TypeGuard

from fastapi import FastAPI, Request, routing
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse

from doorstep.accounts import deps as account_deps
from doorstep.cameras import registry as camera_registry
from doorstep.config import Settings
from doorstep.errors import DoorstepError
from doorstep.routing import GuardedRoute
from doorstep.web import render as web_render

ERROR_SCHEMA = "Error"
ERROR_BODY_SCHEMA = "ErrorBody"
DOCS_PATH = "/api/docs"
SWAGGER_CDN = "https://cdn.jsdelivr.net"

USER_SCHEME = "userToken"
SESSION_SCHEME = "sessionCookie"
CAMERA_SCHEME = "cameraToken"

# The functions that establish who is calling; reaching one means the operation needs
# that credential. A new principal dependency built on one of these is covered as is.
PRINCIPALS: dict[Callable[..., Any], str] = {
    account_deps.api_user: USER_SCHEME,
    account_deps.accepted_caller: USER_SCHEME,
    account_deps.page_visitor: SESSION_SCHEME,
    camera_registry.authenticate_camera: CAMERA_SCHEME,
}

DESCRIPTIONS = {
    400: "Refused: the request breaks a rule (the message says which and what to do).",
    401: "No valid credentials for this operation.",
    403: "The caller may not do this.",
    404: "Nothing with this id that the caller may see.",
    409: "Refused: the resource is not in a state that allows this.",
    413: "The request body is larger than the server accepts.",
    415: "The uploaded media is not of a supported type.",
    416: "The requested byte range is outside the file.",
    422: "The parameters or body did not validate (details.problems names each field).",
    429: "Too many attempts; wait the Retry-After seconds.",
}

_DOORSTEP = "doorstep."


def error_schemas() -> dict[str, Any]:
    """The one error shape, as named component schemas."""
    return {
        ERROR_BODY_SCHEMA: {
            "title": ERROR_BODY_SCHEMA,
            "type": "object",
            "properties": {
                "code": {
                    "type": "string",
                    "description": "Stable, machine-readable reason, e.g. 'not_found'.",
                },
                "message": {
                    "type": "string",
                    "description": "What is wrong and what to do, for a person.",
                },
                "details": {
                    "type": "object",
                    "additionalProperties": True,
                    "description": "Facts about the refusal (a limit, the fields that failed).",
                },
            },
            "required": ["code", "message"],
        },
        ERROR_SCHEMA: {
            "title": ERROR_SCHEMA,
            "type": "object",
            "properties": {"error": {"$ref": f"#/components/schemas/{ERROR_BODY_SCHEMA}"}},
            "required": ["error"],
        },
    }


def security_schemes(settings: Settings) -> dict[str, Any]:
    return {
        USER_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": "A user API token (from POST /api/v1/tokens): "
            "'Authorization: Bearer dsk_...'.",
        },
        SESSION_SCHEME: {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.cookie_name,
            "description": "The session cookie a browser gets when it signs in on the site.",
        },
        CAMERA_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": "A camera's ingest token, shown once when the camera is added "
            "or its token rotated: 'Authorization: Bearer dsc_...'.",
        },
    }


# ---------------------------------------------------------------- what a route's code reaches


def _is_doorstep_function(obj: object) -> TypeGuard[Callable[..., Any]]:
    return inspect.isfunction(obj) and (obj.__module__ or "").startswith(_DOORSTEP)


def _is_error_class(obj: object) -> TypeGuard[type[DoorstepError]]:
    return isinstance(obj, type) and issubclass(obj, DoorstepError)


def _resolve(node: ast.expr, namespace: dict[str, Any]) -> object:
    """The object a name or dotted name (``camera_registry.get_own_camera``) refers to in
    ``namespace``; None for anything else (``self.x``, ``session.get``)."""
    if isinstance(node, ast.Name):
        return namespace.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, namespace)
        if isinstance(base, (types.ModuleType, type)):
            return getattr(base, node.attr, None)
    return None


@cache
def _references(fn: Callable[..., Any]) -> tuple[frozenset[Callable[..., Any]], frozenset[int]]:
    """The doorstep functions ``fn`` refers to (calls, or passes on as callbacks), and
    the statuses of the domain errors it constructs or raises."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        namespace = {**fn.__globals__, **inspect.getclosurevars(fn).nonlocals}
    except (OSError, TypeError, ValueError, SyntaxError):
        # No source to read (a built or compiled function): nothing to add.
        return frozenset(), frozenset()
    functions: set[Callable[..., Any]] = set()
    statuses: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            raised = _resolve(node.exc, namespace)
            if _is_error_class(raised):
                statuses.add(raised.status_code)
        if isinstance(node, (ast.Name, ast.Attribute)) and isinstance(node.ctx, ast.Load):
            target = _resolve(node, namespace)
            if inspect.ismethod(target):  # a classmethod, got from its class
                target = target.__func__
            target = inspect.unwrap(target) if callable(target) else target
            if _is_doorstep_function(target):
                functions.add(target)
        if isinstance(node, ast.Call):
            built = _resolve(node.func, namespace)
            if _is_error_class(built):
                statuses.add(built.status_code)
    functions.discard(fn)
    return frozenset(functions), frozenset(statuses)


def _reached(roots: Iterable[Callable[..., Any]]) -> tuple[set[Callable[..., Any]], set[int]]:
    seen: set[Callable[..., Any]] = set()
    statuses: set[int] = set()
    stack = [inspect.unwrap(r) for r in roots]
    while stack:
        fn = stack.pop()
        if fn in seen:
            continue
        seen.add(fn)
        functions, found = _references(fn)
        statuses |= found
        stack.extend(functions - seen)
    return seen, statuses


def _dependency_calls(dependant: Any) -> Iterator[Callable[..., Any]]:
    if dependant.call is not None:
        yield dependant.call
    for sub in dependant.dependencies:
        yield from _dependency_calls(sub)


# ---------------------------------------------------------------- the document


def _operation_security(principals: set[str]) -> list[dict[str, list[str]]]:
    # Alternatives: a media link works with the cookie or a token (bearer_or_cookie_user).
    return [
        {scheme: []}
        for scheme in (USER_SCHEME, SESSION_SCHEME, CAMERA_SCHEME)
        if scheme in principals
    ]


def _error_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": DESCRIPTIONS.get(status, "Refused."),
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}
        },
    }
    if status == 429:
        response["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait before trying again.",
                "schema": {"type": "integer"},
            }
        }
    return response


def describe_operation(operation: dict[str, Any], route: Any) -> None:
    """Add the route's credentials and every refusal it can give to ``operation``."""
    reached, statuses = _reached(_dependency_calls(route.dependant))
    principals = {scheme for fn, scheme in PRINCIPALS.items() if fn in reached}
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    if principals:
        statuses |= {401, 403}
    if any(p.get("in") == "path" for p in parameters):
        statuses.add(404)
    if parameters or has_body:
        statuses.add(422)
    if has_body:
        # A body that is not what the operation reads (malformed multipart, a form
        # without its file) is a 400; one over the server's size limit a 413.
        statuses |= {400, 413}
    operation["security"] = _operation_security(principals)
    responses = operation.setdefault("responses", {})
    for status in sorted(statuses):
        if status >= 400:
            # Replaces FastAPI's 422 in its own shape, which this app never sends.
            responses[str(status)] = _error_response(status)


def _drop_unreferenced(document: dict[str, Any], names: Iterable[str]) -> None:
    """Remove FastAPI's validation-error schemas once no operation refers to them."""
    schemas = document.get("components", {}).get("schemas", {})
    for name in names:
        others = {k: v for k, v in schemas.items() if k != name}
        text = json.dumps([document.get("paths", {}), others])
        if name in schemas and f'"#/components/schemas/{name}"' not in text:
            del schemas[name]


def build_document(app: FastAPI, settings: Settings) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
        servers=app.servers,
        separate_input_output_schemas=app.separate_input_output_schemas,
    )
    for route in routing.iter_route_contexts(app.routes):
        if not isinstance(route.original_route, routing.APIRoute) or not route.include_in_schema:
            continue
        item = document["paths"].get(route.path_format, {})
        for method in route.methods or ():
            operation = item.get(method.lower())
            if operation is not None:
                describe_operation(operation, route)
    components = document.setdefault("components", {})
    components.setdefault("schemas", {}).update(error_schemas())
    components["schemas"] = dict(sorted(components["schemas"].items()))
    components["securitySchemes"] = security_schemes(settings)
    _drop_unreferenced(document, ("HTTPValidationError", "ValidationError"))
    return document


def install(app: FastAPI, settings: Settings) -> None:
    """Serve the described document at the app's openapi_url, and the API docs page."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_document(app, settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    def api_docs(request: Request) -> HTMLResponse:
        response = web_render.templates.TemplateResponse(
            request, "api_docs.html", {"openapi_url": app.openapi_url, "title": app.title}
        )
        # Swagger UI comes from its CDN; this page alone may load script and style there.
        response.headers["Content-Security-Policy"] = (
            f"default-src 'self'; script-src 'self' {SWAGGER_CDN}; "
            f"style-src 'self' {SWAGGER_CDN}; img-src 'self' data:; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
        )
        return response

    # Guarded like every route (doorstep.routing): the text rule on its query string.
    app.router.add_api_route(
        DOCS_PATH,
        api_docs,
        include_in_schema=False,
        response_class=HTMLResponse,
        route_class_override=GuardedRoute,
    )
