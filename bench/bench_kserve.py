"""nnservice's POST /predict vs KServe's Python model server, side by side, same model.

Both serve the seed walkthrough's 2-2-1 network from the same snapshot (KServe through
bench/kserve_peer.py, a documented custom `kserve.Model`), each with 2 worker processes
(nnservice with docker-compose.yml's settings, its JSON access log at INFO; KServe with its
defaults). In each round wrk loads one server, then the other (the order flips every round):
single-row requests at 16 and 64 keep-alive connections, then a 1,000-row request at 16
connections (KServe v1 `instances` as arrays; nnservice in /predict's compact form where the
server takes it, else its objects form: the output says which; and, where it takes them, in its
other compact form, `inputs` as columns). Then bench/connection_probe.py
counts the answers each of 16 and 64 keep-alive connections gets in a few seconds.

With `--floors`, two more servers take part in the single-row rounds, under exactly nnservice's
gunicorn settings (bench/bare_app.py): a bare Flask endpoint, and a plain WSGI callable without
Flask. They answer without validation, model or store, so they bound what any app could reach
under these server settings.

Targets (ratios within a round, medians over rounds): single-row p99 <= 1.5x KServe v1's and
requests/s >= 0.9x at 16 and at 64 connections; 1,000-row rows/s >= 1x (pairs, the shape of
KServe's body; the columns are reported beside them); the most-served
connection gets at most 4x the least-served one's answers. Each wrk run also measures the CPU
time (user + system) the server's processes spent on it, per request: on a busy machine it moves
less than requests/s do (a process that waits for a core costs no CPU time meanwhile).

    python bench/bench_kserve.py [--seconds 3] [--rounds 3] [--floors]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import requests
from bench_predict_http import compose_settings, start_bare
from connection_probe import ProbeResult, probe
from harness import (
    HOST,
    Stack,
    free_port,
    machine,
    markdown_table,
    median,
    tree_cpu_seconds,
    verdict,
)
from loadgen import WrkResult, run_wrk

CONNECTIONS = (16, 64)
BATCH_ROWS = 1_000
BATCH_CONNECTIONS = 16
MAX_P99_RATIO, MIN_RPS_RATIO, MIN_ROWS_RATIO, MAX_SPREAD = 1.5, 0.9, 1.0, 4.0
#: The 1,000-row cell's row for /predict's other compact form, `inputs` as columns.
COLUMNS = "nnservice, columns"
#: `--floors`: bench/bare_app.py's two forms, by name: the options they are started with.
FLOORS = {"bare Flask": (), "plain WSGI": ("--wsgi",)}
WORKERS = "2"
#: The seed walkthrough's first person, and a batch of people around the seed's.
ONE_ROW = (128.0, 63.0)
BATCH = [(120.0 + (i % 80), 60.0 + (i % 14)) for i in range(BATCH_ROWS)]


def start_kserve(stack: Stack, snapshot: Path) -> str:
    """bench/kserve_peer.py serving `snapshot` with 2 workers on a free port; its v1 URL."""
    port = free_port(HOST)
    script = Path(__file__).with_name("kserve_peer.py")
    command = [sys.executable, str(script), str(snapshot), "--port", str(port),
               "--workers", WORKERS]  # fmt: skip
    process = stack.spawn(command, "kserve")
    base = f"http://{HOST}:{port}"
    _wait_kserve(base, process)
    return f"{base}/v1/models/seed:predict"


def _wait_kserve(base: str, process: subprocess.Popen) -> None:
    """Wait until KServe says the model is ready (it has no /healthz)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"KServe exited with {process.returncode}")
        try:
            if requests.get(f"{base}/v1/models/seed", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError("KServe did not come up within 60 s")


@dataclass(frozen=True)
class ServedRun(WrkResult):
    """A wrk run and the CPU seconds the server's processes spent meanwhile."""

    server_cpu_seconds: float = 0.0

    @property
    def cpu_us(self) -> float:
        """Server CPU microseconds per request."""
        return self.server_cpu_seconds / max(1, self.requests) * 1e6


def cpu_wrk(pid: int, url: str, body: str, connections: int, seconds: float) -> ServedRun:
    """`run_wrk`, with the CPU time of the server (process `pid` and its children) meanwhile."""
    before = tree_cpu_seconds(pid)
    result = run_wrk(url, body, connections, seconds)
    return ServedRun(**asdict(result), server_cpu_seconds=tree_cpu_seconds(pid) - before)


def bodies(nnservice_url: str) -> tuple[dict[str, str], dict[str, str], str]:
    """Single-row and 1,000-row bodies per server, and the form nnservice's batch uses."""
    one = {
        "nnservice": json.dumps({"weight": ONE_ROW[0], "height": ONE_ROW[1]}),
        "kserve": json.dumps({"instances": [list(ONE_ROW)]}),
    }
    compact = json.dumps({"instances": [list(row) for row in BATCH]})
    answer = requests.post(f"{nnservice_url}", data=compact, timeout=10,
                           headers={"Content-Type": "application/json"})  # fmt: skip
    if answer.status_code == 200:
        form, nn_batch = "compact ([weight, height] pairs)", compact
    else:
        form = "objects ({weight, height} per row: no compact form on this server)"
        nn_batch = json.dumps({"instances": [{"weight": w, "height": h} for w, h in BATCH]})
    batch = {"nnservice": nn_batch, "kserve": compact}
    weights, heights = (list(column) for column in zip(*BATCH, strict=True))
    columns = json.dumps({"inputs": {"weight": weights, "height": heights}})
    headers = {"Content-Type": "application/json"}
    if requests.post(nnservice_url, data=columns, timeout=10, headers=headers).status_code == 200:
        batch[COLUMNS] = columns
    return one, batch, form


def check_same_answers(urls: dict[str, str], one: dict[str, str]) -> None:
    """Both servers give the same probability for the same person (same model, same pass)."""
    headers = {"Content-Type": "application/json"}
    nn = requests.post(urls["nnservice"], data=one["nnservice"], headers=headers, timeout=10)
    ks = requests.post(urls["kserve"], data=one["kserve"], headers=headers, timeout=10)
    nn.raise_for_status()
    ks.raise_for_status()
    p_nn = nn.json()["predictions"][0]["probability_female"]
    p_ks = ks.json()["predictions"][0]
    assert abs(p_nn - p_ks) < 1e-9, (p_nn, p_ks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--floors", action="store_true", help="bare Flask and plain WSGI too")
    args = parser.parse_args()
    settings = {**compose_settings(), "NNSERVICE_API_WORKERS": WORKERS}
    load_before = os.getloadavg()
    with Stack("kserve", **settings) as stack:
        model_id = stack.promote_seed_model()
        api = stack.start_api()
        pids = {"nnservice": stack.processes[-1].pid}
        snapshot = stack.root / "snapshot.json"
        snapshot.write_text(requests.get(f"{api}/models/{model_id}", timeout=10).text)
        urls = {"nnservice": f"{api}/predict", "kserve": start_kserve(stack, snapshot)}
        pids["kserve"] = stack.processes[-1].pid
        one, batch, form = bodies(urls["nnservice"])
        check_same_answers(urls, one)
        floors = {}
        if args.floors:
            for name, options in FLOORS.items():
                floors[name] = f"{start_bare(stack, *options)}/predict"
                pids[name] = stack.processes[-1].pid
                one[name] = one["nnservice"]
        for name, url in {**urls, **floors}.items():  # warm every server up
            run_wrk(url, one[name], 16, 1.0)
        single: dict[int, list[dict[str, ServedRun]]] = {c: [] for c in CONNECTIONS}
        batches: list[dict[str, ServedRun]] = []
        probes: dict[int, dict[str, list[ProbeResult]]] = {
            c: {name: [] for name in urls} for c in CONNECTIONS
        }
        for round_ in range(args.rounds):
            order = ["kserve", "nnservice"] if round_ % 2 else ["nnservice", "kserve"]
            every = order + (list(floors) if round_ % 2 else list(floors)[::-1])
            for connections in CONNECTIONS:
                single[connections].append({
                    name: cpu_wrk(pids[name], {**urls, **floors}[name], one[name], connections,
                                  args.seconds)
                    for name in every
                })  # fmt: skip
            batches.append({
                name: cpu_wrk(pids[name], urls[name], batch[name], BATCH_CONNECTIONS,
                              args.seconds)
                for name in order
            })  # fmt: skip
            if COLUMNS in batch:  # /predict's other compact form, in the same round
                batches[-1][COLUMNS] = cpu_wrk(
                    pids["nnservice"],
                    urls["nnservice"],
                    batch[COLUMNS],
                    BATCH_CONNECTIONS,
                    args.seconds,
                )
            for connections in CONNECTIONS:
                for name in order:
                    probes[connections][name].append(
                        probe(urls[name], one[name].encode(), connections, args.seconds)
                    )
    load_after = os.getloadavg()
    report(args, single, batches, probes, form, load_before, load_after)
    if floors:
        report_floors(single)


def report_floors(single: dict[int, list[dict[str, ServedRun]]]) -> None:
    """Each server's single-row requests/s, p99 and CPU a request, as ratios to KServe's."""
    rows = []
    for connections, rounds in single.items():
        for name in ("nnservice", *FLOORS):
            rows.append([
                connections, name, median(r[name].rps for r in rounds),
                median(r[name].rps / r["kserve"].rps for r in rounds),
                median(r[name].p99_ms for r in rounds),
                median(r[name].p99_ms / r["kserve"].p99_ms for r in rounds),
                median(r[name].cpu_us for r in rounds),
                median(r[name].cpu_us / r["kserve"].cpu_us for r in rounds),
            ])  # fmt: skip
    print()
    print("Single row, with the floors under nnservice's gunicorn settings (ratios to KServe v1's "
          "in the same round, medians):")  # fmt: skip
    print(markdown_table(
        ["conns", "server", "req/s", "x KServe", "p99 ms", "x KServe", "CPU us/req", "x KServe"],
        rows,
    ))  # fmt: skip


def spread_text(runs: list[ProbeResult], worst: tuple[int, int]) -> str:
    """'fewest-most (median most/fewest)' for one server at one connection count."""
    return f"{worst[0]}-{worst[1]} ({median(r.spread for r in runs):.1f}x)"


def report(args, single, batches, probes, form, load_before, load_after) -> None:
    met = True
    rows = []
    for connections, pairs in single.items():
        rps = median(p["nnservice"].rps / p["kserve"].rps for p in pairs)
        p99 = median(p["nnservice"].p99_ms / p["kserve"].p99_ms for p in pairs)
        errors = sum(r.errors + r.non_2xx for p in pairs for r in p.values())
        by_server = probes[connections]
        worst = {name: max(runs, key=lambda r: r.spread) for name, runs in by_server.items()}
        counts = {name: (min(r.per_connection), max(r.per_connection)) for name, r in worst.items()}
        met &= rps >= MIN_RPS_RATIO and p99 <= MAX_P99_RATIO and errors == 0
        met &= worst["nnservice"].spread <= MAX_SPREAD
        rows.append([
            connections,
            median(p["kserve"].rps for p in pairs), median(p["nnservice"].rps for p in pairs), rps,
            median(p["kserve"].p50_ms for p in pairs), median(p["nnservice"].p50_ms for p in pairs),
            median(p["kserve"].p99_ms for p in pairs), median(p["nnservice"].p99_ms for p in pairs),
            p99, spread_text(by_server["kserve"], counts["kserve"]),
            spread_text(by_server["nnservice"], counts["nnservice"]), errors,
            median(p["kserve"].cpu_us for p in pairs), median(p["nnservice"].cpu_us for p in pairs),
            median(p["nnservice"].cpu_us / p["kserve"].cpu_us for p in pairs),
        ])  # fmt: skip
    rows_ratio = median(p["nnservice"].rps / p["kserve"].rps for p in batches)
    met &= rows_ratio >= MIN_ROWS_RATIO
    print(f"{machine()}")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    print(f"{args.rounds} rounds x {args.seconds:g} s per cell, servers alternating, medians\n")
    header = ["conns", "KServe req/s", "nnservice req/s", "ratio", "KServe p50 ms",
              "nnservice p50 ms", "KServe p99 ms", "nnservice p99 ms", "p99 ratio",
              "KServe req/conn*", "nnservice req/conn*", "errors", "KServe CPU us/req",
              "nnservice CPU us/req", "CPU ratio"]  # fmt: skip
    print(markdown_table(header, rows))
    print(
        f"* answers per connection in {args.seconds:g} s: fewest-most in the round where they "
        "differed most (most/fewest, median over the rounds)"
    )
    print()
    print(
        f"{BATCH_ROWS:,}-row requests at {BATCH_CONNECTIONS} connections; nnservice: {form}"
        f"{' (and in columns, `inputs`, on the second line)' if COLUMNS in batches[0] else ''}"
    )
    print(markdown_table(
        ["KServe rows/s", "nnservice rows/s", "ratio", "KServe CPU us/req",
         "nnservice CPU us/req", "CPU ratio"],
        [[median(p["kserve"].rps for p in batches) * BATCH_ROWS,
          median(p[name].rps for p in batches) * BATCH_ROWS,
          median(p[name].rps / p["kserve"].rps for p in batches),
          median(p["kserve"].cpu_us for p in batches),
          median(p[name].cpu_us for p in batches),
          median(p[name].cpu_us / p["kserve"].cpu_us for p in batches)]
         for name in ("nnservice", COLUMNS) if name in batches[0]],
    ))  # fmt: skip
    print()
    print(verdict(met, f"p99 <= {MAX_P99_RATIO}x and req/s >= {MIN_RPS_RATIO}x KServe v1's at "
                       f"16 and 64 connections, rows/s >= {MIN_ROWS_RATIO}x, requests per "
                       f"connection within {MAX_SPREAD:g}x, no errors"))  # fmt: skip


if __name__ == "__main__":
    main()
