"""The client commands against the real stack: valkey-server, a Celery worker and the API over HTTP.

The seed's walkthrough from the command line: upload Alice, Bob, Charlie and Diana, train with
`--watch`, predict Emily and Frank; then the listings, promote, cancel, `--json` and the errors.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from foundation.hyperparameters import BY_NAME
from foundation.limits import MAX_PAGE_SIZE
from foundation.settings import Settings
from nnservice.cli import main

ROOT = Path(__file__).resolve().parents[2]
#: The seed walkthrough's request bodies and expected answers, shared with the README and the
#: integration tests.
WALKTHROUGH = json.loads((ROOT / "docs" / "seed_walkthrough.json").read_text())

#: Alice, Bob, Charlie and Diana as a CSV file (header in another case, as users write it).
SEED_CSV = "Weight,Height,Gender\n" + "".join(
    f"{row['weight']},{row['height']},{row['gender']}\n" for row in WALKTHROUGH["upload"]["rows"]
)


def options_for(hyperparameters: dict) -> list[str]:
    """The `nnservice train` options that send exactly `hyperparameters`."""
    options: list[str] = []
    for name, value in hyperparameters.items():
        if name == "shuffle":
            options.append("--shuffle" if value else "--no-shuffle")
        elif name == "hidden_layers":
            options += ["--hidden", ",".join(str(size) for size in value)]
        else:
            options += ["--" + name.replace("_", "-"), str(value)]
    return options


#: The seed's training: 1000 epochs, learning rate 0.1, one hidden layer of 2, a fixed seed.
SEED_OPTIONS = options_for(WALKTHROUGH["train"]["hyperparameters"])


def run(stack, *args: str, env: dict[str, str] | None = None) -> Result:
    """`nnservice ARGS` against the test stack (the URL comes from NNSERVICE_URL)."""
    environment = {"NNSERVICE_URL": stack.base_url, **(env or {})}
    return CliRunner().invoke(main, list(args), env=environment)


def run_json(stack, *args: str) -> object:
    """`nnservice ARGS --json`, which must succeed and print JSON on stdout."""
    result = run(stack, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def seed_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "four-people.csv"
    path.write_text(SEED_CSV)
    return path


@pytest.fixture(scope="module")
def seed_model(_session_stack, seed_csv: Path) -> dict:
    """The final record of the job that `nnservice train four-people.csv --watch --json` ran."""
    _session_stack.ensure_running()
    result = run(_session_stack, "train", str(seed_csv), *SEED_OPTIONS, "--watch", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_train_watch_shows_progress_then_the_model_and_its_accuracy(stack, seed_csv: Path) -> None:
    result = run(stack, "train", str(seed_csv), *SEED_OPTIONS, "--watch", "--name", "seed")

    assert result.exit_code == 0, result.output
    assert "4 rows (2 F, 2 M)" in result.stderr
    assert "epoch" in result.stderr and "1000/1000" in result.stderr  # the progress bar's end
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines() if " " in line)
    job = stack.get(f"/jobs/{lines['job'].strip()}").json()
    assert job["state"] == "succeeded"
    assert lines["state"].strip() == "succeeded"
    assert lines["model"].strip() == job["model_id"]
    assert re.search(r"^train accuracy +1\.0000$", result.stdout, re.M), result.stdout


def test_train_with_early_stopping_says_where_it_stopped_and_which_epoch_it_kept(
    stack, tmp_path: Path
) -> None:
    rng = np.random.default_rng(2024)
    people = tmp_path / "people.csv"
    people.write_text(
        "weight,height,gender\n"
        + "".join(f"{rng.normal(135, 12):.1f},{rng.normal(64, 2.5):.1f},F\n" for _ in range(100))
        + "".join(f"{rng.normal(175, 15):.1f},{rng.normal(70, 3):.1f},M\n" for _ in range(100))
    )
    options = ["--epochs", "2000", "--seed", "3", "--validation-fraction", "0.2"]
    options += ["--early-stopping-patience", "20", "--early-stopping-min-delta", "0.001"]
    result = run(stack, "train", str(people), *options, "--no-promote", "--watch")

    assert result.exit_code == 0, result.output
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines() if " " in line)
    job = stack.get(f"/jobs/{lines['job'].strip()}").json()
    assert job["state"] == "succeeded" and job["stopped_epoch"] < 2000
    assert job["best_epoch"] == job["stopped_epoch"] - 20
    stopped = re.search(r"^early stopping +stopped after epoch (\d+)$", result.stdout, re.M)
    kept = re.search(r"^kept epoch +(\d+)$", result.stdout, re.M)
    assert stopped and kept, result.stdout
    assert (int(stopped[1]), int(kept[1])) == (job["stopped_epoch"], job["best_epoch"])


def test_watch_json_prints_the_final_job_record(stack, seed_model: dict) -> None:
    assert seed_model["state"] == "succeeded"
    assert seed_model["progress"]["epoch"] == seed_model["progress"]["epochs"] == 1000
    assert seed_model["metrics"]["train_accuracy"] == 1.0
    sent = WALKTHROUGH["train"]["hyperparameters"]
    assert {name: seed_model["hyperparameters"][name] for name in sent} == sent
    assert seed_model["dataset_id"] == WALKTHROUGH["train"]["dataset_id"]


PEOPLE = [
    (str(person["weight"]), str(person["height"]), expected)
    for person, expected in zip(
        WALKTHROUGH["predict"]["instances"], WALKTHROUGH["expected"], strict=True
    )
]


@pytest.mark.parametrize(("weight", "height", "expected"), PEOPLE, ids=["emily", "frank"])
def test_predict_emily_and_frank(stack, seed_model: dict, weight, height, expected) -> None:
    model_id = seed_model["model_id"]
    body = run_json(stack, "predict", "--weight", weight, "--height", height, "--model", model_id)
    assert body["model_id"] == model_id
    (prediction,) = body["predictions"]
    gender, probability = prediction["gender"], prediction["probability_female"]
    assert gender == expected["gender"]
    assert probability == pytest.approx(expected["probability_female"], abs=0.02)
    server = stack.post(
        "/predict", json={"weight": float(weight), "height": float(height), "model_id": model_id}
    )
    assert server.json()["predictions"] == [prediction]

    table = run(stack, "predict", "--weight", weight, "--height", height, "--model", model_id)
    assert table.exit_code == 0, table.output
    assert f"model {model_id}" in table.stderr
    rows = [line.split() for line in table.stdout.splitlines()]
    assert rows == [
        ["weight", "height", "gender", "P(female)"],
        [weight, height, gender, f"{probability:.3f}"],
    ]


def test_predict_a_tsv_file_with_any_header_case(stack, seed_model: dict, tmp_path: Path) -> None:
    people = tmp_path / "emily-frank.tsv"
    people.write_text("HEIGHT\tWeight\tname\n63\t128\tEmily\n68\t155\tFrank\n")
    model_id = seed_model["model_id"]

    body = run_json(stack, "predict", str(people), "--model", model_id)
    assert [p["gender"] for p in body["predictions"]] == ["F", "M"]

    table = run(stack, "predict", str(people), "--model", model_id)
    assert table.exit_code == 0, table.output
    rows = [line.split() for line in table.stdout.splitlines()]
    assert rows[0] == ["weight", "height", "gender", "P(female)"]
    assert [row[:3] for row in rows[1:]] == [["128", "63", "F"], ["155", "68", "M"]]


def test_listings_show_the_trained_model_job_and_dataset(stack, seed_model: dict) -> None:
    model_id, job_id = seed_model["model_id"], seed_model["job_id"]

    models = run_json(stack, "models")
    assert model_id in [m["id"] for m in models]
    jobs = run_json(stack, "jobs")
    assert job_id in [j["job_id"] for j in jobs]
    assert len(run_json(stack, "jobs", "--limit", "1")) == 1
    datasets = run_json(stack, "datasets")
    assert seed_model["dataset_id"] in [d["id"] for d in datasets]

    models_table = run(stack, "models")
    assert models_table.exit_code == 0 and model_id in models_table.stdout
    jobs_table = run(stack, "jobs")
    assert jobs_table.exit_code == 0
    (job_line,) = [line for line in jobs_table.stdout.splitlines() if job_id in line]
    assert job_line.split()[1:4] == [
        "succeeded",
        "1000/1000",
        f"{seed_model['progress']['loss']:.5f}",
    ]
    datasets_table = run(stack, "datasets")
    assert datasets_table.exit_code == 0
    (dataset_line,) = [
        line for line in datasets_table.stdout.splitlines() if seed_model["dataset_id"] in line
    ]
    assert dataset_line.split()[2:5] == ["4", "2", "2"]


def test_promote_changes_the_model_predict_uses(stack, seed_model: dict, seed_csv: Path) -> None:
    other = run(
        stack, "train", str(seed_csv), "--epochs", "20", "--no-promote", "--watch", "--json"
    )
    assert other.exit_code == 0, other.output
    other_id = json.loads(other.stdout)["model_id"]
    before = stack.store.models.latest_id()
    assert before != other_id  # --no-promote kept the latest
    try:
        promoted = run(stack, "promote", other_id)
        assert promoted.exit_code == 0, promoted.output
        assert f"promoted {other_id}" in promoted.stdout
        stack.wait_until_served(other_id)  # every API process within the cache's poll interval
        assert (
            run_json(stack, "predict", "--weight", "128", "--height", "63")["model_id"] == other_id
        )
        (latest,) = [m for m in run_json(stack, "models") if m["is_latest"]]
        assert latest["id"] == other_id
        models_table = run(stack, "models").stdout
        (marked,) = [line for line in models_table.splitlines() if line.startswith("*")]
        assert other_id in marked
    finally:
        assert run_json(stack, "promote", before)["id"] == before
        stack.wait_until_served(before)  # as the next tests expect


def test_cancel_a_running_job_then_watch_exits_non_zero(stack, tmp_path: Path) -> None:
    many = tmp_path / "many.csv"
    rows = [f"{100 + i % 90},{58 + i % 17},{'FM'[i % 2]}" for i in range(2000)]
    many.write_text("weight,height,gender\n" + "\n".join(rows) + "\n")
    started = run(stack, "train", str(many), "--epochs", "100000", "--no-promote")
    assert started.exit_code == 0, started.output
    job_id = started.stdout.strip()
    stack.wait_for_job(job_id, states=("running",))

    cancelled = run(stack, "cancel", job_id)
    assert cancelled.exit_code == 0, cancelled.output
    assert f"cancel requested for job {job_id}" in cancelled.stdout

    assert stack.wait_for_job(job_id)["state"] == "cancelled"
    watched = run(stack, "watch", job_id)
    assert watched.exit_code == 1
    assert f"job {job_id} cancelled" in watched.stderr
    progress = [line for line in watched.stderr.splitlines() if " epoch " in line]
    assert len(progress) == 1 and progress[0].startswith("cancelled epoch "), watched.stderr  # once
    assert stack.get(f"/jobs/{job_id}").json()["model_id"] is None

    again = run(stack, "cancel", job_id)
    assert again.exit_code == 1
    assert "(HTTP 409)" in again.stderr


def test_train_json_without_watch_prints_the_servers_answer(stack, seed_csv: Path) -> None:
    body = run_json(stack, "train", str(seed_csv), "--epochs", "5", "--no-promote")
    assert set(body) >= {"job_id", "status_url"}
    assert stack.wait_for_job(body["job_id"])["state"] == "succeeded"


def test_an_api_error_prints_the_servers_message_and_fields(stack, tmp_path: Path) -> None:
    # More epochs x rows than the job budget: a limit only the server checks.
    epochs = BY_NAME["epochs"].maximum
    rows = Settings.model_fields["job_budget"].default // epochs + 1
    path = tmp_path / "over-budget.csv"
    path.write_text(SEED_CSV + "".join(f"{100 + i % 90},{58 + i % 17},F\n" for i in range(rows)))
    result = run(stack, "train", str(path), "--epochs", str(epochs), "--no-promote")
    assert result.exit_code == 1
    assert result.stdout == ""
    (dataset_id,) = re.findall(r"^dataset (\S+):", result.stderr, re.M)
    body = {"dataset_id": dataset_id, "hyperparameters": {"epochs": epochs}, "promote": False}
    server = stack.post("/train", json=body)
    assert server.status_code == 422
    assert f"Error: {server.json()['message']} (HTTP 422)" in result.stderr
    assert "  hyperparameters.epochs: " in result.stderr


def test_a_value_out_of_range_is_refused_before_anything_is_uploaded(stack, tmp_path: Path) -> None:
    # A dataset's id is its content's hash: one more person makes this file's dataset new.
    unique = uuid.uuid4()
    path = tmp_path / "people.csv"
    path.write_text(f"{SEED_CSV}{100 + unique.int % 900 / 10},60,F\n")
    name = f"refused {unique.hex}"

    def uploaded() -> list[dict]:
        listed = stack.get("/datasets", params={"limit": MAX_PAGE_SIZE}).json()
        return [dataset for dataset in listed if dataset["name"] == name]

    refused = run(stack, "train", str(path), "--name", name, "--epochs", "-5")
    assert refused.exit_code == 2
    assert f"-5 is not in the range 1<=x<={BY_NAME['epochs'].maximum}" in refused.stderr
    assert uploaded() == []
    # The same command with a value in range uploads the file (the check above can fail).
    accepted = run(stack, "train", str(path), "--name", name, "--epochs", "5", "--no-promote")
    assert accepted.exit_code == 0, accepted.output
    assert len(uploaded()) == 1
    assert stack.wait_for_job(accepted.stdout.strip())["state"] == "succeeded"


def test_an_unknown_model_is_the_servers_404(stack, seed_model: dict) -> None:
    unknown = "m-000000000000000000000000"
    server = stack.post("/predict", json={"weight": 128, "height": 63, "model_id": unknown})
    assert server.status_code == 404
    result = run(stack, "predict", "--weight", "128", "--height", "63", "--model", unknown)
    assert result.exit_code == 1
    body = server.json()
    assert result.stderr.splitlines()[0] == f"Error: {body['message']} (HTTP 404)"
    assert result.stderr.splitlines()[1:] == [
        f"  {field}: {why}" for field, whys in body["errors"].items() for why in whys
    ]


def test_a_re_upload_under_another_name_says_which_name_it_keeps(stack, tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    rows = [f"{120 + i},{60 + i % 12},{'FM'[i % 2]}" for i in range(97)]  # rows no other test has
    people.write_text("weight,height,gender\n" + "\n".join(rows) + "\n")
    first = run(stack, "train", str(people), "--name", "first", "--epochs", "1", "--no-promote")
    assert first.exit_code == 0, first.output
    assert "already stored" not in first.stderr

    again = run(stack, "train", str(people), "--name", "second", "--epochs", "1", "--no-promote")

    assert again.exit_code == 0, again.output
    assert "named 'first'; it keeps that name, 'second' was not applied" in again.stderr


def test_train_promote_if_better_moves_the_named_alias(stack, seed_csv: Path) -> None:
    alias = f"cli-{uuid.uuid4().hex[:8]}"
    before = stack.store.models.latest_id()
    args = ["train", str(seed_csv), *SEED_OPTIONS, "--promote", "if_better"]
    watched = run(stack, *args, "--promote-alias", alias, "--watch")
    assert watched.exit_code == 0, watched.output
    assert f"yes, as {alias}" in watched.stdout
    job = run_json(stack, *args, "--promote-alias", alias, "--watch")
    assert job["promote"] == "if_better" and job["promotion"] == {"promoted": True, "alias": alias}
    assert stack.store.models.latest_id(alias) == job["model_id"]
    assert stack.store.models.latest_id() == before
    refused = run(stack, "train", str(seed_csv), "--promote", "sometimes")
    assert refused.exit_code == 2 and "sometimes" in refused.output


def test_batch_predict_writes_every_row_as_predict_answers(
    stack, seed_model: dict, seed_csv: Path, tmp_path: Path
) -> None:
    """`nnservice batch-predict` scores the file on the workers with the model given, shows its
    progress on stderr and writes the CSV with the true genders; /predict agrees exactly.
    `nnservice rm-batch` deletes one."""
    model_id = seed_model["model_id"]
    out = tmp_path / "out.csv"
    result = run(
        stack,
        "batch-predict",
        str(seed_csv),
        "--model-id",
        model_id,
        "--chunk-rows",
        "3",
        "-o",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert f"4 rows, model {model_id}" in result.stderr
    assert "succeeded rows 4/4" in result.stderr and "accuracy 1.0000 on 4 rows" in result.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "weight,height,probability_female,gender,true_gender"
    people = WALKTHROUGH["upload"]["rows"]
    predicted = run_json(stack, "predict", str(seed_csv), "--model", model_id)["predictions"]
    for line, person, answer in zip(lines[1:], people, predicted, strict=True):
        weight, height, probability, gender, true_gender = line.split(",")
        assert (float(weight), float(height)) == (person["weight"], person["height"])
        assert float(probability) == answer["probability_female"]
        assert (gender, true_gender) == (answer["gender"], person["gender"])
    to_stdout = run(stack, "batch-predict", str(seed_csv), "--model-id", model_id)
    assert to_stdout.exit_code == 0, to_stdout.output
    assert to_stdout.stdout.splitlines() == lines

    # `rm-batch` deletes a finished batch with its results; then it is unknown.
    batch_id = run_json(stack, "batch-predict", str(seed_csv), "--model-id", model_id)[
        "batch_prediction_id"
    ]
    assert run_json(stack, "rm-batch", batch_id) == {"deleted": "batch_prediction", "id": batch_id}
    assert stack.get(f"/batch-predictions/{batch_id}").status_code == 404
    again = run(stack, "rm-batch", batch_id)
    assert again.exit_code == 1 and "(HTTP 404)" in again.stderr, again.output


def test_events_prints_the_registry_events_as_json_lines_from_where_asked(
    stack, seed_model: dict
) -> None:
    stored = [event.payload() for event in stack.store.events.after(0, 10_000)]
    assert len(stored) >= 3
    result = run(stack, "events", "--last-event-id", str(stored[0]["id"]), "--count", "2")
    assert result.exit_code == 0, result.output
    assert [json.loads(line) for line in result.stdout.splitlines()] == stored[1:3]

    kinds = run(stack, "events", "--last-event-id", "0", "--types", "job_state", "--count", "1")
    assert kinds.exit_code == 0, kinds.output
    assert json.loads(kinds.stdout)["type"] == "job_state"

    refused = run(stack, "events", "--types", "job_state,model_renamed")
    assert refused.exit_code == 1
    assert "types: Unknown event type 'model_renamed'" in refused.stderr
