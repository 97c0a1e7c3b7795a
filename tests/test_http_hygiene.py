"""HTTP hygiene: security headers, no inline code in pages, 405's Allow, and an OpenAPI
document that describes every refusal in the one error shape, with its credentials."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from doorstep.accounts.deps import CurrentUser
from doorstep.app import create_app
from doorstep.errors import Conflict
from doorstep.runtime import Runtime
from doorstep.web.render import TEMPLATE_DIR
from tests.conftest import make_settings
from tests.factories import HTML, PASSWORD, make_camera, make_person, sign_in

ERROR_REF = {"$ref": "#/components/schemas/Error"}


def policy(response: Any) -> dict[str, list[str]]:
    """The response's Content-Security-Policy as directive -> sources."""
    header = response.headers.get("content-security-policy", "")
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


@pytest.fixture
def client_for(tmp_path: Path, database_url: str) -> Iterator[Any]:
    """Clients on apps built from settings that differ from the defaults."""
    runtimes: list[Runtime] = []

    def build(**overrides: object) -> TestClient:
        runtime = Runtime(make_settings(tmp_path / str(len(runtimes)), database_url, **overrides))
        runtimes.append(runtime)
        return TestClient(create_app(runtime), base_url="https://testserver")

    yield build
    for runtime in runtimes:
        runtime.close()


# ---------------------------------------------------------------- headers


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/transparency", HTML),  # a page
        ("/api/v1/policy", {}),  # an API answer
        ("/api/v1/no-such-thing", {}),  # a refusal
        ("/static/doorstep.js", {}),  # a static file
    ],
)
def test_every_response_carries_the_security_headers(
    client: TestClient, runtime: Runtime, path: str, headers: dict[str, str]
) -> None:
    r = client.get(path, headers=headers)
    csp = policy(r)
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert "unsafe-inline" not in r.headers["content-security-policy"]
    assert "unsafe-eval" not in r.headers["content-security-policy"]
    # The configured tile server may serve the map's images; nothing else outside.
    assert csp["img-src"] == ["'self'", "data:", "https://tile.openstreetmap.org"]
    assert csp["media-src"] == ["'self'"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert runtime.settings.cookie_secure
    assert r.headers["strict-transport-security"].startswith("max-age=31536000")


def test_strict_transport_security_only_when_cookies_are_secure(client_for: Any) -> None:
    plain = client_for(cookie_secure=False).get("/transparency", headers=HTML)
    assert "strict-transport-security" not in plain.headers
    assert policy(plain)["script-src"] == ["'self'"]
    secure = client_for(cookie_secure=True).get("/transparency", headers=HTML)
    assert "strict-transport-security" in secure.headers


def test_the_tile_server_and_signed_media_urls_are_allowed(client_for: Any) -> None:
    client = client_for(
        tile_url="https://{s}.tiles.example.net/{z}/{x}/{y}.png",
        media_url="s3://clips/doorstep",
        s3_endpoint_url="http://127.0.0.1:9000",
        s3_access_key_id="testing",
        s3_secret_access_key="testing",
    )
    csp = policy(client.get("/transparency", headers=HTML))
    # Media links redirect to signed URLs on the storage's origin; CSP checks the target.
    assert csp["img-src"] == [
        "'self'",
        "data:",
        "https://*.tiles.example.net",
        "http://127.0.0.1:9000",
    ]
    assert csp["media-src"] == ["'self'", "http://127.0.0.1:9000"]
    assert csp["script-src"] == ["'self'"]


# ---------------------------------------------------------------- no inline code


class InlineCode(HTMLParser):
    """Collects what a strict content security policy would refuse to run or apply."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...> (inline event handler)")
            if name == "style":
                self.found.append(f"<{tag} style=...> (inline style)")
            if name in ("href", "src", "action", "formaction") and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}='javascript:...'>")
        if tag == "script" and not values.get("src") and values.get("type") != "application/json":
            self.found.append("<script> with inline code")
        if tag == "style":
            self.found.append("<style> element")


def inline_code(markup: str) -> list[str]:
    parser = InlineCode()
    parser.feed(markup)
    parser.close()
    return parser.found


def test_the_scanner_finds_each_kind_of_inline_code() -> None:
    markup = (
        '<button onclick="go()">x</button><p style="color:red"></p><a href="javascript:go()">'
        "</a><script>go()</script><style>p{}</style>"
        '<script src="/static/x.js"></script><script type="application/json">{}</script>'
    )
    assert len(inline_code(markup)) == 5


@pytest.mark.parametrize(
    "template",
    sorted(str(p.relative_to(TEMPLATE_DIR)) for p in TEMPLATE_DIR.rglob("*.html")),
)
def test_no_template_has_inline_script_handlers_or_styles(template: str) -> None:
    assert inline_code((TEMPLATE_DIR / template).read_text()) == []


def test_rendered_pages_have_no_inline_code(client: TestClient, runtime: Runtime) -> None:
    public = ["/", "/signin", "/signup", "/transparency", "/transparency/agencies",
              "/transparency/requests", "/transparency/policy"]  # fmt: skip
    person = make_person(runtime)
    camera = make_camera(runtime, person.user)
    for path in public:
        r = client.get(path, headers=HTML)
        assert r.status_code == 200, path
        assert inline_code(r.text) == [], path
    sign_in(client, person.user.email)
    signed_in = ["/timeline", "/cameras", f"/cameras/{camera.camera.id}", "/cameras/new",
                 "/feed", "/requests", "/account", "/account/notifications"]  # fmt: skip
    for path in signed_in:
        r = client.get(path, headers=HTML)
        assert r.status_code == 200, path
        assert inline_code(r.text) == [], path


def test_the_api_docs_page_runs_no_inline_script(client: TestClient) -> None:
    r = client.get("/api/docs")
    assert r.status_code == 200
    assert inline_code(r.text) == []
    csp = policy(r)
    assert csp["script-src"] == ["'self'", "https://cdn.jsdelivr.net"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert 'data-openapi-url="/api/v1/openapi.json"' in r.text


# ---------------------------------------------------------------- 405


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/v1/cameras", {"GET", "POST"}),
        ("PUT", f"/api/v1/cameras/{uuid.uuid4()}", {"GET", "PATCH", "DELETE"}),
        ("OPTIONS", "/api/v1/users/me", {"GET"}),
        ("POST", "/static/doorstep.css", {"GET", "HEAD"}),
    ],
)
def test_a_405_lists_every_method_the_path_supports(
    client: TestClient, method: str, path: str, allowed: set[str]
) -> None:
    r = client.request(method, path)
    assert r.status_code == 405
    assert {m.strip() for m in r.headers["allow"].split(",")} == allowed
    assert r.json()["error"] == {
        "code": "method_not_allowed",
        "message": f"{method} is not allowed here; the Allow header lists what is.",
    }


# ---------------------------------------------------------------- OpenAPI


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    spec: dict[str, Any] = r.json()
    return spec


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def test_the_document_names_one_error_shape_and_three_credentials(
    document: dict[str, Any], runtime: Runtime
) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["Error"]["properties"]["error"] == {"$ref": "#/components/schemas/ErrorBody"}
    assert schemas["Error"]["required"] == ["error"]
    body = schemas["ErrorBody"]
    assert set(body["properties"]) == {"code", "message", "details"}
    assert body["required"] == ["code", "message"]
    # FastAPI's own 422 shape is never sent by this app, so it is not described.
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    schemes = document["components"]["securitySchemes"]
    assert schemes["userToken"] == schemes["userToken"] | {"type": "http", "scheme": "bearer"}
    assert schemes["cameraToken"] == schemes["cameraToken"] | {"type": "http", "scheme": "bearer"}
    assert schemes["sessionCookie"] == schemes["sessionCookie"] | {
        "type": "apiKey",
        "in": "cookie",
        "name": runtime.settings.cookie_name,
    }


def test_every_operation_describes_its_refusals_in_the_error_shape(
    document: dict[str, Any],
) -> None:
    for method, path, operation in operations(document):
        name = f"{method} {path}"
        responses = operation["responses"]
        refusals = {int(s) for s in responses if int(s) >= 400}
        parameters = operation.get("parameters", [])
        for status in refusals:
            assert responses[str(status)]["content"]["application/json"]["schema"] == ERROR_REF
        assert "security" in operation, name
        if operation["security"]:
            assert {401, 403} <= refusals, name
        if any(p["in"] == "path" for p in parameters):
            assert 404 in refusals, name
        if parameters or "requestBody" in operation:
            assert 422 in refusals, name
        if "requestBody" in operation:
            assert {400, 413} <= refusals, name


def test_operations_name_the_credentials_and_refusals_their_code_has(
    document: dict[str, Any],
) -> None:
    paths = document["paths"]
    camera = paths["/api/v1/cameras/{camera_id}"]["get"]
    assert camera["security"] == [{"userToken": []}]
    assert {"401", "403", "404", "422"} <= set(camera["responses"])

    clips = paths["/api/v1/cameras/{camera_id}/clips"]["post"]
    assert clips["security"] == [{"cameraToken": []}]
    assert {"401", "404", "413", "415"} <= set(clips["responses"])

    # A media link works from a page (cookie) or a script (token).
    video = paths["/api/v1/evidence/{evidence_id}/video"]["get"]
    assert video["security"] == [{"userToken": []}, {"sessionCookie": []}]

    sign_in = paths["/api/v1/tokens"]["post"]
    assert sign_in["security"] == []  # it is how a token is got
    assert {"401", "429"} <= set(sign_in["responses"])
    assert "Retry-After" in sign_in["responses"]["429"]["headers"]

    assert "409" in paths["/api/v1/users"]["post"]["responses"]  # email taken
    assert "409" in paths["/api/v1/requests/{request_id}/submit"]["post"]["responses"]

    public = paths["/api/v1/policy"]["get"]
    assert public["security"] == []
    assert set(public["responses"]) == {"200"}


def test_a_new_endpoint_is_described_without_edits(runtime: Runtime) -> None:
    app = create_app(runtime)
    router = APIRouter(prefix="/api/v1")

    @router.post("/widgets/{widget_id}/polish")
    def polish(widget_id: uuid.UUID, user: CurrentUser) -> dict[str, str]:
        raise Conflict("This widget is already polished.", code="already_polished")

    app.include_router(router)
    with TestClient(app) as client:
        spec = client.get("/api/v1/openapi.json").json()
    operation = spec["paths"]["/api/v1/widgets/{widget_id}/polish"]["post"]
    assert operation["security"] == [{"userToken": []}]
    assert {"401", "403", "404", "409", "422"} <= set(operation["responses"])


def test_real_refusals_are_documented_and_have_the_documented_shape(
    client: TestClient, runtime: Runtime, document: dict[str, Any]
) -> None:
    validator = jsonschema.Draft202012Validator(
        {"$ref": "#/components/schemas/Error", "components": document["components"]}
    )
    person = make_person(runtime)
    calls = [
        ("GET", "/api/v1/users/me", "/api/v1/users/me", {}, None),
        ("GET", "/api/v1/cameras/{camera_id}", f"/api/v1/cameras/{uuid.uuid4()}",
         person.headers, None),
        ("GET", "/api/v1/cameras/{camera_id}", "/api/v1/cameras/not-a-uuid", person.headers, None),
        ("POST", "/api/v1/cameras", "/api/v1/cameras", person.headers, {"name": 5}),
        ("POST", "/api/v1/users", "/api/v1/users", {},
         {"email": person.user.email, "display_name": "Twin", "password": PASSWORD}),
    ]  # fmt: skip
    wrong = {"email": person.user.email, "password": "wrong password"}
    calls += [("POST", "/api/v1/tokens", "/api/v1/tokens", {}, wrong)] * 7
    seen = set()
    for method, template, path, headers, body in calls:
        r = client.request(method, path, headers=headers, json=body)
        assert r.status_code >= 400, (method, path)
        documented = document["paths"][template][method.lower()]["responses"]
        assert str(r.status_code) in documented, (method, path, r.status_code)
        validator.validate(r.json())
        seen.add(r.status_code)
    assert {401, 404, 409, 422, 429} <= seen
