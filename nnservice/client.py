"""A small HTTP client for the nnservice API: one method per endpoint the command line calls.

Every endpoint method returns the server's decoded JSON body; the listings (`list_jobs`,
`list_models`, `list_datasets`) follow the server's pages up to a limit and return one list. A
response with an error status raises
`ApiError` carrying the server's own message and field errors (the API answers errors as
`{"code", "status", "message", "errors"}`); a server that cannot be reached raises
`ServiceUnreachable` naming the URL. The client holds no state beyond the base URL, the key and a
`requests.Session`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import requests

from foundation.limits import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

DEFAULT_URL = "http://127.0.0.1:8000"
#: Seconds without a byte from an event stream before giving up (the server sends a heartbeat
#: comment every 15 s).
EVENTS_READ_TIMEOUT = 60.0
#: Seconds between two tries to open `GET /events` again after its connection broke (as the
#: stream's `retry:` asks).
EVENTS_RETRY_SECONDS = 2.0


class ApiError(Exception):
    """The server answered with an error status.

    `status` is the HTTP status, `message` the server's message, and `errors` its field errors
    (whatever JSON it sent under `"errors"`, e.g. `{"hyperparameters": {"epochs": ["why"]}}`).
    """

    def __init__(self, status: int, message: str, errors: Any = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.errors = errors

    def field_errors(self) -> list[tuple[str, str]]:
        """The field errors flattened to `(dotted.field.path, reason)` pairs."""
        pairs: list[tuple[str, str]] = []
        _flatten_errors(self.errors, [], pairs)
        return pairs


class ServiceUnreachable(Exception):
    """No HTTP answer came from `url` (connection refused, DNS failure, timeout)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach nnservice at {url}: {reason}")
        self.url = url
        self.reason = reason


def _flatten_errors(value: Any, path: list[str], out: list[tuple[str, str]]) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            # "_schema" holds errors about the body as a whole, not about one field.
            step = [] if key == "_schema" else [str(key)]
            _flatten_errors(inner, path + step, out)
    elif isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        out.extend((".".join(path) or "(body)", item) for item in value)
    elif isinstance(value, list | tuple):
        for index, inner in enumerate(value):
            _flatten_errors(inner, path + [str(index)], out)
    elif value is not None:
        out.append((".".join(path) or "(body)", str(value)))


def content_type_for(path: str | Path) -> str:
    """The upload content type for a data file: `.tsv` is tab-separated, anything else CSV."""
    return "text/tab-separated-values" if Path(path).suffix.lower() == ".tsv" else "text/csv"


class Client:
    """Calls the nnservice API at `base_url`, sending `Authorization: Bearer <api_key>` if given."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        api_key: str | None = None,
        timeout: float = 60.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    # -- transport ---------------------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send one request; return its decoded JSON body (errors raise, see the module doc)."""
        return _json_body(self.send(method, path, **kwargs))

    def send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send one request; return the response (error statuses raise, see the module doc)."""
        url = self.base_url + path
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.ConnectionError as exc:
            raise ServiceUnreachable(self.base_url, _connection_reason(exc)) from exc
        except requests.Timeout as exc:
            raise ServiceUnreachable(
                self.base_url, f"no answer within {kwargs['timeout']} s"
            ) from exc
        if response.status_code >= 400:
            raise _api_error(response)
        return response

    def list_pages(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        limit: int | None = DEFAULT_PAGE_SIZE,
        page_size: int = MAX_PAGE_SIZE,
    ) -> list[dict]:
        """`GET path` page by page (newest first): the first `limit` items, or every item if
        `limit` is None. Each request asks for at most `page_size` (the server's cap at most) and
        the next one follows the `X-Next-Page-Token` (or `Link`) header of the last."""
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, not {page_size}")
        query = {name: value for name, value in (params or {}).items() if value is not None}
        items: list[dict] = []
        token: str | None = None
        while limit is None or len(items) < limit:
            size = page_size if limit is None else min(limit - len(items), page_size)
            page_query = {**query, "limit": size, **({"page_token": token} if token else {})}
            response = self.send("GET", path, params=page_query)
            items.extend(_json_body(response))
            token = _next_page_token(response)
            if token is None:
                break
        return items

    # -- datasets ----------------------------------------------------------------------------------

    def upload_dataset_file(self, path: str | Path, name: str | None = None) -> dict:
        """`POST /datasets` with a CSV/TSV file as it is (content type from its extension)."""
        path = Path(path)
        params = {"name": name} if name else None
        return self.request(
            "POST",
            "/datasets",
            data=path.read_bytes(),
            params=params,
            headers={"Content-Type": content_type_for(path)},
        )

    def list_datasets(
        self, limit: int | None = DEFAULT_PAGE_SIZE, *, page_size: int = MAX_PAGE_SIZE
    ) -> list[dict]:
        """`GET /datasets`: dataset metadata, newest first; at most `limit` (None: all)."""
        return self.list_pages("/datasets", limit=limit, page_size=page_size)

    def delete_dataset(self, dataset_id: str) -> None:
        """`DELETE /datasets/{id}`: remove it for good (409 names the jobs that still use it)."""
        self.send("DELETE", f"/datasets/{_segment(dataset_id)}")

    # -- training jobs -----------------------------------------------------------------------------

    def train(
        self,
        dataset_id: str,
        hyperparameters: Mapping[str, Any] | None = None,
        *,
        promote: bool | str | None = None,
        promote_alias: str | None = None,
        initial_model_id: str | None = None,
    ) -> dict:
        """`POST /train`: start a job; answers `{"job_id", "status_url"}`.

        Only what is given is sent, so the server's defaults apply to the rest.
        """
        body: dict[str, Any] = {"dataset_id": dataset_id}
        if hyperparameters:
            body["hyperparameters"] = dict(hyperparameters)
        if promote is not None:
            body["promote"] = promote
        if promote_alias:
            body["promote_alias"] = promote_alias
        if initial_model_id:
            body["initial_model_id"] = initial_model_id
        return self.request("POST", "/train", json=body)

    # -- sweeps ------------------------------------------------------------------------------------

    def start_sweep(self, body: Mapping[str, Any]) -> dict:
        """`POST /sweeps`: start a grid or a search; answers `{"sweep_id", "job_ids", ...}`."""
        return self.request("POST", "/sweeps", json=dict(body))

    def get_sweep(self, sweep_id: str) -> dict:
        """`GET /sweeps/{id}`: the sweep, its trials ranked, its best trial."""
        return self.request("GET", f"/sweeps/{_segment(sweep_id)}")

    def list_sweeps(
        self, limit: int | None = DEFAULT_PAGE_SIZE, *, state: str | None = None
    ) -> list[dict]:
        """`GET /sweeps`: recent sweeps, newest first; at most `limit` (None: all)."""
        return self.list_pages("/sweeps", {"state": state}, limit=limit)

    def cancel_sweep(self, sweep_id: str) -> dict:
        """`POST /sweeps/{id}/cancel`: no new trials; unfinished ones are cancelled."""
        return self.request("POST", f"/sweeps/{_segment(sweep_id)}/cancel")

    def get_job(self, job_id: str) -> dict:
        """`GET /jobs/{id}`: the job record (state, progress, loss history, model id, metrics)."""
        return self.request("GET", f"/jobs/{_segment(job_id)}")

    def list_jobs(
        self,
        limit: int | None = DEFAULT_PAGE_SIZE,
        *,
        state: str | None = None,
        dataset_id: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> list[dict]:
        """`GET /jobs`: recent jobs, newest first, optionally of one state and/or dataset; at
        most `limit` (None: all)."""
        params = {"state": state, "dataset_id": dataset_id}
        return self.list_pages("/jobs", params, limit=limit, page_size=page_size)

    def cancel_job(self, job_id: str) -> dict:
        """`POST /jobs/{id}/cancel`: ask a queued or running job to stop."""
        return self.request("POST", f"/jobs/{_segment(job_id)}/cancel")

    def purge_job(self, job_id: str) -> None:
        """`DELETE /jobs/{id}?purge=true`: remove a finished job's record (409 if unfinished)."""
        self.send("DELETE", f"/jobs/{_segment(job_id)}", params={"purge": "true"})

    def job_events(self, job_id: str) -> Iterator[tuple[str, dict]]:
        """Follow `GET /jobs/{id}/events`: yield (event, data) for each `progress` and the final
        `end`; a `reconnect` opens the stream again."""
        while True:
            for event, data in self._event_stream(f"/jobs/{_segment(job_id)}/events"):
                if event == "reconnect":
                    break
                yield event, data
                if event == "end":
                    return

    def registry_events(
        self, types: Sequence[str] | None = None, last_event_id: int | None = None
    ) -> Iterator[dict]:
        """Follow `GET /events`: yield the data of each registry event (`{"id", "type", "at",
        ...}`), and `{"type": "reset", "oldest_id": ...}` when the events after the resume
        point were pruned. `types`: only these; `last_event_id`: resume after it (0: from the
        oldest kept; None: from now on).

        A `reconnect`, or a stream that breaks (the API restarted), opens the stream again
        after the last event received (`Last-Event-ID`), so no event is missed or repeated;
        ServiceUnreachable if the first stream cannot be opened, or once none could be for
        `EVENTS_READ_TIMEOUT` seconds.
        """
        position = last_event_id
        params = {"types": ",".join(types)} if types else {}
        connected, failing_since = False, None
        while True:
            headers = {} if position is None else {"Last-Event-ID": str(position)}
            try:
                for event, data in self._event_stream("/events", params=params, headers=headers):
                    connected, failing_since = True, None
                    if event == "reconnect":
                        position = data.get("last_event_id", position)
                        break
                    if event == "reset":
                        yield {"type": "reset", **data}
                        continue
                    position = data["id"]
                    yield data
                continue  # `reconnect`, or the server ended the stream: open a new one
            except (ServiceUnreachable, requests.RequestException) as exc:
                connected = connected or not isinstance(exc, ServiceUnreachable)  # broke midway
                now = time.monotonic()
                failing_since = failing_since or now
                if not connected or now - failing_since >= EVENTS_READ_TIMEOUT:
                    if isinstance(exc, ServiceUnreachable):
                        raise
                    raise ServiceUnreachable(self.base_url, str(exc)) from exc
            time.sleep(EVENTS_RETRY_SECONDS)

    def _event_stream(self, path: str, **kwargs: Any) -> Iterator[tuple[str, dict]]:
        """(event, decoded data) of each Server-Sent Event of `path`, until the stream closes."""
        try:
            response = self.session.get(
                self.base_url + path,
                stream=True,
                timeout=(self.timeout, EVENTS_READ_TIMEOUT),
                **kwargs,
            )
        except requests.ConnectionError as exc:
            raise ServiceUnreachable(self.base_url, _connection_reason(exc)) from exc
        except requests.Timeout as exc:
            raise ServiceUnreachable(self.base_url, f"no answer within {self.timeout} s") from exc
        with response:
            if response.status_code >= 400:
                raise _api_error(response)
            event, data = "message", []
            for line in response.iter_lines(decode_unicode=True):
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
                elif not line and data:
                    yield event, json.loads("\n".join(data))
                    event, data = "message", []

    # -- models ------------------------------------------------------------------------------------

    def list_models(
        self,
        limit: int | None = DEFAULT_PAGE_SIZE,
        *,
        dataset_id: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> list[dict]:
        """`GET /models`: snapshot summaries (id, metrics, is_latest, status), newest first,
        optionally of one dataset; at most `limit` (None: all)."""
        params = {"dataset_id": dataset_id}
        return self.list_pages("/models", params, limit=limit, page_size=page_size)

    def promote_model(self, model_id: str) -> dict:
        """`POST /models/{id}/promote`: make it the latest model."""
        return self.request("POST", f"/models/{_segment(model_id)}/promote")

    def delete_model(self, model_id: str) -> None:
        """`DELETE /models/{id}`: remove it for good (409 names the aliases and jobs that
        still need it)."""
        self.send("DELETE", f"/models/{_segment(model_id)}")

    # -- aliases -----------------------------------------------------------------------------------

    def set_alias(
        self, name: str, model_id: str | None = None, split: Mapping[str, int] | None = None
    ) -> dict:
        """`PUT /aliases/{name}`: point it at `model_id`, or a split {model id: weight}."""
        if split:
            members = [{"model_id": key, "weight": weight} for key, weight in split.items()]
            body: dict[str, Any] = {"split": members}
        else:
            body = {"model_id": model_id}
        return self.request("PUT", f"/aliases/{_segment(name)}", json=body)

    def get_alias(self, name: str) -> dict:
        """`GET /aliases/{name}`: what it names now."""
        return self.request("GET", f"/aliases/{_segment(name)}")

    def list_aliases(self) -> list[dict]:
        """`GET /aliases`: every alias set now."""
        return self.request("GET", "/aliases")

    def alias_history(self, name: str) -> list[dict]:
        """`GET /aliases/{name}/history`: its changes, newest first."""
        return self.request("GET", f"/aliases/{_segment(name)}/history")

    def remove_alias(self, name: str) -> None:
        """`DELETE /aliases/{name}`."""
        self.request("DELETE", f"/aliases/{_segment(name)}")

    # -- prediction --------------------------------------------------------------------------------

    def predict(
        self,
        instances: Sequence[Mapping[str, float]],
        model_id: str | None = None,
        alias: str | None = None,
    ) -> dict:
        """`POST /predict` for rows `{"weight", "height"}` with the latest model, `model_id`'s
        or `alias`'s; answers `{"model_id", "alias", "predictions"}`."""
        body: dict[str, Any] = {"instances": [dict(row) for row in instances]}
        if model_id:
            body["model_id"] = model_id
        if alias:
            body["alias"] = alias
        return self.request("POST", "/predict", json=body)

    # -- batch predictions -------------------------------------------------------------------------

    def submit_batch_file(
        self,
        path: str | Path,
        model_id: str | None = None,
        alias: str | None = None,
        chunk_rows: int | None = None,
    ) -> dict:
        """`POST /batch-predictions` with a CSV/TSV file, streamed from disk (never read whole);
        answers `{"batch_prediction_id", "status_url", "result_url", "model_id", "rows_total"}`."""
        path = Path(path)
        options = {"model_id": model_id, "alias": alias, "chunk_rows": chunk_rows}
        params = {name: value for name, value in options.items() if value is not None}
        with path.open("rb") as file:
            return self.request(
                "POST",
                "/batch-predictions",
                data=file,
                params=params,
                headers={"Content-Type": content_type_for(path)},
            )

    def get_batch(self, batch_id: str) -> dict:
        """`GET /batch-predictions/{id}`: state, rows done and total, model, figures."""
        return self.request("GET", f"/batch-predictions/{_segment(batch_id)}")

    def cancel_batch(self, batch_id: str) -> dict:
        """`POST /batch-predictions/{id}/cancel`."""
        return self.request("POST", f"/batch-predictions/{_segment(batch_id)}/cancel")

    def delete_batch(self, batch_id: str) -> None:
        """`DELETE /batch-predictions/{id}`: remove an ended batch, its input copy and results
        for good (409 while it is queued or running)."""
        self.send("DELETE", f"/batch-predictions/{_segment(batch_id)}")

    def batch_result(self, batch_id: str, piece_bytes: int = 65536) -> Iterator[bytes]:
        """`GET /batch-predictions/{id}/result`: the CSV, a piece at a time as it arrives."""
        path = f"/batch-predictions/{_segment(batch_id)}/result"
        with self.send("GET", path, stream=True) as response:
            yield from response.iter_content(piece_bytes)


def _segment(value: str) -> str:
    """Quote an id for use as one path segment (ids are validated server-side)."""
    return quote(str(value), safe="")


def _json_body(response: requests.Response) -> Any:
    """The decoded JSON body of a successful response (None if empty)."""
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise ApiError(
            response.status_code, f"the server answered non-JSON: {response.text[:200]!r}"
        ) from exc


def _next_page_token(response: requests.Response) -> str | None:
    """The next page's token: `X-Next-Page-Token`, else `page_token` of the `Link` rel=next."""
    token = response.headers.get("X-Next-Page-Token")
    if token:
        return token
    next_url = response.links.get("next", {}).get("url")
    if not next_url:
        return None
    tokens = parse_qs(urlsplit(next_url).query).get("page_token")
    return tokens[0] if tokens else None


def _api_error(response: requests.Response) -> ApiError:
    """Build an `ApiError` from an error response, keeping the server's message if it sent one."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        message = body.get("message") or body.get("status") or response.reason
        return ApiError(response.status_code, str(message), body.get("errors"))
    text = response.text.strip()
    message = f"{response.reason}: {text[:200]}" if text else str(response.reason)
    return ApiError(response.status_code, message)


def _connection_reason(exc: requests.ConnectionError) -> str:
    text = str(exc)
    if "Connection refused" in text or "ECONNREFUSED" in text or "Errno 111" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "unknown host"
    return text
