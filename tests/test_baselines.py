"""The baselines every model is measured against: k-mer frequencies, logistic regression on them, and the
context-free k-mer table a masked LM must beat."""

import itertools

import numpy as np

from dna_zoo.models.tokenization_dna import kmer_vocabulary
from dna_zoo.training.baselines import KmerFrequencyTable, KmerLogisticRegression, overlapping_kmer_counts


def test_overlapping_counts_see_every_phase_in_vocabulary_order():
    kmers = ["".join(p) for p in itertools.product("ATCG", repeat=2)]
    counts = overlapping_kmer_counts(["ACGTN", "acg"], k=2)
    expected = {"AC": 2, "CG": 2, "GT": 1}  # "TN" holds an N: skipped; lower case counts
    assert {kmers[i]: int(c) for i, c in enumerate(counts) if c} == expected
    # the index of a 6-mer is its place among the NT vocabulary's k-mers (after the 6 special tokens)
    assert kmer_vocabulary("v2")[6 + int(np.flatnonzero(overlapping_kmer_counts(["GATTCA"]))[0])] == "GATTCA"


def test_the_table_is_a_smoothed_distribution_that_prefers_seen_kmers():
    table = KmerFrequencyTable(k=2).fit(["ACACACAC"])
    probabilities = np.exp(table.log_probabilities)
    assert probabilities.shape == (16,) and abs(probabilities.sum() - 1) < 1e-9
    index = {"".join(p): i for i, p in enumerate(itertools.product("ATCG", repeat=2))}
    assert table.nats([index["AC"]])[0] < table.nats([index["CA"]])[0] < table.nats([index["GG"]])[0]
    assert np.isfinite(table.nats(np.arange(16))).all()  # unseen k-mers keep a finite cost (add-one)


def test_kmer_logistic_regression_separates_compositions():
    rng = np.random.default_rng(0)
    at_rich = ["".join(rng.choice(list("ACGT"), 200, p=[0.4, 0.1, 0.1, 0.4])) for _ in range(40)]
    gc_rich = ["".join(rng.choice(list("ACGT"), 200, p=[0.1, 0.4, 0.4, 0.1])) for _ in range(40)]
    model = KmerLogisticRegression(k=3).fit(at_rich[:30] + gc_rich[:30], [0] * 30 + [1] * 30)
    assert (model.predict(at_rich[30:] + gc_rich[30:]) == [0] * 10 + [1] * 10).all()
