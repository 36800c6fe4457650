"""TrainingState: what it takes to continue training exactly where it stopped, as JSON data."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neural import _validation as check

#: Bit generators whose state can be restored (numpy's own).
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


@dataclass
class TrainingState:
    """Weights, biases, epochs done, per-epoch losses and the shuffling RNG's state.

    `loss_history[k]` is the loss over the whole training set after epoch k + 1, so
    `len(loss_history) == epochs_done`. `rng_state` is `Generator.bit_generator.state`.
    """

    layer_sizes: tuple[int, ...]
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    epochs_done: int = 0
    loss_history: list[float] = field(default_factory=list)
    rng_state: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def capture(
        cls,
        network: Any,
        rng: np.random.Generator,
        epochs_done: int = 0,
        loss_history: list[float] | None = None,
    ) -> TrainingState:
        """A snapshot of `network`'s parameters and `rng`'s state (copies, not references)."""
        return cls(
            layer_sizes=tuple(network.layer_sizes),
            weights=[w.copy() for w in network.weights],
            biases=[b.copy() for b in network.biases],
            epochs_done=int(epochs_done),
            loss_history=[float(v) for v in (loss_history or [])],
            rng_state=copy.deepcopy(rng.bit_generator.state),
        )

    def make_rng(self) -> np.random.Generator:
        """A new Generator positioned exactly at `rng_state`."""
        return restore_rng(self.rng_state)

    def to_dict(self) -> dict[str, Any]:
        """Plain lists, ints, floats, strings: `from_dict(json.loads(json.dumps(d)))` is exact."""
        return {
            "layer_sizes": list(self.layer_sizes),
            "epochs_done": self.epochs_done,
            "loss_history": [float(v) for v in self.loss_history],
            "weights": [w.tolist() for w in self.weights],
            "biases": [b.tolist() for b in self.biases],
            "rng_state": copy.deepcopy(self.rng_state),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingState:
        """Rebuild from `to_dict()` output; extra keys (a checkpoint's job data) are ignored."""
        try:
            sizes = check.layer_sizes(data["layer_sizes"])
            weights = [check.finite_array(w, "weights") for w in data["weights"]]
            biases = [check.finite_array(b, "biases") for b in data["biases"]]
            epochs_done = check.integer(data["epochs_done"], "epochs_done", 0)
            history = [float(v) for v in data["loss_history"]]
            rng_state = copy.deepcopy(dict(data["rng_state"]))
        except KeyError as exc:
            raise ValueError(f"training state lacks {exc.args[0]!r}") from exc
        if len(history) != epochs_done:
            raise ValueError(f"loss_history has {len(history)} entries for {epochs_done} epochs")
        restore_rng(rng_state)
        return cls(sizes, weights, biases, epochs_done, history, rng_state)


def restore_rng(state: Mapping[str, Any]) -> np.random.Generator:
    """A Generator whose bit generator is set to `state` (a `bit_generator.state` dict)."""
    name = state.get("bit_generator") if isinstance(state, Mapping) else None
    if name not in BIT_GENERATORS:
        raise ValueError(
            f"rng_state must come from one of {', '.join(BIT_GENERATORS)}, got {name!r}"
        )
    bit_generator = getattr(np.random, name)()
    try:
        bit_generator.state = copy.deepcopy(dict(state))
    except (TypeError, ValueError, KeyError) as exc:
        raise ValueError(f"invalid rng_state: {exc}") from exc
    return np.random.Generator(bit_generator)
