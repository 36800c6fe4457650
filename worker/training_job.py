"""Run one training job from its row in the store: the plain function behind the Celery task.

`run_training_job(store, job_id, settings)` needs no Celery, so tests call it directly. It is
idempotent: a finished job is left alone, and a delivery of a job that a live worker runs is
dropped at once ("duplicate": the lease says who runs it, and the reaper repairs a lost one).
The owner refreshes its lease with every progress write and reads the job's cancel request
with it. An outage of the database or the object store is waited out (`worker.outage`): training
goes on meanwhile, a checkpoint that cannot be written is tried again at the next one, and the
other store calls are retried with backoff for up to NNSERVICE_OUTAGE_SECONDS; past that the job
is left to the reaper (it resumes from its last checkpoint). Any other failure ends the job
`failed` with an error that says which step failed and why. The latest model only changes after
the snapshot was saved whole.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np

import neural
from foundation.hyperparameters import draw_seed
from foundation.settings import Settings
from foundation.states import TERMINAL_STATES, JobState
from model_store import JobRecord, ModelStore, NotFound, StoreError
from model_store.ids import model_id_for_job, utc_now_iso
from model_store.jobs import Claim
from model_store.outages import is_outage
from neural.losses import LOSSES
from worker import promotion_gate
from worker import training_setup as setup
from worker.outage import PROCESS_GRACE, OutageClock, OutageTooLong
from worker.trial_pruning import TrialPruning

logger = logging.getLogger(__name__)

_Result = TypeVar("_Result")

#: The job record's loss_history is thinned to this many points for long runs (the snapshot
#: keeps every epoch's loss).
MAX_RECORD_HISTORY = 1000
#: Shortest lease: an owner silent for longer than this is lost.
MIN_LEASE_SECONDS = 10.0
#: The stop reason of a sweep's trial that its pruner stopped (it is saved, not promoted).
PRUNED = "pruned"


class TrainingInterrupted(Exception):
    """This worker is shutting down; the job is back in `queued` with a fresh checkpoint."""


class LeaseLost(Exception):
    """The job was taken away from this process (its lease ran out and another took it)."""


def lease_seconds(visibility_timeout: float) -> float:
    """How long an owner may go without a heartbeat before it counts as lost."""
    return max(float(visibility_timeout), MIN_LEASE_SECONDS)


_OWNER = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
_OWNER_PID = os.getpid()


def this_worker() -> str:
    """This process's lease owner name: host, pid and a random tag (pids are reused)."""
    global _OWNER, _OWNER_PID
    if os.getpid() != _OWNER_PID:  # a forked pool child gets a name of its own
        _OWNER = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        _OWNER_PID = os.getpid()
    return _OWNER


def run_training_job(
    store: ModelStore,
    job_id: str,
    settings: Settings,
    *,
    stop_requested: Callable[[], bool] | None = None,
) -> str:
    """Train the job `job_id` to its end and return its final state.

    Returns a final `JobState` (succeeded, failed, cancelled), "missing" (no such job),
    "duplicate" (a live worker runs it: this delivery is dropped), "superseded" (the job was
    taken away while this process ran it) or "released" (the store stayed unreachable for longer
    than NNSERVICE_OUTAGE_SECONDS: the job is left to the reaper). Raises TrainingInterrupted
    when `stop_requested()` turns true: the job is then checkpointed and queued again, and the
    caller should requeue its message.
    """
    stop_requested = stop_requested or (lambda: False)
    owner = this_worker()
    clock = OutageClock(settings.outage_seconds)
    lease = lease_seconds(settings.visibility_timeout)

    def claim() -> Claim:
        # Nobody could renew a lease during an outage: an owner that was alive when it began
        # is not counted lost for the time it lasted.
        grace = PROCESS_GRACE.seconds(lease)
        return store.jobs.claim(job_id, owner, lease + grace, settings.max_attempts)

    try:
        taken = clock.ride_out("claiming the job", claim)
    except NotFound:
        logger.warning("job %s does not exist; nothing to do", job_id)
        return "missing"
    except OutageTooLong as error:
        logger.error("job %s: %s; the reaper sends it again", job_id, error)
        return "released"
    if taken.outcome == "busy":
        logger.info("job %s runs under %s; dropping this delivery", job_id, taken.record.worker)
        return "duplicate"
    if taken.outcome != "claimed":
        if taken.outcome in ("gave_up", "cancel"):
            _drop_checkpoint(store, job_id)
        return taken.record.state

    run = _Run(store, taken.record, settings, owner, stop_requested, clock)
    try:
        return run.execute()
    except TrainingInterrupted:
        raise
    except Exception as error:  # every failure ends the job with a readable error
        if isinstance(error, OutageTooLong) or is_outage(error):
            if not isinstance(error, OutageTooLong):
                error = f"the store is unreachable while {run.step} ({error})"
            logger.error(
                "job %s: %s; left to the reaper, which requeues it once its lease has run out"
                " (it resumes from its last checkpoint)",
                job_id,
                error,
            )
            return "released"
        logger.exception("job %s failed while %s", job_id, run.step)
        message = f"{run.step} failed: {_describe(error)}"
        return _fail(store, job_id, owner, message, settings.outage_seconds)


def _describe(error: Exception) -> str:
    if isinstance(error, StoreError | ValueError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def _fail(store: ModelStore, job_id: str, owner: str, message: str, window: float) -> str:
    """Mark the job failed (if this process still owns it) and drop its checkpoint.

    While the store cannot take the write, wait it out (up to `window` seconds, as any other
    write); if it never can, the job keeps its lease until that runs out, and the reaper retries
    or fails it.
    """
    try:
        OutageClock(window).ride_out(
            "recording the failure",
            lambda: store.jobs.finish(
                job_id, owner, JobState.FAILED, error=message, finished_at=utc_now_iso()
            ),
        )
    except Exception:  # noqa: BLE001 - the store itself is failing: the reaper will do it
        logger.exception("could not record that job %s failed; the reaper will", job_id)
        return JobState.FAILED
    _drop_checkpoint(store, job_id)
    return JobState.FAILED


def _drop_checkpoint(store: ModelStore, job_id: str) -> None:
    """Delete the checkpoint of a job that has ended; one that cannot be deleted now is only
    logged (nothing reads the checkpoint of an ended job)."""
    try:
        store.checkpoints.delete(job_id)
    except (StoreError, OSError) as error:
        logger.warning("could not delete the checkpoint of job %s: %s", job_id, error)


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
        record: JobRecord,
        settings: Settings,
        owner: str,
        stop_requested: Callable[[], bool],
        clock: OutageClock,
    ) -> None:
        self.store = store
        self.record = record
        self.job_id = record.id
        self.settings = settings
        self.owner = owner
        self.stop_requested = stop_requested
        self.clock = clock
        self.step = "preparing the job"
        self.stop_reason: str | None = None
        self.history: list[float] = []
        self.checkpoint_failures = 0

    # Orchestration

    def execute(self) -> str:
        try:
            return self._execute()
        except LeaseLost:
            self.stop_reason = "superseded"
            return self._stopped()

    def _execute(self) -> str:
        if self.record.cancel_requested:
            return self._cancelled()
        self.step = "preparing the job"
        self.hp = self._hyperparameters()
        self.epochs = int(self.hp["epochs"])
        self.step = "loading the dataset"
        dataset = self._ride_out(
            lambda: self.store.datasets.load(self.record.dataset_id), keep_lease=True
        )
        self.class_counts = dataset.info.counts
        self.input_range = setup.input_range(dataset.X)
        self.step = "preparing the data"
        self.generators = setup.Generators.from_seed(int(self.hp["seed"]))
        self.split = setup.split_rows(
            dataset.X, dataset.y, float(self.hp["validation_fraction"]), self.generators.split
        )
        self._build_network()
        self.X_train = self.standardizer.transform(self.split.X_train)
        self.X_val = self.standardizer.transform(self.split.X_val)
        self.early_stopping = setup.early_stopping(self.hp, self.split)
        state = self._resume_state()
        self.pruning = TrialPruning.for_job(self.store, self.record, self._measures())
        self.step = "training"
        self._train(state)
        if self.stop_reason is not None:
            return self._stopped()
        return self._save()

    # The store, through outages

    def _ride_out(self, call: Callable[[], _Result], *, keep_lease: bool = False) -> _Result:
        """`call()`, retried through an outage of the store (`OutageClock.ride_out`); with
        `keep_lease`, the lease is renewed between tries (the database may be up meanwhile)."""
        return self.clock.ride_out(self.step, call, self._keep_lease if keep_lease else None)

    def _keep_lease(self) -> None:
        """Renew the lease while the object store keeps the job waiting; LeaseLost if the job is
        no longer ours. With the database down too, nobody can take the lease meanwhile."""
        try:
            mine = self.store.jobs.heartbeat(self.job_id, self.owner)
        except Exception as error:
            if is_outage(error):
                return
            raise
        if mine is None:
            raise LeaseLost(self.job_id)

    def _still_ours(self) -> bool:
        """Renew the lease (waiting out an outage); LeaseLost if the job is no longer ours, else
        whether it was asked to stop."""
        cancel = self._ride_out(lambda: self.store.jobs.heartbeat(self.job_id, self.owner))
        if cancel is None:
            raise LeaseLost(self.job_id)
        return cancel

    def _hyperparameters(self) -> dict:
        """Defaults filled in; a missing seed is drawn once and recorded, so retries reuse it."""
        hp = setup.hyperparameters(self.record)
        if hp["seed"] is None:
            hp["seed"] = draw_seed()
            stored = {**(self.record.hyperparameters or {}), "seed": hp["seed"]}
            written = self._ride_out(
                lambda: self.store.jobs.heartbeat(self.job_id, self.owner, hyperparameters=stored)
            )
            if written is None:
                raise StoreError("the job was taken away before it started")
        return hp

    def _build_network(self) -> None:
        """From the initial model (its weights and normalization), else random from the seed."""
        initial_id = self.record.initial_model_id
        if initial_id:
            self.step = f"loading the initial model {initial_id}"
            snapshot = self._ride_out(
                lambda: self.store.models.snapshot(initial_id), keep_lease=True
            )
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
        rule = self.early_stopping
        state = neural.TrainingState.capture(
            self.network, self.generators.shuffle, epochs_done, self.history
        )
        return {
            **state.to_dict(),
            "job_id": self.job_id,
            "dataset_id": self.record.dataset_id,
            "seed": int(self.hp["seed"]),
            "early_stopping": None if rule is None else rule.to_dict(),
        }

    def _checkpoint(self, epochs_done: int) -> None:
        """Save a checkpoint. One that cannot be written is not fatal: training goes on, and the
        next checkpoint tries again (a resume then starts from an older one)."""
        try:
            self.store.checkpoints.save(self.job_id, self._checkpoint_data(epochs_done))
        except (StoreError, OSError) as error:
            self.checkpoint_failures += 1
            if self.checkpoint_failures == 1:
                logger.warning(
                    "job %s: the checkpoint after epoch %d was not written (%s); training goes"
                    " on and the next checkpoint tries again",
                    self.job_id,
                    epochs_done,
                    error,
                )
            return
        if self.checkpoint_failures:
            logger.info(
                "job %s: checkpoint written again after %d that were not",
                self.job_id,
                self.checkpoint_failures,
            )
            self.checkpoint_failures = 0

    def _resume_state(self) -> neural.TrainingState | None:
        """The checkpoint's state if it belongs to this job as configured now, else None."""
        data = self.store.checkpoints.load(self.job_id)
        if not data:
            return None
        try:
            state = neural.TrainingState.from_dict(data)
            early_stopping = setup.resumed_early_stopping(self.hp, data.get("early_stopping"))
        except (ValueError, TypeError) as error:
            logger.warning("job %s: ignoring an unusable checkpoint (%s)", self.job_id, error)
            return None
        matches = (
            data.get("job_id") == self.job_id
            and data.get("dataset_id") == self.record.dataset_id
            and data.get("seed") == int(self.hp["seed"])
            and tuple(state.layer_sizes) == self.network.layer_sizes
            and state.epochs_done <= self.epochs
        )
        if not matches:
            logger.warning("job %s: ignoring a checkpoint made for other settings", self.job_id)
            return None
        logger.info("job %s: resuming after epoch %d", self.job_id, state.epochs_done)
        self.history = list(state.loss_history)
        self.early_stopping = early_stopping
        return state

    # Training

    def _train(self, state: neural.TrainingState | None) -> None:
        settings = self.settings
        history = self.history
        last_progress = last_checkpoint = time.monotonic()

        def on_epoch(epoch: int, loss: float) -> bool:
            # Called after every epoch (thousands a second for small data sets): cheap unless a
            # progress write (which renews the lease and reads the cancel request) or a
            # checkpoint is due.
            nonlocal last_progress, last_checkpoint
            history.append(loss)
            if self.stop_requested():
                self.stop_reason = "interrupted"
                return True
            if epoch >= self.epochs:
                return False  # the final record (`_save`) carries the last epoch's progress
            if self.pruning is not None and self.pruning.should_stop(epoch):
                self.stop_reason = PRUNED
                return True
            now = time.monotonic()
            # While the store is unreachable, training goes on and the write is tried again
            # after growing pauses (OutageTooLong ends the job once the outage lasts too long).
            if now - last_progress >= self.clock.retry_delay(settings.progress_seconds):
                last_progress = now
                try:
                    cancel = self._write_progress(epoch, loss)
                except Exception as error:
                    self.clock.failed(error, "recording progress")
                else:
                    self.clock.succeeded()
                    if cancel is None:
                        self.stop_reason = "superseded"
                        return True
                    if cancel:
                        self.stop_reason = JobState.CANCELLED
                        return True
            every = settings.checkpoint_epochs
            due = now - last_checkpoint >= settings.checkpoint_seconds
            if due or (every and epoch % every == 0):
                last_checkpoint = now
                self._checkpoint(epoch)
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
            early_stopping=self.early_stopping,
            validation=(self.X_val, self.split.y_val),
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

    def _write_progress(self, epoch: int, loss: float | None) -> bool | None:
        """Progress and a heartbeat: None if the job is no longer ours, else whether it was
        asked to stop."""
        return self.store.jobs.heartbeat(self.job_id, self.owner, **self._progress(epoch, loss))

    # Endings

    def _stopped(self) -> str:
        if self.stop_reason == PRUNED:
            return self._save(pruned=True)
        if self.stop_reason == JobState.CANCELLED:
            return self._cancelled()
        if self.stop_reason == "interrupted":
            self._requeue()
            raise TrainingInterrupted(self.job_id)
        record = self._ride_out(lambda: self.store.jobs.get(self.job_id))
        if record.state in TERMINAL_STATES:
            return record.state
        logger.warning("job %s was taken over by %s", self.job_id, record.worker)
        return "superseded"

    def _cancelled(self) -> str:
        self._ride_out(
            lambda: self.store.jobs.finish(
                self.job_id, self.owner, JobState.CANCELLED, finished_at=utc_now_iso()
            )
        )
        _drop_checkpoint(self.store, self.job_id)
        return JobState.CANCELLED

    def _requeue(self) -> None:
        """Checkpoint and hand the job back: this attempt does not count as a lost worker.

        The worker is stopping, so neither write waits out an outage: without the hand-back the
        job keeps its lease until that runs out, and the reaper requeues it.
        """
        self.step = "checkpointing before shutdown"
        self._checkpoint(len(self.history))
        try:
            self.store.jobs.release(self.job_id, self.owner)
        except Exception as error:
            if not is_outage(error):
                raise
            logger.warning(
                "job %s: could not hand it back (%s); the reaper will once its lease has run out",
                self.job_id,
                error,
            )

    def _save(self, *, pruned: bool = False) -> str:
        """Build and save the snapshot, promote it if the gate lets it (never a pruned trial's),
        record success."""
        self.step = "evaluating the model"
        metrics = self._metrics()  # of the weights kept: the best epoch's with early stopping
        kept = self._kept_epochs()
        if kept.get("best_epoch"):
            final_loss = self.history[kept["best_epoch"] - 1]
        else:
            final_loss = self.history[-1] if self.history else self._loss_now()
        if self._still_ours():  # LeaseLost if taken over meanwhile
            return self._cancelled()
        self.step = "saving the model"
        built = self._snapshot(metrics, final_loss)
        built["training"].update(kept)
        snapshot = self._ride_out(lambda: self.store.models.save(built), keep_lease=True)
        self.step = "deciding on promotion"
        promotion = (
            {"promoted": False, "reason": "the sweep's pruner stopped this trial early"}
            if pruned
            else promotion_gate.decide(
                self.record.promote,
                self.record.promote_alias,
                metrics,
                self.class_counts,
                self._ride_out(self._incumbent),
            )
        )
        if promotion["promoted"]:
            self.step = "promoting the model"
            self._still_ours()  # the save may have waited out an outage: is the job still ours?
            self._ride_out(
                lambda: self.store.models.promote(
                    snapshot["id"],
                    f"job {self.job_id}",
                    alias=self.record.promote_alias,
                    verified=True,
                )
            )
        else:
            logger.info("job %s: model not promoted: %s", self.job_id, promotion["reason"])
        self.step = "recording the result"
        result = {
            "model_id": snapshot["id"],
            "metrics": metrics,
            "promotion": promotion,
            "pruned": pruned,
            "finished_at": utc_now_iso(),
            **self._progress(len(self.history), final_loss),
        }
        result["progress"].update(kept)
        self._ride_out(
            lambda: self.store.jobs.finish(self.job_id, self.owner, JobState.SUCCEEDED, **result)
        )
        _drop_checkpoint(self.store, self.job_id)
        return JobState.SUCCEEDED

    def _kept_epochs(self) -> dict:
        """With early stopping, `stopped_epoch` (None unless it ended training before the last
        epoch) and `best_epoch` (the epoch whose weights the model keeps); without, nothing."""
        rule = self.early_stopping
        if rule is None:
            return {}
        stopped = rule.stopped_epoch
        early = stopped if stopped is not None and stopped < self.epochs else None
        return {"stopped_epoch": early, "best_epoch": rule.best_epoch or None}

    def _incumbent(self) -> tuple[str, dict, bool] | None:
        """(id, metrics, trained on this job's dataset) of the model the job's alias names now;
        None if it names none (or a model since gone)."""
        model_id = self.store.models.latest_id(self.record.promote_alias)
        if model_id is None:
            return None
        try:
            model = self.store.models.get(model_id)
        except NotFound:
            return None
        return model.id, model.metrics, model.dataset_id == self.record.dataset_id

    def _loss_on(self, X: np.ndarray, y: np.ndarray) -> float:
        """The job's loss of the network now on standardized rows X (n, 2) with labels y (n,)."""
        predictions = self.network.feedforward(X).reshape(-1)
        return float(LOSSES[self.hp["loss"]](y, predictions))

    def _loss_now(self) -> float:
        return self._loss_on(self.X_train, self.split.y_train)

    def _validation_loss(self) -> float | None:
        """Loss on the held-out rows (None without a validation split); only at progress writes."""
        if self.X_val.shape[0] == 0:
            return None
        return self._loss_on(self.X_val, self.split.y_val)

    def _measures(self) -> dict:
        """Each metric a sweep may rank by, measured on the validation rows now."""
        return {
            "validation_loss": self._validation_loss,
            "validation_accuracy": lambda: self._metrics()["validation_accuracy"],
        }

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
            "id": model_id_for_job(self.job_id),
            "layer_sizes": list(self.network.layer_sizes),
            "activation": "sigmoid",
            "loss": self.hp["loss"],
            "weights": [w.tolist() for w in self.network.weights],
            "biases": [b.tolist() for b in self.network.biases],
            "normalization": self.standardizer.to_dict(),
            "training": {
                "dataset_id": self.record.dataset_id,
                "job_id": self.job_id,
                "hyperparameters": self.hp,
                "seed": int(self.hp["seed"]),
                "epochs": len(self.history),
                "loss_history": list(self.history),
                "final_loss": float(final_loss),
                "train_accuracy": metrics["train_accuracy"],
                "validation_accuracy": metrics["validation_accuracy"],
                "initial_model_id": self.record.initial_model_id,
                "input_range": self.input_range,
            },
        }
