"""Length sweep: forward time and peak memory of dna_zoo (SDPA and its own eager path) and the reference
implementation as the input grows.

Same weights and inputs in one process, batch 1, fp32 (bf16 autocast on CUDA). Lengths go as far as each model
allows: NT-v1 (absolute positions) to its 1,000-token context against `EsmForMaskedLM`; Mistral-DNA against
`MixtralForCausalLM` to 4,096; GENA BigBird against `BigBirdModel` to 8,192 (16,384 with --long); TrinityDNA's
multi-window attention against dense masked SDPA is swept by bench_trinity_dna.py (to 32k).

    python benchmarks/bench_sweep.py [--quick] [--device cpu]
"""

import argparse
import copy
import sys
from contextlib import nullcontext
from pathlib import Path
from types import SimpleNamespace

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_gena_lm  # noqa: E402
import bench_mistral_dna  # noqa: E402
import bench_nucleotide_transformer  # noqa: E402
from common import interleaved_timings, peak_memory_mib, report_timing  # noqa: E402

LENGTHS = {
    "nucleotide_transformer": [128, 256, 512, 1000],
    "mistral_dna": [512, 1024, 2048, 4096],
    "gena_lm": [1024, 2048, 4096, 8192],
}


def models(family: str, device: str, longest: int):
    """(reference name, reference, dna_zoo model, vocabulary size) on the same weights, 2 layers."""
    if family == "nucleotide_transformer":
        reference, ours = bench_nucleotide_transformer.build_models(2, device)
        return "EsmForMaskedLM", reference, ours, 4105
    if family == "mistral_dna":
        reference, ours, _, _ = bench_mistral_dna.build_models(SimpleNamespace(layers=2, length=longest, device=device))
        return "MixtralForCausalLM", reference, ours, 4096
    reference, ours = bench_gena_lm.build_models(SimpleNamespace(layers=2, device=device))
    return "BigBirdModel", reference, ours, 32000


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="the two shortest lengths only")
    parser.add_argument("--long", action="store_true", help="GENA up to 16,384 tokens")
    args = parser.parse_args(argv)
    autocast = torch.autocast("cuda", torch.bfloat16) if args.device == "cuda" else nullcontext()
    for family, lengths in LENGTHS.items():
        lengths = lengths[:2] if args.quick else lengths + ([16384] if args.long and family == "gena_lm" else [])
        name, reference, ours, vocab = models(family, args.device, max(lengths))
        eager = copy.deepcopy(ours)
        eager.set_attn_implementation("eager")  # dna_zoo's own eager path, for reference
        reference.eval(), ours.eval(), eager.eval()
        for length in lengths:
            torch.manual_seed(length)
            ids = torch.randint(5, vocab - 10, (1, length), device=args.device)

            def forward(model, ids=ids):
                def run():
                    with torch.no_grad(), autocast:
                        model(input_ids=ids)

                return run

            fns = {name: forward(reference), "dna_zoo": forward(ours), "dna_zoo eager": forward(eager)}
            timings = interleaved_timings(fns, repeats=args.repeats, device=args.device)
            for implementation, fn in fns.items():
                memory = peak_memory_mib(fn, args.device)
                report_timing(
                    f"sweep {family}", f"forward {length}", implementation, timings[implementation], memory, length
                )
        del reference, ours, eager


if __name__ == "__main__":
    main()
