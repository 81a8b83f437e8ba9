"""Evaluation metrics for fine-tuning (scikit-learn / scipy): MCC, F1, accuracy, AUROC, AUPRC, Pearson, Spearman."""

import numpy as np
from scipy.special import expit, softmax
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, average_precision_score, f1_score, matthews_corrcoef, roc_auc_score

# the metric that picks the best checkpoint and drives early stopping, per task (higher is better for all)
BEST_METRIC = {"classification": "mcc", "token": "mcc", "multilabel": "f1_macro", "regression": "pearson"}


def _ranking(labels: np.ndarray, scores: np.ndarray) -> dict:
    """AUROC and AUPRC; NaN when a class is absent (a ranking metric is undefined then)."""
    try:
        return {"auroc": float(roc_auc_score(labels, scores)), "auprc": float(average_precision_score(labels, scores))}
    except ValueError:
        return {"auroc": float("nan"), "auprc": float("nan")}


def classification_metrics(logits: np.ndarray, labels: np.ndarray) -> dict:
    """(N, C) logits and (N,) class ids; entries labelled -100 (padding, special tokens) are left out."""
    logits, labels = logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)
    keep = labels != -100
    logits, labels = logits[keep], labels[keep]
    probabilities, predictions = softmax(logits, axis=-1), logits.argmax(-1)
    binary = logits.shape[-1] == 2
    metrics = {
        "accuracy": float(accuracy_score(labels, predictions)),
        "mcc": float(matthews_corrcoef(labels, predictions)),
        "f1": float(f1_score(labels, predictions, average="binary" if binary else "macro", zero_division=0)),
    }
    if binary:
        return {**metrics, **_ranking(labels, probabilities[:, 1])}
    onehot = np.eye(logits.shape[-1])[labels]
    present = onehot.any(0) & ~onehot.all(0)  # one-vs-rest over the classes present in both forms
    return {**metrics, **_ranking(onehot[:, present], probabilities[:, present])}


def multilabel_metrics(logits: np.ndarray, labels: np.ndarray) -> dict:
    """(N, C) logits and (N, C) 0/1 labels: macro averages over labels, and exact-match accuracy."""
    labels = labels.astype(int)
    predictions = (logits > 0).astype(int)
    mcc = [matthews_corrcoef(labels[:, c], predictions[:, c]) for c in range(labels.shape[1])]
    return {
        "subset_accuracy": float((predictions == labels).all(1).mean()),
        "f1_macro": float(f1_score(labels, predictions, average="macro", zero_division=0)),
        "mcc": float(np.mean(mcc)),
        **_ranking(labels, expit(logits)),
    }


def regression_metrics(predictions: np.ndarray, labels: np.ndarray) -> dict:
    predictions, labels = predictions.reshape(len(labels), -1), labels.reshape(len(labels), -1).astype(float)
    pearson = np.mean([pearsonr(predictions[:, c], labels[:, c])[0] for c in range(labels.shape[1])])
    spearman = np.mean([spearmanr(predictions[:, c], labels[:, c])[0] for c in range(labels.shape[1])])
    return {"pearson": float(pearson), "spearman": float(spearman), "mse": float(((predictions - labels) ** 2).mean())}


METRICS = {
    "classification": classification_metrics,
    "token": classification_metrics,
    "multilabel": multilabel_metrics,
    "regression": regression_metrics,
}


def metrics_for(task: str):
    """A Trainer `compute_metrics` for `task`."""

    def compute(prediction) -> dict:
        logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
        return METRICS[task](np.asarray(logits, dtype=np.float64), np.asarray(prediction.label_ids))

    return compute
