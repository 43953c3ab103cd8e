"""Real-world-like API documents for the parser and API tool tests."""

from __future__ import annotations

import json

PETSTORE_OPENAPI = """
openapi: 3.0.3
info:
  title: Petstore
  description: A pet store with inventory and orders.
  version: 1.0.0
servers:
  - url: "{scheme}://petstore.example.com/{base}"
    variables:
      scheme: {default: https}
      base: {default: v1}
paths:
  /pets:
    get:
      operationId: listPets
      summary: List pets
      parameters:
        - $ref: "#/components/parameters/Limit"
        - name: status
          in: query
          description: Status filter
          schema: {type: string, enum: [available, sold], default: available}
        - name: X-Request-Id
          in: header
          schema: {type: string}
      responses:
        "200": {description: ok}
    post:
      operationId: createPet
      description: Add a pet to the store.
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/NewPet"}
      responses:
        "201": {description: created}
  /pets/{petId}:
    parameters:
      - name: petId
        in: path
        required: true
        description: The pet's id
        schema: {type: integer}
    get:
      operationId: getPet
      summary: One pet
      responses:
        "200": {description: ok}
    delete:
      summary: Delete a pet
      responses:
        "204": {description: deleted}
components:
  parameters:
    Limit:
      name: limit
      in: query
      description: How many items to return
      schema: {type: integer, default: 20}
  schemas:
    Pet:
      type: object
      properties:
        name: {type: string, description: The pet's name}
        tag: {type: string}
    NewPet:
      allOf:
        - $ref: "#/components/schemas/Pet"
        - type: object
          required: [name]
          properties:
            age: {type: integer, description: Age in years}
            vaccinated: {type: boolean}
            owner: {$ref: "#/components/schemas/Owner"}
    Owner:
      type: object
      description: Who owns it
      properties:
        email: {type: string}
"""

SWAGGER = json.dumps(
    {
        "swagger": "2.0",
        "info": {"title": "Weather", "description": "Forecasts", "version": "2"},
        "host": "api.weather.example",
        "basePath": "/data/2.5",
        "schemes": ["https"],
        "paths": {
            "/forecast": {
                "get": {
                    "operationId": "forecast",
                    "summary": "Forecast for a city",
                    "parameters": [
                        {
                            "name": "q",
                            "in": "query",
                            "type": "string",
                            "required": True,
                            "description": "City",
                        },
                        {"name": "days", "in": "query", "type": "integer", "default": 3},
                    ],
                }
            },
            "/alerts": {
                "post": {
                    "operationId": "createAlert",
                    "parameters": [{"name": "body", "in": "body", "schema": {"$ref": "#/definitions/Alert"}}],
                }
            },
            "/upload": {
                "post": {
                    "operationId": "upload",
                    "summary": "Upload a report",
                    "parameters": [
                        {"name": "file", "in": "formData", "type": "file", "required": True},
                        {"name": "note", "in": "formData", "type": "string"},
                    ],
                }
            },
        },
        "definitions": {
            "Alert": {
                "type": "object",
                "required": ["city"],
                "properties": {"city": {"type": "string"}, "threshold": {"type": "number"}},
            }
        },
    }
)


def echo_api(server_url: str) -> str:
    """An API on the loopback test server: every kind of parameter, auth-free."""
    return json.dumps(
        {
            "openapi": "3.0.0",
            "info": {"title": "Echo", "description": "Echo service", "version": "1"},
            "servers": [{"url": server_url}],
            "paths": {
                "/items/{itemId}": {
                    "post": {
                        "operationId": "updateItem",
                        "summary": "Update an item",
                        "parameters": [
                            {"name": "itemId", "in": "path", "required": True, "schema": {"type": "string"}},
                            {"name": "verbose", "in": "query", "schema": {"type": "boolean"}},
                            {"name": "X-Trace", "in": "header", "schema": {"type": "string"}},
                        ],
                        "requestBody": {
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["count"],
                                        "properties": {
                                            "count": {"type": "integer"},
                                            "ratio": {"type": "number"},
                                            "active": {"type": "boolean"},
                                            "tags": {"type": "array", "items": {"type": "string"}},
                                            "mode": {"type": "string", "default": "fast"},
                                        },
                                    }
                                }
                            }
                        },
                    }
                },
                "/text": {"get": {"operationId": "getText", "summary": "Plain text"}},
                "/report": {"get": {"operationId": "getReport", "summary": "A file"}},
                "/fail": {"get": {"operationId": "fail"}},
                "/empty": {"get": {"operationId": "empty"}},
            },
        }
    )
