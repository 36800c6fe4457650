"""Run one training job from its record in the store: the plain function behind the Celery task.

`run_training_job(store, job_id, settings)` needs no Celery, so tests call it directly. It is
idempotent: a finished job is left alone, a job another live worker runs is waited for, and a
job whose worker was lost is taken over and resumed from its last checkpoint (see
`worker.ownership`). Cancellation is honoured before training and after the epoch that ends
when `CANCEL_POLL_SECONDS` have passed since the last look; a failure
of any kind ends the job `failed` with an error that says which step failed and why; LATEST only
changes after the snapshot was saved whole.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable

import numpy as np

import neural
from model_store import ModelStore, NotFound, StoreError
from model_store.ids import utc_now_iso
from nnservice.config import Settings
from worker import training_setup as setup
from worker.ownership import (
    TERMINAL_STATES,
    claim,
    lease_seconds,
    owns,
    this_worker,
    update_if_owner,
)

logger = logging.getLogger(__name__)

#: Seconds between two looks at a job that another live worker runs.
WAIT_POLL_SECONDS = 0.5
#: Seconds between two looks at the job's cancel marker while training (one stat each): a
#: cancelled job stops after the epoch running when this much time has passed.
CANCEL_POLL_SECONDS = 0.005
#: The job record's loss_history is thinned to this many points for long runs (the snapshot
#: keeps every epoch's loss).
MAX_RECORD_HISTORY = 1000


class TrainingInterrupted(Exception):
    """This worker is shutting down; the job is back in `queued` with a fresh checkpoint."""


def run_training_job(
    store: ModelStore,
    job_id: str,
    settings: Settings,
    *,
    stop_requested: Callable[[], bool] | None = None,
) -> str:
    """Train the job `job_id` to its end and return its final state.

    Returns "succeeded", "failed", "cancelled", "missing" (no such job) or "superseded" (another
    worker took the job over). Raises TrainingInterrupted when `stop_requested()` turns true: the
    job is then checkpointed and queued again, and the caller should requeue its message.
    """
    stop_requested = stop_requested or (lambda: False)
    lease = lease_seconds(settings.visibility_timeout)
    while True:
        try:
            taken = claim(store, job_id, settings.max_attempts, lease)
        except NotFound:
            logger.warning("job %s does not exist; nothing to do", job_id)
            return "missing"
        if taken.outcome == "claimed":
            break
        if taken.outcome in ("terminal", "gave_up"):
            if taken.outcome == "gave_up":
                store.delete_checkpoint(job_id)
            return taken.record["state"]
        if stop_requested():
            raise TrainingInterrupted(job_id)
        time.sleep(WAIT_POLL_SECONDS)

    run = _Run(store, taken.record, settings, stop_requested)
    try:
        return run.execute()
    except TrainingInterrupted:
        raise
    except Exception as error:  # every failure ends the job with a readable error
        logger.exception("job %s failed while %s", job_id, run.step)
        return _fail(store, job_id, f"{run.step} failed: {_describe(error)}")


def _describe(error: Exception) -> str:
    if isinstance(error, StoreError | ValueError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def _fail(store: ModelStore, job_id: str, message: str) -> str:
    """Mark the job failed (unless it already ended) and drop its checkpoint."""
    me = this_worker()

    def change(record: dict) -> dict | None:
        if record["state"] in TERMINAL_STATES or record.get("worker") not in (None, me):
            return None
        return {"state": "failed", "error": message, "finished_at": utc_now_iso(), "worker": None}

    try:
        store.modify_job(job_id, change)
    finally:
        try:
            store.delete_checkpoint(job_id)
        except (StoreError, OSError):
            logger.warning("could not delete the checkpoint of failed job %s", job_id)
    return "failed"


def _thin(history: list[float]) -> list[float]:
    if len(history) <= MAX_RECORD_HISTORY:
        return list(history)
    picks = np.unique(np.linspace(0, len(history) - 1, MAX_RECORD_HISTORY).round().astype(int))
    return [history[i] for i in picks]


class _Run:
    """One attempt at a claimed job: prepare, train with progress and checkpoints, save."""

    def __init__(
        self,
        store: ModelStore,
        record: dict,
        settings: Settings,
        stop_requested: Callable[[], bool],
    ) -> None:
        self.store = store
        self.record = record
        self.job_id = record["id"]
        self.settings = settings
        self.stop_requested = stop_requested
        self.step = "preparing the job"
        self.stop_reason: str | None = None
        self.history: list[float] = []

    # Orchestration

    def execute(self) -> str:
        if self.store.cancel_requested(self.job_id):
            return self._cancelled()
        self.step = "preparing the job"
        self.hp = self._hyperparameters()
        self.epochs = int(self.hp["epochs"])
        self.step = "loading the dataset"
        dataset = self.store.load_dataset(self.record["dataset_id"])
        self.step = "preparing the data"
        self.generators = setup.Generators.from_seed(int(self.hp["seed"]))
        self.split = setup.split_rows(
            dataset.X, dataset.y, float(self.hp["validation_fraction"]), self.generators.split
        )
        self._build_network()
        self.X_train = self.standardizer.transform(self.split.X_train)
        self.X_val = self.standardizer.transform(self.split.X_val)
        state = self._resume_state()
        self.step = "training"
        self._train(state)
        if self.stop_reason is not None:
            return self._stopped()
        return self._save()

    def _hyperparameters(self) -> dict:
        """Defaults filled in; a missing seed is drawn once and recorded, so retries reuse it."""
        hp = setup.hyperparameters(self.record)
        if hp["seed"] is None:
            hp["seed"] = secrets.randbelow(2**63)
            stored = {**(self.record.get("hyperparameters") or {}), "seed": hp["seed"]}
            updated = update_if_owner(self.store, self.job_id, hyperparameters=stored)
            if updated is not None:
                hp["seed"] = setup.hyperparameters(updated)["seed"]
        return hp

    def _build_network(self) -> None:
        """From the initial model (its weights and normalization), else random from the seed."""
        initial_id = self.record.get("initial_model_id")
        if initial_id:
            self.step = f"loading the initial model {initial_id}"
            snapshot = self.store.get_snapshot(initial_id)
            self.network = neural.Network(
                tuple(snapshot["layer_sizes"]), snapshot["weights"], snapshot["biases"]
            )
            self.standardizer = neural.Standardizer.from_dict(snapshot["normalization"])
            return
        sizes = setup.layer_sizes(self.hp["hidden_layers"])
        self.network = neural.Network(sizes, rng=self.generators.init)
        self.standardizer = setup.make_standardizer(self.hp["normalization"], self.split.X_train)

    # Checkpoints

    def _checkpoint_data(self, epochs_done: int) -> dict:
        state = neural.TrainingState.capture(
            self.network, self.generators.shuffle, epochs_done, self.history
        )
        return {
            **state.to_dict(),
            "job_id": self.job_id,
            "dataset_id": self.record["dataset_id"],
            "seed": int(self.hp["seed"]),
        }

    def _resume_state(self) -> neural.TrainingState | None:
        """The checkpoint's state if it belongs to this job as configured now, else None."""
        data = self.store.load_checkpoint(self.job_id)
        if not data:
            return None
        try:
            state = neural.TrainingState.from_dict(data)
        except (ValueError, TypeError) as error:
            logger.warning("job %s: ignoring an unusable checkpoint (%s)", self.job_id, error)
            return None
        matches = (
            data.get("job_id") == self.job_id
            and data.get("dataset_id") == self.record["dataset_id"]
            and data.get("seed") == int(self.hp["seed"])
            and tuple(state.layer_sizes) == self.network.layer_sizes
            and state.epochs_done <= self.epochs
        )
        if not matches:
            logger.warning("job %s: ignoring a checkpoint made for other settings", self.job_id)
            return None
        logger.info("job %s: resuming after epoch %d", self.job_id, state.epochs_done)
        self.history = list(state.loss_history)
        return state

    # Training

    def _train(self, state: neural.TrainingState | None) -> None:
        settings = self.settings
        history = self.history
        cancel_requested = self.store.cancel_requested
        last_progress = last_checkpoint = last_cancel_look = time.monotonic()

        def on_epoch(epoch: int, loss: float) -> bool:
            # Called after every epoch (thousands a second for small data sets): cheap unless a
            # look at the cancel marker, a progress write or a checkpoint is due.
            nonlocal last_progress, last_checkpoint, last_cancel_look
            history.append(loss)
            now = time.monotonic()
            if now - last_cancel_look >= CANCEL_POLL_SECONDS:
                last_cancel_look = now
                if cancel_requested(self.job_id):
                    self.stop_reason = "cancelled"
                    return True
            if self.stop_requested():
                self.stop_reason = "interrupted"
                return True
            if epoch >= self.epochs:
                return False  # the final record (`_save`) carries the last epoch's progress
            if now - last_progress >= settings.progress_seconds:
                last_progress = now
                if self._write_progress(epoch, loss) is None:
                    self.stop_reason = "superseded"
                    return True
            if now - last_checkpoint >= settings.checkpoint_seconds:
                last_checkpoint = now
                self.store.save_checkpoint(self.job_id, self._checkpoint_data(epoch))
            return False

        neural.train_sgd(
            self.network,
            self.X_train,
            self.split.y_train,
            epochs=self.epochs,
            learning_rate=float(self.hp["learning_rate"]),
            batch_size=int(self.hp["batch_size"]),
            shuffle=bool(self.hp["shuffle"]),
            loss=self.hp["loss"],
            rng=self.generators.shuffle,
            on_epoch=on_epoch,
            state=state,
        )

    def _progress(self, epoch: int, loss: float | None) -> dict:
        """The record's `progress` and `loss_history` fields at `epoch`."""
        return {
            "progress": {
                "epoch": epoch,
                "epochs": self.epochs,
                "loss": loss,
                "validation_loss": self._validation_loss(),
            },
            "loss_history": _thin(self.history),
        }

    def _write_progress(self, epoch: int, loss: float | None) -> dict | None:
        return update_if_owner(self.store, self.job_id, **self._progress(epoch, loss))

    # Endings

    def _stopped(self) -> str:
        if self.stop_reason == "cancelled":
            return self._cancelled()
        if self.stop_reason == "interrupted":
            self._requeue()
            raise TrainingInterrupted(self.job_id)
        record = self.store.get_job(self.job_id)
        if record["state"] in TERMINAL_STATES:
            self.store.delete_checkpoint(self.job_id)
            return record["state"]
        logger.warning("job %s was taken over by %s", self.job_id, record.get("worker"))
        return "superseded"

    def _cancelled(self) -> str:
        self.store.transition_job(
            self.job_id,
            ("queued", "running"),
            state="cancelled",
            finished_at=utc_now_iso(),
            worker=None,
        )
        self.store.delete_checkpoint(self.job_id)
        return "cancelled"

    def _requeue(self) -> None:
        """Checkpoint and hand the job back: this attempt does not count as a lost worker."""
        self.step = "checkpointing before shutdown"
        self.store.save_checkpoint(self.job_id, self._checkpoint_data(len(self.history)))
        me = this_worker()

        def change(record: dict) -> dict | None:
            if record["state"] != "running" or record.get("worker") != me:
                return None
            attempts = max(0, int(record.get("attempts") or 1) - 1)
            return {"state": "queued", "attempts": attempts, "worker": None}

        self.store.modify_job(self.job_id, change)

    def _save(self) -> str:
        """Build and save the snapshot, promote it unless told not to, record success."""
        if self.store.cancel_requested(self.job_id):
            return self._cancelled()
        self.step = "evaluating the model"
        metrics = self._metrics()
        final_loss = self.history[-1] if self.history else self._loss_now()
        if not owns(self.store.get_job(self.job_id)):  # cancelled or taken over meanwhile
            self.stop_reason = "superseded"
            return self._stopped()
        self.step = "saving the model"
        snapshot = self.store.save_snapshot(self._snapshot(metrics, final_loss))
        if self.record.get("promote", True):
            self.step = "promoting the model"
            self.store.promote(snapshot["id"])
        self.step = "recording the result"
        update_if_owner(
            self.store,
            self.job_id,
            state="succeeded",
            model_id=snapshot["id"],
            metrics=metrics,
            finished_at=utc_now_iso(),
            worker=None,
            **self._progress(len(self.history), final_loss),
        )
        self.store.delete_checkpoint(self.job_id)
        return "succeeded"

    def _loss_on(self, X: np.ndarray, y: np.ndarray) -> float:
        """The job's loss of the network now on standardized rows X (n, 2) with labels y (n,)."""
        predictions = self.network.feedforward(X).reshape(-1)
        loss = neural.log_loss if self.hp["loss"] == "log_loss" else neural.mse_loss
        return float(loss(y, predictions))

    def _loss_now(self) -> float:
        return self._loss_on(self.X_train, self.split.y_train)

    def _validation_loss(self) -> float | None:
        """Loss on the held-out rows (None without a validation split); only at progress writes."""
        if self.X_val.shape[0] == 0:
            return None
        return self._loss_on(self.X_val, self.split.y_val)

    def _metrics(self) -> dict:
        def accuracy(X: np.ndarray, y: np.ndarray) -> float | None:
            if X.shape[0] == 0:
                return None
            return setup.accuracy(self.network.feedforward(X), y)

        # X_train and X_val are the split's rows already normalized: no second copy of them.
        return {
            "train_accuracy": accuracy(self.X_train, self.split.y_train),
            "validation_accuracy": accuracy(self.X_val, self.split.y_val),
        }

    def _snapshot(self, metrics: dict, final_loss: float) -> dict:
        return {
            "id": self.store.model_id_for_job(self.job_id),
            "layer_sizes": list(self.network.layer_sizes),
            "activation": "sigmoid",
            "loss": self.hp["loss"],
            "weights": [w.tolist() for w in self.network.weights],
            "biases": [b.tolist() for b in self.network.biases],
            "normalization": self.standardizer.to_dict(),
            "training": {
                "dataset_id": self.record["dataset_id"],
                "job_id": self.job_id,
                "hyperparameters": self.hp,
                "seed": int(self.hp["seed"]),
                "epochs": len(self.history),
                "loss_history": list(self.history),
                "final_loss": float(final_loss),
                "train_accuracy": metrics["train_accuracy"],
                "validation_accuracy": metrics["validation_accuracy"],
                "initial_model_id": self.record.get("initial_model_id"),
            },
        }
