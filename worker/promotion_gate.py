"""The promotion gate: whether a job's new model moves an alias, decided once, from figures.

A model no better on its own training rows than always answering the dataset's majority class
has learned nothing (a learning rate of 1e-300 does that), so it is never promoted automatically,
whatever the job asked; promoting it by hand still works. With `promote: "if_better"` the model
moves the alias only if it scores at least what the model the alias names scored, when that model
was trained on the same dataset (or the alias names none). A model's score is its validation
accuracy, or its training accuracy when it had no validation split.
"""

from __future__ import annotations

from collections.abc import Mapping

from foundation.promotion import IF_BETTER


def score(metrics: Mapping[str, float | None]) -> float | None:
    """What models are compared by: validation accuracy, else training accuracy."""
    validation = metrics.get("validation_accuracy")
    return validation if validation is not None else metrics.get("train_accuracy")


def majority_baseline(class_counts: Mapping[str, int]) -> float:
    """The accuracy of always answering the most frequent class (0.0 for no rows)."""
    total = sum(class_counts.values())
    return max(class_counts.values()) / total if total else 0.0


def decide(
    promote: bool | str,
    alias: str,
    metrics: Mapping[str, float | None],
    class_counts: Mapping[str, int],
    incumbent: tuple[str, Mapping[str, float | None], bool] | None,
) -> dict:
    """The job's `promotion` field: {"promoted": True, "alias": ...} or {"promoted": False,
    "reason": ...}.

    `incumbent` is (model id, metrics, trained on the same dataset) of the model `alias` names
    now, None if it names none.
    """
    if promote is False:
        return {"promoted": False, "reason": "the job asked not to promote (promote: false)"}
    train_accuracy = metrics.get("train_accuracy")
    baseline = majority_baseline(class_counts)
    if train_accuracy is None or train_accuracy <= baseline:
        shown = "none" if train_accuracy is None else f"{train_accuracy:.4f}"
        return {
            "promoted": False,
            "reason": (
                f"training accuracy {shown} is no better than always answering the majority "
                f"class ({baseline:.4f}); promote it by hand if it is wanted"
            ),
        }
    if promote == IF_BETTER and incumbent is not None:
        model_id, incumbent_metrics, same_dataset = incumbent
        if not same_dataset:
            return {
                "promoted": False,
                "reason": (
                    f"{alias} names {model_id}, trained on another dataset: the accuracies "
                    "are not comparable"
                ),
            }
        new, old = score(metrics), score(incumbent_metrics)
        if old is not None and new is not None and new < old:
            return {
                "promoted": False,
                "reason": f"accuracy {new:.4f} is below the {old:.4f} of {model_id} ({alias})",
            }
    return {"promoted": True, "alias": alias}
