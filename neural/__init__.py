"""neural: the seed's from-scratch sigmoid network, general, exact and fast.

numpy only (plus numba for the compiled SGD inner loop, imported only when training or
`warm_up()` needs it). No Flask, Celery, files or printing.
"""

from neural.activations import deriv_sigmoid, sigmoid
from neural.losses import log_loss, mse_loss
from neural.network import Network
from neural.neuron import Neuron
from neural.standardizer import Standardizer
from neural.state import TrainingState
from neural.training import default_backend, train_sgd, warm_up

__all__ = [
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
