"""Every error as JSON, {"error": "...", "details": [...]}, and the bearer token every request needs when one is set."""
from __future__ import annotations

import secrets
import sqlite3

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .disk import disk_full
from .web import session


class ApiError(Exception):
    def __init__(self, status: int, message: str, details: list | None = None):
        super().__init__(message)
        self.status, self.message, self.details = status, message, details or []


async def api_error(_request: Request, error: ApiError):
    return JSONResponse({"error": error.message, "details": error.details}, status_code=error.status)


async def storage_error(request: Request, error: Exception):
    """A full disk is the server's condition, not a crash: 507 and a message, as JSON like every error."""
    if disk_full(request.app.state.runs_dir, error):
        return JSONResponse({"error": f"the server's disk is full (No space left on device): {error}; try "
                                      f"again once space is freed", "details": []}, status_code=507)
    return JSONResponse({"error": f"internal error: {error}", "details": []}, status_code=500)


async def http_error(request: Request, error: StarletteHTTPException):
    """Starlette's own errors (an unknown path: 404, a wrong method: 405) in the same shape as ours."""
    message = {404: f"no endpoint {request.url.path!r} (see the README's list of endpoints)",
               405: f"{request.method} is not allowed on {request.url.path!r}"}.get(error.status_code, error.detail)
    return JSONResponse({"error": message, "details": []}, status_code=error.status_code,
                        headers=getattr(error, "headers", None))


async def invalid_request(_request: Request, error: RequestValidationError):
    details = [f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}" for e in error.errors()]
    return JSONResponse({"error": "invalid request: " + "; ".join(details), "details": details}, status_code=422)


async def require_token(request: Request, call_next):
    token = request.app.state.settings.token
    if token and not (secrets.compare_digest(request.headers.get("authorization", ""), f"Bearer {token}")
                      or session.admits(request, token)):  # the web pages' login cookie (server/web/session.py)
        return session.login_redirect(request) or JSONResponse(  # a page: to the login form
            {"error": "missing or wrong bearer token (Authorization: Bearer ...)", "details": []}, status_code=401)
    return await call_next(request)


def install(app: FastAPI) -> None:
    """The error handlers and the token middleware."""
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(OSError, storage_error)
    app.add_exception_handler(sqlite3.Error, storage_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.middleware("http")(require_token)
