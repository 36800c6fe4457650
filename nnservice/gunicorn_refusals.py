"""What the API answers to a request that gunicorn refuses before the app sees it.

gunicorn parses the request line and the headers itself and raises one of its public exceptions
(`gunicorn.http.errors`) when they are malformed or over its limits. `refusal_for` turns each into
the API's error shape (`foundation.errors.error_body`) with the status it deserves: 400 for a
malformed request line, header or chunked body (a negative or non-numeric `Content-Length`
included), 414 for a request line over `limit_request_line`, 431 for more header fields than
`limit_request_fields` or one over `limit_request_field_size`, 408 for headers that did not
arrive in time (`HeaderTimeout`), and 500 for anything else (the server's fault, not the
client's). `nnservice.gunicorn_worker` sends it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from http import HTTPStatus
from ssl import SSLError
from typing import Any

from gunicorn.http.errors import (
    ChunkMissingTerminator,
    ConfigurationProblem,
    ExpectationFailed,
    ForbiddenProxyRequest,
    InvalidChunkExtension,
    InvalidChunkSize,
    InvalidH2CPreface,
    InvalidHeader,
    InvalidHeaderName,
    InvalidHTTPVersion,
    InvalidProxyLine,
    InvalidRequestLine,
    InvalidRequestMethod,
    InvalidResponseHeader,
    InvalidResponseHeaderName,
    InvalidSchemeHeaders,
    LimitRequestHeaders,
    LimitRequestLine,
    ObsoleteFolding,
    ParseException,
    UnsupportedTransferCoding,
)

from foundation.errors import error_body

#: A refusal's message quotes the client's bytes (a request line, a header) up to this length.
MESSAGE_CHARS = 300
#: What a header named in a refusal must look like to be named as the field at fault.
HEADER_NAME = re.compile(r"[A-Z0-9-]{1,64}")
#: The rule a header broke, for the headers gunicorn checks beyond their syntax.
HEADER_RULES = {
    "Content-Length": "Content-Length must be one non-negative decimal integer, and not be sent "
    "with Transfer-Encoding.",
    "Transfer-Encoding": "Transfer-Encoding must end with chunked, name it once, and come with "
    "HTTP/1.1 and no Content-Length.",
}


class HeaderTimeout(Exception):
    """A request's line and headers did not all arrive within the keep-alive timeout."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the request's headers did not arrive within {seconds:g} s")


@dataclass(frozen=True)
class Refusal:
    """An answer in the API's error shape: status, message and the parts at fault."""

    code: int
    message: str
    errors: dict[str, list[str]] = field(default_factory=dict)
    #: False for the server's own faults (a 500: nothing about them is told to the client).
    client_error: bool = True

    @property
    def reason(self) -> str:
        return HTTPStatus(self.code).phrase

    def body(self) -> bytes:
        return json.dumps(error_body(self.code, self.reason, self.message, self.errors)).encode()

    def http_response(self) -> bytes:
        """The whole HTTP/1.1 answer; it closes the connection (where the next request would
        start is unknown)."""
        body = self.body()
        head = (
            f"HTTP/1.1 {self.code} {self.reason}\r\n"
            "Connection: close\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode("latin-1") + body


#: gunicorn's refusals: exception classes -> (status, the part of the request at fault; none for
#: the server's own faults), the first match wins (InvalidResponseHeader is an InvalidHeader;
#: ParseException is the base of gunicorn's parsing errors).
STATUSES: tuple[tuple[tuple[type[BaseException], ...], int, str], ...] = (
    ((InvalidResponseHeader, InvalidResponseHeaderName, ConfigurationProblem), 500, ""),
    ((HeaderTimeout,), 408, "headers"),
    ((LimitRequestLine,), 414, "request_line"),
    ((LimitRequestHeaders,), 431, "headers"),
    (
        (InvalidRequestLine, InvalidRequestMethod, InvalidHTTPVersion, InvalidH2CPreface),
        400,
        "request_line",
    ),
    ((InvalidHeader, InvalidHeaderName, ObsoleteFolding, InvalidSchemeHeaders), 400, "headers"),
    ((InvalidChunkSize, ChunkMissingTerminator, InvalidChunkExtension), 400, "body"),
    ((UnsupportedTransferCoding,), 501, "Transfer-Encoding"),
    ((ExpectationFailed,), 417, "Expect"),
    ((ForbiddenProxyRequest, SSLError), 403, "connection"),
    ((InvalidProxyLine,), 400, "proxy"),
    ((ParseException,), 400, "request"),
)


def _header_field(name: str) -> str:
    """CONTENT-LENGTH -> Content-Length."""
    return "-".join(part.capitalize() for part in name.split("-"))


def refusal_for(exc: BaseException, cfg: Any) -> Refusal:
    """The answer to a request gunicorn refused with `exc`, under gunicorn's settings `cfg`
    (its limits are named in the answer)."""
    code, part = next(
        ((code, part) for classes, code, part in STATUSES if isinstance(exc, classes)), (500, "")
    )
    if not part:
        return Refusal(code, "the server could not answer this request", client_error=False)
    detail = str(exc)[:MESSAGE_CHARS]
    if isinstance(exc, LimitRequestLine):
        rule = f"At most {cfg.limit_request_line} bytes (method, target and HTTP version)."
        return Refusal(code, f"the request line is too long: {detail}", {part: [rule]})
    if isinstance(exc, LimitRequestHeaders):
        rule = (
            f"At most {cfg.limit_request_fields} header fields, each at most "
            f"{cfg.limit_request_field_size} bytes."
        )
        message = f"the request's headers are too many or too large: {detail}"
        return Refusal(code, message, {part: [rule]})
    if isinstance(exc, InvalidHeader) and HEADER_NAME.fullmatch(str(exc.hdr)):
        name = _header_field(exc.hdr)
        rule = HEADER_RULES.get(name, f"{name} has a value that is not allowed.")
        return Refusal(code, f"invalid {name} header", {name: [rule]})
    return Refusal(code, detail, {part: [detail]})
