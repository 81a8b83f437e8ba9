"""The k-mer baseline every DNA model should beat: overlapping k-mer counts + logistic regression (scikit-learn)."""

import itertools

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

CODES = np.full(256, -1, dtype=np.int64)  # base -> code in the order of the NT vocabularies (itertools.product)
for _code, _base in enumerate("ATCG"):
    CODES[ord(_base)] = CODES[ord(_base.lower())] = _code


def overlapping_kmer_indices(sequence: str, k: int = 6) -> np.ndarray:
    """The index (in itertools.product("ATCG") order) of every overlapping k-mer of a sequence, in every reading
    phase; k-mers holding N or other letters are skipped."""
    codes = CODES[np.frombuffer(sequence.encode(), dtype=np.uint8)]
    if len(codes) < k:
        return np.zeros(0, dtype=np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(codes, k)  # (L - k + 1, k)
    return windows[(windows >= 0).all(1)] @ 4 ** np.arange(k - 1, -1, -1)


def kmer_counts(sequences: list[str], k: int = 6) -> np.ndarray:
    """(N, 4**k) frequencies of the overlapping k-mers of each sequence (k-mers holding N or other letters are
    skipped), each row summing to 1 (0 for sequences shorter than k)."""
    out = np.zeros((len(sequences), 4**k), dtype=np.float32)
    for row, sequence in enumerate(sequences):
        indices = overlapping_kmer_indices(sequence, k)
        out[row] = np.bincount(indices, minlength=4**k) / max(len(indices), 1)
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


def overlapping_kmer_counts(sequences: list[str], k: int = 6) -> np.ndarray:
    """(4**k,) counts of the overlapping k-mers of all sequences together (see `overlapping_kmer_indices`)."""
    return sum((np.bincount(overlapping_kmer_indices(s, k), minlength=4**k) for s in sequences), np.zeros(4**k))


class KmerFrequencyTable:
    """The context-free baseline of a k-mer masked LM: a masked token is predicted by its k-mer's frequency in the
    training sequences (every phase, add-one smoothed), whatever the context. A model that uses context must
    lose fewer nats per masked token than this table does."""

    def __init__(self, k: int = 6):
        self.k = k

    def fit(self, sequences: list[str]) -> "KmerFrequencyTable":
        counts = overlapping_kmer_counts(sequences, self.k) + 1.0
        self.log_probabilities = np.log(counts / counts.sum())  # (4**k,)
        return self

    def nats(self, kmer_indices: np.ndarray) -> np.ndarray:
        """-log p of each k-mer (indices in itertools.product("ATCG") order)."""
        return -self.log_probabilities[np.asarray(kmer_indices)]


class MarkovGapFiller:
    """The k-mer context baseline of a masked LM: an order-k Markov chain counted on training sequences (add-half
    smoothed) fills a hidden span from the bases around it. Each of the 4**length candidate spans is scored by the
    chain's probability of it and of the k bases after it, given the k before (lower orders at a sequence's edge),
    normalised over the candidates."""

    def __init__(self, order: int = 4):
        self.order = order

    def fit(self, sequences: list[str]) -> "MarkovGapFiller":
        self.log_probabilities = []  # [o]: (4**(o + 1),) log p(base | the o bases before it), for o = 0 .. order
        for context in range(self.order + 1):
            counts = overlapping_kmer_counts(sequences, context + 1).reshape(-1, 4) + 0.5
            self.log_probabilities.append(np.log(counts / counts.sum(1, keepdims=True)).reshape(-1))
        return self

    def nats(self, sequences: list[str], gaps: list[tuple[int, int]], length: int = 6) -> np.ndarray:
        """(G,) -log p of each hidden span, gaps given as (sequence index, start); sequences of A, C, G, T."""
        candidates = np.array(list(itertools.product(range(4), repeat=length)))  # (C, length), ATCG order
        out = np.zeros(len(gaps))
        for row, (index, start) in enumerate(gaps):
            codes = CODES[np.frombuffer(sequences[index].encode(), dtype=np.uint8)]
            left = codes[max(0, start - self.order) : start]
            right = codes[start + length : start + length + self.order]
            spans = np.concatenate(
                [np.tile(left, (len(candidates), 1)), candidates, np.tile(right, (len(candidates), 1))], 1
            )
            scores = np.zeros(len(candidates))
            for position in range(len(left), spans.shape[1]):
                context = min(self.order, position)
                indices = spans[:, position - context : position + 1] @ 4 ** np.arange(context, -1, -1)
                scores += self.log_probabilities[context][indices]
            truth = codes[start : start + length] @ 4 ** np.arange(length - 1, -1, -1)
            out[row] = np.logaddexp.reduce(scores) - scores[truth]
        return out
