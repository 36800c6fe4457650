"""flask-smorest glue: one error shape for every failure, and a stricter argument parser.

Every error the API answers, whether raised by a view (`abort`), by validation, or by Flask itself
(404, 405, 413, 415, 500), has the body `{"code", "status", "message", "errors"}`. Validation
errors name the field directly (`{"hyperparameters": {"epochs": ["..."]}}`) rather than nesting it
under the request location, because every argument here lives in exactly one place.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

import flask_smorest
import marshmallow as ma
import orjson
from flask import Flask, Request, Response, current_app, request
from flask_smorest.error_handler import ErrorSchema as _SmorestErrorSchema
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from foundation.errors import error_body

abort = flask_smorest.abort


class ErrorSchema(_SmorestErrorSchema):
    """The single error body of the API (documentation only)."""

    errors = ma.fields.Dict(
        metadata={
            "description": "Field name -> messages; nested for nested fields and row indexes, "
            'e.g. {"instances": {"17": {"weight": ["..."]}}}'
        }
    )


def abort_unknown_reference(field: str, kind: str, value: str, hint: str = "") -> NoReturn:
    """404 for a request field that names a dataset/model that does not exist."""
    abort(
        404, message=f"{kind} {value!r} not found", errors={field: [f"No {kind} {value!r}.{hint}"]}
    )


def _flatten_locations(messages: Any) -> Any:
    """Drop webargs' location level (`{"json": {...}}` -> `{...}`) so errors name the field."""
    if not isinstance(messages, dict):
        return messages
    merged: dict = {}
    for value in messages.values():
        if isinstance(value, dict):
            merged.update(value)
        else:
            merged.setdefault("_schema", []).extend(value)
    return merged


def too_large_error(limit: int | None, decoded: bool = False) -> dict:
    """The 413 body: the request's body (`decoded`: once its Content-Encoding is undone) is over
    NNSERVICE_MAX_BODY_BYTES."""
    body = "the request body, decompressed," if decoded else "the request body"
    return error_body(
        413,
        "Request Entity Too Large",
        f"{body} is larger than the limit of {limit} bytes",
        {"body": [f"At most {limit} bytes (NNSERVICE_MAX_BODY_BYTES)."]},
    )


def summarize_errors(errors: Any, limit: int = 3) -> str:
    """One line naming the first fields in `errors`, for the error's `message`."""
    paths: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        if len(paths) >= limit:
            return
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}.{key}" if prefix else str(key))
        elif prefix and prefix not in paths:
            paths.append(prefix)

    walk(errors, "")
    return "invalid " + ", ".join(paths) if paths else "invalid request"


class DuplicateKeyError(ValueError):
    """A JSON object has the same key twice (`{"weight": 128, "weight": 400}`)."""

    def __init__(self, key: str):
        super().__init__(f"duplicate key {key!r}")
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    """`object_pairs_hook` of `loads_json`: the object, or DuplicateKeyError."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKeyError(key)
            seen.add(key)
    return obj


def loads_json(data: bytes | str, *, numbers_alike: bool = False) -> Any:
    """Parse a JSON request body strictly: UTF-8, no duplicate keys in any object.

    Raises DuplicateKeyError, or ValueError (not UTF-8, not JSON, too deeply nested, an integer
    past Python's digit limit) with a message for the client.

    `numbers_alike`: the caller treats an integer and a float of the same value alike (as
    /predict's fields do), so a body is first parsed by orjson, several times faster than the
    standard library on rows of numbers, which reads an integer beyond 64 bits as a float.
    orjson keeps the last of two equal keys, so its result is taken only when the body provably
    has none (`_no_duplicate_keys`); any other body, and any that orjson refuses (NaN, lone
    surrogates, deep nesting, ...), is parsed by the standard library as without the flag, so the
    answer (the value, or the error) is the same.
    """
    if numbers_alike and isinstance(data, bytes):
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
        else:
            if _no_duplicate_keys(data, parsed):
                return parsed
    try:
        return json.loads(data, object_pairs_hook=_unique_keys)
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc


def _no_duplicate_keys(text: bytes, parsed: Any) -> bool:
    """True only if the JSON `text`, which parsed as `parsed`, has no key twice in an object.

    Proof by counting: in valid JSON a colon outside a string only separates a key from its
    value, so `text` holds as many colons as its objects have key-value pairs, plus the colons
    inside its strings. A text with at most one `{` has at most one object, the top-level one,
    and parsing it keeps fewer keys than its pairs exactly when a key repeats. So if the colons
    are as many as the parsed object's keys, no key repeats (and no string holds a colon).
    Bodies with several objects (rows as objects) are left to the standard library's check.
    """
    if text.count(b"{") > 1:
        return False
    keys = len(parsed) if type(parsed) is dict else 0
    return text.count(b":") == keys


def invalid_json_errors(error: ValueError) -> dict:
    """The `errors` object of a 400 for `error` from `loads_json`: the duplicate key, or body."""
    if isinstance(error, DuplicateKeyError):
        return {error.key: [f"Duplicate key {error.key!r} in a JSON object."]}
    return {"body": [str(error)]}


def request_json(req: Request, *, numbers_alike: bool = False) -> Any:
    """The request's JSON body: 415 if it is not JSON, 400 naming the problem (or the duplicate
    key) if it does not parse; `missing` for an empty body. `numbers_alike`: see `loads_json`."""
    if not is_json_request(req):
        message = f"expected Content-Type application/json, got {req.mimetype or 'none'}"
        abort(415, message=message, errors={"Content-Type": [message]})
    data = req.get_data(cache=True)
    if not data:
        return core.missing
    try:
        return loads_json(data, numbers_alike=numbers_alike)
    except ValueError as error:  # JSON, Unicode and duplicate-key errors are ValueErrors
        abort(
            400,
            message=f"request body is not valid JSON: {error}",
            errors=invalid_json_errors(error),
        )


def numbers_alike(schema: ma.Schema) -> bool:
    """Whether every field of `schema` takes an integer and a float of the same value alike (its
    class says so with `NUMBERS_ALIKE = True`), so that its body may be parsed the fast way
    (`loads_json`)."""
    return getattr(schema, "NUMBERS_ALIKE", False) is True


class StrictParser(FlaskParser):
    """webargs parser: 415 for a body that is not JSON, 400 for broken JSON, a duplicate key or
    an unknown query parameter, 422 naming fields."""

    #: A query parameter the endpoint does not take is an error, not silently ignored.
    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": ma.RAISE}

    def load_json(self, req: Request, schema: ma.Schema) -> Any:
        return request_json(req, numbers_alike=numbers_alike(schema))

    def handle_error(self, error, req, schema, *, error_status_code, error_headers) -> NoReturn:
        unknown_message = schema.error_messages["unknown"]
        query_errors = error.messages.get("query", {}) if isinstance(error.messages, dict) else {}
        unknown = sorted(
            name for name, messages in query_errors.items() if unknown_message in messages
        )
        if unknown:
            takes = ", ".join(sorted(schema.fields)) or "none"
            abort(
                400,
                message=f"unknown query parameter {', '.join(unknown)}",
                errors={
                    name: [f"Unknown query parameter; this endpoint takes: {takes}."]
                    for name in unknown
                },
            )
        errors = _flatten_locations(error.messages)
        abort(
            error_status_code or self.DEFAULT_VALIDATION_STATUS,
            message=summarize_errors(errors),
            errors=errors,
            headers=error_headers,
        )


def load_body(schema: ma.Schema, body: Any) -> dict:
    """`body` loaded by `schema`; 422 naming every invalid field."""
    try:
        return schema.load(body)
    except ma.ValidationError as error:
        abort(422, message=summarize_errors(error.messages), errors=error.messages)


def parse_json_body(schema: ma.Schema) -> dict:
    """The request's JSON body loaded by `schema` (415/400/422 as @blp.arguments would)."""
    body = request_json(request, numbers_alike=numbers_alike(schema))
    return load_body(schema, {} if body is core.missing else body)


def json_request_body(schema_name: str) -> dict:
    """OpenAPI requestBody for a JSON body of a registered component schema."""
    return {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}
        },
    }


class Blueprint(flask_smorest.Blueprint):
    """A flask-smorest blueprint using `StrictParser`."""

    ARGUMENTS_PARSER = StrictParser()


class Api(flask_smorest.Api):
    """flask-smorest's Api, answering every HTTP error in the one documented shape.

    `create_app` gives it the plugin that lists each operation's error statuses in the OpenAPI
    document (`service.openapi_errors`).
    """

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException):
        """Render any `HTTPException` (ours or Flask's own) as the common error body."""
        data = getattr(error, "data", None) or {}
        message = data.get("message") or error.description or error.name
        if error.code == 404 and request.routing_exception is error:  # no route matched
            message = f"no such endpoint: {request.method} {request.path:.200}"
        errors = data.get("errors", data.get("messages")) or {}
        headers = dict(data.get("headers") or {})
        if error.code == 405 and getattr(error, "valid_methods", None):
            headers["Allow"] = ", ".join(error.valid_methods)
        if error.code == 413 and "message" not in data:
            limit = current_app.config["NNSERVICE_SETTINGS"].max_body_bytes
            return too_large_error(limit), 413, headers
        body = error_body(error.code or 500, error.name, message, errors)
        return body, error.code, headers


#: orjson's options for `json_response`: keys that are not strings become strings, and numpy's
#: scalars are numbers, as the standard library's encoder would write them.
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def json_response(payload: Any, status: int = 200, headers: dict | None = None) -> Response:
    """A JSON response built with orjson (compact, no key sorting), for large bodies: the
    predictions' floats are written several times faster than by the standard library."""
    return Response(
        orjson.dumps(payload, option=_ORJSON_OPTIONS),
        status=status,
        headers=headers,
        mimetype="application/json",
    )


def answer_redirects_in_json(app: Flask) -> None:
    """A redirect that Werkzeug's routing makes (Flask renders it as an HTML page, bypassing
    error handlers) answers in the common error shape, with the same status and Location."""

    @app.before_request
    def _json_redirect() -> tuple[dict, int, dict] | None:
        redirect = request.routing_exception
        if not isinstance(redirect, RequestRedirect):
            return None
        message = f"this resource is at {redirect.new_url}"
        body = error_body(redirect.code, "Permanent Redirect", message)
        return body, redirect.code, {"Location": redirect.new_url}


def register_store_error_handlers(app: Flask) -> None:
    """Map model_store exceptions onto the common error shape (404, 409, 422, 507; an InUse
    409 names its holders in `errors`, e.g. {"aliases": ["latest"]}), a part of the store that
    cannot be reached (the database's OperationalError, the object store's
    ObjectStoreUnreachable) onto 503 naming it, and a full disk under the database onto 507."""
    from sqlalchemy.exc import OperationalError

    from model_store.database import is_disk_full
    from model_store.errors import (
        CorruptSnapshot,
        InUse,
        InvalidId,
        InvalidPageToken,
        InvalidSnapshot,
        NotFound,
        ObjectStoreUnreachable,
        StoreWriteError,
    )
    from service.store_outages import DATABASE, OBJECT_STORE, StoreUnreachable

    def not_found(exc: NotFound):
        return error_body(404, "Not Found", str(exc), {f"{exc.kind}_id": [str(exc)]}), 404

    def invalid_id(exc: InvalidId):
        return error_body(404, "Not Found", f"no such id: {exc}", {"id": [str(exc)]}), 404

    def corrupt(exc: CorruptSnapshot):
        return error_body(409, "Conflict", str(exc), {"model_id": [str(exc)]}), 409

    def in_use(exc: InUse):
        return error_body(409, "Conflict", str(exc), exc.holders), 409

    def invalid_snapshot(exc: InvalidSnapshot):
        return error_body(422, "Unprocessable Entity", str(exc), {"snapshot": [str(exc)]}), 422

    def write_failed(exc: StoreWriteError):
        return error_body(507, "Insufficient Storage", f"the model store cannot write: {exc}"), 507

    def invalid_token(exc: InvalidPageToken):
        return error_body(400, "Bad Request", str(exc), {"page_token": [str(exc)]}), 400

    def unreachable(part: str, exc: Exception):
        cause = getattr(exc, "orig", None) or exc.__cause__ or exc
        app.logger.warning("%s: %s", StoreUnreachable(part), cause)
        message = StoreUnreachable(part).message
        return error_body(503, "Service Unavailable", message, {part: [message]}), 503

    def database_failed(exc: OperationalError):
        if not is_disk_full(exc):
            return unreachable(DATABASE, exc)
        reason = str(exc.orig or exc).splitlines()[0]
        app.logger.error("the store's database cannot write, its disk is full: %s", reason)
        message = f"the store's database cannot write: the disk under it is full ({reason})"
        return error_body(507, "Insufficient Storage", message, {DATABASE: [message]}), 507

    app.register_error_handler(InvalidPageToken, invalid_token)
    app.register_error_handler(OperationalError, database_failed)
    app.register_error_handler(ObjectStoreUnreachable, lambda exc: unreachable(OBJECT_STORE, exc))
    app.register_error_handler(StoreUnreachable, lambda exc: unreachable(exc.part, exc))
    app.register_error_handler(NotFound, not_found)
    app.register_error_handler(InvalidId, invalid_id)
    app.register_error_handler(CorruptSnapshot, corrupt)
    app.register_error_handler(InUse, in_use)
    app.register_error_handler(InvalidSnapshot, invalid_snapshot)
    app.register_error_handler(StoreWriteError, write_failed)
