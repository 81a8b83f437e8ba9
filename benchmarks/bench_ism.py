"""In-silico saturation mutagenesis of a 1 kb window: dna_zoo's masked-marginal path against the naive loop a user
writes (one mutant per forward: mask the token holding the change, read the mutant's log p), on the same window of
the E. coli K-12 chromosome, in one process. The paths give the same 3,000 scores; the target is the speed-up
(>= 20x). Also recorded: the exact batched path (every mutant its own forward, batched).

Two models: the bundled demo (single-base, so the masked-marginal path needs one forward per base: 1,000 against
the naive loop's 4,000) and a 6-mer Nucleotide Transformer of the demo-6mer preset (one forward per 6-mer: 167),
the tokenization the 20x target was written for. The 6-mer model is randomly initialised: speed does not depend
on the weights' values.

    python benchmarks/bench_ism.py [--length 1000] [--repeats 1]
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import interleaved_timings, report_timing, target_line  # noqa: E402

import dna_zoo  # noqa: E402
from dna_zoo import NucleotideTransformerForMaskedLM, NucleotideTransformerTokenizer  # noqa: E402
from dna_zoo.checkpoints import CONFIG_CLASSES  # noqa: E402
from dna_zoo.data import read_fasta  # noqa: E402
from dna_zoo.inference.likelihood import masked_span_log_likelihoods  # noqa: E402
from dna_zoo.interpret import saturation_mutagenesis  # noqa: E402

GENOME = Path(__file__).resolve().parents[2] / "shared" / "data" / "genomes" / "ecoli_k12_mg1655.fa.gz"


def naive_ism(model, tokenizer, sequence: str) -> np.ndarray:
    """(L, 4) llr, one forward per mutant (and one per reference base), batch 1: the loop to beat."""
    scores = np.zeros((len(sequence), 4))
    for position, ref in enumerate(sequence):
        span = [(position, position + 1)]
        reference = masked_span_log_likelihoods(model, tokenizer, [sequence], span, batch_size=1)[0, 0]
        for column, alt in enumerate("ACGT"):
            if alt != ref:
                mutant = sequence[:position] + alt + sequence[position + 1 :]
                value = masked_span_log_likelihoods(model, tokenizer, [mutant], span, batch_size=1)[0, 0]
                scores[position, column] = value - reference
    return scores


def demo_6mer_model():
    """A masked LM of the demo-6mer preset (the NT-v2 6-mer demo bundled until 2026-12), random weights."""
    torch.manual_seed(0)
    config = CONFIG_CLASSES["nucleotide_transformer"].from_preset("demo-6mer")
    model = NucleotideTransformerForMaskedLM(config)
    return model, NucleotideTransformerTokenizer()


def time_paths(label, model, tokenizer, sequence, repeats, device):
    """Times the three paths on one model, checks they agree, prints the timings; returns the speed-up."""
    results = {}

    def run(name, method=None):
        def call():
            if method is None:
                results[name] = naive_ism(model, tokenizer, sequence)
            else:
                results[name] = saturation_mutagenesis(model, tokenizer, sequence, method=method, progress=False).scores

        return call

    fns = {"masked marginals": run("fast", "auto"), "exact, batched": run("exact", "exact"), "naive loop": run("naive")}
    timings = interleaved_timings(fns, repeats, warmup=0, device=device)
    assert np.abs(results["fast"] - results["naive"]).max() < 1e-3, "the paths disagree"
    assert np.abs(results["exact"] - results["naive"]).max() < 1e-3, "the paths disagree"
    workload = f"ISM {len(sequence)} bases, {label}"
    for name, timing in timings.items():
        report_timing("ism", workload, name, timing)
        print(f"    {timing.median / len(sequence) * 1000:.2f} s per kb mutated")
    return timings["naive loop"].median / timings["masked marginals"].median


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    (_, chromosome), *_ = read_fasta(GENOME)
    sequence = chromosome[100_000 : 100_000 + args.length].upper()
    models = {
        "bundled demo (single-base)": (dna_zoo.load_model("demo", task="lm"), dna_zoo.load_tokenizer("demo")),
        "demo-6mer preset (6-mer)": demo_6mer_model(),
    }
    for label, (model, tokenizer) in models.items():
        speedup = time_paths(label, model.eval().to(args.device), tokenizer, sequence, args.repeats, args.device)
        claim = f"ISM of {args.length} bases, {label}, masked marginals vs the naive loop"
        print(target_line(claim, speedup, 20.0, True))


if __name__ == "__main__":
    main()
