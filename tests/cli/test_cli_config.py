"""foundation.settings: which variables `Settings.from_env` reads, from which mapping, and how a bad
value is reported (it must name the variable, since that is what a deployer can fix)."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pydantic
import pytest

from foundation.settings import ENVIRONMENT_VARIABLES, STORE_VARIABLE, Settings

#: A value for every variable, none of them a default, and the fields they must give.
EVERY_VARIABLE = {
    "REDIS_URL": "redis://broker:6379/1",
    STORE_VARIABLE: "/srv/nnservice",
    "NNSERVICE_DATABASE_URL": "postgresql+psycopg://u:p@db/nn",
    "NNSERVICE_OBJECT_STORE": "s3://bucket/prefix",
    "NNSERVICE_API_KEYS": "k-one,k-two",
    "NNSERVICE_PUBLIC_READS": "false",
    "NNSERVICE_MAX_BODY_BYTES": "1024",
    "NNSERVICE_MAX_PREDICT_ROWS": "50",
    "NNSERVICE_JOB_BUDGET": "1000",
    "NNSERVICE_PROGRESS_SECONDS": "0.5",
    "NNSERVICE_CHECKPOINT_SECONDS": "4.5",
    "NNSERVICE_CHECKPOINT_EPOCHS": "100",
    "NNSERVICE_MAX_ATTEMPTS": "5",
    "NNSERVICE_VISIBILITY_TIMEOUT": "60",
    "NNSERVICE_OUTAGE_SECONDS": "45",
    "NNSERVICE_WORKER_CONCURRENCY": "7",
    "NNSERVICE_API_WORKERS": "3",
    "NNSERVICE_EVENTS_MAX_SECONDS": "30",
    "NNSERVICE_EVENTS_RETENTION_SECONDS": "3600",
    "NNSERVICE_BATCH_RETENTION_SECONDS": "86400",
    "NNSERVICE_LOG_LEVEL": "warning",
    "NNSERVICE_METRICS_DIR": "/run/nnservice-metrics",
}
EVERY_FIELD = Settings(
    redis_url="redis://broker:6379/1",
    store_path=Path("/srv/nnservice"),
    database_url="postgresql+psycopg://u:p@db/nn",
    object_store="s3://bucket/prefix",
    api_keys=("k-one", "k-two"),
    public_reads=False,
    max_body_bytes=1024,
    max_predict_rows=50,
    job_budget=1000,
    progress_seconds=0.5,
    checkpoint_seconds=4.5,
    checkpoint_epochs=100,
    max_attempts=5,
    visibility_timeout=60,
    outage_seconds=45.0,
    worker_concurrency=7,
    api_workers=3,
    events_max_seconds=30.0,
    events_retention_seconds=3600.0,
    batch_retention_seconds=86400.0,
    log_level="WARNING",
    metrics_dir=Path("/run/nnservice-metrics"),
)


def test_each_variable_sets_its_own_field() -> None:
    assert set(EVERY_VARIABLE) == ENVIRONMENT_VARIABLES
    assert Settings.from_env(EVERY_VARIABLE) == EVERY_FIELD
    for name, value in EVERY_VARIABLE.items():
        changed = Settings.from_env({name: value}).model_dump()
        differing = {
            key for key, default in Settings().model_dump().items() if changed[key] != default
        }
        assert len(differing) == 1, f"{name} changed {sorted(differing)}"


def test_an_empty_environment_gives_the_documented_defaults() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.redis_url is None and settings.api_keys == ()
    assert settings.store_database_url == "sqlite:///nnservice-data/nnservice.db"
    assert settings.store_objects == str(Path("nnservice-data") / "objects")
    assert settings.public_reads is True
    assert (settings.max_attempts, settings.visibility_timeout, settings.api_workers) == (3, 30, 2)
    assert settings.worker_concurrency == (os.cpu_count() or 1)
    assert settings.metrics_dir == Path(tempfile.gettempdir()) / "nnservice-metrics"
    assert settings.log_level == "INFO"


def test_the_store_directory_holds_the_default_database_and_objects() -> None:
    settings = Settings.from_env({STORE_VARIABLE: "/srv/nn"})
    assert settings.store_database_url == "sqlite:////srv/nn/nnservice.db"
    assert settings.store_objects == "/srv/nn/objects"


def test_a_given_mapping_is_the_only_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NNSERVICE_MAX_ATTEMPTS", "7")
    assert Settings.from_env({}).max_attempts == 3
    assert Settings.from_env({"NNSERVICE_MAX_ATTEMPTS": "9"}).max_attempts == 9
    assert Settings.from_env().max_attempts == 7  # no mapping: the process's environment
    assert Settings().max_attempts == 3  # built directly: no environment at all


@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
def test_empty_or_blank_values_keep_the_defaults(blank: str) -> None:
    assert Settings.from_env(dict.fromkeys(ENVIRONMENT_VARIABLES, blank)) == Settings()


def test_values_are_stripped() -> None:
    settings = Settings.from_env({"REDIS_URL": " redis://b/0\n", "NNSERVICE_API_WORKERS": " 4 "})
    assert (settings.redis_url, settings.api_workers) == ("redis://b/0", 4)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(text, True) for text in ("1", "true", "TRUE", "yes", "On", " on ")]
    + [(text, False) for text in ("0", "false", "False", "no", "OFF", " off ")],
)
def test_booleans_take_the_usual_spellings(value: str, expected: bool) -> None:
    assert Settings.from_env({"NNSERVICE_PUBLIC_READS": value}).public_reads is expected


@pytest.mark.parametrize(
    ("value", "keys"),
    [
        ("k-one", ("k-one",)),
        (" k-one , k-two ", ("k-one", "k-two")),
        ("k-one,,k-two,", ("k-one", "k-two")),
        ('["k-one"]', ('["k-one"]',)),  # a comma list, not JSON: the text is the key
    ],
)
def test_api_keys_are_a_comma_separated_list(value: str, keys: tuple[str, ...]) -> None:
    assert Settings.from_env({"NNSERVICE_API_KEYS": value}).api_keys == keys


def test_the_log_level_is_upper_cased() -> None:
    assert Settings.from_env({"NNSERVICE_LOG_LEVEL": "debug"}).log_level == "DEBUG"


def test_zero_seconds_between_progress_records_or_checkpoints_means_every_epoch() -> None:
    settings = Settings.from_env(
        {"NNSERVICE_PROGRESS_SECONDS": "0", "NNSERVICE_CHECKPOINT_SECONDS": "0"}
    )
    assert (settings.progress_seconds, settings.checkpoint_seconds) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("name", "value", "rule"),
    [
        ("NNSERVICE_MAX_ATTEMPTS", "x", "valid integer"),
        ("NNSERVICE_MAX_ATTEMPTS", "0", "greater than 0"),
        ("NNSERVICE_MAX_BODY_BYTES", "1.5", "valid integer"),
        ("NNSERVICE_WORKER_CONCURRENCY", "-2", "greater than 0"),
        ("NNSERVICE_VISIBILITY_TIMEOUT", "0", "greater than 0"),
        ("NNSERVICE_CHECKPOINT_EPOCHS", "-1", "greater than or equal to 0"),
        ("NNSERVICE_PROGRESS_SECONDS", "-0.1", "greater than or equal to 0"),
        ("NNSERVICE_EVENTS_MAX_SECONDS", "soon", "valid number"),
        ("NNSERVICE_PUBLIC_READS", "maybe", "valid boolean"),
    ],
)
def test_a_bad_value_is_an_error_naming_the_variable_and_the_rule(
    name: str, value: str, rule: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(f"invalid value for {name}: {value!r} (")) as e:
        Settings.from_env({name: value})
    assert rule in str(e.value)


def test_every_bad_variable_is_named_at_once() -> None:
    with pytest.raises(ValueError) as e:
        Settings.from_env({"NNSERVICE_MAX_ATTEMPTS": "x", "NNSERVICE_API_WORKERS": "0"})
    assert "NNSERVICE_MAX_ATTEMPTS: 'x'" in str(e.value)
    assert "NNSERVICE_API_WORKERS: '0'" in str(e.value)


def test_settings_are_immutable_and_copied_with_changes() -> None:
    settings = Settings()
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        settings.max_attempts = 5
    changed = settings.model_copy(update={"max_attempts": 5})
    assert (settings.max_attempts, changed.max_attempts) == (3, 5)


def test_a_misspelt_field_is_refused() -> None:
    with pytest.raises(pydantic.ValidationError, match="store_pth"):
        Settings(store_pth=Path("x"))
