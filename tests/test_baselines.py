"""The baselines every model is measured against: k-mer frequencies, logistic regression on them, and the
context-free k-mer table a masked LM must beat."""

import itertools

import numpy as np
import pytest

from dna_zoo.models.tokenization_dna import kmer_vocabulary
from dna_zoo.training.baselines import (
    KmerFrequencyTable,
    KmerLogisticRegression,
    MarkovGapFiller,
    overlapping_kmer_counts,
)


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


def test_the_markov_gap_filler_is_the_chain_probability_of_the_gap_given_both_sides():
    """Order 1, a 2-base gap: p(gap | left, right) computed by hand from the chain's transition counts (add-half),
    over all 16 candidates; and at the sequence's start the chain falls back to base frequencies."""
    training = ["ACGTTGCAACGGTACCATGA" * 3]
    filler = MarkovGapFiller(order=1).fit(training)
    bases = "ATCG"
    pairs = overlapping_kmer_counts(training, 2).reshape(4, 4) + 0.5
    transition = pairs / pairs.sum(1, keepdims=True)  # [previous, next]
    singles = overlapping_kmer_counts(training, 1) + 0.5
    code = {b: i for i, b in enumerate(bases)}

    def joint(left, gap, right):
        chain = ([left] if left else []) + list(gap) + [right]
        p = 1.0 if left else singles[code[chain[0]]] / singles.sum()
        for previous, following in zip(chain, chain[1:]):
            p *= transition[code[previous], code[following]]
        return p

    sequence = "TGCAAG"
    candidates = ["".join(p) for p in itertools.product(bases, repeat=2)]
    for start, left in ((2, "G"), (0, "")):
        gap, right = sequence[start : start + 2], sequence[start + 2]
        expected = -np.log(joint(left, gap, right) / sum(joint(left, c, right) for c in candidates))
        assert filler.nats([sequence], [(0, start)], length=2)[0] == pytest.approx(expected)


def test_the_markov_gap_filler_uses_context_the_table_cannot():
    """On a periodic sequence the chain's context pins a hidden 6-mer down; the context-free table cannot."""
    sequence = "ACGTTGCA" * 40
    training = [sequence]
    gaps = [(0, start) for start in range(10, 300, 37)]
    six_mers = [overlapping_kmer_counts([sequence[s : s + 6]], 6).argmax() for _, s in gaps]
    assert MarkovGapFiller(order=4).fit(training).nats([sequence], gaps).mean() < 0.1
    assert KmerFrequencyTable(6).fit(training).nats(six_mers).mean() > 2.0
