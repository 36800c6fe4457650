"""Issue 5, item 5: the first job after a worker starts against the tenth (compile/import cost).

For each scenario, `--repeats` times: start `nnservice worker` (default concurrency), wait until it
answers a Celery ping, then run ten seed walkthrough jobs one after another (POST /train, poll
GET /jobs/{id} until `succeeded`), then stop the worker. Per job: the end-to-end time a client
sees and the worker's own time (the record's started_at -> finished_at). Target: job 1 <= 2x job 10.
Scenarios: numba's cache as the installed service has it (filled by any earlier run), and an
empty cache (NUMBA_CACHE_DIR pointing to a new directory: a fresh container's first start).
The time from starting the worker process to its first ping answer is shown as well.

Control: job 1 comes after a quiet spell (the client waits while the worker starts), job 10 after
jobs run back to back. On this machine (a VM on a shared host) any request after a quiet spell is
slow: a bare Flask endpoint's first answer after 3 s idle takes 20-35 ms instead of 2. So after the
tenth job each session waits as long as its worker took to start and runs one more job on the same,
warm worker. Job 1 against that job is what the worker's start costs a job; job 1 against job 10
also counts the quiet spell.

    python bench/bench_worker_start.py [--repeats 5] [--jobs 10]
"""

from __future__ import annotations

import argparse
import time

import requests
from harness import (
    Stack,
    iso_seconds,
    machine,
    markdown_table,
    median,
    submit_job,
    upload_seed_dataset,
    verdict,
    wait_job,
)


def worker_session(stack: Stack, url: str, dataset_id: str, jobs: int, **env: str) -> dict:
    """Start a worker (extra `env`), run `jobs` seed jobs in turn, then, after a pause as long as
    the start took, one more (the control, last in each list); stop it. Times in seconds."""
    start = time.perf_counter()
    worker = stack.start_worker(**env)
    ready = time.perf_counter() - start
    end_to_end, in_worker = [], []
    with requests.Session() as session:
        for number in range(jobs + 1):
            if number == jobs:
                time.sleep(ready)
            sent = time.perf_counter()
            record = wait_job(session, url, submit_job(session, url, dataset_id))
            end_to_end.append(time.perf_counter() - sent)
            in_worker.append(iso_seconds(record["finished_at"]) - iso_seconds(record["started_at"]))
    stack.stop_process(worker)
    return {"ready": ready, "end_to_end": end_to_end, "worker": in_worker}


def scenario(stack: Stack, name: str, repeats: int, jobs: int, empty_cache: bool) -> list[dict]:
    """`repeats` worker sessions; with `empty_cache` each gets a new, empty NUMBA_CACHE_DIR."""
    url = stack.start_api()
    with requests.Session() as session:
        dataset_id = upload_seed_dataset(session, url)  # the same id each time: one dataset
    sessions = []
    for rep in range(repeats):
        env = {"NUMBA_CACHE_DIR": str(stack.root / f"numba-{rep}")} if empty_cache else {}
        sessions.append(worker_session(stack, url, dataset_id, jobs, **env))
        first, last, paused = (sessions[-1]["end_to_end"][i] * 1e3 for i in (0, jobs - 1, jobs))
        print(f"  {name}: ready in {sessions[-1]['ready']:.2f} s, job 1 {first:.0f} ms, "
              f"job {jobs} {last:.0f} ms, after the pause {paused:.0f} ms", flush=True)  # fmt: skip
    return sessions


def main() -> None:
    parser = argparse.ArgumentParser(description="First job after a worker start vs the tenth.")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=10)
    args = parser.parse_args()
    if args.jobs < 4:
        parser.error("--jobs must be at least 4 (job 1, job 2, the middle ones, the last)")
    n = args.jobs

    with Stack("worker-start") as stack:
        results = {
            "numba cache present": scenario(stack, "cached", args.repeats, n, False),
            "empty numba cache": scenario(stack, "empty cache", args.repeats, n, True),
        }

    rows, verdicts = [], []
    for name, sessions in results.items():
        for key, label in (("end_to_end", "POST -> succeeded"), ("worker", "in the worker")):
            first = median(s[key][0] for s in sessions)
            second = median(s[key][1] for s in sessions)
            middle = median(t for s in sessions for t in s[key][2 : n - 1])
            last = median(s[key][n - 1] for s in sessions)
            paused = median(s[key][n] for s in sessions)
            ratio = median(s[key][0] / s[key][n - 1] for s in sessions)
            control = median(s[key][0] / s[key][n] for s in sessions)
            rows.append([name, label, median(s["ready"] for s in sessions), first * 1e3,
                         second * 1e3, middle * 1e3, last * 1e3, paused * 1e3, ratio,
                         control])  # fmt: skip
            verdicts.append(verdict(ratio <= 2, f"{name}, {label}: job 1 {ratio:.2f}x job {n}"))
            same_pause = f"{name}, {label}: job 1 {control:.2f}x a job after the same pause"
            verdicts.append(verdict(control <= 2, same_pause + " (control, same threshold)"))
    print(f"\n{machine()}; {args.repeats} worker starts per scenario, {n} seed jobs each; "
          "medians\n")  # fmt: skip
    print(
        markdown_table(
            ["scenario", "time", "worker ready s", "job 1 ms", "job 2 ms", f"jobs 3-{n - 1} ms",
             f"job {n} ms", "after the pause ms", f"job 1 / job {n} (<= 2)",
             "job 1 / after the pause"],
            rows,
        )
    )  # fmt: skip
    print()
    print("\n".join(f"- {line}" for line in verdicts))


if __name__ == "__main__":
    main()
