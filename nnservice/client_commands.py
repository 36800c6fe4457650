"""The client half of the `nnservice` command: train, watch, predict, models, jobs, events, rm-...

Each command talks to a running service over HTTP through `nnservice.client.Client`. They share
three options: `--url` (`NNSERVICE_URL`), `--api-key` (`NNSERVICE_API_KEY`, sent as a bearer token)
and `--json` (print the server's JSON body instead of a table); `--url` and `--api-key` may also
come before the command (`nnservice --url X models`: the group keeps them in `GROUP_OPTIONS`). An
error answer prints the server's message and field errors to stderr and exits 1; click's usage
errors exit 2. `register(group)` adds the commands to the `nnservice` group defined in
`nnservice/cli.py`.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from foundation.events import EVENT_TYPES
from foundation.limits import DEFAULT_MAX_PREDICT_ROWS, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from foundation.promotion import IF_BETTER
from foundation.states import STATES, JobState
from nnservice.client import (
    DEFAULT_URL,
    ApiError,
    Client,
    ServiceUnreachable,
)
from nnservice.train_options import given_hyperparameters, hyperparameter_options

#: Rows per `/predict` request when predicting a file (the server's default cap).
PREDICT_CHUNK_ROWS = DEFAULT_MAX_PREDICT_ROWS
#: Seconds between two progress lines while watching a job with the output not on a terminal.
PLAIN_LINE_SECONDS = 1.0
#: The key in `click.Context.meta` under which the `nnservice` group keeps the `--url` and
#: `--api-key` given before the command.
GROUP_OPTIONS = "nnservice.client_options"


class ApiFailure(click.ClickException):
    """An error answer from the server, shown with its message and field errors; exit code 1."""

    exit_code = 1

    def __init__(self, error: ApiError) -> None:
        lines = [f"{error.message} (HTTP {error.status})"]
        lines += [
            f"  {field}: {reason}"
            for field, reason in error.field_errors()
            if reason != error.message  # a 404 often repeats its message under the id
        ]
        super().__init__("\n".join(lines))


class Session:
    """What a command needs: the API client, and where and how to print."""

    def __init__(self, client: Client, as_json: bool) -> None:
        self.client = client
        self.as_json = as_json
        out = Console()
        # Off a terminal (pipes, tests) rich assumes 80 columns; ids must never be cut.
        self.out = out if out.is_terminal else Console(width=200)
        self.err = Console(stderr=True)

    def print_table(self, table: Table) -> None:
        """Print a rich table on stdout, without the padding rich leaves at the end of lines."""
        with self.out.capture() as captured:
            self.out.print(table)
        click.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))

    def emit_json(self, body: Any) -> None:
        """Print `body` as indented JSON on stdout."""
        click.echo(json.dumps(body, indent=2, sort_keys=True))

    def note(self, message: str) -> None:
        """Print a human note on stderr (stdout stays for results)."""
        click.echo(message, err=True)


def api_command(func: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command `--url`, `--api-key` and `--json`, a `Session`, and error handling."""

    @click.option(
        "--url",
        envvar="NNSERVICE_URL",
        show_envvar=True,
        default=DEFAULT_URL,
        show_default=True,
        help="Base URL of the nnservice API.",
    )
    @click.option(
        "--api-key",
        envvar="NNSERVICE_API_KEY",
        show_envvar=True,
        default=None,
        help="API key, sent as 'Authorization: Bearer <key>'.",
    )
    @click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print the server's JSON body instead of a table.",
    )
    @functools.wraps(func)
    def wrapper(url: str, api_key: str | None, as_json: bool, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        url = _given_anywhere(ctx, "url", url)
        api_key = _given_anywhere(ctx, "api_key", api_key)
        with Client(url, api_key=api_key) as client:
            try:
                return func(Session(client, as_json), **kwargs)
            except ApiError as exc:
                raise ApiFailure(exc) from exc
            except ServiceUnreachable as exc:
                raise click.ClickException(
                    f"cannot reach nnservice at {exc.url} ({exc.reason}); is it running? "
                    "Start it with 'nnservice up', or point --url / NNSERVICE_URL at it."
                ) from exc

    return wrapper


def _given_anywhere(ctx: click.Context, name: str, value: Any) -> Any:
    """The option `name`: given after the command, else before it (on the group), else from its
    environment variable or its default."""
    if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE:
        return value
    before = ctx.meta.get(GROUP_OPTIONS, {}).get(name)
    return value if before is None else before


# -- small formatting helpers ----------------------------------------------------------------------


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, int | float):
        return f"{value:.{digits}f}"
    return str(value)


def when_text(value: Any) -> str:
    """`2026-11-25T08:00:00.123456Z` -> `2026-11-25 08:00:00`."""
    if not value:
        return "-"
    return str(value).replace("T", " ")[:19]


def plain_table(*columns: str) -> Table:
    """A borderless table with these column headings, folding long cells."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def add_plain_row(table: Table, *cells: Any) -> None:
    """Add a row of plain-text cells (None shows as -)."""
    # Text cells: ids and names are shown as they are, never parsed as rich markup.
    table.add_row(*(Text("-" if cell is None else str(cell)) for cell in cells))


def read_feature_rows(path: Path) -> list[dict[str, float]]:
    """Read `weight` and `height` (any case, any column order) from a CSV or TSV file with a header.

    Other columns are ignored. Raises `click.BadParameter` (a usage error) naming what is wrong.
    """
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header = [name.strip().lower() for name in next(reader, [])]
        missing = [name for name in ("weight", "height") if name not in header]
        if missing:
            raise click.BadParameter(
                f"{path.name} has no {' and no '.join(missing)} column (header: {header})",
                param_hint="FILE",
            )
        columns = {name: header.index(name) for name in ("weight", "height")}
        rows = []
        for line_number, record in enumerate(reader, start=2):
            if not any(cell.strip() for cell in record):
                continue
            try:
                rows.append({name: float(record[index].strip()) for name, index in columns.items()})
            except (ValueError, IndexError):
                raise click.BadParameter(
                    f"{path.name} line {line_number}: weight and height must be numbers",
                    param_hint="FILE",
                ) from None
    if not rows:
        raise click.BadParameter(f"{path.name} has no data rows", param_hint="FILE")
    return rows


def _chunks(rows: Sequence[dict], size: int) -> Iterable[Sequence[dict]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


# -- watching a job --------------------------------------------------------------------------------


def watch_job(session: Session, job_id: str) -> dict:
    """Follow the job's event stream until it ends; return its final record.

    On a terminal, a live progress bar on stderr; otherwise (a pipe, a log file) one plain line
    on stderr at most every `PLAIN_LINE_SECONDS`, and the last one when the job ends.
    """
    show = _progress_bar if session.err.is_terminal else _progress_lines
    show(session, session.client.job_events(job_id))
    return session.client.get_job(job_id)


def _progress_bar(session: Session, events: Iterable[tuple[str, dict]]) -> None:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("epoch"),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}  ETA"),
        TimeRemainingColumn(),
        TextColumn("elapsed"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=session.err) as progress:
        task = progress.add_task(JobState.QUEUED, total=None, loss="-")
        for _, data in events:
            epochs = data.get("epochs") or None
            progress.update(
                task,
                description=data.get("state") or "?",
                total=epochs,
                completed=_epoch(data),
                loss=_num(data.get("loss"), 5),
            )


def _progress_lines(session: Session, events: Iterable[tuple[str, dict]]) -> None:
    """A line per event at most every PLAIN_LINE_SECONDS, and the end's; never the same twice
    in a row (a finished job's last progress event and its end say the same)."""
    printed_at, printed = None, None
    for event, data in events:
        now = time.monotonic()
        if event == "end" or printed_at is None or now - printed_at >= PLAIN_LINE_SECONDS:
            epochs = data.get("epochs") or "?"
            state, loss = data.get("state") or "?", _num(data.get("loss"), 5)
            line = f"{state} epoch {_epoch(data)}/{epochs} loss {loss}"
            if line != printed:
                printed_at, printed = now, line
                session.note(line)


def _epoch(data: dict) -> int:
    """The event's epoch; all of them once the job has succeeded, unless early stopping ended
    it sooner."""
    if (
        data.get("state") == JobState.SUCCEEDED
        and data.get("epochs")
        and not data.get("stopped_epoch")
    ):
        return data["epochs"]
    return data.get("epoch") or 0


def _finish_watch(session: Session, job: dict) -> None:
    """Print how a watched job ended; exit 1 unless it succeeded."""
    if session.as_json:
        session.emit_json(job)
    else:
        metrics = job.get("metrics") or {}
        table = plain_table("", "")
        table.show_header = False
        add_plain_row(table, "job", job.get("job_id"))
        add_plain_row(table, "state", job.get("state"))
        add_plain_row(table, "model", job.get("model_id"))
        add_plain_row(table, "train accuracy", _num(metrics.get("train_accuracy")))
        add_plain_row(table, "validation accuracy", _num(metrics.get("validation_accuracy")))
        add_plain_row(table, "final loss", _num((job.get("progress") or {}).get("loss"), 6))
        if job.get("best_epoch") is not None:
            stopped = job.get("stopped_epoch")
            ran = f"stopped after epoch {stopped}" if stopped else "ran every epoch"
            add_plain_row(table, "early stopping", ran)
            add_plain_row(table, "kept epoch", job["best_epoch"])
        promotion = job.get("promotion")
        if promotion:
            add_plain_row(table, "promoted", _promotion_text(promotion))
        session.print_table(table)
    state = job.get("state")
    if state != JobState.SUCCEEDED:
        reason = f": {job['error']}" if job.get("error") else ""
        raise click.ClickException(f"job {job.get('job_id')} {state}{reason}")


def _promotion_text(promotion: dict) -> str:
    """The gate's decision in a few words: the alias moved, or why not."""
    if promotion.get("promoted"):
        return f"yes, as {promotion.get('alias')}"
    return f"no: {promotion.get('reason')}"


def _watch_until_done(session: Session, job_id: str) -> None:
    try:
        job = watch_job(session, job_id)
    except KeyboardInterrupt:
        session.note(
            f"stopped watching; job {job_id} goes on "
            f"('nnservice watch {job_id}' to watch again, 'nnservice cancel {job_id}' to stop it)"
        )
        raise click.exceptions.Exit(130) from None
    _finish_watch(session, job)


# -- commands --------------------------------------------------------------------------------------

_DATA_FILE = click.Path(exists=True, dir_okay=False, readable=True, path_type=Path)


def _promote_choice(options: dict[str, Any]) -> bool | str | None:
    """POST /train's `promote` from --promote and --no-promote (None: the server's default)."""
    if options.get("no_promote"):
        return False
    return {"true": True, "false": False}.get(
        options.get("promote_when"), options.get("promote_when")
    )


@click.command()
@click.argument("file", type=_DATA_FILE)
@hyperparameter_options
@click.option("--name", help="Dataset name [default: the file name].")
@click.option(
    "--no-promote", is_flag=True, help="Keep the current latest model when the job succeeds."
)
@click.option(
    "--promote",
    "promote_when",
    type=click.Choice(["true", "false", IF_BETTER]),
    help=(
        f"Promote the new model when the job succeeds: true, false, or {IF_BETTER} (only if "
        "its accuracy is at least the current model's on the same dataset) [default: true]."
    ),
)
@click.option("--promote-alias", help="The alias to move instead of latest.")
@click.option("--watch", is_flag=True, help="Show live progress until the job ends.")
@api_command
def train(session: Session, file: Path, watch: bool, name: str | None, **options: Any) -> None:
    """Upload FILE (CSV or TSV with weight, height, gender) and start a training job.

    Prints the job id; with --watch, a live progress bar, then the model id and its accuracies
    (exit 1 if the job fails or is cancelled).
    """
    hyperparameters = given_hyperparameters(options)
    dataset = session.client.upload_dataset_file(file, name=name or file.name)
    counts = dataset.get("counts") or {}
    session.note(
        f"dataset {dataset.get('id')}: {dataset.get('rows')} rows "
        f"({counts.get('F', 0)} F, {counts.get('M', 0)} M)"
    )
    if dataset.get("message"):  # the rows were stored before, maybe under another name
        session.note(dataset["message"])
    started = session.client.train(
        dataset["id"],
        hyperparameters,
        promote=_promote_choice(options),
        promote_alias=options.get("promote_alias"),
    )
    job_id = started["job_id"]
    if not watch:
        if session.as_json:
            session.emit_json(started)
        else:
            click.echo(job_id)
        return
    if not session.as_json:
        session.note(f"job {job_id}")
    _watch_until_done(session, job_id)


@click.command()
@click.argument("job_id", metavar="JOB")
@api_command
def watch(session: Session, job_id: str) -> None:
    """Follow a training job's events until it ends (exit 1 unless it succeeds): a live progress
    bar on a terminal, else one line a second."""
    _watch_until_done(session, job_id)


@click.command()
@click.argument("file", required=False, type=_DATA_FILE)
@click.option("--weight", type=float, help="Weight in pounds (with --height).")
@click.option("--height", type=float, help="Height in inches (with --weight).")
@click.option("--model", "model_id", help="Model id [default: the latest model].")
@click.option("--alias", help="Alias whose model answers [default: latest].")
@api_command
def predict(
    session: Session,
    file: Path | None,
    weight: float | None,
    height: float | None,
    model_id: str | None,
    alias: str | None,
) -> None:
    """Predict gender for one person (--weight, --height) or for every row of FILE (CSV/TSV)."""
    if file is not None and (weight is not None or height is not None):
        raise click.UsageError("give either FILE or --weight and --height, not both")
    if model_id and alias:
        raise click.UsageError("give either --model or --alias, not both")
    if file is None:
        if weight is None or height is None:
            raise click.UsageError("give --weight and --height, or a FILE of rows")
        rows = [{"weight": weight, "height": height}]
    else:
        rows = read_feature_rows(file)
    predictions: list[dict] = []
    for chunk in _chunks(rows, PREDICT_CHUNK_ROWS):
        answer = session.client.predict(chunk, model_id=model_id, alias=alias)
        # later chunks use the same model (an alias's split may pick another for each chunk)
        model_id = answer.get("model_id") if alias else answer.get("model_id", model_id)
        predictions.extend(answer.get("predictions", []))
    if session.as_json:
        session.emit_json({"model_id": model_id, "predictions": predictions})
        return
    session.note(f"model {model_id}")
    table = plain_table("weight", "height", "gender", "P(female)")
    for row, prediction in zip(rows, predictions, strict=False):
        add_plain_row(
            table,
            f"{row['weight']:g}",
            f"{row['height']:g}",
            prediction.get("gender"),
            _num(prediction.get("probability_female"), 3),
        )
    session.print_table(table)


def _listing(
    session: Session,
    items: list[dict],
    kind: str,
    columns: Sequence[str],
    cells: Callable[[dict], Sequence[Any]],
) -> None:
    """Print `items` as JSON, or as a table with `columns` filled by `cells(item)`."""
    if session.as_json:
        session.emit_json(items)
        return
    if not items:
        session.note(f"no {kind} yet")
        return
    table = plain_table(*columns)
    for item in items:
        add_plain_row(table, *cells(item))
    session.print_table(table)


def _model_cells(model: dict) -> Sequence[Any]:
    metrics = model.get("metrics") or {}
    return (
        "*" if model.get("is_latest") else "",
        model.get("id"),
        when_text(model.get("created_at")),
        model.get("job_id"),
        model.get("dataset_id"),
        _num(metrics.get("train_accuracy"), 3),
        _num(metrics.get("validation_accuracy"), 3),
        model.get("status"),
    )


def _job_cells(job: dict) -> Sequence[Any]:
    done = job.get("progress") or {}
    return (
        job.get("job_id"),
        job.get("state"),
        f"{done.get('epoch', 0)}/{done.get('epochs', '?')}",
        _num(done.get("loss"), 5),
        job.get("model_id"),
        when_text(job.get("created_at")),
    )


def _dataset_cells(info: dict) -> Sequence[Any]:
    counts = info.get("counts") or {}
    return (
        info.get("id"),
        info.get("name"),
        info.get("rows"),
        counts.get("F"),
        counts.get("M"),
        when_text(info.get("created_at")),
    )


def _limit_options(kind: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--limit N` (default: the server's page), `--all`, and the hidden `--page-size`."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        options = (
            click.option(
                "--limit",
                type=click.IntRange(min=1),
                help=f"At most this many {kind}, newest first [default: {DEFAULT_PAGE_SIZE}].",
            ),
            click.option("--all", "every", is_flag=True, help=f"Every {kind[:-1]}, all pages."),
            # Items per request; tests make it small to cross pages with few items.
            click.option(
                "--page-size",
                type=click.IntRange(1, MAX_PAGE_SIZE),
                default=MAX_PAGE_SIZE,
                hidden=True,
            ),
        )
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def _how_many(limit: int | None, every: bool) -> int | None:
    """The listing's limit: None (every page) with --all, else --limit or the default."""
    if every and limit is not None:
        raise click.UsageError("give --limit or --all, not both")
    return None if every else limit or DEFAULT_PAGE_SIZE


@click.command()
@_limit_options("models")
@click.option("--dataset", "dataset_id", metavar="ID", help="Only models trained on dataset ID.")
@api_command
def models(
    session: Session, limit: int | None, every: bool, page_size: int, dataset_id: str | None
) -> None:
    """List the stored models, newest first; * marks the latest (the one /predict uses)."""
    found = session.client.list_models(
        _how_many(limit, every), dataset_id=dataset_id, page_size=page_size
    )
    columns = ("", "id", "created", "job", "dataset", "train acc", "val acc", "status")
    _listing(session, found, "models", columns, _model_cells)


@click.command()
@_limit_options("jobs")
# The states' values: given enum members, click would offer their names (QUEUED, ...).
@click.option(
    "--state",
    type=click.Choice([state.value for state in STATES]),
    help="Only jobs in this state.",
)
@click.option("--dataset", "dataset_id", metavar="ID", help="Only jobs on dataset ID.")
@api_command
def jobs(
    session: Session,
    limit: int | None,
    every: bool,
    page_size: int,
    state: str | None,
    dataset_id: str | None,
) -> None:
    """List recent training jobs, newest first."""
    found = session.client.list_jobs(
        _how_many(limit, every), state=state, dataset_id=dataset_id, page_size=page_size
    )
    columns = ("id", "state", "epoch", "loss", "model", "created")
    _listing(session, found, "jobs", columns, _job_cells)


@click.command()
@_limit_options("datasets")
@api_command
def datasets(session: Session, limit: int | None, every: bool, page_size: int) -> None:
    """List the uploaded datasets, newest first."""
    found = session.client.list_datasets(_how_many(limit, every), page_size=page_size)
    columns = ("id", "name", "rows", "F", "M", "created")
    _listing(session, found, "datasets", columns, _dataset_cells)


@click.command()
@click.argument("model_id", metavar="ID")
@api_command
def promote(session: Session, model_id: str) -> None:
    """Make model ID the latest: /predict uses it from now on, without a restart."""
    answer = session.client.promote_model(model_id)
    if session.as_json:
        session.emit_json(answer)
    else:
        click.echo(f"promoted {model_id}: it is now the latest model")


@click.command()
@click.argument("job_id", metavar="JOB")
@api_command
def cancel(session: Session, job_id: str) -> None:
    """Cancel a queued or running job (it stops within one epoch and saves no model)."""
    answer = session.client.cancel_job(job_id)
    if session.as_json:
        session.emit_json(answer)
        return
    state = answer.get("state") if isinstance(answer, dict) else None
    suffix = f" (state: {state})" if state else ""
    click.echo(f"cancel requested for job {job_id}{suffix}")


@click.command("rm-model")
@click.argument("model_id", metavar="ID")
@api_command
def rm_model(session: Session, model_id: str) -> None:
    """Delete model ID and its snapshot for good (refused while an alias such as the latest
    names it, or an unfinished job needs it)."""
    session.client.delete_model(model_id)
    _deleted(session, "model", model_id)


@click.command("rm-dataset")
@click.argument("dataset_id", metavar="ID")
@api_command
def rm_dataset(session: Session, dataset_id: str) -> None:
    """Delete dataset ID and its rows for good (refused while a queued or running job trains
    on it); models trained on it keep serving."""
    session.client.delete_dataset(dataset_id)
    _deleted(session, "dataset", dataset_id)


@click.command("rm-job")
@click.argument("job_id", metavar="JOB")
@api_command
def rm_job(session: Session, job_id: str) -> None:
    """Remove a finished job's record and checkpoint (its model stays); `cancel` stops one
    that has not finished."""
    session.client.purge_job(job_id)
    _deleted(session, "job", job_id)


@click.command("rm-batch")
@click.argument("batch_id", metavar="ID")
@api_command
def rm_batch(session: Session, batch_id: str) -> None:
    """Delete batch prediction ID, its copy of the uploaded file and its results for good
    (refused while it is queued or running; Ctrl-C in `batch-predict` cancels one)."""
    session.client.delete_batch(batch_id)
    _deleted(session, "batch_prediction", batch_id)


@click.command()
@click.option(
    "--types",
    metavar="TYPE,...",
    help=f"Only these kinds of events, comma-separated: {', '.join(EVENT_TYPES)}.",
)
@click.option(
    "--last-event-id",
    type=click.IntRange(min=0),
    help="Resume after this event id (0: from the oldest kept event) [default: from now on].",
)
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many events.")
@api_command
def events(session: Session, types: str | None, last_event_id: int | None, count: int | None):
    """Print the registry's events as they happen, one JSON object a line: models and datasets
    created or deleted, alias changes, job and sweep states (GET /events; Ctrl-C stops)."""
    kinds = [name.strip() for name in types.split(",")] if types else None
    stream = session.client.registry_events(kinds, last_event_id)
    with contextlib.closing(stream):  # a stream left early is closed, not left to linger
        try:
            for printed, event in enumerate(stream, start=1):
                click.echo(json.dumps(event))
                if count is not None and printed >= count:
                    return
        except KeyboardInterrupt:
            return


def _deleted(session: Session, kind: str, item_id: str) -> None:
    """Say what was deleted (`--json`: {"deleted": kind, "id": id})."""
    if session.as_json:
        session.emit_json({"deleted": kind, "id": item_id})
    else:
        click.echo(f"deleted {kind} {item_id}")


CLIENT_COMMANDS: tuple[click.Command, ...] = (
    train,
    watch,
    predict,
    models,
    jobs,
    datasets,
    promote,
    cancel,
    rm_model,
    rm_dataset,
    rm_job,
    rm_batch,
    events,
)


def register(group: click.Group) -> None:
    """Add the client commands to the `nnservice` click group."""
    for command in CLIENT_COMMANDS:
        group.add_command(command)
