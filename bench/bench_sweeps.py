"""Sweeps: the 9-trial grid against a 20-trial TPE search with pruning, on 10,000 people, with one
worker process and with two (each of concurrency 1), for several TPE seeds.

For each number of workers, a fresh stack (valkey-server, `nnservice api`, the workers) runs the
grid (hidden_layers [2], [4], [8, 4] x learning_rate 0.3, 0.1, 0.03) once, then the search once
per TPE seed, each to its end. The search is fixed here (`SEARCH`, `PRUNER`): TPE over the grid's
hidden layers and a continuous learning rate of 0.01-1 on a log scale, 2 trials in flight, and the
successive-halving pruner comparing the trials at epochs 15 and 45 (see bench/README.md for why).
Every trial shares the base hyperparameters (100 epochs, batch size 4, seed 11).

Reported per sweep: the best trial's validation loss and accuracy, the epochs trained by all
trials together, the trials pruned, and the wall time from POST /sweeps to the sweep's end. Per
search: its epochs and best loss as ratios to the grid's (same stack), whether it meets the line
(best loss at most the grid's and fewer epochs), and two workers' wall time to one's. The load
average is printed before and after, since other processes share the machine.

    python bench/bench_sweeps.py [--seeds 1,2,3] [--epochs 100] [--tpe-startup 10]
"""

from __future__ import annotations

import argparse
import os
import time

import requests
from harness import Stack, machine, markdown_table
from people import people_file

GRID = {"hidden_layers": [[2], [4], [8, 4]], "learning_rate": [0.3, 0.1, 0.03]}
SPACE = {
    "learning_rate": {"low": 0.01, "high": 1.0, "log": True},
    "hidden_layers": {"choices": [[2], [4], [8, 4]]},
}
#: The search's settings besides its seed and its TPE startup trials.
SEARCH = {"sampler": "tpe", "trials": 20, "parallel": 2, "space": SPACE}
#: Successive halving: every trial runs 15 epochs; the best third of those that got there
#: go on to 45; the best third of those run to the end.
PRUNER = {"kind": "successive_halving", "report_every": 15}


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
        "best_params": best["params"],
        "wall": wall,
    }


def measure(workers: int, epochs: int, seeds: list[int], tpe_startup: int) -> dict[str, dict]:
    """The grid, then the search once per seed, on a fresh stack with `workers` workers."""
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
        results = {"grid": run_sweep(session, url, {**common, "grid": GRID})}
        for seed in seeds:
            search = {**SEARCH, "seed": seed, "startup_trials": tpe_startup}
            body = {**common, "search": search, "pruner": PRUNER}
            results[f"seed {seed}"] = run_sweep(session, url, body)
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="1,2,3", help="the TPE seeds, comma-separated")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--tpe-startup", type=int, default=10, help="TPE's random trials first")
    args = parser.parse_args()
    seeds = [int(each) for each in args.seeds.split(",")]
    load_before = os.getloadavg()
    results = {
        workers: measure(workers, args.epochs, seeds, args.tpe_startup) for workers in (1, 2)
    }
    load_after = os.getloadavg()
    rows, met, runs = [], 0, 0
    for workers, sweeps in results.items():
        grid = sweeps["grid"]
        for name, figures in sweeps.items():
            if name == "grid":
                verdict, epoch_ratio, loss_ratio = "", "", ""
            else:
                meets = (
                    figures["best_loss"] <= grid["best_loss"] and figures["epochs"] < grid["epochs"]
                )
                met, runs = met + meets, runs + 1
                verdict = "yes" if meets else "no"
                epoch_ratio = f"{figures['epochs'] / grid['epochs']:.2f}"
                loss_ratio = f"{figures['best_loss'] / grid['best_loss']:.5f}"
            params = figures["best_params"]
            rows.append(
                [
                    "9-trial grid" if name == "grid" else f"TPE, {name}",
                    workers,
                    f"{figures['trials']} ({figures['pruned']} pruned)",
                    figures["epochs"],
                    f"{figures['best_loss']:.6f}",
                    f"{figures['best_accuracy']:.4f}",
                    f"{params['hidden_layers']}, {params['learning_rate']:.3g}",
                    f"{figures['wall']:.1f} s",
                    epoch_ratio,
                    loss_ratio,
                    verdict,
                ]
            )
    header = [
        "sweep",
        "workers",
        "trials",
        "epochs in all",
        "best val. loss",
        "its val. acc.",
        "its hidden layers, learning rate",
        "wall",
        "epochs / grid's",
        "best loss / grid's",
        "meets the line",
    ]
    print(machine())
    before, after = (" ".join(f"{each:.2f}" for each in load) for load in (load_before, load_after))
    print(f"load average (1, 5, 15 min) before: {before}; after: {after}")
    print(
        f"epochs per trial: {args.epochs}; TPE startup trials {args.tpe_startup}; "
        f"space {SPACE}; pruner {PRUNER}"
    )
    print(markdown_table(header, rows))
    print(f"\nsearches meeting the line (best loss <= the grid's, fewer epochs): {met} of {runs}")
    for name in results[1]:
        ratio = results[2][name]["wall"] / results[1][name]["wall"]
        print(f"{name}: two workers' wall time / one's {ratio:.2f}")


if __name__ == "__main__":
    main()
