"""The promotion gate's decision, from the figures alone."""

from __future__ import annotations

from worker.promotion_gate import decide, majority_baseline, score

BALANCED = {"F": 50, "M": 50}
GOOD = {"train_accuracy": 0.9, "validation_accuracy": 0.85}


def test_the_majority_baseline_is_the_share_of_the_most_frequent_class() -> None:
    assert majority_baseline({"F": 30, "M": 70}) == 0.7
    assert majority_baseline({"F": 0, "M": 0}) == 0.0


def test_the_score_is_validation_accuracy_else_training_accuracy() -> None:
    assert score(GOOD) == 0.85
    assert score({"train_accuracy": 0.7, "validation_accuracy": None}) == 0.7


def test_a_model_no_better_than_the_majority_class_is_never_promoted() -> None:
    degenerate = {"train_accuracy": 0.5, "validation_accuracy": 0.5}
    for promote in (True, "if_better"):
        decision = decide(promote, "latest", degenerate, BALANCED, None)
        assert decision["promoted"] is False
        assert "majority class" in decision["reason"]
    skewed = {"train_accuracy": 0.69, "validation_accuracy": 0.9}
    assert decide(True, "latest", skewed, {"F": 30, "M": 70}, None)["promoted"] is False


def test_promote_true_and_false() -> None:
    assert decide(True, "champion", GOOD, BALANCED, ("m-old", {"train_accuracy": 0.99}, True)) == {
        "promoted": True,
        "alias": "champion",
    }
    decision = decide(False, "latest", GOOD, BALANCED, None)
    assert decision["promoted"] is False and "promote: false" in decision["reason"]


def test_if_better_compares_with_the_model_the_alias_names_on_the_same_dataset() -> None:
    assert decide("if_better", "latest", GOOD, BALANCED, None)["promoted"] is True
    equal = ("m-old", {"train_accuracy": 0.95, "validation_accuracy": 0.85}, True)
    assert decide("if_better", "latest", GOOD, BALANCED, equal)["promoted"] is True
    better = ("m-old", {"train_accuracy": 0.8, "validation_accuracy": 0.86}, True)
    worse = decide("if_better", "latest", GOOD, BALANCED, better)
    assert worse["promoted"] is False and "m-old" in worse["reason"]
    elsewhere = ("m-old", {"train_accuracy": 0.6, "validation_accuracy": 0.6}, False)
    other = decide("if_better", "latest", GOOD, BALANCED, elsewhere)
    assert other["promoted"] is False and "another dataset" in other["reason"]
