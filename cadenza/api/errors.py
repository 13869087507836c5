"""One place that turns domain errors into HTTP: `{"error": {"code", "message", "details"}}`, never a trace."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from cadenza.errors import CadenzaError

log = logging.getLogger("cadenza.api")

STATUS = {
    "input": 422,
    "unavailable": 503,
    "not_found": 404,
    "queue_full": 429,
    "conflict": 409,
    "unauthorized": 401,
    "too_large": 413,
    "quota": 413,
    "forbidden": 403,
    "too_many": 429,
    "engine": 500,
    "internal": 500,
}


RETRY_AFTER_SECONDS = 5  # what a 429 asks a client to wait before it tries again


def error_response(status: int, code: str, message: str, details: dict | None = None) -> JSONResponse:
    response = JSONResponse({"error": {"code": code, "message": message, "details": details or {}}}, status_code=status)
    if status == 429:
        response.headers["Retry-After"] = str((details or {}).get("retry_after_s", RETRY_AFTER_SECONDS))
    return response


def install(app: FastAPI) -> None:
    @app.exception_handler(CadenzaError)
    async def domain_error(_: Request, exc: CadenzaError) -> JSONResponse:
        return error_response(STATUS.get(exc.category, 500), exc.category, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": str(e["msg"]).removeprefix("Value error, ")}
            for e in exc.errors()
        ]
        message = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid request"
        return error_response(422, "input", message, {"errors": errors})

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        code = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status_code, "http"
        )
        response = error_response(exc.status_code, code, str(exc.detail))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(500, "internal", f"internal error ({type(exc).__name__}); see the server log")
