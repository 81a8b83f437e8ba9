"""Plots written beside a fine-tuning run's metrics: loss and the validation metric over steps, and ROC / PR curves
of binary classifiers on the evaluated splits."""

import os

import numpy as np
from scipy.special import softmax
from sklearn.metrics import auc, precision_recall_curve, roc_curve

from ..plots import plot_curves
from .metrics import BEST_METRIC


def _points(log_history: list[dict], key: str) -> tuple[list, list] | None:
    points = [(entry["step"], entry[key]) for entry in log_history if key in entry and "step" in entry]
    return tuple(map(list, zip(*points))) if points else None


def plot_finetuning(output_dir: str, log_history: list[dict], task: str, predictions: dict) -> list[str]:
    """PNG files in `output_dir`: loss_curve.png (training and validation loss), validation_<metric>.png (the
    metric that picks the best checkpoint), and for binary classification roc_curve.png and pr_curve.png over the
    splits in `predictions` (split -> transformers PredictionOutput). Returns their paths."""
    paths = []
    losses = {"training": _points(log_history, "loss"), "validation": _points(log_history, "eval_loss")}
    losses = {name: points for name, points in losses.items() if points}
    if losses:
        paths.append(plot_curves(losses, os.path.join(output_dir, "loss_curve.png"), "step", "loss", "fine-tuning"))
    metric = BEST_METRIC[task]
    if points := _points(log_history, f"eval_{metric}"):
        path = os.path.join(output_dir, f"validation_{metric}.png")
        paths.append(plot_curves({f"validation {metric}": points}, path, "step", metric, "validation"))
    roc, pr = {}, {}
    for split, output in predictions.items():
        logits = output.predictions[0] if isinstance(output.predictions, tuple) else output.predictions
        labels = np.asarray(output.label_ids)
        if task != "classification" or logits.shape[-1] != 2 or len(np.unique(labels)) != 2:
            continue
        scores = softmax(np.asarray(logits, dtype=np.float64), axis=-1)[:, 1]
        false_positive, true_positive, _ = roc_curve(labels, scores)
        precision, recall, _ = precision_recall_curve(labels, scores)
        roc[f"{split} (AUROC {auc(false_positive, true_positive):.3f})"] = (false_positive, true_positive)
        pr[f"{split} (AUPRC {auc(recall, precision):.3f})"] = (recall, precision)
    if roc:
        roc["chance"] = ([0, 1], [0, 1])
        paths.append(
            plot_curves(
                roc,
                os.path.join(output_dir, "roc_curve.png"),
                "false positive rate",
                "true positive rate",
                "ROC (positive class: label 1)",
            )
        )
        paths.append(
            plot_curves(
                pr,
                os.path.join(output_dir, "pr_curve.png"),
                "recall",
                "precision",
                "precision-recall (positive class: label 1)",
            )
        )
    return paths
