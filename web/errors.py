"""The one place that maps ledger errors to HTTP answers (JSON under /api, pages elsewhere)."""

from __future__ import annotations

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from ledger.errors import (
    ConfigurationError,
    Conflict,
    EncodingError,
    LedgerError,
    NotFound,
    ReplayError,
    RuleViolation,
    SignatureError,
    ValidationError,
    VerificationError,
)

STATUS: dict[type[LedgerError], int] = {
    ValidationError: 422,
    EncodingError: 400,
    ReplayError: 409,
    SignatureError: 422,
    RuleViolation: 422,
    NotFound: 404,
    Conflict: 409,
    VerificationError: 422,
    ConfigurationError: 500,
}


def status_for(error: LedgerError) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 400


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def init_app(app: Flask) -> None:
    @app.errorhandler(LedgerError)
    def _ledger_error(error: LedgerError) -> tuple[Response | str, int]:
        status = status_for(error)
        if _wants_json():
            body = error.as_dict()
            errors = getattr(error, "errors", None)
            if errors:
                body["errors"] = errors
            return jsonify(body), status
        return render_template("error.html", status=status, message=error.message), status

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> tuple[Response | str, int]:
        status = error.code or 500
        if _wants_json():
            response = jsonify({"error": (error.name or "error").lower().replace(" ", "_"),
                                "message": error.description or ""})
            for name, value in error.get_headers():  # WWW-Authenticate, Retry-After...
                if name.lower() != "content-type":
                    response.headers[name] = value
            return response, status
        return render_template("error.html", status=status, message=error.description), status
