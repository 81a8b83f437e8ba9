"""In-silico saturation mutagenesis of a 1 kb window with the demo model: dna_zoo's masked-marginal path against
the naive loop a user writes (one mutant per forward: mask the token holding the change, read the mutant's log
p), on the same window of the E. coli K-12 chromosome, in one process. The two give the same 3,000 scores; the
target is the speed-up (>= 20x). Also recorded: the exact batched path (every mutant its own forward, batched).

    python benchmarks/bench_ism.py [--length 1000] [--repeats 1]
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import interleaved_timings, report_timing, target_line  # noqa: E402

import dna_zoo  # noqa: E402
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    (_, chromosome), *_ = read_fasta(GENOME)
    sequence = chromosome[100_000 : 100_000 + args.length].upper()
    model = dna_zoo.load_model("demo", task="lm").eval().to(args.device)
    tokenizer = dna_zoo.load_tokenizer("demo")
    results = {}

    def run(name, method=None):
        def call():
            if method is None:
                results[name] = naive_ism(model, tokenizer, sequence)
            else:
                results[name] = saturation_mutagenesis(model, tokenizer, sequence, method=method, progress=False).scores

        return call

    fns = {"masked marginals": run("fast", "auto"), "exact, batched": run("exact", "exact"), "naive loop": run("naive")}
    timings = interleaved_timings(fns, args.repeats, warmup=0, device=args.device)
    assert np.abs(results["fast"] - results["naive"]).max() < 1e-3, "the paths disagree"
    assert np.abs(results["exact"] - results["naive"]).max() < 1e-3, "the paths disagree"
    workload = f"ISM {args.length} bases"
    for name, timing in timings.items():
        report_timing("ism", workload, name, timing)
        print(f"    {timing.median / args.length * 1000:.2f} s per kb mutated")
    speedup = timings["naive loop"].median / timings["masked marginals"].median
    print(target_line(f"ISM of {args.length} bases, masked marginals vs the naive loop", speedup, 20.0, True))


if __name__ == "__main__":
    main()
