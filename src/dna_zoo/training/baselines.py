"""The k-mer baseline every DNA model should beat: overlapping k-mer counts + logistic regression (scikit-learn)."""

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

CODES = np.full(256, -1, dtype=np.int64)
CODES[np.frombuffer(b"ACGT", dtype=np.uint8)] = np.arange(4)
CODES[np.frombuffer(b"acgt", dtype=np.uint8)] = np.arange(4)


def kmer_counts(sequences: list[str], k: int = 6) -> np.ndarray:
    """(N, 4**k) frequencies of the overlapping k-mers of each sequence (k-mers holding N or other letters are
    skipped), each row summing to 1 (0 for sequences shorter than k)."""
    out = np.zeros((len(sequences), 4**k), dtype=np.float32)
    weights = 4 ** np.arange(k - 1, -1, -1)
    for row, sequence in enumerate(sequences):
        codes = CODES[np.frombuffer(sequence.encode(), dtype=np.uint8)]
        if len(codes) < k:
            continue
        windows = np.lib.stride_tricks.sliding_window_view(codes, k)  # (L - k + 1, k)
        valid = (windows >= 0).all(1)
        out[row] = np.bincount(windows[valid] @ weights, minlength=4**k)
        out[row] /= max(valid.sum(), 1)
    return out


class KmerLogisticRegression:
    """Standardised k-mer frequencies -> L2 logistic regression (multinomial for several classes)."""

    def __init__(self, k: int = 6, C: float = 1.0, max_iter: int = 2000, seed: int = 0):
        self.k = k
        self.model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter, random_state=seed))

    def fit(self, sequences: list[str], labels) -> "KmerLogisticRegression":
        self.model.fit(kmer_counts(sequences, self.k), np.asarray(labels))
        return self

    def predict(self, sequences: list[str]) -> np.ndarray:
        return self.model.predict(kmer_counts(sequences, self.k))

    def predict_proba(self, sequences: list[str]) -> np.ndarray:
        return self.model.predict_proba(kmer_counts(sequences, self.k))
