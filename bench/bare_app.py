"""The anchor of the predict benchmark: a bare Flask JSON endpoint under the API's own gunicorn
settings.

`python bench/bare_app.py --port N` serves `POST /predict` (parse the JSON body, answer a small
JSON object shaped like the real answer) and `GET /healthz`, with exactly the options of
`nnservice api` (`nnservice.gunicorn_conf.options`: worker count, worker class, access
log, timeouts), read from the same environment variables. No validation, no model, no store.

With `--wsgi` the same two routes are a plain WSGI callable, without Flask: what the server
settings alone cost a request (bench/bench_kserve.py `--floors`).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable

from flask import Flask, jsonify, request

from foundation.settings import Settings
from nnservice.gunicorn_conf import ApiServer

app = Flask(__name__)


@app.post("/predict")
def predict():
    """Parse the body and answer a fixed prediction of the same shape as the service's."""
    data = request.get_json()
    gender = "F" if data.get("weight", 0) < 140 else "M"
    return jsonify(model_id="bare", predictions=[{"gender": gender, "probability_female": 0.5}])


@app.get("/healthz")
def healthz():
    return jsonify(status="ok")


def plain_wsgi(environ: dict, start_response: Callable) -> Iterable[bytes]:
    """The same two routes as `app`, as a plain WSGI callable (no framework)."""
    if environ["PATH_INFO"] == "/predict" and environ["REQUEST_METHOD"] == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        data = json.loads(environ["wsgi.input"].read(length))
        gender = "F" if data.get("weight", 0) < 140 else "M"
        prediction = {"gender": gender, "probability_female": 0.5}
        answer = {"model_id": "bare", "predictions": [prediction]}
    elif environ["PATH_INFO"] == "/healthz":
        answer = {"status": "ok"}
    else:
        start_response("404 NOT FOUND", [("Content-Type", "application/json")])
        return [b'{"status": "not found"}']
    body = json.dumps(answer).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    start_response("200 OK", headers)
    return [body]


class BareServer(ApiServer):
    """`nnservice api`'s gunicorn application, serving this module's app (or `plain_wsgi`)."""

    def __init__(self, settings: Settings, host: str, port: int, wsgi: bool = False) -> None:
        self.plain = wsgi
        super().__init__(settings, host, port)

    def load(self) -> Callable:
        return plain_wsgi if self.plain else app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--wsgi", action="store_true", help="a plain WSGI callable, no Flask")
    args = parser.parse_args()
    BareServer(Settings.from_env(), args.host, args.port, args.wsgi).run()


if __name__ == "__main__":
    main()
