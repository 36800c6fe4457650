"""A sweep's Optuna study: in the store's own database, with Optuna's samplers and pruners.

Optuna keeps a study in its own tables (`studies`, `trials`, `trial_params`, ...), which it
creates itself in the store's database on first use. They stay apart from the store's tables
(`model_store.tables`), whose version is the `alembic_version` row of the store's migrations:
Optuna finds that row there, so it never stamps its own revision, and its schema check, which
would compare its revision to ours, is skipped (`skip_compatibility_check`). The store's
schema check reads only its own revision, so Optuna's tables never trouble it.

Samplers are made again for every ask, seeded from the sweep's seed and the number of trials
asked so far: a study advanced by many processes in turn still draws reproducibly, and no two
asks replay the same random draws.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any

import optuna
import sqlalchemy as sa
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from foundation.hyperparameters import BY_NAME
from worker.sweep_space import METRICS, encode

optuna.logging.set_verbosity(optuna.logging.WARNING)

#: Seconds a SQLite writer of the study waits for the lock (as the store's own engine).
SQLITE_BUSY_SECONDS = 30


@functools.cache
def _storage(database_url: str, pid: int) -> optuna.storages.RDBStorage:
    parsed = sa.make_url(database_url)
    if parsed.get_backend_name() == "sqlite":
        kwargs: dict[str, Any] = {"connect_args": {"timeout": SQLITE_BUSY_SECONDS}}
    else:
        kwargs = {"pool_pre_ping": True}
    try:
        return optuna.storages.RDBStorage(
            database_url, engine_kwargs=kwargs, skip_compatibility_check=True
        )
    except sa.exc.SQLAlchemyError:
        # Another process created Optuna's tables at the same moment: they exist now.
        return optuna.storages.RDBStorage(
            database_url, engine_kwargs=kwargs, skip_compatibility_check=True
        )


def storage(database_url: str) -> optuna.storages.RDBStorage:
    """This process's Optuna storage on the store's database (one per process)."""
    return _storage(database_url, os.getpid())


def direction(spec: Mapping[str, Any]) -> str:
    """ "maximize" or "minimize", after the sweep's metric."""
    return "maximize" if METRICS[spec["metric"]] else "minimize"


def create(database_url: str, name: str, spec: Mapping[str, Any]) -> None:
    """Create the sweep's study (named after the sweep); nothing if it exists already."""
    optuna.create_study(
        storage=storage(database_url),
        study_name=name,
        direction=direction(spec),
        load_if_exists=True,
    )


def sampler(spec: Mapping[str, Any], asked: int) -> optuna.samplers.BaseSampler:
    """The sweep's sampler for its ask number `asked`."""
    if spec.get("grid") is not None:
        grid = {
            name: [encode(name, value) for value in values] for name, values in spec["grid"].items()
        }
        return optuna.samplers.GridSampler(grid, seed=int(spec["hyperparameters"]["seed"]))
    search = spec["search"]
    seed = (int(search["seed"]) + 7919 * asked) % 2**32
    if search["sampler"] == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=search["startup_trials"])


def pruner(spec: Mapping[str, Any]) -> optuna.pruners.BasePruner:
    """The sweep's pruner: median, successive halving, or none."""
    settings = spec["pruner"]
    every = int(settings["report_every"])
    if settings["kind"] == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=settings["startup_trials"],
            n_warmup_steps=settings["warmup_epochs"],
            interval_steps=every,
        )
    if settings["kind"] == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=every, reduction_factor=3)
    return optuna.pruners.NopPruner()


def load(
    database_url: str, name: str, spec: Mapping[str, Any], asked: int | None = None
) -> optuna.Study:
    """The sweep's study with its pruner, and its sampler for ask number `asked` (None: a
    study only told results or reported to, whose sampler draws nothing)."""
    drawing = optuna.samplers.RandomSampler() if asked is None else sampler(spec, asked)
    return optuna.load_study(
        study_name=name, storage=storage(database_url), sampler=drawing, pruner=pruner(spec)
    )


def distributions(spec: Mapping[str, Any]) -> dict[str, BaseDistribution]:
    """What each swept hyperparameter may take, as Optuna's distributions."""
    if spec.get("grid") is not None:
        return {
            name: CategoricalDistribution([encode(name, value) for value in values])
            for name, values in spec["grid"].items()
        }
    found: dict[str, BaseDistribution] = {}
    for name, rule in spec["search"]["space"].items():
        if "choices" in rule:
            found[name] = CategoricalDistribution([encode(name, v) for v in rule["choices"]])
        elif BY_NAME[name].kind is int:
            found[name] = IntDistribution(rule["low"], rule["high"], log=rule["log"])
        else:
            found[name] = FloatDistribution(rule["low"], rule["high"], log=rule["log"])
    return found


def trial_id(database_url: str, name: str, number: int) -> int:
    """Optuna's id of trial `number` of study `name` (what `optuna.trial.Trial` takes)."""
    rdb = storage(database_url)
    return rdb.get_trial_id_from_study_id_trial_number(rdb.get_study_id_from_name(name), number)
