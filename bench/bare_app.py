"""The anchor of the predict benchmark: a bare Flask JSON endpoint under the API's own gunicorn
settings.

`python bench/bare_app.py --port N` serves `POST /predict` (parse the JSON body, answer a small
JSON object shaped like the real answer) and `GET /healthz`, with exactly the options of
`nnservice api` (`nnservice.gunicorn_conf.options`: worker count, worker class, access
log, timeouts), read from the same environment variables. No validation, no model, no store.
"""

from __future__ import annotations

import argparse

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


class BareServer(ApiServer):
    """`nnservice api`'s gunicorn application, serving this module's app instead."""

    def load(self) -> Flask:
        return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    BareServer(Settings.from_env(), args.host, args.port).run()


if __name__ == "__main__":
    main()
