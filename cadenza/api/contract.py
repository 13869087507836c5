"""What the OpenAPI document promises beyond what FastAPI derives: the error body of every 4xx, the
media types of files, and the request of each task as a union keyed by `task`.

Requests are still validated by the job service (one set of messages for every face); the schemas
here come from the same task models, so the document and the checks cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field, TypeAdapter

from cadenza.tasks import TASK_MODELS


class ErrorDetail(BaseModel):
    code: str = Field(..., description="input, not_found, conflict, queue_full, too_large, quota, unauthorized ...")
    message: str = Field(..., description="What was wrong and what is accepted")
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    """Out: every error the API answers with."""

    error: ErrorDetail


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("The Host header is not a name this server answers to, or the body is not what the route reads"),
    401: _error("Missing or wrong bearer token (when CADENZA_API_TOKEN is set)"),
    403: _error("A cross-origin write, or a remote client of a server without a token"),
    404: _error("No such job, artifact, upload or route"),
    413: _error("The body exceeds its cap (CADENZA_MAX_UPLOAD_MB for uploads, 1 MB otherwise)"),
    422: _error("The request is well formed but not acceptable; the message says what is"),
    429: _error("Too many requests of this kind now (queue full, event streams); see Retry-After"),
}
SUBMIT_ERRORS: dict[int | str, dict[str, Any]] = {
    409: _error("The Idempotency-Key was used for a different request"),
    503: _error("The engine cannot run here; the message says how to fix it"),
}
FILE_TYPES = (
    "audio/wav",
    "audio/flac",
    "audio/mpeg",
    "audio/midi",
    "video/mp4",
    "image/png",
    "image/jpeg",
    "application/json",
    "application/zip",
    "text/plain",
)
FILE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The artifact's bytes, with its own media type",
        "content": {mime: {"schema": {"type": "string", "format": "binary"}} for mime in FILE_TYPES},
    },
    206: {
        "description": "The requested byte range",
        "content": {mime: {"schema": {"type": "string", "format": "binary"}} for mime in FILE_TYPES},
    },
    416: _error("The requested range lies outside the file"),
}


def task_request_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    """(schema of POST /jobs bodies: one variant per task, keyed by `task`; the schemas they refer to)."""
    variants = {}
    for task, model in TASK_MODELS.items():
        input_schema = TypeAdapter(model).json_schema(ref_template="#/components/schemas/{model}")
        defs = input_schema.pop("$defs", {})
        input_schema["properties"].pop("task", None)
        variants[f"{model.__name__}Job"] = {
            "type": "object",
            "title": f"{task} job",
            "properties": {
                "task": {"type": "string", "enum": [task]},
                "engine": {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "Default: the task's"},
                "input": {"$ref": f"#/components/schemas/{model.__name__}"},
                "parent_id": {"anyOf": [{"type": "string", "maxLength": 32}, {"type": "null"}]},
            },
            "required": ["task"],
            "additionalProperties": False,
        }
        variants[model.__name__] = input_schema
        variants.update(defs)
    union = {
        "oneOf": [{"$ref": f"#/components/schemas/{model.__name__}Job"} for model in TASK_MODELS.values()],
        "discriminator": {
            "propertyName": "task",
            "mapping": {task: f"#/components/schemas/{model.__name__}Job" for task, model in TASK_MODELS.items()},
        },
    }
    return union, variants


def install(app: FastAPI) -> None:
    """Replace the generic bodies of POST /jobs and /generate with the task union and generate's fields."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        union, schemas = task_request_schemas()
        components = document.setdefault("components", {}).setdefault("schemas", {})
        components.update(schemas)
        paths = document["paths"]
        paths["/api/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"] = union
        generate = dict(schemas["GenerateRequest"])
        generate["properties"] = {
            **generate["properties"],
            "engine": {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "Default: procedural"},
        }
        paths["/api/v1/generate"]["post"]["requestBody"]["content"]["application/json"]["schema"] = generate
        error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        for operations in paths.values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    if status.isdigit() and int(status) >= 400:
                        response["content"] = error_content
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
