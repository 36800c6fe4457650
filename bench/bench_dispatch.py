"""Issue 5, item 3: job dispatch against a bare Celery round trip on the same broker, same run.

The stack: valkey-server, `nnservice worker` (default concurrency), `nnservice api`, and the
bench-only Celery worker (bench/celery_ping.py, same delivery settings, Redis database 1 of the same
server). Each repetition first times bare round trips (`bench.ping.delay().get()`), then submits
the seed walkthrough job (the four people, default hyperparameters: 1000 epochs, lr 0.1) with
POST /train and polls GET /jobs/{id} every `--poll` seconds. Medians over the repetitions:
  - dispatch: POST /train answered -> the job `running` (the record's `started_at`, written when a
    worker claims the job; also when a poll first saw it running). Target: <= 3x the round trip.
  - the whole job: POST /train sent -> `succeeded` seen in GET /jobs/{id}. Target: <= 10x.
The worker's own share (started_at -> finished_at in the record) is shown too, and a bare Celery
task doing the same training in memory (`bench.train_seed`) shows what the training costs alone.

    python bench/bench_dispatch.py [--repeats 20] [--poll 0.002]
"""

from __future__ import annotations

import argparse
import time

import requests
from celery_ping import round_trips
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


def one_job(session: requests.Session, url: str, dataset_id: str, poll: float) -> dict[str, float]:
    """Submit the seed job, poll it to `succeeded`; timings in seconds."""
    body = seed_job(dataset_id)
    sent_wall, sent = time.time(), time.perf_counter()
    response = session.post(f"{url}/train", json=body, timeout=30)
    answered_wall, answered = time.time(), time.perf_counter()
    response.raise_for_status()
    job_url = f"{url}/jobs/{response.json()['job_id']}"
    seen_running = None
    while True:
        record = session.get(job_url, timeout=30).json()
        now = time.perf_counter()
        if record["state"] != "queued" and seen_running is None:
            seen_running = now
        if record["state"] == "succeeded":
            break
        if record["state"] in ("failed", "cancelled"):
            raise RuntimeError(f"the seed job ended {record['state']}: {record['error']}")
        if now - sent > 60:
            raise TimeoutError("the seed job did not finish within 60 s")
        time.sleep(poll)
    started, finished = iso_seconds(record["started_at"]), iso_seconds(record["finished_at"])
    return {
        "post": answered - sent,
        "dispatch": max(0.0, started - answered_wall),
        "dispatch_from_sent": started - sent_wall,
        "dispatch_seen": seen_running - answered,
        "succeeded_seen": now - sent,
        "worker": finished - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description="POST /train dispatch vs a bare Celery round trip."
    )
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--pings", type=int, default=10, help="round trips per repetition")
    parser.add_argument("--poll", type=float, default=0.002, help="seconds between polls")
    args = parser.parse_args()

    with Stack("dispatch") as stack:
        stack.start_worker()
        url = stack.start_api()
        app, _ = stack.start_bare_celery(stack.settings.worker_concurrency)
        with requests.Session() as session:
            dataset_id = upload_seed_dataset(session, url)
            one_job(session, url, dataset_id, args.poll)  # warm-up: connections, caches
            round_trips(app, "bench.ping", args.pings)
            round_trips(app, "bench.train_seed", 4, epochs=1000)
            pings, trains, jobs = [], [], []
            for _ in range(args.repeats):
                pings += round_trips(app, "bench.ping", args.pings)
                trains += round_trips(app, "bench.train_seed", 1, epochs=1000)
                jobs.append(one_job(session, url, dataset_id, args.poll))
        app.close()

    rt = median(pings)
    job = {key: median(j[key] for j in jobs) for key in jobs[0]}
    rows = [
        ["bare Celery round trip (bench.ping)", rt * 1e3, 1.0, ""],
        ["POST /train request itself", job["post"] * 1e3, job["post"] / rt, ""],
        ["POST /train answered -> running (record's started_at)", job["dispatch"] * 1e3,
         job["dispatch"] / rt, "<= 3x"],
        ["POST /train sent -> running (record's started_at)", job["dispatch_from_sent"] * 1e3,
         job["dispatch_from_sent"] / rt, ""],
        ["POST /train answered -> running seen by polling", job["dispatch_seen"] * 1e3,
         job["dispatch_seen"] / rt, ""],
        ["POST /train sent -> succeeded seen in GET /jobs/{id}", job["succeeded_seen"] * 1e3,
         job["succeeded_seen"] / rt, "<= 10x"],
        ["worker: started_at -> finished_at", job["worker"] * 1e3, job["worker"] / rt, ""],
        ["bare Celery task training the seed network (round trip)", median(trains) * 1e3,
         median(trains) / rt, ""],
    ]  # fmt: skip
    print(f"\n{machine()}; {args.repeats} seed jobs, {len(pings)} round trips, poll every "
          f"{args.poll * 1e3:g} ms; medians\n")  # fmt: skip
    print(markdown_table(["what", "ms", "x round trip", "target"], rows))
    dispatch_x, job_x = job["dispatch"] / rt, job["succeeded_seen"] / rt
    print()
    print(f"- {verdict(dispatch_x <= 3, f'dispatch {dispatch_x:.2f}x the round trip (<= 3x)')}")
    print(
        f"- {verdict(job_x <= 10, f'seed job to succeeded {job_x:.1f}x the round trip (<= 10x)')}"
    )


if __name__ == "__main__":
    main()
