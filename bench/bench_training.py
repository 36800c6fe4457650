"""Training speed and memory of the network core (issue 2), against the seed's own loop.

    python bench/bench_training.py [--data PATH] [--runs 5] [--memory-rows 1000000]

Samples per second of training on the 10,000-person data set (standardized, network 2-2-1, lr 0.1),
median of `--runs` runs, each from the same initial weights:
  - the seed's `OurNeuralNetwork.train` loop (copied below; the one change: `epochs` is an argument
    instead of the constant 1000, so a run takes seconds, not minutes),
  - `neural.train_sgd` on its numpy reference path and on its compiled (numba) path, per sample
    (batch 1, in order like the seed, and shuffled) and in mini-batches of 64,
  - where installed, the same network in PyTorch (CPU, one thread, plain SGD, MSE) and in
    scikit-learn's MLPClassifier (sgd, no momentum, no L2; it always uses the log-loss).
Every `train_sgd` run includes its per-epoch loss over the whole training set.

Then, each in a fresh process: peak RSS of one epoch over `--memory-rows` rows above the RSS with
the input arrays already in memory, and the kernel's compile time (empty numba cache, then cached).
Prints Markdown tables for bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from people import people_file  # noqa: E402

import neural  # noqa: E402
from neural import Network, Standardizer, train_sgd  # noqa: E402

DEFAULT_DATA = people_file()
LEARNING_RATE = 0.1


# --- The seed's code, verbatim but for `epochs` (see the module docstring). -----------------------
def sigmoid(x):
    # Sigmoid activation function: f(x) = 1 / (1 + e^(-x))
    return 1 / (1 + np.exp(-x))


def deriv_sigmoid(x):
    # Derivative of sigmoid: f'(x) = f(x) * (1 - f(x))
    fx = sigmoid(x)
    return fx * (1 - fx)


def mse_loss(y_true, y_pred):
    # y_true and y_pred are numpy arrays of the same length.
    return ((y_true - y_pred) ** 2).mean()


class OurNeuralNetwork:
    def feedforward(self, x):
        # x is a numpy array with 2 elements.
        h1 = sigmoid(self.w1 * x[0] + self.w2 * x[1] + self.b1)
        h2 = sigmoid(self.w3 * x[0] + self.w4 * x[1] + self.b2)
        o1 = sigmoid(self.w5 * h1 + self.w6 * h2 + self.b3)
        return o1

    def train(self, data, all_y_trues, epochs):
        learn_rate = 0.1

        for epoch in range(epochs):
            for x, y_true in zip(data, all_y_trues):  # noqa: B905
                # --- Do a feedforward (we'll need these values later)
                sum_h1 = self.w1 * x[0] + self.w2 * x[1] + self.b1
                h1 = sigmoid(sum_h1)

                sum_h2 = self.w3 * x[0] + self.w4 * x[1] + self.b2
                h2 = sigmoid(sum_h2)

                sum_o1 = self.w5 * h1 + self.w6 * h2 + self.b3
                o1 = sigmoid(sum_o1)
                y_pred = o1

                # --- Calculate partial derivatives.
                # --- Naming: d_L_d_w1 represents "partial L / partial w1"
                d_L_d_ypred = -2 * (y_true - y_pred)

                # Neuron o1
                d_ypred_d_w5 = h1 * deriv_sigmoid(sum_o1)
                d_ypred_d_w6 = h2 * deriv_sigmoid(sum_o1)
                d_ypred_d_b3 = deriv_sigmoid(sum_o1)

                d_ypred_d_h1 = self.w5 * deriv_sigmoid(sum_o1)
                d_ypred_d_h2 = self.w6 * deriv_sigmoid(sum_o1)

                # Neuron h1
                d_h1_d_w1 = x[0] * deriv_sigmoid(sum_h1)
                d_h1_d_w2 = x[1] * deriv_sigmoid(sum_h1)
                d_h1_d_b1 = deriv_sigmoid(sum_h1)

                # Neuron h2
                d_h2_d_w3 = x[0] * deriv_sigmoid(sum_h2)
                d_h2_d_w4 = x[1] * deriv_sigmoid(sum_h2)
                d_h2_d_b2 = deriv_sigmoid(sum_h2)

                # --- Update weights and biases
                # Neuron h1
                self.w1 -= learn_rate * d_L_d_ypred * d_ypred_d_h1 * d_h1_d_w1
                self.w2 -= learn_rate * d_L_d_ypred * d_ypred_d_h1 * d_h1_d_w2
                self.b1 -= learn_rate * d_L_d_ypred * d_ypred_d_h1 * d_h1_d_b1

                # Neuron h2
                self.w3 -= learn_rate * d_L_d_ypred * d_ypred_d_h2 * d_h2_d_w3
                self.w4 -= learn_rate * d_L_d_ypred * d_ypred_d_h2 * d_h2_d_w4
                self.b2 -= learn_rate * d_L_d_ypred * d_ypred_d_h2 * d_h2_d_b2

                # Neuron o1
                self.w5 -= learn_rate * d_L_d_ypred * d_ypred_d_w5
                self.w6 -= learn_rate * d_L_d_ypred * d_ypred_d_w6
                self.b3 -= learn_rate * d_L_d_ypred * d_ypred_d_b3

            # --- Calculate total loss at the end of each epoch
            if epoch % 10 == 0:
                y_preds = np.apply_along_axis(self.feedforward, 1, data)
                loss = mse_loss(all_y_trues, y_preds)
                print("Epoch %d loss: %.3f" % (epoch, loss))  # noqa: UP031


# --- Data -----------------------------------------------------------------------------------------
def load_people(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """X = [weight lb, height in] and y (1 = female) from the tab-separated data set."""
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    X = np.array([[float(row["Weight"]), float(row["Height"])] for row in rows])
    y = np.array([1.0 if row["Gender"] == "Female" else 0.0 for row in rows])
    return X, y


def initial_network() -> Network:
    return Network((2, 2, 1), rng=np.random.default_rng(0))


# --- Runners: each trains `epochs` epochs from the same start and returns the seconds taken. -----
def run_seed(X: np.ndarray, y: np.ndarray, epochs: int) -> float:
    seed = OurNeuralNetwork()
    start = initial_network()
    (seed.w1, seed.w2), (seed.w3, seed.w4) = start.weights[0].tolist()
    ((seed.w5, seed.w6),) = start.weights[1].tolist()
    seed.b1, seed.b2 = start.biases[0].tolist()
    (seed.b3,) = start.biases[1].tolist()
    with contextlib.redirect_stdout(io.StringIO()):
        began = time.perf_counter()
        seed.train(X, y, epochs)
        return time.perf_counter() - began


def run_neural(backend: str, batch_size: int, shuffle: bool) -> Callable[..., float]:
    def run(X: np.ndarray, y: np.ndarray, epochs: int) -> float:
        network = initial_network()
        began = time.perf_counter()
        train_sgd(
            network, X, y, epochs=epochs, learning_rate=LEARNING_RATE, batch_size=batch_size,
            shuffle=shuffle, rng=np.random.default_rng(1), backend=backend,
        )  # fmt: skip
        return time.perf_counter() - began

    return run


def run_torch(batch_size: int) -> Callable[..., float]:
    import torch

    torch.set_num_threads(1)

    def run(X: np.ndarray, y: np.ndarray, epochs: int) -> float:
        start = initial_network()
        model = torch.nn.Sequential(
            torch.nn.Linear(2, 2), torch.nn.Sigmoid(), torch.nn.Linear(2, 1), torch.nn.Sigmoid()
        ).double()
        with torch.no_grad():
            for layer, w, b in zip((model[0], model[2]), start.weights, start.biases, strict=True):
                layer.weight.copy_(torch.from_numpy(w))
                layer.bias.copy_(torch.from_numpy(b))
        optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
        loss_fn = torch.nn.MSELoss()
        inputs = torch.from_numpy(X)
        targets = torch.from_numpy(y).reshape(-1, 1)
        generator = torch.Generator().manual_seed(1)
        began = time.perf_counter()
        for _ in range(epochs):
            order = torch.randperm(len(inputs), generator=generator) if batch_size > 1 else None
            for first in range(0, len(inputs), batch_size):
                rows = (
                    slice(first, first + batch_size)
                    if order is None
                    else order[first : first + batch_size]
                )
                optimizer.zero_grad()
                loss = loss_fn(model(inputs[rows]), targets[rows])
                loss.backward()
                optimizer.step()
            with torch.no_grad():
                loss_fn(model(inputs), targets).item()
        return time.perf_counter() - began

    return run


def run_sklearn(batch_size: int) -> Callable[..., float]:
    from sklearn.neural_network import MLPClassifier

    def run(X: np.ndarray, y: np.ndarray, epochs: int) -> float:
        model = MLPClassifier(
            hidden_layer_sizes=(2,), activation="logistic", solver="sgd", alpha=0.0,
            batch_size=batch_size, learning_rate="constant", learning_rate_init=LEARNING_RATE,
            momentum=0.0, nesterovs_momentum=False, shuffle=batch_size > 1, random_state=1,
        )  # fmt: skip
        began = time.perf_counter()
        for _ in range(epochs):
            model.partial_fit(X, y, classes=[0.0, 1.0])
        return time.perf_counter() - began

    return run


def interleaved_rates(cases: list, X: np.ndarray, y: np.ndarray, runs: int) -> list[list[float]]:
    """Samples/s of every case, `runs` times, round-robin so that a busy moment hits all alike."""
    rates: list[list[float]] = [[] for _ in cases]
    for _ in range(runs):
        for rates_of_case, (_, _, _, run, epochs) in zip(rates, cases, strict=True):
            rates_of_case.append(epochs * X.shape[0] / run(X, y, epochs))
    return rates


# --- Fresh-process measurements -------------------------------------------------------------------
def memory_child(rows: int, batch_size: int, backend: str, data: Path) -> None:
    """Print {"inputs_mb", "baseline_mb", "peak_mb", "extra_mb"} for one epoch over `rows` rows."""
    neural.warm_up()
    X, y = load_people(data)
    picks = np.random.default_rng(0).integers(0, X.shape[0], size=rows)
    X_big = Standardizer().fit(X).transform(X[picks])
    y_big = y[picks].copy()
    del X, y, picks
    baseline = status_kb("VmRSS")
    reset = reset_peak_rss()
    sampler = None if reset else PeakSampler()
    train_sgd(
        initial_network(), X_big, y_big, epochs=1, learning_rate=LEARNING_RATE,
        batch_size=batch_size, rng=np.random.default_rng(1), backend=backend,
    )  # fmt: skip
    peak = status_kb("VmHWM") if sampler is None else sampler.stop()
    mb = 1024.0
    result = {
        "inputs_mb": (X_big.nbytes + y_big.nbytes) / mb / mb,
        "baseline_mb": baseline / mb,
        "peak_mb": peak / mb,
        "extra_mb": (peak - baseline) / mb,
        "peak_reset": reset,
    }
    print(json.dumps(result))


def status_kb(field: str) -> int:
    """A field of /proc/self/status, in kB (VmRSS: resident now; VmHWM: resident at peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} is not in /proc/self/status")


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where that is not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class PeakSampler:
    """Fallback: sample RSS every millisecond in a thread (needs psutil)."""

    def __init__(self) -> None:
        import threading

        import psutil

        self.process = psutil.Process()
        self.peak = self.process.memory_info().rss // 1024
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self) -> None:
        while not self.done.wait(0.001):
            self.peak = max(self.peak, self.process.memory_info().rss // 1024)

    def stop(self) -> int:
        self.done.set()
        self.thread.join()
        return self.peak


def compile_child() -> None:
    """Print the seconds `neural.warm_up()` takes in this process (cache per NUMBA_CACHE_DIR)."""
    began = time.perf_counter()
    neural.warm_up()
    print(json.dumps({"seconds": time.perf_counter() - began}))


def child(args: list[str], env: dict[str, str] | None = None) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), *args]
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=env, cwd=REPO)
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- Report ---------------------------------------------------------------------------------------
def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = [f"Python {platform.python_version()}", f"numpy {np.__version__}"]
    for name in ("numba", "torch", "sklearn"):
        with contextlib.suppress(ImportError):
            versions.append(f"{name} {__import__(name).__version__}")
    return f"{cpu}, {os.cpu_count()} cores; " + ", ".join(versions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--memory-rows", type=int, default=1_000_000)
    parser.add_argument(
        "--memory-child", nargs=2, metavar=("BATCH", "BACKEND"), help=argparse.SUPPRESS
    )
    parser.add_argument("--compile-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_rows, int(args.memory_child[0]), args.memory_child[1], args.data)
        return
    if args.compile_child:
        compile_child()
        return

    warnings.simplefilter("error", RuntimeWarning)  # a numpy overflow would make the numbers moot
    X_raw, y = load_people(args.data)
    X = Standardizer().fit(X_raw).transform(X_raw)
    compiled = neural.warm_up()

    # (label, batch size, order, runner, epochs per run)
    cases: list[tuple[str, int, str, Callable[..., float], int]] = [
        ("seed loop (verbatim)", 1, "in order", run_seed, 10),
        ("neural, numpy reference", 1, "in order", run_neural("numpy", 1, False), 2),
        ("neural, compiled", 1, "in order", run_neural("numba", 1, False), 200),
        ("neural, compiled", 1, "shuffled", run_neural("numba", 1, True), 200),
        ("neural, numpy reference", 64, "shuffled", run_neural("numpy", 64, True), 20),
        ("neural, compiled", 64, "shuffled", run_neural("numba", 64, True), 200),
    ]
    if not compiled:  # numba is not installed: only the reference path can be measured
        cases = [case for case in cases if "compiled" not in case[0]]
    with contextlib.suppress(ImportError):
        cases += [
            ("PyTorch CPU (1 thread)", 1, "in order", run_torch(1), 1),
            ("PyTorch CPU (1 thread)", 64, "shuffled", run_torch(64), 20),
        ]
    with contextlib.suppress(ImportError):
        cases += [
            ("scikit-learn MLPClassifier", 1, "in order", run_sklearn(1), 1),
            ("scikit-learn MLPClassifier", 64, "shuffled", run_sklearn(64), 20),
        ]

    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {machine()}\n")
    print(f"Training samples per second, {X.shape[0]:,} rows, 2-2-1, median of {args.runs} runs:\n")
    print(
        "| implementation | batch | order | epochs per run | samples/s | x seed | x seed, range |"
    )
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
    all_rates = interleaved_rates(cases, X, y, args.runs)
    seed_rate = statistics.median(all_rates[0])
    for (label, batch, order, _, epochs), rates in zip(cases, all_rates, strict=True):
        rate = statistics.median(rates)
        low, high = min(rates) / seed_rate, max(rates) / seed_rate
        print(
            f"| {label} | {batch} | {order} | {epochs} | {rate:,.0f} | {rate / seed_rate:,.1f} "
            f"| {low:,.1f} - {high:,.1f} |"
        )

    print(f"\nOne epoch over {args.memory_rows:,} rows, each in a fresh process (compiled kernel "
          "loaded first):\n")  # fmt: skip
    print("| backend | batch | inputs (MB) | RSS before (MB) | peak RSS (MB) | above inputs (MB) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    sampled = False
    backends = ((1, "numba"), (64, "numba"), (64, "numpy")) if compiled else ((64, "numpy"),)
    for batch, backend in backends:
        m = child(["--memory-child", str(batch), backend, "--memory-rows", str(args.memory_rows),
                   "--data", str(args.data)])  # fmt: skip
        print(f"| {backend} | {batch} | {m['inputs_mb']:.1f} | {m['baseline_mb']:.1f} | "
              f"{m['peak_mb']:.1f} | {m['extra_mb']:.1f} |")  # fmt: skip
        sampled = sampled or not m["peak_reset"]
    if sampled:
        print("\n(peak RSS sampled every millisecond: /proc/self/clear_refs could not be written)")

    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        cold = child(["--compile-child"], env)["seconds"]
        warm = child(["--compile-child"], env)["seconds"]
    print(f"\n`neural.warm_up()` in a fresh process: {cold:.2f} s with an empty numba cache, "
          f"{warm:.2f} s from the cache.")  # fmt: skip


if __name__ == "__main__":
    main()
