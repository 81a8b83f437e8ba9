"""GPU training throughput and model FLOPs utilisation (MFU) at NT-v2-500M width, bf16 autocast, 2048 tokens.

MFU = 6 x parameters x tokens per second (training; 2 x for inference) / the device's peak dense bf16 FLOP/s.
Also reports which SDPA backends are enabled (flash / memory-efficient / math). CUDA only; on CPU it says so.

    python benchmarks/bench_mfu.py [--layers 8] [--batch 4] [--peak-tflops 989]
"""

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPORT, interleaved_timings, report_timing, target_line  # noqa: E402

from dna_zoo import NucleotideTransformerForMaskedLM, config_from_preset  # noqa: E402

PEAK_BF16_TFLOPS = {"H100": 989.4, "H200": 989.4, "A100": 312.0, "L40S": 362.0, "L4": 121.0}  # dense, SXM parts


def peak_tflops(device_name: str, override: float | None) -> float | None:
    return override or next((v for k, v in PEAK_BF16_TFLOPS.items() if k in device_name), None)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=8, help="layers of the NT-v2-500M-width model (29 published)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--length", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--peak-tflops", type=float, help="the device's dense bf16 peak, if not in the table")
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args(argv)
    if args.device != "cuda" or not torch.cuda.is_available():
        print("MFU benchmark skipped: it needs a CUDA device")
        REPORT["targets"].append({"label": "NT-v2-500M training MFU (GPU)", "skipped": "no CUDA device"})
        return
    name = torch.cuda.get_device_name()
    backends = {
        "flash": torch.backends.cuda.flash_sdp_enabled(),
        "memory-efficient": torch.backends.cuda.mem_efficient_sdp_enabled(),
        "math": torch.backends.cuda.math_sdp_enabled(),
    }
    print(f"device {name}; SDPA backends enabled: {', '.join(k for k, v in backends.items() if v)}")
    config = config_from_preset(
        "nucleotide_transformer",
        "InstaDeepAI/nucleotide-transformer-v2-500m-multi-species",
        num_hidden_layers=args.layers,
        max_position_embeddings=args.length + 2,
        attn_implementation="sdpa",
    )
    model = NucleotideTransformerForMaskedLM(config).cuda()
    parameters = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)
    ids = torch.randint(5, 4100, (args.batch, args.length), device="cuda")
    labels = torch.where(torch.rand_like(ids, dtype=torch.float) < 0.15, ids, -100)

    def train_step():
        with torch.autocast("cuda", torch.bfloat16):
            loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    def forward():
        with torch.no_grad(), torch.autocast("cuda", torch.bfloat16):
            model(input_ids=ids)

    tokens = args.batch * args.length
    peak = peak_tflops(name, args.peak_tflops)
    for workload, fn, factor in (("train step bf16", train_step, 6), ("forward bf16", forward, 2)):
        timing = interleaved_timings({"dna_zoo": fn}, repeats=args.repeats, warmup=2, device="cuda")["dna_zoo"]
        report_timing("mfu", workload, "dna_zoo", timing, torch.cuda.max_memory_allocated() / 2**20, tokens)
        achieved = factor * parameters * tokens / timing.median / 1e12
        if peak is None:
            print(f"{workload}: {achieved:.1f} TFLOP/s (pass --peak-tflops for MFU)")
            continue
        mfu = achieved / peak
        print(f"{workload}: {achieved:.1f} TFLOP/s of {peak:.0f} peak, MFU {mfu:.1%}")
        if workload.startswith("train"):
            print(target_line(f"NT-v2-500M-width training MFU at {args.length} tokens (x100%)", mfu, 0.40, True))


if __name__ == "__main__":
    main()
