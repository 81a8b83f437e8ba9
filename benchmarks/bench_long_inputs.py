"""Long inputs stay linear: forward time and peak memory of every long-context path against the input length,
4k to 1M tokens on CPU, batch 1, fp32, inference.

Paths (the tiny presets, so that a million tokens fits a 2-core machine; the cost per token of the larger presets
scales the same way with length):
- TrinityDNA: the whole model (groove fusion, multi-window attention with windows <= 32 tokens, both strands);
- GENA-LM BigBird block-sparse attention (tiny-bigbird, rotary positions so that no learned table caps the length);
- GENA-LM recurrent memory (RMT): segments of 512 tokens, one after another, memory carried through;
- HyenaDNA: the whole model (tiny width, its context set to the longest length, as the 1M-token checkpoint's):
  causal FFT convolutions, L log L;
- Caduceus: the whole model (tiny ps preset, both strands): bidirectional Mamba through the chunked selective scan,
  linear in time with memory bounded by the scan's block.
Window stitching in `dna-zoo embed` is measured to 4.64 Mb by bench_genome_embedding.py.

Each length runs once after a warm-up at the shortest (the long ones take seconds, their noise is small against a
quadratic term); memory is the process's extra peak RSS during the call. Targets: seconds per token and peak
memory per token at the longest length within 1.5x of those at 64k tokens (linear: 1x; quadratic: 16x at 1M; for
HyenaDNA, whose FFTs cost L log L, 1.5x times log(2 x 1M) / log(2 x 64k), i.e. 1.85x). The
reference is 64k, not 4k or 16k, because up to 16k the tiny models' activations (a few MB) stay in this machine's
caches (105 MiB L3) and from 64k on they stream from memory: a constant factor of about 1.3-1.6x that every op of
the forward pays, linear or not, and that the per-token figure against 16k is printed to show.

    python benchmarks/bench_long_inputs.py [--lengths 4096 16384 65536 262144 1048576] [--paths trinity_dna ...]
"""

import argparse
import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import interleaved_timings, peak_memory_mib, report_timing, target_line  # noqa: E402

from dna_zoo import (  # noqa: E402
    CaduceusConfig,
    CaduceusModel,
    GenaLMConfig,
    GenaLMModel,
    GenaLMRMTForTokenClassification,
    HyenaDNAConfig,
    HyenaDNAModel,
    TrinityDNAConfig,
    TrinityDNAModel,
)

LENGTHS = [4096, 16384, 65536, 262144, 1048576]
REFERENCE_LENGTH = 65536  # per-token figures are compared with this length's (the first past the caches)
IN_CACHE_LENGTH = 16384


def build(path: str, context: int):
    """(model, vocabulary size) of one path, random weights, eval mode; `context`: the longest input."""
    torch.manual_seed(0)
    if path == "hyena_dna":
        return HyenaDNAModel(HyenaDNAConfig.from_preset("tiny", max_position_embeddings=context)).eval(), 12
    if path == "caduceus_dna":
        return CaduceusModel(CaduceusConfig.from_preset("tiny")).eval(), 12
    if path == "trinity_dna":
        return TrinityDNAModel(TrinityDNAConfig.from_preset("tiny")).eval(), 9
    if path == "gena_lm block-sparse":
        config = GenaLMConfig.from_preset("tiny-bigbird", position_embedding_type="rotary")
        return GenaLMModel(config, add_pooling_layer=False).eval(), config.vocab_size
    config = GenaLMConfig.from_preset("tiny", rmt_segment_size=512, rmt_memory_tokens=10, num_labels=2)
    return GenaLMRMTForTokenClassification(config).eval(), config.vocab_size


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=LENGTHS)
    paths = ["trinity_dna", "gena_lm block-sparse", "gena_lm recurrent", "hyena_dna", "caduceus_dna"]
    parser.add_argument("--paths", nargs="+", default=paths)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    for path in args.paths:
        model, vocab = build(path, max(args.lengths))
        model.to(args.device)
        rows = {}
        for length in args.lengths:
            input_ids = torch.randint(5, vocab, (1, length), device=args.device)
            if path == "gena_lm block-sparse":
                assert model.uses_block_sparse(length), f"{length} tokens would run full attention"

            def forward(input_ids=input_ids):
                with torch.no_grad():
                    output = model(input_ids=input_ids)
                    return output.logits if path == "gena_lm recurrent" else output.last_hidden_state

            warmup = 1 if length == args.lengths[0] else 0
            timings = interleaved_timings({path: forward}, repeats=1, warmup=warmup, device=args.device)
            memory = peak_memory_mib(forward, args.device)
            report_timing("long inputs", f"forward {length}", path, timings[path], memory, length)
            rows[length] = (timings[path].median, memory)
        reference = REFERENCE_LENGTH if REFERENCE_LENGTH in rows else args.lengths[0]
        longest = args.lengths[-1]
        if longest == reference:
            continue
        (seconds, memory), (reference_seconds, reference_memory) = rows[longest], rows[reference]
        per_token = (seconds / longest) / (reference_seconds / reference)
        if IN_CACHE_LENGTH in rows:
            in_cache = (seconds / longest) / (rows[IN_CACHE_LENGTH][0] / IN_CACHE_LENGTH)
            print(f"{path}: seconds per token {longest:,} vs {IN_CACHE_LENGTH:,} tokens (in cache): {in_cache:.2f}x")
        # HyenaDNA's FFT convolutions (of size 2L) cost L log L: its allowance grows by the log of the FFT sizes
        allowance = math.log(2 * longest) / math.log(2 * reference) if path == "hyena_dna" else 1.0
        label = f"{path}: seconds per token {longest:,} vs {reference:,} tokens"
        print(target_line(label, per_token, 1.5 * allowance, False))
        per_token_memory = (memory / longest) / (max(reference_memory, 1.0) / reference)
        print(target_line(f"{path}: peak MiB per token {longest:,} vs {reference:,}", per_token_memory, 1.5, False))


if __name__ == "__main__":
    main()
