"""The training hyperparameters, each defined once here: name, type, default, range, choices, help.

Everything else is built from `HYPERPARAMETERS`: the API's request schema and so its validation
and /openapi.json (`service.schemas.train`), the options and help of `nnservice train`
(`nnservice.train_options`), and the dashboard's training form (which reads the OpenAPI
document at run time). The API fills `DEFAULTS` into each job record and the worker reads them
back (`worker.training_setup`). Change a default or a bound here and all of them follow.
`RULES` are the rules across several hyperparameters, which the API's schema and
`nnservice train` both check with `broken_rules`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Hyperparameter:
    """One training setting as the API accepts it.

    `kind` is the value's Python type (each item's when `length` is set: then the value is a
    list of `length[0]` to `length[1]` such items). `minimum` and `maximum` bound a number
    (inclusive, but `exclusive_minimum` excludes the minimum); `choices` lists a string's allowed
    values; `nullable` lets null stand for "none given" (`default` None: the service picks one).
    `option` is the `nnservice train` option's name, without dashes.
    """

    name: str
    kind: type
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    choices: tuple[str, ...] = ()
    length: tuple[int, int] | None = None
    nullable: bool = False
    option: str = ""

    @property
    def option_name(self) -> str:
        """The command line's option: `option` if given, else the name with dashes."""
        return self.option or self.name.replace("_", "-")

    @property
    def json_default(self) -> Any:
        """The default as JSON has it (a list where the definition holds a tuple)."""
        return list(self.default) if isinstance(self.default, tuple) else self.default

    def range_text(self) -> str:
        """The allowed values in words, e.g. "1-100000", "above 0, up to 10", "mse or log_loss"."""
        if self.choices:
            return " or ".join(self.choices)
        if self.minimum is None and self.maximum is None:
            return ""
        low, high = self.number_text(self.minimum), self.number_text(self.maximum)
        values = f"above {low}, up to {high}" if self.exclusive_minimum else f"{low}-{high}"
        if self.length is not None:
            return "{}-{} values of {}".format(*self.length, values)
        return values

    def number_text(self, value: float | None) -> str:
        """A bound or default as people read it: 100000, 0.9, 4294967295 (never 4.29e+09)."""
        return str(int(value)) if self.kind is int and value is not None else f"{value:g}"

    def description(self) -> str:
        """The help text with the allowed values, as the API documents the field."""
        allowed = self.range_text()
        return f"{self.help} ({allowed})." if allowed else f"{self.help}."


#: Every hyperparameter a POST /train accepts, in the order they are documented and offered.
HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    Hyperparameter(
        "hidden_layers",
        int,
        default=(2,),
        help="Neurons per hidden layer, one number per layer",
        minimum=1,
        maximum=64,
        length=(1, 4),
        option="hidden",
    ),
    Hyperparameter(
        "epochs",
        int,
        default=1000,
        help="Passes over the training rows",
        minimum=1,
        maximum=100_000,
    ),
    Hyperparameter(
        "learning_rate",
        float,
        default=0.1,
        help="SGD step size",
        minimum=0.0,
        maximum=10.0,
        exclusive_minimum=True,
    ),
    Hyperparameter(
        "batch_size",
        int,
        default=1,
        help="Rows per update, 1 being the seed's per-sample SGD",
        minimum=1,
        maximum=100_000,
    ),
    Hyperparameter(
        "loss",
        str,
        default="mse",
        help="Loss function",
        choices=("mse", "log_loss"),
    ),
    Hyperparameter(
        "shuffle",
        bool,
        default=True,
        help="Visit rows in a new order each epoch",
    ),
    Hyperparameter(
        "seed",
        int,
        default=None,
        help="Random seed; when none is given, one is drawn and recorded in the job",
        minimum=0,
        maximum=2**32 - 1,
        nullable=True,
    ),
    Hyperparameter(
        "validation_fraction",
        float,
        default=0.0,
        help="Share of rows held out for validation",
        minimum=0.0,
        maximum=0.9,
    ),
    Hyperparameter(
        "normalization",
        str,
        default="standard",
        help="Input normalization; standard scales by the training rows' mean and std",
        choices=("standard", "none"),
    ),
    Hyperparameter(
        "early_stopping_patience",
        int,
        default=None,
        help=(
            "Epochs without a validation-loss improvement after which training stops, keeping"
            " the best epoch's weights; needs validation_fraction above 0; none: no early stopping"
        ),
        minimum=1,
        maximum=100_000,
        nullable=True,
    ),
    Hyperparameter(
        "early_stopping_min_delta",
        float,
        default=0.0,
        help=(
            "The least drop of the validation loss below its best that counts as an improvement"
            " for early stopping"
        ),
        minimum=0.0,
        maximum=1.0,
    ),
)

BY_NAME: dict[str, Hyperparameter] = {each.name: each for each in HYPERPARAMETERS}

# Derived from the definitions above, for the code that reads one fact by name.
#: Used for every hyperparameter a POST /train leaves out (`seed` None: one is drawn and recorded).
DEFAULTS: dict[str, Any] = {each.name: each.json_default for each in HYPERPARAMETERS}
#: How many hidden layers a network may have (fewest, most).
HIDDEN_LAYERS = BY_NAME["hidden_layers"].length
LOSSES = BY_NAME["loss"].choices


@dataclass(frozen=True)
class Rule:
    """A rule across hyperparameters: when `field` has a value (is not null), `needs` must be
    above `above`. `message` says the rule to whoever breaks it (naming `field`)."""

    field: str
    needs: str
    above: float
    message: str

    def holds(self, values: Mapping[str, Any]) -> bool:
        """Whether `values` (every hyperparameter, defaults filled in) keep the rule."""
        return values[self.field] is None or values[self.needs] > self.above


#: The rules between hyperparameters, checked by the API's schema (and stated in /openapi.json)
#: and by `nnservice train`.
RULES: tuple[Rule, ...] = (
    Rule(
        "early_stopping_patience",
        needs="validation_fraction",
        above=0.0,
        message="Early stopping watches the validation loss: it needs validation_fraction above 0.",
    ),
)


def broken_rules(given: Mapping[str, Any]) -> dict[str, list[str]]:
    """{field: [message]} of each rule that `given` (defaults filled in for the rest) breaks."""
    values = {**DEFAULTS, **given}
    broken: dict[str, list[str]] = {}
    for rule in RULES:
        if not rule.holds(values):
            broken.setdefault(rule.field, []).append(rule.message)
    return broken


def draw_seed() -> int:
    """A random seed within the seed's range, for a job that was given none."""
    seed = BY_NAME["seed"]
    low, high = int(seed.minimum or 0), int(seed.maximum or 0)
    return low + secrets.randbelow(high - low + 1)
