"""Sweeps: the 9-trial grid against a 20-trial TPE search with pruning, on 10,000 people, with one
worker process and with two (each of concurrency 1).

For each number of workers, a fresh stack (valkey-server, `nnservice api`, the workers) runs the
grid (hidden_layers [2], [4], [8, 4] x learning_rate 0.3, 0.1, 0.03) and then the search (TPE,
20 trials, 2 in flight, learning_rate 0.01-1 on a log scale and the same hidden layers, median
pruner), each to its end. Reported per sweep: the best trial's validation loss and accuracy, the
epochs trained by all trials together, the trials pruned, and the wall time from POST /sweeps to
the sweep's end. Ratios: the search's epochs and best loss to the grid's; two workers' wall time to
one's.

    python bench/bench_sweeps.py [--epochs 100] [--tpe-startup 10] [--pruner-startup 5]
"""

from __future__ import annotations

import argparse
import time

import requests
from harness import Stack, machine, markdown_table
from people import people_file

GRID = {"hidden_layers": [[2], [4], [8, 4]], "learning_rate": [0.3, 0.1, 0.03]}
SPACE = {
    "learning_rate": {"low": 0.01, "high": 1.0, "log": True},
    "hidden_layers": {"choices": [[2], [4], [8, 4]]},
}


def run_sweep(session: requests.Session, url: str, body: dict) -> dict:
    """POST the sweep, poll it to its end; its figures."""
    started = time.perf_counter()
    response = session.post(f"{url}/sweeps", json=body, timeout=60)
    response.raise_for_status()
    sweep_url = f"{url}/sweeps/{response.json()['sweep_id']}"
    while True:
        sweep = session.get(sweep_url, timeout=60).json()
        if sweep["state"] != "running":
            break
        time.sleep(0.2)
    wall = time.perf_counter() - started
    best = next(t for t in sweep["trials"] if t["job_id"] == sweep["best"]["job_id"])
    return {
        "state": sweep["state"],
        "trials": len(sweep["trials"]),
        "pruned": sum(t["pruned"] for t in sweep["trials"]),
        "epochs": sum(t["epochs"] for t in sweep["trials"]),
        "best_loss": best["metrics"]["validation_loss"],
        "best_accuracy": best["metrics"]["validation_accuracy"],
        "wall": wall,
    }


def measure(workers: int, epochs: int, tpe_startup: int, pruner_startup: int) -> dict[str, dict]:
    """Both sweeps on a fresh stack with `workers` worker processes."""
    with Stack(f"sweeps-{workers}") as stack:
        url = stack.start_api()
        for _ in range(workers):
            stack.start_worker(concurrency=1)
        session = requests.Session()
        data = people_file().read_bytes()
        dataset = session.post(
            f"{url}/datasets",
            data=data,
            headers={"Content-Type": "text/tab-separated-values"},
            timeout=60,
        ).json()
        base = {"epochs": epochs, "batch_size": 4, "seed": 11}
        common = {"dataset_id": dataset["id"], "hyperparameters": base}
        grid = run_sweep(session, url, {**common, "grid": GRID})
        search = run_sweep(
            session,
            url,
            {
                **common,
                "search": {
                    "sampler": "tpe",
                    "trials": 20,
                    "parallel": 2,
                    "seed": 5,
                    "space": SPACE,
                },
                "pruner": {"kind": "median", "startup_trials": 5},
            },
        )
        return {"9-trial grid": grid, "20-trial TPE + median pruner": search}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--tpe-startup", type=int, default=10, help="TPE's random trials first")
    parser.add_argument("--pruner-startup", type=int, default=5, help="trials before pruning")
    args = parser.parse_args()
    results = {
        workers: measure(workers, args.epochs, args.tpe_startup, args.pruner_startup)
        for workers in (1, 2)
    }
    rows = []
    for workers, sweeps in results.items():
        for name, figures in sweeps.items():
            rows.append(
                [
                    name,
                    workers,
                    f"{figures['trials']} ({figures['pruned']} pruned)",
                    figures["epochs"],
                    f"{figures['best_loss']:.5f}",
                    f"{figures['best_accuracy']:.4f}",
                    f"{figures['wall']:.1f} s",
                ]
            )
    header = [
        "sweep",
        "workers",
        "trials",
        "epochs in all",
        "best val. loss",
        "its val. acc.",
        "wall",
    ]
    print(machine())
    print(
        f"epochs per trial: {args.epochs}; TPE startup trials {args.tpe_startup}, pruner "
        f"startup trials {args.pruner_startup}"
    )
    print(markdown_table(header, rows))
    grid, search = results[1]["9-trial grid"], results[1]["20-trial TPE + median pruner"]
    print(
        f"\nsearch / grid: epochs {search['epochs'] / grid['epochs']:.2f}, "
        f"best loss {search['best_loss'] / grid['best_loss']:.3f}"
    )
    for name in results[1]:
        ratio = results[2][name]["wall"] / results[1][name]["wall"]
        print(f"{name}: two workers' wall time / one's {ratio:.2f}")


if __name__ == "__main__":
    main()
