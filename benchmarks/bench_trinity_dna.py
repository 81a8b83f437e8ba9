"""TrinityDNA sliding multi-window attention against dense SDPA with the same per-head band masks.

8 heads of dimension 64 with windows 128 / 512 / 2048 / 2048 (two heads each), batch 1, fp32, forward only, at
4k, 16k and 32k tokens. The dense reference is torch's scaled_dot_product_attention with an explicit
(1, 8, L, L) boolean band mask (built inside the timed call: it is part of what dense attention costs). The
dense reference is skipped at lengths where its mask alone would not fit in --dense-limit-gib.

    python benchmarks/bench_trinity_dna.py [--lengths 4096 16384 32768] [--repeats 3] [--device cpu]
"""

import argparse
import sys
from pathlib import Path
from types import SimpleNamespace

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import interleaved_timings, peak_memory_mib, report_timing, target_line  # noqa: E402

from dna_zoo.models.attention import MultiWindowAttention  # noqa: E402

WINDOWS = [128, 128, 512, 512, 2048, 2048, 2048, 2048]
HEAD_DIM = 64


def band_mask(length: int, device) -> torch.Tensor:
    positions = torch.arange(length, device=device)
    distance = (positions[:, None] - positions[None, :]).abs()
    radius = torch.tensor(WINDOWS, device=device)[:, None, None] // 2
    return (distance[None] <= radius)[None]  # (1, H, L, L)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[4096, 16384, 32768])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dense-limit-gib", type=float, default=6.0)
    args = parser.parse_args(argv)

    config = SimpleNamespace(
        hidden_size=len(WINDOWS) * HEAD_DIM,
        num_attention_heads=len(WINDOWS),
        head_windows=WINDOWS,
        attention_bias=False,
        attention_dropout=0.0,
        _attn_implementation="sdpa",
    )
    attention = MultiWindowAttention(config).to(args.device)
    results, lines = {}, []
    for length in args.lengths:
        torch.manual_seed(0)
        q, k, v = (torch.randn(1, len(WINDOWS), length, HEAD_DIM, device=args.device) for _ in range(3))

        def windowed():
            with torch.no_grad():
                return attention.attend(q, k, v, None)[0]

        def dense():
            with torch.no_grad():
                mask = band_mask(length, args.device)
                return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask).transpose(1, 2)

        fns = {"multi-window": windowed}
        dense_fits = len(WINDOWS) * length**2 / 2**30 <= args.dense_limit_gib
        if dense_fits:
            fns["dense masked SDPA"] = dense
            if length <= 4096:  # a correctness check at the smallest length
                torch.testing.assert_close(windowed(), dense(), atol=1e-4, rtol=1e-4)
        timings = interleaved_timings(fns, repeats=args.repeats, device=args.device)
        memory = {name: peak_memory_mib(fn, args.device) for name, fn in fns.items()}
        results[length] = (timings, memory)
        for name in fns:
            report_timing("trinity_dna", f"attention {length}", name, timings[name], memory[name], length)
        if not dense_fits:
            print(
                f"L={length:<6} dense masked SDPA  skipped: its mask alone needs more than {args.dense_limit_gib} GiB"
            )
        if dense_fits:
            speed = timings["dense masked SDPA"].median / timings["multi-window"].median
            saving = memory["dense masked SDPA"] / memory["multi-window"]
            target = 4.0 if length == 16384 else None
            if target:
                lines.append(target_line(f"multi-window vs dense at {length} tokens, speed", speed, target, True))
                lines.append(
                    target_line(f"multi-window vs dense at {length} tokens, memory saved", saving, target, True)
                )
            else:
                lines.append(
                    f"info  multi-window vs dense at {length} tokens: {speed:.2f}x faster, {saving:.2f}x less memory"
                )
    if 16384 in results and 32768 in results:
        growth = results[32768][0]["multi-window"].median / results[16384][0]["multi-window"].median
        lines.append(target_line("multi-window time 32k / 16k tokens", growth, 2.3, higher_is_better=False))
    print("\n".join(["", f"device: {args.device}, fp32, torch {torch.__version__}", *lines]))


if __name__ == "__main__":
    main()
