"""Issue 5, item 6: memory of the API after 100,000 predictions and of a worker on 1,000,000 rows.

API: `nnservice api` (production settings) with a promoted model; wrk sends single-row POST
/predict until at least `--predictions` requests were answered, then `--batches` 10,000-row
requests (another 100,000 predictions by default) follow. The RSS of every API process (gunicorn
master and workers) is sampled every 0.1 s; the table gives it at start, the peak and the end.
Target: each process that serves predictions stays under 150 MB.

Worker: a 1,000,000-row dataset (the 10,000 people of bench/people.py, 100 times, with a jitter
of +-0.5) is written to the store, then `nnservice worker` (default concurrency) trains it for
`--epochs` epochs through POST /train. The RSS of the worker's main process and of its pool
children is sampled every 0.05 s. Target: the process training stays under 500 MB (the sum over
the worker's processes is shown too, and their PSS at the end: forked processes share pages, so
the RSS sum overstates).

    python bench/bench_memory.py [--predictions 100000] [--batches 10] [--epochs 3]
"""

from __future__ import annotations

import argparse
import csv
import json
import threading
import time

import numpy as np
import psutil
import requests
from harness import (
    Stack,
    machine,
    markdown_table,
    process_tree,
    submit_job,
    verdict,
    wait_job,
)
from loadgen import run_wrk
from people import people_file

MB = 1024 * 1024
DATA = people_file()


class RssSampler:
    """Samples the RSS of a process tree in a thread: per-pid peak and the peak of the sum."""

    def __init__(self, pid: int, interval: float) -> None:
        self.pid, self.interval = pid, interval
        self.peak: dict[int, int] = {}
        self.peak_total = 0
        self.roles: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def snapshot(self) -> dict[int, int]:
        """RSS of each live process of the tree now (bytes)."""
        sizes = {}
        for process in process_tree(self.pid):
            try:
                sizes[process.pid] = process.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return sizes

    def _run(self) -> None:
        while not self._stop.is_set():
            sizes = self.snapshot()
            for pid, rss in sizes.items():
                self.peak[pid] = max(self.peak.get(pid, 0), rss)
            self.peak_total = max(self.peak_total, sum(sizes.values()))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def pss_total(pid: int) -> int:
    """Proportional set size summed over the tree: shared pages counted once."""
    return sum(process.memory_full_info().pss for process in process_tree(pid))


def api_memory(predictions: int, batches: int) -> tuple[list[list], list[str]]:
    """Drive the API; rows of the table and the verdict."""
    single = json.dumps({"weight": 128, "height": 63})
    with open(DATA, newline="") as file:
        people = [
            {"weight": float(row["Weight"]), "height": float(row["Height"])}
            for row in csv.DictReader(file, delimiter="\t")
        ]
    batch = json.dumps({"instances": people})
    with Stack("memory-api") as stack:
        stack.promote_seed_model()
        url = stack.start_api()
        pid = stack.processes[-1].pid
        master = psutil.Process(pid)
        with RssSampler(pid, 0.1) as sampler:
            start = sampler.snapshot()
            done = 0
            while done < predictions:
                done += run_wrk(f"{url}/predict", single, 16, 10).requests
            after_single = sampler.snapshot()
            with requests.Session() as session:
                for _ in range(batches):
                    reply = session.post(
                        f"{url}/predict",
                        data=batch,
                        headers={"Content-Type": "application/json"},
                        timeout=60,
                    )
                    reply.raise_for_status()
            end = sampler.snapshot()
        pss = pss_total(pid)
    rows = []
    for process_pid in sorted(end):
        role = "master" if process_pid == master.pid else "worker"
        rows.append(
            [f"API {role} (pid {process_pid})", start.get(process_pid, 0) / MB,
             after_single.get(process_pid, 0) / MB, end[process_pid] / MB,
             sampler.peak[process_pid] / MB]
        )  # fmt: skip
    rows.append(
        ["API, all processes (RSS sum)", sum(start.values()) / MB,
         sum(after_single.values()) / MB, sum(end.values()) / MB, sampler.peak_total / MB]
    )  # fmt: skip
    worst = max(sampler.peak[p] for p in end if p != master.pid) / MB
    summary = (
        f"API: {done:,} single-row predictions + {batches} x 10,000-row requests; "
        f"PSS of all API processes at the end {pss / MB:.0f} MB"
    )
    return rows, [summary, verdict(worst < 150, f"API worker peak RSS {worst:.0f} MB (< 150 MB)")]


def million_rows(store, rows: int = 1_000_000) -> str:
    """Store the 10k people repeated to `rows` rows with a +-0.5 jitter; returns the dataset id."""
    with open(DATA, newline="") as file:
        table = list(csv.DictReader(file, delimiter="\t"))
    weight = np.array([float(r["Weight"]) for r in table])
    height = np.array([float(r["Height"]) for r in table])
    label = np.array([1.0 if r["Gender"].lower().startswith("f") else 0.0 for r in table])
    reps = -(-rows // len(table))
    rng = np.random.default_rng(0)
    jitter = rng.uniform(-0.5, 0.5, size=(2, reps * len(table)))
    info, _ = store.datasets.save(
        "million",
        (np.tile(weight, reps) + jitter[0])[:rows].round(2),
        (np.tile(height, reps) + jitter[1])[:rows].round(2),
        np.tile(label, reps)[:rows],
    )
    return info.id


def worker_memory(epochs: int) -> tuple[list[list], list[str]]:
    """Train on a million rows; rows of the table and the verdicts."""
    with Stack("memory-worker") as stack:
        dataset_id = million_rows(stack.store)
        url = stack.start_api()
        worker = stack.start_worker()
        with RssSampler(worker.pid, 0.05) as sampler, requests.Session() as session:
            start = sampler.snapshot()
            began = time.perf_counter()
            record = wait_job(
                session, url, submit_job(session, url, dataset_id, epochs=epochs), poll=0.2,
                timeout=170,
            )  # fmt: skip
            seconds = time.perf_counter() - began
            end = sampler.snapshot()
            pss = pss_total(worker.pid)
    rows = []
    for pid in sorted(sampler.peak):
        role = "main" if pid == worker.pid else "pool child"
        rows.append(
            [f"worker {role} (pid {pid})", start.get(pid, 0) / MB, end.get(pid, 0) / MB,
             sampler.peak[pid] / MB]
        )  # fmt: skip
    rows.append(
        ["worker, all processes (RSS sum)", sum(start.values()) / MB, sum(end.values()) / MB,
         sampler.peak_total / MB]
    )  # fmt: skip
    children = [pid for pid in sampler.peak if pid != worker.pid]
    training = max(sampler.peak[pid] for pid in children) / MB
    summary = (
        f"worker: 1,000,000 rows x {epochs} epochs in {seconds:.1f} s (POST -> succeeded), "
        f"train accuracy {record['metrics']['train_accuracy']}; PSS of all worker processes at "
        f"the end {pss / MB:.0f} MB (RSS sum {sum(end.values()) / MB:.0f} MB)"
    )
    return rows, [
        summary,
        verdict(training < 500, f"training process peak RSS {training:.0f} MB (< 500 MB)"),
        verdict(
            sampler.peak_total / MB < 500,
            f"all worker processes together peak {sampler.peak_total / MB:.0f} MB (< 500 MB)",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description="RSS of the API and of a training worker.")
    parser.add_argument("--predictions", type=int, default=100_000)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    api_rows, api_lines = api_memory(args.predictions, args.batches)
    worker_rows, worker_lines = worker_memory(args.epochs)
    print(f"\n{machine()}\n")
    print(
        markdown_table(
            ["API process", "start MB", f"after {args.predictions:,} single-row MB",
             "after the batches MB", "peak MB"],
            api_rows,
        )
    )  # fmt: skip
    print()
    print(markdown_table(["worker process", "start MB", "end MB", "peak MB"], worker_rows))
    print()
    print("\n".join(f"- {line}" for line in api_lines + worker_lines))


if __name__ == "__main__":
    main()
