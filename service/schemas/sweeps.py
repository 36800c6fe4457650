"""POST /sweeps and GET /sweeps: a grid or a search over the hyperparameters, and its trials.

The values a grid lists and the ranges and choices of a search space are checked against each
hyperparameter's own definition (`foundation.hyperparameters`), field by field, so a bad one is
named where it is: `search.space.learning_rate.low`. `seed` and `validation_fraction` are not
swept: every trial shares one seed and so one validation split.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from foundation import hyperparameters as hp
from foundation.promotion import ALIAS_PATTERN, DEFAULT_ALIAS
from foundation.states import STATES, SWEEP_STATES
from service.schemas.fields import IdField, StrictBoolean, StrictInteger, either_or
from service.schemas.jobs import MetricsSchema, PromotionSchema
from service.schemas.train import HyperparametersSchema, hyperparameter_field

#: Hyperparameters every trial shares (one seed, so one validation split, for all).
SHARED = ("seed", "validation_fraction")
SWEPT = tuple(each for each in hp.HYPERPARAMETERS if each.name not in SHARED)
#: The most trials one sweep may have (a grid's product of value counts included).
MAX_TRIALS = 1000
#: The most values a grid or a list of choices may give one hyperparameter.
MAX_VALUES = 100
METRICS = ("validation_loss", "validation_accuracy")
PROMOTE = ("none", "best", "best_if_better")
SAMPLERS = ("tpe", "random")
PRUNERS = ("median", "successive_halving", "none")


def _values(definition: hp.Hyperparameter) -> ma.fields.List:
    return ma.fields.List(
        hyperparameter_field(definition),
        validate=ma.validate.Length(1, MAX_VALUES),
        metadata={"description": f"Values of {definition.name} to try."},
    )


def _is_numeric(definition: hp.Hyperparameter) -> bool:
    return definition.kind in (int, float) and definition.length is None and not definition.choices


class _RangeSchema(ma.Schema):
    """Either {"low", "high", "log"} (numbers) or {"choices": [...]}."""

    #: Exactly one of these (stated in OpenAPI); that low is below high, and above 0 on a log
    #: scale, is checked with the dataset (`service.sweeps.check_ranges`).
    SHAPES = (("low", "high"), ("choices",))

    @ma.validates_schema
    def _one_form(self, data: dict, **_: Any) -> None:
        if sum(all(name in data for name in shape) for shape in self.SHAPES) != 1:
            message = 'Give either "low" and "high" (with "log") or "choices".'
            raise ma.ValidationError(message, "_schema")


def _component(definition: hp.Hyperparameter) -> str:
    return "Space" + "".join(part.title() for part in definition.name.split("_"))


def _range_schema(definition: hp.Hyperparameter) -> type[ma.Schema]:
    fields: dict[str, ma.fields.Field] = {"choices": _values(definition)}
    if _is_numeric(definition):
        fields["low"] = hyperparameter_field(definition)
        fields["high"] = hyperparameter_field(definition)
        fields["log"] = StrictBoolean(
            load_default=False, metadata={"description": "Sample on a log scale."}
        )
    return type(f"{_component(definition)}Schema", (_RangeSchema,), fields)


#: Each swept hyperparameter -> the values to try; unknown names are refused.
GridSchema = ma.Schema.from_dict(
    {each.name: _values(each) for each in SWEPT}, name="SweepGridSchema"
)
#: Each swept hyperparameter -> a range (numbers) or choices.
SpaceSchema = ma.Schema.from_dict(
    {each.name: ma.fields.Nested(_range_schema(each)) for each in SWEPT},
    name="SweepSpaceSchema",
)


class SearchSchema(ma.Schema):
    """A search: `trials` trials, `parallel` at a time, each drawn by the sampler."""

    sampler = ma.fields.String(
        load_default="tpe",
        validate=ma.validate.OneOf(SAMPLERS),
        metadata={"description": "tpe (model-based: learns from ended trials) or random."},
    )
    trials = StrictInteger(required=True, validate=ma.validate.Range(1, MAX_TRIALS))
    parallel = StrictInteger(
        load_default=2,
        validate=ma.validate.Range(1, MAX_TRIALS),
        metadata={"description": "Trials in flight at once; the next is asked when one ends."},
    )
    seed = StrictInteger(
        load_default=None,
        allow_none=True,
        validate=ma.validate.Range(0, 2**32 - 1),
        metadata={"description": "The sampler's seed; drawn and recorded when none is given."},
    )
    startup_trials = StrictInteger(
        load_default=None,
        allow_none=True,
        validate=ma.validate.Range(0, MAX_TRIALS),
        metadata={
            "description": "tpe: random trials before the model takes over (default: half the "
            "trials, at most 10)."
        },
    )
    space = ma.fields.Nested(SpaceSchema, required=True)

    @ma.validates("space")
    def _not_empty(self, value: dict, **_: Any) -> None:
        if not value:
            raise ma.ValidationError("Name at least one hyperparameter.")


class PrunerSchema(ma.Schema):
    """Stop hopeless trials early: each trial reports its metric on the validation rows every
    `report_every` epochs, and the pruner ends one that falls behind the others."""

    kind = ma.fields.String(
        load_default=None,
        validate=ma.validate.OneOf(PRUNERS),
        metadata={
            "description": "median (below the median of the trials at the same epoch), "
            "successive_halving, or none. Default: median for a search, none for a grid."
        },
    )
    startup_trials = StrictInteger(
        load_default=5,
        validate=ma.validate.Range(0, MAX_TRIALS),
        metadata={"description": "median: trials that end before any is pruned."},
    )
    warmup_epochs = StrictInteger(
        load_default=0,
        validate=ma.validate.Range(0, hp.BY_NAME["epochs"].maximum),
        metadata={"description": "median: epochs a trial runs before it may be pruned."},
    )
    report_every = StrictInteger(
        load_default=None,
        allow_none=True,
        validate=ma.validate.Range(1, hp.BY_NAME["epochs"].maximum),
        metadata={
            "description": "Epochs between reports (default: a twentieth of the epochs); "
            "successive_halving compares the trials at this many epochs, then 3 times as many, "
            "and so on."
        },
    )


class SweepRequestSchema(ma.Schema):
    """Many training jobs (trials) over a grid or a search space, ranked by a metric."""

    #: Exactly one of these (stated in OpenAPI).
    SHAPES = (("grid",), ("search",))

    dataset_id = IdField(required=True, metadata={"description": "A dataset from POST /datasets."})
    hyperparameters = ma.fields.Nested(
        HyperparametersSchema,
        load_default=dict,
        metadata={
            "description": "The base of every trial. validation_fraction 0 becomes 0.2, and "
            "one seed (drawn if none is given) serves every trial, so all see the same split."
        },
    )
    grid = ma.fields.Nested(GridSchema, metadata={"description": "Every combination is a trial."})
    search = ma.fields.Nested(SearchSchema)
    metric = ma.fields.String(
        load_default="validation_loss",
        validate=ma.validate.OneOf(METRICS),
        metadata={"description": "What ranks the trials (lowest loss, highest accuracy)."},
    )
    promote = ma.fields.String(
        load_default="none",
        validate=ma.validate.OneOf(PROMOTE),
        metadata={
            "description": "When the sweep ends: best moves promote_alias to the best trial's "
            "model through the promotion gate, best_if_better only if it is at least as good "
            "as the alias's model; none leaves the alias."
        },
    )
    promote_alias = ma.fields.String(
        load_default=DEFAULT_ALIAS,
        validate=ma.validate.Regexp(ALIAS_PATTERN, error="Must match {regex}."),
        metadata={"pattern": ALIAS_PATTERN},
    )
    pruner = ma.fields.Nested(PrunerSchema, load_default=dict)

    @ma.validates_schema
    def _grid_or_search(self, data: dict, **_: Any) -> None:
        if ("grid" in data) == ("search" in data):
            message = "Give exactly one of grid or search."
            raise ma.ValidationError({"grid": [message], "search": [message]})
        if not data.get("grid", True):
            raise ma.ValidationError("Name at least one hyperparameter.", "grid")


class SweepAcceptedSchema(ma.Schema):
    sweep_id = ma.fields.String(required=True)
    job_ids = ma.fields.List(
        ma.fields.String(), required=True, metadata={"description": "The trials' jobs so far."}
    )
    status_url = ma.fields.String(required=True, metadata={"description": "GET it to follow."})


class TrialMetricsSchema(MetricsSchema):
    validation_loss = ma.fields.Float(allow_none=True)


class TrialSchema(ma.Schema):
    """One trial: an ordinary training job (GET /jobs/{job_id})."""

    rank = ma.fields.Integer(
        allow_none=True, metadata={"description": "1 is the best; null without a value."}
    )
    trial_number = ma.fields.Integer(required=True)
    job_id = ma.fields.String(required=True)
    state = ma.fields.String(required=True, validate=ma.validate.OneOf(STATES))
    pruned = ma.fields.Boolean(
        required=True, metadata={"description": "Stopped early by the pruner (still succeeded)."}
    )
    params = ma.fields.Dict(metadata={"description": "The swept hyperparameters' values."})
    hyperparameters = ma.fields.Dict()
    epochs = ma.fields.Integer(metadata={"description": "Epochs run."})
    metrics = ma.fields.Nested(TrialMetricsSchema)
    value = ma.fields.Float(allow_none=True, metadata={"description": "The sweep's metric."})
    model_id = ma.fields.String(allow_none=True)
    error = ma.fields.String(allow_none=True)


class BestTrialSchema(ma.Schema):
    trial_number = ma.fields.Integer(required=True)
    job_id = ma.fields.String(required=True)
    model_id = ma.fields.String(allow_none=True)
    value = ma.fields.Float(allow_none=True)


class SweepPromotionSchema(PromotionSchema):
    model_id = ma.fields.String(metadata={"description": "The best trial's model."})


class SweepSummarySchema(ma.Schema):
    """A sweep as GET /sweeps lists it."""

    sweep_id = ma.fields.String(required=True)
    state = ma.fields.String(required=True, validate=ma.validate.OneOf(SWEEP_STATES))
    created_at = ma.fields.String(required=True)
    finished_at = ma.fields.String(required=True, allow_none=True)
    dataset_id = ma.fields.String(required=True)
    kind = ma.fields.String(
        required=True, metadata={"description": "grid, random or tpe (the sampler)."}
    )
    metric = ma.fields.String(required=True)
    trials_total = ma.fields.Integer(
        required=True, metadata={"description": "How many trials the sweep runs in all."}
    )
    parallel = ma.fields.Integer(required=True)
    promote = ma.fields.String(required=True)
    promote_alias = ma.fields.String(required=True)
    cancel_requested = ma.fields.Boolean(required=True)
    best_job_id = ma.fields.String(required=True, allow_none=True)
    promotion = ma.fields.Nested(
        SweepPromotionSchema,
        allow_none=True,
        required=True,
        metadata={"description": "The gate's decision on the best model, when the sweep ended."},
    )


class SweepSchema(SweepSummarySchema):
    """A sweep with every trial, best first, and its best trial."""

    hyperparameters = ma.fields.Dict(metadata={"description": "The base of every trial."})
    grid = ma.fields.Dict(allow_none=True)
    search = ma.fields.Dict(allow_none=True)
    pruner = ma.fields.Dict()
    counts = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        metadata={"description": "Trials by state."},
    )
    trials = ma.fields.List(ma.fields.Nested(TrialSchema), required=True)
    best = ma.fields.Nested(BestTrialSchema, allow_none=True, required=True)


def document_sweeps(components: dict) -> None:
    """State in OpenAPI what the sweep schemas check beyond their fields: a grid or a search, a
    range or choices, at least one hyperparameter."""
    components["SweepRequest"]["oneOf"] = either_or(SweepRequestSchema.SHAPES)
    for definition in SWEPT:
        if _is_numeric(definition):
            components[_component(definition)]["oneOf"] = either_or(_RangeSchema.SHAPES)
        else:
            components[_component(definition)]["required"] = ["choices"]
    for name in ("SweepGrid", "SweepSpace"):
        components[name]["minProperties"] = 1
