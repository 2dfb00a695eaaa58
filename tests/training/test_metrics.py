"""Classification metrics against values computed by hand with scikit-learn's definitions
(precision tp/(tp+fp), recall tp/(tp+fn), F1 their harmonic mean, 0 on a zero denominator, macro over the
classes present in labels or predictions, weighted by support)."""
from __future__ import annotations

import numpy as np
import pytest

from cnncli.training.metrics import classification_report, default_top_k, top_k_accuracy

# labels and predictions: class 0: 3 of 4 right (one predicted 1); class 1: 1 of 2 (one predicted 2);
# class 2: 2 of 2; class 3: never a label, never predicted
LABELS = np.array([0, 0, 0, 0, 1, 1, 2, 2])
PREDICTED = np.array([0, 0, 0, 1, 1, 2, 2, 2])
SECOND = np.array([1, 1, 2, 0, 0, 0, 0, 1])  # the second-highest score of each image


def scores() -> np.ndarray:
    s = np.zeros((8, 4))
    s[np.arange(8), PREDICTED] = 2.0
    s[np.arange(8), SECOND] = 1.0
    return s


def test_per_class_and_averages_by_hand():
    report = classification_report(LABELS, scores(), ["a", "b", "c", "d"], top_k=2)
    rows = {r["class"]: r for r in report["classes"]}
    # class a: tp 3, fp 0, fn 1 -> P 1, R 3/4, F1 2·(3/4)/(7/4) = 6/7
    assert (rows["a"]["precision"], rows["a"]["recall"], rows["a"]["support"]) == (1.0, 0.75, 4)
    assert rows["a"]["f1"] == pytest.approx(6 / 7)
    # class b: tp 1, fp 1 (an a), fn 1 (a c) -> 1/2 each; class c: tp 2, fp 1, fn 0 -> P 2/3, R 1, F1 0.8
    assert (rows["b"]["precision"], rows["b"]["recall"], rows["b"]["f1"]) == (0.5, 0.5, 0.5)
    assert rows["c"]["precision"] == pytest.approx(2 / 3) and rows["c"]["recall"] == 1.0
    assert rows["c"]["f1"] == pytest.approx(0.8)
    assert rows["d"] == {"class": "d", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert report["accuracy"] == 6 / 8 and report["images"] == 8
    macro = report["macro_avg"]  # d is in neither labels nor predictions: left out, as sklearn does
    assert macro["precision"] == pytest.approx((1 + 0.5 + 2 / 3) / 3)
    assert macro["recall"] == pytest.approx((0.75 + 0.5 + 1) / 3)
    assert macro["f1"] == pytest.approx((6 / 7 + 0.5 + 0.8) / 3)
    weighted = report["weighted_avg"]
    assert weighted["precision"] == pytest.approx((4 * 1 + 2 * 0.5 + 2 * 2 / 3) / 8)
    assert weighted["recall"] == pytest.approx(6 / 8)  # weighted recall is accuracy
    assert weighted["f1"] == pytest.approx((4 * 6 / 7 + 2 * 0.5 + 2 * 0.8) / 8)
    assert report["confusion_matrix"] == [[3, 1, 0, 0], [0, 1, 1, 0], [0, 0, 2, 0], [0, 0, 0, 0]]
    # top-2: the label is first or second for images 0-2 (first), 3 (second), 4 and 6-7 (first), not for
    # image 5 (label 1; scores 2 for class 2, 1 for class 0) -> 7 of 8
    assert report["top_k"] == {"k": 2, "accuracy": 7 / 8}


def test_top_k_by_hand_and_the_default_k():
    s = np.array([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1], [0.2, 0.3, 0.5]])
    labels = np.array([2, 2, 0])
    assert top_k_accuracy(labels, s, 1) == 0.0
    assert top_k_accuracy(labels, s, 2) == pytest.approx(1 / 3)  # only the first image's label is second
    assert top_k_accuracy(labels, s, 3) == 1.0
    assert default_top_k(10) == 5 and default_top_k(5) is None
    assert "top_k" not in classification_report(labels, s, ["x", "y", "z"])
