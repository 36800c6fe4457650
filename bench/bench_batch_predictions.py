"""Batch predictions: rows/s on one and on two workers against one synchronous /predict loop (the
anchor, same run, same rows, same model), and the API's RSS over a 1,000,000-row batch.

The anchor is what a client did before batches: POST /predict with 10,000 rows per request, one
request after another (as `nnservice predict FILE` does). A batch is timed from its POST (the
upload included) to the end of its CSV result's download. The RSS of every API process (gunicorn's
master and workers) is sampled every 50 ms through the 1,000,000-row batch: upload, scoring and
the streamed result; the target is a growth under 50 MB.

    python bench/bench_batch_predictions.py [--rows 200000] [--million 1000000]
"""

from __future__ import annotations

import argparse
import csv
import io
import time

import requests
from bench_memory import MB, RssSampler
from harness import Stack, machine, markdown_table, verdict

from nnservice.example_data import write_people

PREDICT_ROWS = 10_000


def people_tsv(rows: int, seed: int = 7) -> bytes:
    out = io.StringIO()
    write_people(out, rows, seed)
    return out.getvalue().encode()


def predict_loop(url: str, tsv: bytes, model_id: str) -> float:
    """Seconds for /predict over every row, 10,000 per request, one after another."""
    reader = csv.DictReader(io.StringIO(tsv.decode()), delimiter="\t")
    people = [{"weight": float(r["Weight"]), "height": float(r["Height"])} for r in reader]
    with requests.Session() as session:
        started = time.perf_counter()
        for start in range(0, len(people), PREDICT_ROWS):
            body = {"model_id": model_id, "instances": people[start : start + PREDICT_ROWS]}
            session.post(f"{url}/predict", json=body, timeout=120).raise_for_status()
        return time.perf_counter() - started


def batch(url: str, tsv: bytes, model_id: str, timeout: float = 600) -> float:
    """Seconds from POST /batch-predictions to the end of the result's download."""
    with requests.Session() as session:
        started = time.perf_counter()
        accepted = session.post(
            f"{url}/batch-predictions",
            params={"model_id": model_id},
            data=tsv,
            headers={"Content-Type": "text/tab-separated-values"},
            timeout=timeout,
        )
        accepted.raise_for_status()
        batch_id = accepted.json()["batch_prediction_id"]
        deadline = time.monotonic() + timeout
        while (state := session.get(f"{url}/batch-predictions/{batch_id}").json()["state"]) in (
            "queued",
            "running",
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"batch {batch_id} did not end within {timeout} s")
            time.sleep(0.05)
        if state != "succeeded":
            raise RuntimeError(f"batch {batch_id} ended {state}")
        with session.get(f"{url}/batch-predictions/{batch_id}/result", stream=True) as result:
            result.raise_for_status()
            size = sum(len(piece) for piece in result.iter_content(1 << 16))
        assert size > 0
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the timed runs")
    parser.add_argument("--million", type=int, default=1_000_000, help="rows of the RSS run")
    args = parser.parse_args()
    tsv = people_tsv(args.rows)
    with Stack("batch", NNSERVICE_API_WORKERS="2") as stack:
        model_id = stack.promote_seed_model()
        url = stack.start_api()
        api_pid = stack.processes[-1].pid
        stack.start_worker(concurrency=1)
        warm_up = people_tsv(PREDICT_ROWS, seed=6)
        predict_loop(url, warm_up, model_id)  # both paths once before timing
        batch(url, warm_up, model_id)
        anchor = predict_loop(url, tsv, model_id)
        one = batch(url, tsv, model_id)
        stack.start_worker(concurrency=1)
        two = batch(url, tsv, model_id)
        rows = [
            ["/predict loop (anchor)", args.rows / anchor, 1.0],
            ["batch, 1 worker", args.rows / one, anchor / one],
            ["batch, 2 workers", args.rows / two, anchor / two],
        ]
        print(f"## Batch predictions: {args.rows:,} rows, {machine()}\n")
        table = [[name, f"{rate:,.0f}", f"{ratio:.2f}"] for name, rate, ratio in rows]
        print(markdown_table(["", "rows/s", "x anchor"], table))

        million = people_tsv(args.million, seed=8)
        with RssSampler(api_pid, 0.05) as sampler:
            start = sampler.snapshot()
            seconds = batch(url, million, model_id, timeout=1800)
            end = sampler.snapshot()
        growth = {pid: (sampler.peak[pid] - start.get(pid, 0)) / MB for pid in end}
        worst = max(growth.values())
        total = (sampler.peak_total - sum(start.values())) / MB
        print(
            f"\n{args.million:,}-row batch ({len(million) / MB:.0f} MB of TSV) in {seconds:.1f} s: "
            f"API RSS peak growth per process {', '.join(f'{g:.1f}' for g in growth.values())} MB, "
            f"of the sum {total:.1f} MB"
        )
        print(verdict(worst < 50, f"API process RSS growth {worst:.1f} MB (< 50 MB)"))


if __name__ == "__main__":
    main()
