"""The single-row fast path of /predict accepts exactly what the schema accepts, with equal X."""

from __future__ import annotations

import marshmallow as ma
import numpy as np
import pytest

from service.predict_request import fast_single
from service.schemas.predict import PredictRequestSchema

BODIES = [
    {"weight": 128, "height": 63},
    {"weight": 128.5, "height": 63.25, "model_id": "m-abc"},
    {"weight": 58, "height": 160, "units": "metric"},
    {"weight": 128, "height": 63, "model_id": None, "units": "imperial"},
    {"weight": 1, "height": 10},
    {"weight": 1500, "height": 120},
    {"weight": 0.99, "height": 63},
    {"weight": 128, "height": 120.01},
    {"weight": True, "height": 63},
    {"weight": "128", "height": 63},
    {"weight": float("nan"), "height": 63},
    {"weight": 128, "height": float("inf")},
    {"weight": 10**400, "height": 63},
    {"weight": 128},
    {"weight": 128, "height": 63, "extra": 1},
    {"weight": 128, "height": 63, "model_id": "../etc"},
    {"weight": 128, "height": 63, "model_id": 5},
    {"weight": 128, "height": 63, "units": "stone"},
    {"instances": [{"weight": 128, "height": 63}]},
    [128, 63],
    None,
]


@pytest.mark.parametrize("body", BODIES, ids=[str(i) for i in range(len(BODIES))])
def test_fast_path_agrees_with_the_schema(app, body: object) -> None:
    with app.app_context():
        try:
            expected = PredictRequestSchema().load(body)
        except ma.ValidationError:
            expected = None
    fast = fast_single(body)
    if fast is None:
        assert expected is None or not expected["single"]
    else:
        assert expected is not None
        np.testing.assert_array_equal([[fast.weight, fast.height]], expected["X"])
        assert fast.model_id == expected["model_id"]
        assert expected["single"]
