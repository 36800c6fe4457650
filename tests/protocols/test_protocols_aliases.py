"""An alias through the protocols, unchanged clients: tritonclient's `model_version` and
MLflow's `/invocations?alias=`."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest
import requests
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from model_store import AliasMember
from service.model_cache import POLL_SECONDS

from .conftest import EMILY, FRANK, probability_female

ALIAS = "protocol-champion"


@pytest.fixture
def champion(stack, model_id: str) -> Iterator[str]:
    """`ALIAS` names the conftest's model on every API process; removed afterwards."""
    stack.store.aliases.set(ALIAS, [AliasMember(model_id, 1)])
    settled_at = time.monotonic() + POLL_SECONDS
    deadline = time.monotonic() + 10
    streak = 0
    while streak < 5 or time.monotonic() < settled_at:
        answer = stack.post("/predict", json={"weight": 128, "height": 63, "alias": ALIAS})
        streak = streak + 1 if answer.json().get("model_id") == model_id else 0
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.02)
    yield model_id
    stack.store.aliases.remove(ALIAS)


def test_tritonclient_reaches_an_alias_as_its_model_version(stack, champion: str) -> None:
    people = np.array([EMILY, FRANK])
    tensor = triton.InferInput("features", list(people.shape), "FP64")
    tensor.set_data_from_numpy(people.astype("<f8"))
    with triton.InferenceServerClient(stack.base_url.removeprefix("http://")) as client:
        assert client.is_model_ready("nnservice", ALIAS)
        assert client.get_model_metadata("nnservice", ALIAS)["name"] == "nnservice"
        result = client.infer("nnservice", [tensor], model_version=ALIAS)
        assert result.get_response()["model_version"] == champion
        expected = [[probability_female(*EMILY)], [probability_female(*FRANK)]]
        assert result.as_numpy("probability_female") == pytest.approx(np.array(expected))
        with pytest.raises(InferenceServerException, match="no version"):
            client.infer("nnservice", [tensor], model_version="no-such-alias")


def test_mlflow_invocations_take_an_alias(stack, champion: str) -> None:
    body = {"dataframe_split": {"columns": ["weight", "height"], "data": [EMILY]}}
    answer = requests.post(f"{stack.base_url}/invocations?alias={ALIAS}", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Model-Id"] == champion
    assert answer.json()["predictions"] == pytest.approx([probability_female(*EMILY)])
    unknown = requests.post(f"{stack.base_url}/invocations?alias=nobody", json=body, timeout=30)
    assert unknown.status_code == 404 and unknown.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    bad = requests.post(f"{stack.base_url}/invocations?alias=Bad!", json=body, timeout=30)
    assert bad.status_code == 400 and bad.json()["error_code"] == "BAD_REQUEST"
