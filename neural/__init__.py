"""neural: the seed's from-scratch sigmoid network, general, exact and fast.

numpy only (plus numba for the compiled SGD inner loop, imported only when training or
`warm_up()` needs it). No Flask, Celery, files or printing. The training functions are imported
on first use, so a process that only serves (the API) never loads the training code.
"""

from typing import Any

from neural.activations import deriv_sigmoid, sigmoid
from neural.early_stopping import EarlyStopping
from neural.losses import log_loss, mse_loss
from neural.network import Network
from neural.neuron import Neuron
from neural.standardizer import Standardizer
from neural.state import TrainingState

__all__ = [
    "EarlyStopping",
    "Network",
    "Neuron",
    "Standardizer",
    "TrainingState",
    "default_backend",
    "deriv_sigmoid",
    "log_loss",
    "mse_loss",
    "sigmoid",
    "train_sgd",
    "warm_up",
]


#: Names resolved from `neural.training` when first asked for.
_TRAINING = frozenset({"default_backend", "train_sgd", "warm_up"})


def __getattr__(name: str) -> Any:
    """Import the training code (and with it the compiled kernel) only when asked for."""
    if name in _TRAINING:
        from neural import training

        return getattr(training, name)
    raise AttributeError(f"module 'neural' has no attribute {name!r}")
