"""Fixtures for the worker tests: a store in tmp_path with the seed's four people, job factory."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from foundation.settings import Settings
from model_store import ModelStore
from service.schemas.train import DEFAULT_HYPERPARAMETERS

#: The seed's people: [weight (lb), height (in)], label 1 = F.
ALICE, BOB, CHARLIE, DIANA = (133, 65), (160, 72), (152, 70), (120, 60)


@pytest.fixture
def settings(store_locations: tuple[str, str], tmp_path: Path) -> Settings:
    """Progress on every epoch, no checkpoints unless a test asks for them; the store on each
    backend in turn."""
    database_url, objects = store_locations
    return Settings(
        store_path=tmp_path / "store",
        database_url=database_url,
        object_store=objects,
        progress_seconds=0.0,
        checkpoint_seconds=3600.0,
        max_attempts=3,
        visibility_timeout=30,
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[ModelStore]:
    opened = ModelStore.from_settings(settings)
    yield opened
    opened.close()


@pytest.fixture
def seed_dataset(store: ModelStore) -> str:
    """The seed's four people (Alice, Bob, Charlie, Diana) stored as a dataset; its id."""
    people = [ALICE, BOB, CHARLIE, DIANA]
    info, _ = store.datasets.save(
        "seed",
        [w for w, _ in people],
        [h for _, h in people],
        [1.0, 0.0, 0.0, 1.0],
    )
    return info.id


@pytest.fixture
def make_job(store: ModelStore, seed_dataset: str) -> Callable[..., str]:
    """Create a queued job on the seed dataset (hyperparameters overridable); returns its id."""

    def make(dataset_id: str | None = None, **hyperparameters: object) -> str:
        job_id = uuid.uuid4().hex
        hp = {**DEFAULT_HYPERPARAMETERS, "seed": 0, **hyperparameters}
        extra = {key: hp.pop(key) for key in ("initial_model_id", "promote") if key in hp}
        store.jobs.create(
            {"id": job_id, "dataset_id": dataset_id or seed_dataset, "hyperparameters": hp, **extra}
        )
        return job_id

    return make
