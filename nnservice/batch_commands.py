"""`nnservice batch-predict FILE`: score every row of a CSV/TSV file on the workers, with a
progress bar, and write the results as CSV."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import IO

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from foundation.states import JobState
from nnservice.client_commands import PLAIN_LINE_SECONDS, Session, api_command

#: Seconds between two looks at the batch's progress.
POLL_SECONDS = 0.2
_DATA_FILE = click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)
ENDED = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


def _follow(session: Session, batch_id: str) -> dict:
    """Poll the batch until it ends; a live bar of rows on a terminal, else a plain line at
    most every PLAIN_LINE_SECONDS (on stderr). Ctrl-C cancels the batch."""
    try:
        if session.err.is_terminal:
            return _with_bar(session, batch_id)
        return _with_lines(session, batch_id)
    except KeyboardInterrupt:
        session.client.cancel_batch(batch_id)
        raise click.ClickException(f"interrupted: batch prediction {batch_id} cancelled") from None


def _with_bar(session: Session, batch_id: str) -> dict:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("rows"),
        MofNCompleteColumn(),
        TextColumn("elapsed"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=session.err) as progress:
        task = progress.add_task(JobState.QUEUED, total=None)
        while True:
            batch = session.client.get_batch(batch_id)
            progress.update(
                task,
                description=batch["state"],
                total=batch["rows_total"],
                completed=batch["rows_done"],
            )
            if batch["state"] in ENDED:
                return batch
            time.sleep(POLL_SECONDS)


def _with_lines(session: Session, batch_id: str) -> dict:
    printed_at, printed = None, None
    while True:
        batch = session.client.get_batch(batch_id)
        ended = batch["state"] in ENDED
        now = time.monotonic()
        line = f"{batch['state']} rows {batch['rows_done']}/{batch['rows_total']}"
        if line != printed and (
            ended or printed_at is None or now - printed_at >= PLAIN_LINE_SECONDS
        ):
            printed_at, printed = now, line
            session.note(line)
        if ended:
            return batch
        time.sleep(POLL_SECONDS)


def _write_result(session: Session, batch_id: str, out: IO[bytes]) -> None:
    for piece in session.client.batch_result(batch_id):
        out.write(piece)


@click.command("batch-predict")
@click.argument("file", type=_DATA_FILE)
@click.option("--model-id", help="The model that scores every row [default: the alias's].")
@click.option("--alias", help="Alias whose model scores every row [default: latest].")
@click.option("--chunk-rows", type=click.IntRange(1), help="Rows per chunk [default: 10000].")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the results here (CSV) [default: stdout].",
)
@api_command
def batch_predict(
    session: Session,
    file: Path,
    model_id: str | None,
    alias: str | None,
    chunk_rows: int | None,
    output: Path | None,
) -> None:
    """Score every row of FILE (CSV/TSV: weight, height, optionally gender) on the workers.

    One model scores every row (--model-id, or the alias's, resolved once). Progress goes to
    stderr; the results (weight, height, probability_female, gender, and true_gender when FILE
    has genders) to -o or stdout. With --json, the batch's record goes to stdout instead.
    Exits 1 unless the batch succeeds; Ctrl-C cancels it.
    """
    if model_id and alias:
        raise click.UsageError("give either --model-id or --alias, not both")
    accepted = session.client.submit_batch_file(file, model_id, alias, chunk_rows)
    batch_id = accepted["batch_prediction_id"]
    session.note(
        f"batch prediction {batch_id}: {accepted['rows_total']} rows, model {accepted['model_id']}"
    )
    batch = _follow(session, batch_id)
    if batch["state"] != JobState.SUCCEEDED:
        reason = f": {batch['error']}" if batch.get("error") else ""
        raise click.ClickException(f"batch prediction {batch_id} {batch['state']}{reason}")
    if output is not None:
        with output.open("wb") as out:
            _write_result(session, batch_id, out)
        session.note(f"results written to {output}")
    elif not session.as_json:
        _write_result(session, batch_id, sys.stdout.buffer)
        sys.stdout.flush()
    if batch.get("accuracy") is not None:
        session.note(f"accuracy {batch['accuracy']:.4f} on {batch['rows_done']} rows")
    if session.as_json:
        session.emit_json(batch)
