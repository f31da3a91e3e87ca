"""The sandbox against the OpenAPI spec: its field table, its routes, every seeded record,
and a validator that really rejects wrong bodies.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.routing import Route

from cwbulk.sandbox import API_PREFIX
from cwbulk.sandbox.store import REFERENCE_SHAPES, RESOURCES, SPEC_FIELDS, FieldType

ENTRY = f"{API_PREFIX}/time/entries"


def _spec_type(spec: dict[str, Any], prop: dict[str, Any]) -> object:
    """A field's type as the spec gives it, in a form comparable with the sandbox's table."""
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[1]
        if not name.endswith("Reference"):
            return "-"
        fields = spec["components"]["schemas"][name]["properties"]
        return ("ref", {k: _spec_type(spec, v) for k, v in fields.items() if k != "_info"})
    if "enum" in prop:
        return ("enum", tuple(prop["enum"]))
    kind = prop["type"]
    if kind == "array":
        return "-" if "$ref" in prop["items"] else "[" + _spec_type(spec, prop["items"])
    if kind == "object":
        return "map" if "additionalProperties" in prop else "-"
    if kind == "string":
        return {"date-time": "dt", "uuid": "uuid"}.get(prop.get("format"), "s")
    return {"integer": "i", "number": "n", "boolean": "b"}[kind]


def _table_type(kind: FieldType) -> object:
    if kind.kind == "ref":
        shape = REFERENCE_SHAPES[kind.shape]
        return ("ref", {k: _table_type(v) for k, v in shape.items() if k != "_info"})
    if kind.kind == "enum":
        return ("enum", kind.values)
    return kind.kind


@pytest.mark.parametrize("schema", sorted(SPEC_FIELDS))
def test_the_field_table_matches_the_spec(openapi_validator, schema) -> None:
    spec = openapi_validator.spec
    properties = spec["components"]["schemas"][schema]["properties"]
    table = SPEC_FIELDS[schema]
    assert list(table) == list(properties), "the same fields in the same order"
    for name, prop in properties.items():
        assert _table_type(table[name]) == _spec_type(spec, prop), name


def test_every_reference_shape_has_an_info_map() -> None:
    assert all(shape["_info"].kind == "map" for shape in REFERENCE_SHAPES.values())


def _served_operations(app) -> list[tuple[str, str]]:
    operations = []
    for route in app.routes:
        if not isinstance(route, Route) or not route.path.startswith(API_PREFIX.lower()):
            continue
        path = route.path[len(API_PREFIX) :]
        paths = [path]
        if "{action:str}" in path:
            paths = [
                path.replace("{action:str}", a) for a in ("submit", "approve", "reject", "reverse")
            ]
        for concrete in paths:
            concrete = re.sub(r"\{[^}]+\}", "7", concrete)
            operations += [(m, concrete) for m in sorted(route.methods or ()) if m != "HEAD"]
    return operations


#: Served routes the trimmed spec leaves out; their bodies follow cw-api-notes.md instead.
OUTSIDE_THE_TRIMMED_SPEC = {"/system/info", "/service/boards/7/statuses"}


def test_every_api_route_the_sandbox_serves_is_in_the_spec(sandbox_app, openapi_validator) -> None:
    operations = _served_operations(sandbox_app)
    assert len(operations) > 40
    for method, path in operations:
        if path in OUTSIDE_THE_TRIMMED_SPEC:
            continue
        template = openapi_validator.template(path)
        assert template is not None, f"{method} {path} is not in the spec"
        assert method.lower() in openapi_validator.spec["paths"][template], f"{method} {template}"


@pytest.mark.parametrize("resource", sorted(r.path for r in RESOURCES.values()))
def test_every_seeded_record_fits_the_spec(sandbox_client, resource) -> None:
    # sandbox_client's response hook validates each page against the spec.
    url: str | None = f"/{resource}?pageSize=1000"
    records = 0
    while url:
        page = sandbox_client.get(url)
        assert page.status_code == 200
        records += len(page.json())
        url = dict(
            (rel, u) for u, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', page.headers["Link"])
        ).get("next")
    assert records == sandbox_client.get(f"/{resource}/count").json()["count"] > 0


WRONG_BODIES = [
    pytest.param(
        "GET",
        f"{ENTRY}/1",
        200,
        {"id": "1", "timeStart": "2024-05-06T09:00:00Z"},
        id="id-as-string",
    ),
    pytest.param("GET", f"{ENTRY}/1", 200, {"id": 1}, id="no-time-start"),
    pytest.param("GET", f"{ENTRY}/1", 200, {"timeStart": "yesterday"}, id="not-a-date-time"),
    pytest.param(
        "GET",
        f"{ENTRY}/1",
        200,
        {"timeStart": "2024-05-06T09:00:00Z", "actualHours": "1.5"},
        id="hours-as-string",
    ),
    pytest.param(
        "GET",
        f"{ENTRY}/1",
        200,
        {"timeStart": "2024-05-06T09:00:00Z", "status": "Done"},
        id="unknown-status",
    ),
    pytest.param(
        "GET",
        f"{ENTRY}/1",
        200,
        {"timeStart": "2024-05-06T09:00:00Z", "mobileGuid": "abc"},
        id="not-a-uuid",
    ),
    pytest.param(
        "GET",
        f"{ENTRY}/1",
        200,
        {"timeStart": "2024-05-06T09:00:00Z", "member": "abaker"},
        id="member-as-string",
    ),
    pytest.param(
        "GET",
        f"{ENTRY}/1",
        200,
        {"timeStart": "2024-05-06T09:00:00Z", "member": {"id": 2**40}},
        id="id-over-int32",
    ),
    pytest.param(
        "GET",
        f"{ENTRY}/1",
        200,
        {"timeStart": "2024-05-06T09:00:00Z", "_info": {"lastUpdated": 5}},
        id="info-not-strings",
    ),
    pytest.param("GET", ENTRY, 200, {"timeStart": "2024-05-06T09:00:00Z"}, id="object-for-list"),
    pytest.param("GET", f"{ENTRY}/count", 200, {"count": "3"}, id="count-as-string"),
    pytest.param("DELETE", f"{ENTRY}/1", 204, {"deleted": True}, id="body-on-204"),
    pytest.param(
        "POST",
        f"{API_PREFIX}/time/sheets/1/submit",
        200,
        {"success": "yes"},
        id="success-as-string",
    ),
    pytest.param("POST", ENTRY, 400, {"error": "bad"}, id="error-without-code"),
    pytest.param(
        "POST", ENTRY, 400, {"code": "X", "message": "y", "errors": "z"}, id="errors-not-list"
    ),
    pytest.param(
        "GET", ENTRY, 429, {"code": "Throttled", "message": "slow down"}, id="wrong-throttle-body"
    ),
    pytest.param("GET", "/login/companyinfo/x", 200, {"Codebase": 5}, id="company-info"),
    pytest.param("GET", f"{API_PREFIX}/time/nothing", 200, [], id="path-not-in-spec"),
    pytest.param("PUT", f"{API_PREFIX}/system/info", 200, {}, id="no-such-operation"),
]


@pytest.mark.parametrize(("method", "path", "status", "body"), WRONG_BODIES)
def test_a_wrong_body_fails_validation(openapi_validator, method, path, status, body) -> None:
    with pytest.raises(AssertionError):
        openapi_validator.validate(method, path, status, body)


def test_a_right_body_passes_validation(sandbox_client, openapi_validator) -> None:
    entry = sandbox_client.get("/time/entries/1").json()
    openapi_validator.validate("GET", f"{ENTRY}/1", 200, entry)
    openapi_validator.validate("GET", ENTRY, 200, [entry, entry])
    openapi_validator.validate("DELETE", f"{ENTRY}/1", 204, None)
    throttle = {
        "error": "ConnectWiseAPI",
        "message": "Too many requests. Please try again in 3 seconds.",
    }
    openapi_validator.validate("GET", ENTRY, 429, throttle)
