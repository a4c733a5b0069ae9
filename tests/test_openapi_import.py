"""OpenAPI documents become MCP tools; a tool call becomes an HTTP request; an answer a tool result.

Fixtures: the Petstore example (``tests/data``, from openapi-spec-validator's sdist) and GitHub's
REST API description from ``@octokit/openapi`` on npm (``make openapi-fixtures``; never skipped:
a missing install fails with the command that makes it).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from jsonschema import Draft202012Validator

from tools_registry.openapi import (
    OpenApiError,
    RestParameter,
    RestTool,
    ToolArgumentsError,
    build_request,
    import_api,
    load_document,
    tool_result,
)
from tools_registry.openapi.documents import METHODS
from tools_registry.openapi.references import References
from tools_registry.openapi.results import MAX_ERROR_EXCERPT
from tools_registry.openapi.schemas import SchemaBundle

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
GITHUB = (
    ROOT / ".node-openapi" / "node_modules" / "@octokit" / "openapi" / "generated" / "api.github.com.json"
)


def petstore(version: str = "3.0") -> bytes:
    return (DATA / f"petstore-{version}.yaml").read_bytes()


def with_oauth(raw: bytes) -> bytes:
    """The Petstore under the scheme its well-known long form has (``petstore_auth``): reading pets
    needs ``read:pets`` everywhere (global), creating one ``write:pets`` (the operation's own)."""
    document = load_document(raw).content
    changed: dict[str, Any] = json.loads(json.dumps(document))
    changed["components"]["securitySchemes"] = {
        "petstore_auth": {
            "type": "oauth2",
            "flows": {
                "implicit": {
                    "authorizationUrl": "https://petstore.example/oauth/authorize",
                    "scopes": {"read:pets": "read your pets", "write:pets": "modify pets"},
                }
            },
        },
        "api_key": {"type": "apiKey", "name": "api_key", "in": "header"},
    }
    changed["security"] = [{"petstore_auth": ["read:pets"]}]
    changed["paths"]["/pets"]["post"]["security"] = [
        {"api_key": []},
        {"petstore_auth": ["write:pets", "read:pets"]},
    ]
    return json.dumps(changed).encode()


def document(paths: dict[str, Any], **extra: Any) -> bytes:
    return json.dumps(
        {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": paths, **extra}
    ).encode()


def operation(**fields: Any) -> dict[str, Any]:
    return {"responses": {"200": {"description": "ok"}}, **fields}


def path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


# -- Petstore ----------------------------------------------------------------------------------------


def test_the_petstore_operations_become_tools_named_by_operation_id() -> None:
    api = import_api(load_document(petstore()))
    assert [tool.name for tool in api.tools] == ["listPets", "createPets", "showPetById"]
    assert api.skipped == ()
    assert [(t.method, t.path) for t in api.tools] == [
        ("GET", "/pets"),
        ("POST", "/pets"),
        ("GET", "/pets/{petId}"),
    ]


def test_list_pets_takes_its_query_parameter_and_answers_no_output_schema_for_an_array() -> None:
    tool = import_api(load_document(petstore())).tool("listPets")
    assert tool.definition == {
        "name": "listPets",
        "title": "List all pets",
        "description": "List all pets",
        "inputSchema": {
            "type": "object",
            "properties": {
                "limit": {
                    "description": "How many items to return at one time (max 100)",
                    "type": "integer",
                    "maximum": 100,
                    "format": "int32",
                }
            },
            "additionalProperties": False,
        },
        "annotations": {"readOnlyHint": True},
    }
    assert tool.parameters == (RestParameter("limit", "query", required=False),)


def test_create_pets_takes_its_json_body_under_body_with_the_pet_schema_in_defs() -> None:
    tool = import_api(load_document(petstore())).tool("createPets")
    pet = {
        "type": "object",
        "required": ["id", "name"],
        "properties": {
            "id": {"type": "integer", "format": "int64"},
            "name": {"type": "string"},
            "tag": {"type": "string"},
        },
    }
    assert tool.definition["inputSchema"] == {
        "type": "object",
        "properties": {"body": {"$ref": "#/$defs/Pet"}},
        "additionalProperties": False,
        "required": ["body"],
        "$defs": {"Pet": pet},
    }
    assert tool.definition["annotations"] == {"readOnlyHint": False}
    assert (tool.body, tool.body_required) == ("body", True)


def test_show_pet_by_id_has_the_pet_as_output_schema() -> None:
    tool = import_api(load_document(petstore())).tool("showPetById")
    assert tool.definition["inputSchema"]["required"] == ["petId"]
    output = tool.definition["outputSchema"]
    assert output["type"] == "object" and output["$ref"] == "#/$defs/Pet"
    assert set(output["$defs"]) == {"Pet"}


def test_petstore_scopes_come_from_the_operation_or_else_the_document() -> None:
    api = import_api(load_document(with_oauth(petstore())))
    assert {tool.name: tool.scopes for tool in api.tools} == {
        "listPets": ("read:pets",),
        "createPets": ("write:pets", "read:pets"),
        "showPetById": ("read:pets",),
    }
    assert import_api(load_document(petstore())).tool("listPets").scopes == ()


def test_scopes_can_be_overridden_and_a_subset_chosen_by_name() -> None:
    api = import_api(
        load_document(with_oauth(petstore())), only=["listPets", "showPetById"], scopes={"listPets": ["pets"]}
    )
    assert [(t.name, t.scopes) for t in api.tools] == [
        ("listPets", ("pets",)),
        ("showPetById", ("read:pets",)),
    ]
    with pytest.raises(OpenApiError, match="deletePets"):
        import_api(load_document(petstore()), only=["deletePets"])
    with pytest.raises(OpenApiError, match="scope tokens"):
        import_api(load_document(petstore()), scopes={"listPets": ["a b"]})


def test_the_3_1_petstore_resolves_its_path_item_and_keeps_a_property_named_ref() -> None:
    loaded = load_document(petstore("3.1"))
    api = import_api(loaded)
    assert [tool.name for tool in api.tools] == ["listPets", "createPets", "showPetById"]
    assert "outputSchema" not in api.tool("showPetById").definition  # it answers an array of pets
    bundle = SchemaBundle(References(loaded.content), loaded.dialect)
    assert bundle.convert({"$ref": "#/components/schemas/Pets"}) == {"$ref": "#/$defs/Pets"}
    assert bundle.defs["Pets"]["items"] == {"$ref": "#/$defs/Pet"}
    assert bundle.defs["Pet"]["properties"]["$ref"] == {"type": "string"}  # a property, not a reference


def test_yaml_and_json_give_the_same_tools() -> None:
    from_yaml = import_api(load_document(petstore()))
    from_json = import_api(load_document(json.dumps(load_document(petstore()).content).encode()))
    assert [t.definition for t in from_yaml.tools] == [t.definition for t in from_json.tools]


# -- what is skipped, and why -------------------------------------------------------------------------


def test_operations_that_cannot_be_mapped_are_skipped_with_a_reason() -> None:
    raw = document(
        {
            "/a": {
                "get": operation(
                    parameters=[{"name": "session", "in": "cookie", "schema": {"type": "string"}}]
                ),
                "post": operation(
                    operationId="upload",
                    requestBody={"content": {"multipart/form-data": {"schema": {"type": "object"}}}},
                ),
                "put": operation(operationId="replace"),
            },
            "/e": {"get": operation(operationId="dup"), "put": operation(operationId="dup")},
            "/b/{id}": {"get": operation()},
            "/c": {
                "get": operation(parameters=[{"name": "Host", "in": "header", "schema": {"type": "string"}}])
            },
            "/d": {"$ref": "#/components/pathItems/missing"},
        }
    )
    api = import_api(load_document(raw))
    assert [tool.name for tool in api.tools] == ["replace", "dup"]  # the first operation of each name
    reasons = {skipped.operation: skipped.reason for skipped in api.skipped}
    assert "cookie" in reasons["GET /a"]
    assert "multipart/form-data, not JSON" in reasons["POST /a (upload)"]
    assert reasons["PUT /e (dup)"] == "the tool name 'dup' is already GET /e's"
    assert "{id} has no path parameter" in reasons["GET /b/{id}"]
    assert "gateway sets itself" in reasons["GET /c"]
    assert "points at nothing" in reasons["/d (path item)"]


def test_a_recursive_schema_is_kept_as_defs_and_a_self_applying_one_is_skipped() -> None:
    schemas = {
        "Comment": {
            "type": "object",
            "properties": {"replies": {"type": "array", "items": {"$ref": "#/components/schemas/Comment"}}},
        },
        "Loop": {"allOf": [{"$ref": "#/components/schemas/Loop"}]},
    }
    body = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Comment"}}}}
    loop = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Loop"}}}}
    raw = document(
        {
            "/c": {
                "post": operation(operationId="comment", requestBody=body),
                "put": operation(operationId="loop", requestBody=loop),
            }
        },
        components={"schemas": schemas},
    )
    api = import_api(load_document(raw))
    schema = api.tool("comment").definition["inputSchema"]
    assert schema["$defs"]["Comment"]["properties"]["replies"]["items"] == {"$ref": "#/$defs/Comment"}
    Draft202012Validator.check_schema(schema)
    Draft202012Validator(schema).validate({"body": {"replies": [{"replies": []}]}})
    assert [s.reason for s in api.skipped] == [
        "schema 'Loop' refers to itself without descending into the value"
    ]


def test_an_external_ref_is_never_fetched() -> None:
    raw = document(
        {"/x": {"get": operation(parameters=[{"$ref": "http://169.254.169.254/latest/meta-data"}])}}
    )
    (skipped,) = import_api(load_document(raw)).skipped
    assert "not in this document" in skipped.reason


# -- GitHub's REST API: every operation mapped or skipped with a reason -----------------------------------


@pytest.fixture(scope="module")
def github() -> tuple[int, Any]:
    if not GITHUB.is_file():
        pytest.fail(
            f"GitHub's OpenAPI description is missing at {GITHUB}: run `make openapi-fixtures` (npm registry)"
        )
    loaded = load_document(GITHUB.read_bytes())
    operations = sum(1 for _, item in loaded.path_items() for method in METHODS if method in item)
    return operations, import_api(loaded)


def test_every_github_operation_is_a_tool_or_skipped_with_a_reason(github: tuple[int, Any]) -> None:
    operations, api = github
    assert operations > 1000
    assert len(api.tools) + len(api.skipped) == operations
    assert all(skipped.reason for skipped in api.skipped)
    assert not [s for s in api.skipped if s.reason.startswith("malformed")]
    reasons = Counter(skipped.reason for skipped in api.skipped)
    assert len(api.tools) >= 0.99 * operations, reasons


def test_github_tool_names_are_unique_and_valid(github: tuple[int, Any]) -> None:
    _, api = github
    names = [tool.name for tool in api.tools]
    assert len(names) == len(set(names))
    assert all(tool.definition["name"] == tool.name and 1 <= len(tool.name) <= 128 for tool in api.tools)


def test_github_tool_schemas_are_valid_json_schema(github: tuple[int, Any]) -> None:
    """Every schema passes the 2020-12 meta-schema and compiles (its ``$ref``s resolve) with
    jsonschema-rs; one in twenty also passes ``jsonschema``'s ``check_schema`` (slower: 14 ms each)."""
    _, api = github
    schemas = [
        tool.definition[key]
        for tool in api.tools
        for key in ("inputSchema", "outputSchema")
        if key in tool.definition
    ]
    for schema in schemas:
        assert jsonschema_rs.meta.is_valid(schema)
        jsonschema_rs.validator_for(schema)
        assert schema["type"] == "object"
    for schema in schemas[::20]:
        Draft202012Validator.check_schema(schema)


# -- import is bounded --------------------------------------------------------------------------------


def test_oa3_a_document_over_the_size_bound_is_refused() -> None:
    with pytest.raises(OpenApiError, match="more than the 100 accepted"):
        load_document(petstore(), max_bytes=100)


def test_oa3_a_deeply_nested_document_is_refused_without_exhausting_the_stack() -> None:
    with pytest.raises(OpenApiError, match="nested deeper"):
        load_document(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(OpenApiError, match="nested deeper"):
        load_document(b"a: &a [*a]\n")


def test_oa3_a_number_json_cannot_hold_is_refused() -> None:
    with pytest.raises(OpenApiError, match="NaN"):
        load_document(b'{"openapi": "3.1.0", "x": NaN}')


def test_oa3_a_yaml_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(OpenApiError, match="more than"):
        load_document("\n".join(lines).encode())


def test_oa3_an_invalid_or_unsupported_document_is_refused_with_why() -> None:
    with pytest.raises(OpenApiError, match=r"only OpenAPI 3\.0 and 3\.1"):
        load_document(b'{"swagger": "2.0"}')
    with pytest.raises(OpenApiError, match=r"not a valid OpenAPI 3\.1 document"):
        load_document(document({"/a": {"get": {"parameters": [{"in": "query"}]}}}))


# -- calls ---------------------------------------------------------------------------------------------


def pet_tool() -> RestTool:
    return import_api(load_document(petstore())).tool("showPetById")


def test_oa1_a_path_argument_never_changes_the_path() -> None:
    for value, encoded in (
        ("../admin", "..%2Fadmin"),
        ("a/b?c#d", "a%2Fb%3Fc%23d"),
        ("%2e%2e", "%252e%252e"),
    ):
        request = build_request(pet_tool(), {"petId": value}, "https://pets.example/v1/")
        assert request.url == f"https://pets.example/v1/pets/{encoded}"
    for value in ("..", ".", ""):
        with pytest.raises(ToolArgumentsError, match="change the path"):
            build_request(pet_tool(), {"petId": value}, "https://pets.example/v1")


def test_oa1_two_path_arguments_cannot_make_a_dot_segment_together() -> None:
    tool = RestTool(
        "t", "GET", "/files/{a}.{b}", (RestParameter("a", "path", True), RestParameter("b", "path", True)), ()
    )
    assert (
        build_request(tool, {"a": "x", "b": "json"}, "https://f.example").url
        == "https://f.example/files/x.json"
    )
    assert build_request(tool, {"a": "%2E", "b": "%2e"}, "https://f.example").url.endswith(
        "/files/%252E.%252e"
    )
    with pytest.raises(ToolArgumentsError, match="change the path"):
        build_request(tool, {"a": ".", "b": ""}, "https://f.example")


def test_oa2_the_agent_never_sets_authorization_host_or_cookie() -> None:
    for name in ("Authorization", "host", "Cookie", "Content-Length", "Transfer-Encoding"):
        tool = RestTool("t", "GET", "/", (RestParameter(name, "header", False),), ())
        with pytest.raises(ToolArgumentsError, match="cannot be set"):
            build_request(tool, {name: "x"}, "https://api.example")
    raw = document(
        {
            "/a": {
                "get": operation(
                    parameters=[{"name": "Authorization", "in": "header", "schema": {"type": "string"}}]
                )
            }
        }
    )
    (tool,) = import_api(load_document(raw)).tools
    assert tool.parameters == () and tool.definition["inputSchema"]["properties"] == {}
    with pytest.raises(ToolArgumentsError, match="unknown"):
        build_request(tool, {"Authorization": "Bearer stolen"}, "https://api.example")


def test_oa2_a_header_value_cannot_add_a_header() -> None:
    tool = RestTool("t", "GET", "/", (RestParameter("X-Trace", "header", False),), ())
    assert build_request(tool, {"X-Trace": "abc"}, "https://api.example").headers == {"X-Trace": "abc"}
    with pytest.raises(ToolArgumentsError, match="control character"):
        build_request(tool, {"X-Trace": "abc\r\nAuthorization: Bearer x"}, "https://api.example")


def test_missing_and_unknown_arguments_are_tool_argument_errors() -> None:
    with pytest.raises(ToolArgumentsError, match=r"missing required argument\(s\): petId"):
        build_request(pet_tool(), {}, "https://pets.example")
    with pytest.raises(ToolArgumentsError, match=r"unknown argument\(s\): owner"):
        build_request(pet_tool(), {"petId": "1", "owner": "x"}, "https://pets.example")
    create = import_api(load_document(petstore())).tool("createPets")
    with pytest.raises(ToolArgumentsError, match="body"):
        build_request(create, {}, "https://pets.example")


def test_query_arrays_repeat_their_key_and_the_body_is_json() -> None:
    parameters = (
        RestParameter("ids", "query", False),
        RestParameter("tags", "query", False, style="form", explode=False),
        RestParameter("q", "query", False),
    )
    tool = RestTool("t", "POST", "/search", parameters, (), body="body")
    request = build_request(
        tool, {"ids": [1, 2], "tags": ["a b", "c"], "q": True, "body": {"n": "é"}}, "https://s.example"
    )
    assert request.url == "https://s.example/search?ids=1&ids=2&tags=a%20b%2Cc&q=true"
    assert (request.method, request.body) == ("POST", '{"n": "é"}'.encode())
    assert request.headers == {"Content-Type": "application/json"}
    with pytest.raises(ToolArgumentsError, match="string, a number or a boolean"):
        build_request(tool, {"q": {"nested": 1}}, "https://s.example")


# -- results -------------------------------------------------------------------------------------------


def test_a_json_object_answer_is_structured_content() -> None:
    result = tool_result(200, "application/json; charset=utf-8", b'{"id": 1, "name": "Rex"}')
    assert result == {
        "content": [{"type": "text", "text": '{"id": 1, "name": "Rex"}'}],
        "structuredContent": {"id": 1, "name": "Rex"},
        "isError": False,
    }


def test_a_json_array_answer_is_wrapped_as_result() -> None:
    result = tool_result(200, "application/vnd.github+json", b"[1, 2]")
    assert result["structuredContent"] == {"result": [1, 2]}
    assert result["content"] == [{"type": "text", "text": "[1, 2]"}]


def test_a_non_json_answer_is_text() -> None:
    result = tool_result(200, "text/plain", b"hello \xff\x1b[31m")
    assert result == {"content": [{"type": "text", "text": "hello \ufffd[31m"}], "isError": False}
    assert tool_result(204, None, b"")["content"] == [{"type": "text", "text": "HTTP 204, no content"}]


def test_oa4_a_404_is_a_tool_error_with_a_bounded_excerpt() -> None:
    result = tool_result(404, "application/json", b'{"message": "Not Found"}' + b" " * 10_000)
    assert result["isError"] is True
    text = result["content"][0]["text"]
    assert text.startswith('HTTP 404: {"message": "Not Found"}')
    assert f"the first {MAX_ERROR_EXCERPT} shown" in text
    assert len(text) < MAX_ERROR_EXCERPT + 100
    assert "structuredContent" not in result


def test_oa4_a_10_mb_answer_is_cut_not_parsed() -> None:
    body = json.dumps({"data": "x" * 10_000_000}).encode()
    result = tool_result(200, "application/json", body)
    assert "structuredContent" not in result
    text = result["content"][0]["text"]
    assert len(text) < 64 * 1024 + 100
    assert text.endswith(f"[cut: {len(body)} bytes, the first {64 * 1024} shown]")
