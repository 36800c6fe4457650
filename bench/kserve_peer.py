"""The peer of the serving benchmark: KServe's Python model server running the seed's network.

`python bench/kserve_peer.py SNAPSHOT.json --port N --workers 2` serves the snapshot (an
nnservice model snapshot as `GET /models/{id}` returns it) as the KServe model `seed`, with
KServe's documented custom-model API: a `kserve.Model` subclass whose `predict` standardizes the
rows and runs the 2-2-1 forward pass with numpy (samples as columns, as nnservice does). v1
protocol: `POST /v1/models/seed:predict` with `{"instances": [[weight, height], ...]}` answers
`{"predictions": [probability_female, ...]}`. Everything else is KServe's default (uvicorn, its
access log, its worker processes).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import kserve  # parses the command line when imported, ignoring what it does not know
import numpy as np

#: The model's name in KServe's URLs.
MODEL_NAME = "seed"


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("snapshot", type=Path)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    return parser.parse_args()


class SnapshotModel(kserve.Model):
    """The snapshot's standardizer and network, evaluated with numpy."""

    def __init__(self, name: str, snapshot: Path) -> None:
        super().__init__(name)
        self.snapshot = snapshot
        self.load()

    def load(self) -> bool:
        data = json.loads(self.snapshot.read_text())
        self.weights = [np.asarray(w, dtype=np.float64) for w in data["weights"]]
        self.biases = [np.asarray(b, dtype=np.float64)[:, None] for b in data["biases"]]
        self.mean = np.asarray(data["normalization"]["mean"], dtype=np.float64)
        self.scale = np.asarray(data["normalization"]["scale"], dtype=np.float64)
        self.ready = True
        return self.ready

    def predict(self, payload: dict | bytes, headers: Any = None) -> dict:
        if isinstance(payload, bytes):  # a body sent without Content-Type: application/json
            payload = json.loads(payload)
        rows = np.asarray(payload["instances"], dtype=np.float64).reshape(-1, 2)
        a = ((rows - self.mean) / self.scale).T
        for w, b in zip(self.weights, self.biases, strict=True):
            a = 1.0 / (1.0 + np.exp(-(w @ a + b)))
        return {"predictions": a[0].tolist()}


def main() -> None:
    arguments = parse_arguments()
    model = SnapshotModel(MODEL_NAME, arguments.snapshot)
    server = kserve.ModelServer(
        http_port=arguments.port, workers=arguments.workers, enable_grpc=False
    )
    server.start([model])


if __name__ == "__main__":
    main()
