"""Issue 5, item 4: 200 seed jobs submitted at once through the stack's default workers.

The stack: valkey-server, one `nnservice worker` with its default concurrency (NNSERVICE_WORKER_
CONCURRENCY, else the CPU count), `nnservice api`, and the bench-only Celery worker (bench/
celery_ping.py) with the same concurrency on Redis database 1 of the same server. Each repetition:
  - 200 `bench.ping` tasks sent at once, then every result awaited: Celery's bare task throughput;
  - 200 `bench.train_seed` tasks (the seed's training in memory, no store): the same work bare;
  - 200 POST /train of the seed job (8 client threads), then GET /jobs/{id} of each until it
    is final, oldest first; every job must succeed. Jobs/s = 200 / (first POST sent -> last
    job's finished_at).
Medians over `--repeats` repetitions, in tasks (jobs) per second.

    python bench/bench_throughput.py [--jobs 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from celery_ping import burst_seconds
from harness import (
    Stack,
    iso_seconds,
    machine,
    markdown_table,
    median,
    seed_job,
    upload_seed_dataset,
    verdict,
)

FINAL = ("succeeded", "failed", "cancelled")


def bare_rate(app, task: str, count: int, **kwargs: object) -> float:
    """Tasks per second: `count` tasks sent at once, until the last result is back."""
    return count / burst_seconds(app, task, count, **kwargs)


def job_rate(url: str, dataset_id: str, count: int) -> tuple[float, float, dict[str, int]]:
    """(jobs/s, seconds to submit them all, final states) for `count` seed jobs sent at once."""
    body = seed_job(dataset_id)
    sessions = [requests.Session() for _ in range(8)]

    def submit(i: int) -> str:
        response = sessions[i % len(sessions)].post(f"{url}/train", json=body, timeout=60)
        response.raise_for_status()
        return response.json()["job_id"]

    start_wall, start = time.time(), time.perf_counter()
    with ThreadPoolExecutor(len(sessions)) as pool:
        job_ids = list(pool.map(submit, range(count)))
    submitted = time.perf_counter() - start
    for extra in sessions[1:]:
        extra.close()
    records = []
    deadline = time.monotonic() + 300
    with sessions[0] as session:
        for job_id in job_ids:  # oldest first: at most one poll at a time, cheap for the API
            while True:
                record = session.get(f"{url}/jobs/{job_id}", timeout=60).json()
                if record["state"] in FINAL:
                    records.append(record)
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError("the jobs did not finish within 300 s")
                time.sleep(0.05)
    states: dict[str, int] = {}
    for job in records:
        states[job["state"]] = states.get(job["state"], 0) + 1
    last_finished = max(iso_seconds(job["finished_at"]) for job in records)
    return count / (last_finished - start_wall), submitted, states


def main() -> None:
    parser = argparse.ArgumentParser(description="200 seed jobs vs bare Celery task throughput.")
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    with Stack("throughput") as stack:
        concurrency = stack.settings.worker_concurrency
        stack.start_worker()
        url = stack.start_api()
        app, _ = stack.start_bare_celery(concurrency)
        with requests.Session() as session:
            dataset_id = upload_seed_dataset(session, url)
        job_rate(url, dataset_id, 4)  # warm-up
        bare_rate(app, "bench.train_seed", 4)
        pings, trains, jobs, submits, all_states = [], [], [], [], {}
        for _ in range(args.repeats):
            pings.append(bare_rate(app, "bench.ping", args.jobs))
            trains.append(bare_rate(app, "bench.train_seed", args.jobs, epochs=1000))
            rate, submitted, states = job_rate(url, dataset_id, args.jobs)
            jobs.append(rate)
            submits.append(submitted)
            for state, n in states.items():
                all_states[state] = all_states.get(state, 0) + n
            print(f"  ping {pings[-1]:.0f}/s, bare training {trains[-1]:.1f}/s, jobs {rate:.1f}/s "
                  f"({states})", flush=True)  # fmt: skip
        app.close()

    ping, train, job = median(pings), median(trains), median(jobs)
    print(f"\n{machine()}; {concurrency} worker processes each side; {args.jobs} tasks per batch, "
          f"medians of {args.repeats}\n")  # fmt: skip
    print(
        markdown_table(
            ["what", "per second", "nnservice jobs / this"],
            [
                ["Celery bare task (bench.ping)", ping, job / ping],
                ["Celery bare task training the seed network (bench.train_seed)", train,
                 job / train],
                [f"nnservice seed jobs (POST /train, {args.jobs} at once)", job, 1.0],
            ],
        )
    )  # fmt: skip
    print(f"\nSubmitting {args.jobs} jobs took {median(submits):.2f} s (median); "
          f"final states over all repetitions: {all_states}")  # fmt: skip
    total = args.jobs * args.repeats
    succeeded = all_states.get("succeeded", 0)
    print()
    print(f"- {verdict(succeeded == total, f'{succeeded} of {total} jobs succeeded')}")
    print(f"- reported: {job:.1f} jobs/s vs {ping:.0f} bare tasks/s ({job / ping:.3f}x)")


if __name__ == "__main__":
    main()
