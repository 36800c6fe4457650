"""Single-row POST /predict under `nnservice api` vs a bare Flask JSON endpoint, same server.

Both servers run side by side with the same gunicorn settings (`nnservice.gunicorn_conf.options`:
gevent workers, their count from NNSERVICE_API_WORKERS as in docker-compose.yml, JSON access log
at INFO), and wrk (its own process) loads one, then the other, alternating (the order flipped
every repetition), at 16 and 64 keep-alive connections. Targets, in the same run: requests/s at
least 0.7x the bare endpoint's, p99 at most 1.5x. Figures are medians over the repetitions; the
ratios are medians of the ratios of back-to-back runs, which cancels most of what other
processes on the machine do meanwhile.

    python bench/bench_predict_http.py [--seconds 3] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import requests
import yaml
from harness import HOST, Stack, free_port, machine, markdown_table, median, verdict, wait_http
from loadgen import WrkResult, run_wrk

BODY = json.dumps({"weight": 128, "height": 63})
CONNECTIONS = (16, 64)
MIN_RPS_RATIO, MAX_P99_RATIO = 0.7, 1.5


def compose_settings() -> dict[str, str]:
    """The API service's server settings in docker-compose.yml (worker count, log level)."""
    compose = Path(__file__).resolve().parents[1] / "docker-compose.yml"
    environment = yaml.safe_load(compose.read_text())["services"]["api"]["environment"]
    names = ("NNSERVICE_API_WORKERS", "NNSERVICE_LOG_LEVEL")
    return {name: str(environment[name]) for name in names if name in environment}


def start_bare(stack: Stack, *options: str) -> str:
    """bench/bare_app.py (with `options`, e.g. `--wsgi`) under the same gunicorn settings on a
    free port; its URL."""
    port = free_port(HOST)
    script = Path(__file__).with_name("bare_app.py")
    command = [sys.executable, str(script), "--host", HOST, "--port", str(port), *options]
    return wait_http(f"http://{HOST}:{port}", stack.spawn(command, f"bare{''.join(options)}"))


def check_answers(url: str) -> None:
    answer = requests.post(f"{url}/predict", data=BODY, timeout=10, headers={
        "Content-Type": "application/json"})  # fmt: skip
    answer.raise_for_status()
    assert answer.json()["predictions"][0]["gender"] in ("F", "M"), answer.text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with Stack("predict-http", **compose_settings()) as stack:
        stack.promote_seed_model()
        urls = {"nnservice": stack.start_api(), "bare": start_bare(stack)}
        for url in urls.values():
            check_answers(url)
            run_wrk(f"{url}/predict", BODY, 16, 1.0)  # warm both up
        runs: dict[int, list[dict[str, WrkResult]]] = {c: [] for c in CONNECTIONS}
        for repeat in range(args.repeats):
            for connections in CONNECTIONS:
                order = ["bare", "nnservice"] if repeat % 2 else ["nnservice", "bare"]
                runs[connections].append({
                    name: run_wrk(f"{urls[name]}/predict", BODY, connections, args.seconds)
                    for name in order
                })  # fmt: skip
    rows, met = [], True
    for connections, pairs in runs.items():
        rps = median(p["nnservice"].rps / p["bare"].rps for p in pairs)
        p99 = median(p["nnservice"].p99_ms / p["bare"].p99_ms for p in pairs)
        errors = sum(r.errors + r.non_2xx for p in pairs for r in p.values())
        met &= rps >= MIN_RPS_RATIO and p99 <= MAX_P99_RATIO and errors == 0
        rows.append([
            connections,
            median(p["bare"].rps for p in pairs), median(p["nnservice"].rps for p in pairs), rps,
            median(p["bare"].p99_ms for p in pairs), median(p["nnservice"].p99_ms for p in pairs),
            p99, errors,
        ])  # fmt: skip
    print(f"{machine()}\n{args.repeats} x {args.seconds:g} s wrk runs per cell, medians\n")
    header = ["connections", "bare req/s", "/predict req/s", "ratio", "bare p99 ms",
              "/predict p99 ms", "p99 ratio", "errors"]  # fmt: skip
    print(markdown_table(header, rows))
    print()
    print(verdict(met, f"requests/s >= {MIN_RPS_RATIO}x and p99 <= {MAX_P99_RATIO}x the bare "
                       "endpoint's at every connection count, no errors"))  # fmt: skip


if __name__ == "__main__":
    main()
