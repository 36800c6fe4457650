"""Issue 5, item 2: a 10,000-row POST /predict against the cost of its JSON alone.

The body holds the 10,000 people of bench/people.py (weight, height as the file writes them).
In one process, interleaved, median of `--repeats` rounds:
  - the request through the real Flask app (a direct WSGI call: routing, JSON parsing, per-row
    validation, the network, the response body),
  - the anchor: `json.loads` of that body plus `json.dumps` of the response body it produced.
Target: the request takes <= 2x the anchor. Then the same request over HTTP to `nnservice api`
(production settings; keep-alive client, median round trip) against the same anchor timed in
the client process. The validation is checked to stay strict: a bad cell in the last row answers
422 naming the row and the field. A breakdown times the steps of the request one by one.

    python bench/bench_predict_batch.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import requests
from harness import Stack, machine, markdown_table, verdict
from inprocess import service_app, wsgi_request
from people import people_file

from service.measurements import validate_json_rows

DATA = people_file()


def people_body(path: Path = DATA) -> bytes:
    """{"instances": [{"weight", "height"}, ...]} of every row of the 10k file."""
    with open(path, newline="") as file:
        rows = [
            {"weight": float(row["Weight"]), "height": float(row["Height"])}
            for row in csv.DictReader(file, delimiter="\t")
        ]
    return json.dumps({"instances": rows}).encode()


def timed(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def interleaved(cases: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each case, the cases run in turn `repeats` times (after one warm-up)."""
    for function in cases.values():
        function()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, function in cases.items():
            times[name].append(timed(function))
    return {name: statistics.median(values) for name, values in times.items()}


def strictness(call: Callable[[], tuple[str, bytes]]) -> str:
    """The 422 answer for a bad weight in the last row (must name row 9999 and the field)."""
    status, body = call()
    errors = json.loads(body)["errors"]
    if not status.startswith("422") or "weight" not in errors["instances"]["9999"]:
        raise RuntimeError(f"validation is not strict: {status} {body[:300]!r}")
    return json.dumps(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description="10,000-row /predict vs json.loads + json.dumps.")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    body = people_body()
    rows = json.loads(body)["instances"]
    bad_rows = rows[:-1] + [{"weight": "heavy", "height": rows[-1]["height"]}]
    bad_body = json.dumps({"instances": bad_rows}).encode()

    with Stack("predict-batch") as stack:
        stack.promote_seed_model()
        app = service_app(stack.store_path)
        call = wsgi_request(app, "/predict", body)
        status, answer = call()
        if not status.startswith("200"):
            raise RuntimeError(f"/predict answered {status}: {answer[:300]!r}")
        response = json.loads(answer)
        error_json = strictness(wsgi_request(app, "/predict", bad_body))

        def anchor() -> None:
            json.loads(body)
            json.dumps(response)

        in_process = interleaved({"request": call, "anchor": anchor}, args.repeats)

        model = app.extensions["nnservice"].models.latest()
        parsed = json.loads(body)
        columns = validate_json_rows(
            parsed["instances"], units="imperial", with_gender=False, max_rows=10_000
        )
        features = [[w, h] for w, h in zip(columns.weight, columns.height, strict=True)]
        probabilities = model.predict_proba(features)
        steps = interleaved(
            {
                "json.loads(body)": lambda: json.loads(body),
                "validate_json_rows (10,000 rows)": lambda: validate_json_rows(
                    parsed["instances"], units="imperial", with_gender=False, max_rows=10_000
                ),
                "predict_proba (10,000 rows)": lambda: model.predict_proba(features),
                "shape predictions (dicts)": lambda: [
                    {"gender": "F" if p >= 0.5 else "M", "probability_female": p}
                    for p in probabilities.tolist()
                ],
                "json.dumps(response)": lambda: json.dumps(response, separators=(",", ":")),
            },
            args.repeats,
        )

        url = stack.start_api()
        with requests.Session() as session:
            headers = {"Content-Type": "application/json"}

            def over_http() -> None:
                reply = session.post(f"{url}/predict", data=body, headers=headers, timeout=30)
                if reply.status_code != 200:
                    raise RuntimeError(f"HTTP /predict answered {reply.status_code}")

            http = interleaved({"request": over_http, "anchor": anchor}, args.repeats)

    ratio = in_process["request"] / in_process["anchor"]
    http_ratio = http["request"] / http["anchor"]
    print(f"\n{machine()}; body {len(body) / 1e6:.2f} MB, answer {len(answer) / 1e6:.2f} MB; "
          f"medians of {args.repeats}\n")  # fmt: skip
    print(
        markdown_table(
            ["where", "10,000-row /predict ms", "json.loads + json.dumps ms", "ratio (<= 2)"],
            [
                ["in process (WSGI call)", in_process["request"] * 1e3,
                 in_process["anchor"] * 1e3, ratio],
                ["over HTTP (nnservice api)", http["request"] * 1e3, http["anchor"] * 1e3,
                 http_ratio],
            ],
        )
    )  # fmt: skip
    print("\nSteps of the request timed one by one (same process):\n")
    print(markdown_table(["step", "ms"], [(name, t * 1e3) for name, t in steps.items()]))
    print(f"\nA bad weight in the last row answers 422 with errors {error_json}")
    print()
    print(f"- {verdict(ratio <= 2, f'in process {ratio:.2f}x json.loads + json.dumps (<= 2x)')}")
    print(f"- {verdict(http_ratio <= 2, f'over HTTP {http_ratio:.2f}x the same anchor (<= 2x)')}")


if __name__ == "__main__":
    main()
