"""The error statuses every operation can answer, written into the OpenAPI document.

Views document the errors that belong to them (`@blp.alt_response(409, ...)`); the ones that come
from how a request is made are the same everywhere and are added here for each operation: 401 (a
key is needed; not for the health probes), 404 (an id in the path that does not exist),
400/413/415/422 (a request body that is not JSON, too large, of another type or invalid), 400 (an
unknown query parameter, or a `page_token` the listing did not hand out), 422 (bad query parameter
values) and 507 (a write the store could not make). With every status listed, clients (and the
schemathesis tests) can rely on the documented statuses instead of a catch-all `default`.
"""

from __future__ import annotations

from http import HTTPStatus

from apispec import BasePlugin
from werkzeug.routing import Rule

from service.auth import OPEN_ENDPOINTS, READ_ONLY_POSTS

WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
BODY_ERRORS = (400, 413, 415, 422)
#: The paged listings' query parameter: a token they did not hand out is a 400.


def error_statuses(path: str, method: str, operation: dict, endpoint: str | None) -> list[int]:
    """The generic error statuses of one operation (`endpoint`: its Flask endpoint name)."""
    statuses = [] if endpoint in OPEN_ENDPOINTS else [401]
    if "{" in path:
        statuses.append(404)
    if "requestBody" in operation:
        statuses += BODY_ERRORS
    if any(parameter.get("in") == "query" for parameter in operation.get("parameters", [])):
        statuses += [400, 422]
    if method in WRITE_METHODS and endpoint not in READ_ONLY_POSTS:
        statuses.append(507)
    return statuses


class ErrorResponsesPlugin(BasePlugin):
    """apispec plugin adding `error_statuses` to each operation (explicit ones are kept)."""

    def operation_helper(
        self,
        path: str | None = None,
        operations: dict | None = None,
        rule: Rule | None = None,
        **_: object,
    ) -> None:
        endpoint = rule.endpoint if rule is not None else None
        for method, operation in (operations or {}).items():
            responses = operation.setdefault("responses", {})
            documented = {str(code) for code in responses}
            for status in error_statuses(path or "", method, operation, endpoint):
                if str(status) not in documented:
                    responses[str(status)] = HTTPStatus(status).name
