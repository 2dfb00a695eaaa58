"""Classification metrics from labels and scores, with scikit-learn's definitions (no sklearn needed).

For class c with tp_c true positives, fp_c false positives, fn_c false negatives:
  precision_c = tp_c / (tp_c + fp_c),  recall_c = tp_c / (tp_c + fn_c),
  F1_c = 2·precision_c·recall_c / (precision_c + recall_c),  support_c = tp_c + fn_c;
a ratio with a zero denominator is 0 (sklearn's zero_division=0). The macro average is the plain mean
over the classes that occur in the labels or the predictions (sklearn's default labels), the weighted
average the support-weighted mean. Top-k accuracy: the share of images whose label is among the k
highest scores (ties broken towards the lower class index).
"""
from __future__ import annotations

from typing import Any

import numpy as np


def confusion_counts(labels: np.ndarray, predictions: np.ndarray, classes: int) -> np.ndarray:
    """counts[i, j]: images of true class i predicted as j."""
    return np.bincount(labels * classes + predictions, minlength=classes * classes).reshape(classes, classes)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros(len(num)), where=den > 0)


def top_k_accuracy(labels: np.ndarray, scores: np.ndarray, k: int) -> float:
    """Share of rows whose label is among their k highest scores."""
    if not len(labels):
        return 0.0
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float((order == labels[:, None]).any(axis=1).mean())


def default_top_k(classes: int) -> int | None:
    """Top-5 when there are more than 5 classes (ImageNet's habit), else none."""
    return 5 if classes > 5 else None


def classification_report(labels: np.ndarray, scores: np.ndarray, classes: list[str],
                          top_k: int | None = None) -> dict[str, Any]:
    """Accuracy, top-k accuracy, per-class precision/recall/F1/support, macro and weighted averages and the
    confusion matrix, as one JSON-ready dict."""
    k = len(classes)
    predictions = scores.argmax(axis=1) if len(scores) else np.zeros(0, np.int64)
    counts = confusion_counts(labels, predictions, k)
    tp = np.diag(counts).astype(np.float64)
    support, predicted = counts.sum(axis=1).astype(np.float64), counts.sum(axis=0).astype(np.float64)
    precision, recall = _ratio(tp, predicted), _ratio(tp, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    present = (support + predicted) > 0
    total = support.sum()
    rows = [{"class": name, "precision": float(precision[c]), "recall": float(recall[c]), "f1": float(f1[c]),
             "support": int(support[c])} for c, name in enumerate(classes)]

    def average(weights: np.ndarray) -> dict[str, float]:
        w = weights / weights.sum() if weights.sum() > 0 else weights
        return {"precision": float(w @ precision), "recall": float(w @ recall), "f1": float(w @ f1)}

    report: dict[str, Any] = {
        "images": int(total), "accuracy": float(tp.sum() / total) if total else 0.0,
        "classes": rows, "macro_avg": {**average(present.astype(np.float64)), "support": int(total)},
        "weighted_avg": {**average(support), "support": int(total)},
        "confusion_matrix": counts.tolist()}
    if top_k is not None:
        report["top_k"] = {"k": top_k, "accuracy": top_k_accuracy(labels, scores, top_k)}
    return report
