"""OpenAPI 3 and Swagger 2 documents to tool bundles."""

from __future__ import annotations

import pytest

from providers.tools.exceptions import ToolApiSchemaError
from providers.tools.openapi import ApiToolBundle, parse_schema
from tests.tools.schemas import PETSTORE_OPENAPI, SWAGGER


def by_id(bundles: list[ApiToolBundle]) -> dict[str, ApiToolBundle]:
    return {bundle.operation_id: bundle for bundle in bundles}


def test_openapi_operations_become_tools_with_their_parameters() -> None:
    # when a realistic OpenAPI 3 document (refs, allOf, path-level parameters, server variables) is parsed
    parsed = parse_schema(PETSTORE_OPENAPI)
    # then every operation is a tool, named by operationId or path and method
    assert parsed.schema_type == "openapi"
    assert parsed.description == "A pet store with inventory and orders."
    tools = by_id(parsed.bundles)
    assert list(tools) == [
        "listPets",
        "createPet",
        "getPet",
        "petspetId_delete",
    ]  # Dify drops the slashes and braces
    list_pets = tools["listPets"]
    assert list_pets.server_url == "https://petstore.example.com/v1/pets"
    assert list_pets.method == "get"
    assert list_pets.summary == "List pets"
    params = {p.name: p for p in list_pets.parameters}
    assert params["limit"].type == "number" and params["limit"].default == 20
    assert params["limit"].llm_description == "How many items to return"
    assert params["status"].type == "select"
    assert [o.value for o in params["status"].options] == ["available", "sold"]
    assert all(p.form == "llm" for p in list_pets.parameters)
    # the stored operation is self-contained: refs resolved, locations kept
    assert [(p["name"], p["in"]) for p in list_pets.openapi["parameters"]] == [
        ("limit", "query"),
        ("status", "query"),
        ("X-Request-Id", "header"),
    ]


def test_request_body_properties_and_path_level_parameters() -> None:
    tools = by_id(parse_schema(PETSTORE_OPENAPI).bundles)
    create = tools["createPet"]
    assert create.summary == "Add a pet to the store."
    params = {p.name: p for p in create.parameters}
    assert set(params) == {"name", "tag", "age", "vaccinated", "owner"}
    assert params["name"].required and not params["tag"].required
    assert (params["age"].type, params["vaccinated"].type, params["owner"].type) == (
        "number",
        "boolean",
        "object",
    )
    schema = create.openapi["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["name"] and "$ref" not in schema["properties"]["owner"]
    get_pet = tools["getPet"]
    assert [(p.name, p.type, p.required) for p in get_pet.parameters] == [("petId", "number", True)]
    assert get_pet.server_url.endswith("/pets/{petId}")


def test_bundles_survive_a_round_trip_through_json() -> None:
    bundle = parse_schema(PETSTORE_OPENAPI).bundles[0]
    again = ApiToolBundle.from_dict(bundle.to_dict())
    assert again.to_dict() == bundle.to_dict()
    parameter = bundle.to_dict()["parameters"][0]
    assert parameter["label"] == {"en_US": "limit", "zh_Hans": "limit", "pt_BR": "limit", "ja_JP": "limit"}
    assert set(parameter) >= {"name", "type", "form", "required", "default", "options", "llm_description"}


def test_swagger_2_servers_bodies_and_form_data() -> None:
    parsed = parse_schema(SWAGGER)
    assert parsed.schema_type == "swagger"
    tools = by_id(parsed.bundles)
    forecast = tools["forecast"]
    assert forecast.server_url == "https://api.weather.example/data/2.5/forecast"
    assert [(p.name, p.type, p.required, p.default) for p in forecast.parameters] == [
        ("q", "string", True, None),
        ("days", "number", False, 3),
    ]
    alert = tools["createAlert"]
    assert {p.name: p.required for p in alert.parameters} == {"city": True, "threshold": False}
    assert "application/json" in alert.openapi["requestBody"]["content"]
    upload = tools["upload"]
    assert {p.name: p.type for p in upload.parameters} == {"file": "file", "note": "string"}
    assert "multipart/form-data" in upload.openapi["requestBody"]["content"]
    assert parsed.warnings["missing_summary"] == "No summary or description found in operation post /alerts."


def test_duplicated_parameters_are_warned_about() -> None:
    document = """
openapi: 3.0.0
info: {title: t}
servers: [{url: "https://x.example"}]
paths:
  /a:
    post:
      operationId: a
      parameters: [{name: q, in: query, schema: {type: string}}]
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {q: {type: string}}}
"""
    assert parse_schema(document).warnings["duplicated_parameter"] == "Parameter q is duplicated."


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("", "neither json nor yaml"),
        ("- just\n- a list", "neither json nor yaml"),
        ('{"openapi": "3.0.0", "info": {}, "paths": {"/a": {}}}', "No server found in the openapi yaml."),
        ('{"openapi": "3.0.0", "servers": [{"url": "https://x"}], "paths": {}}', "No paths found"),
        ('{"swagger": "2.0", "paths": {"/a": {}}}', "No server found in the swagger yaml."),
        (
            '{"schema_version": "v1", "api": {"type": "openapi", "url": "https://x/openapi.yaml"}}',
            "plugin manifests",
        ),
        (
            '{"openapi": "3.0.0", "servers": [{"url": "https://x"}], "paths": {"/a": {"get": {"parameters": [{"$ref": "#/nope"}]}}}}',
            "Invalid reference #/nope",
        ),
    ],
)
def test_documents_that_cannot_be_tools_are_refused_with_a_reason(document: str, message: str) -> None:
    with pytest.raises(ToolApiSchemaError, match=message):
        parse_schema(document)
