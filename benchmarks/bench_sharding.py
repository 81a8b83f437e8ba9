"""Peak memory per process of sharded (FSDP2) against data-parallel pretraining: NT-v2-500M width, 2 processes.

Launches `dna-zoo pretrain`'s training (`dna_zoo.training.pretrain`) twice under torchrun on this machine's CPU
(gloo), on the same real genome windows, once with `fsdp=True`: each process records its peak RSS above its RSS
before training, and the seconds of the run. Weights, gradients and AdamW state (16 bytes per parameter) are split
across the processes when sharded; activations and the layer being computed are not.

    python benchmarks/bench_sharding.py [--layers 8] [--window 3000] [--steps 3] [--nproc 2]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import Timing, report_timing, rss_kib, target_line  # noqa: E402

PRESET = "InstaDeepAI/nucleotide-transformer-v2-500m-multi-species"
GENOME = str(HERE.parent / "tests" / "data" / "lambda_phage.fa.gz")
KINDS = {"data parallel": False, "sharded (FSDP2)": True}


def worker(args) -> None:
    """One process of the torchrun job: train, then write this rank's peak memory and time."""
    from dna_zoo.training import PretrainConfig, pretrain

    config = PretrainConfig(
        family="nucleotide_transformer",
        preset=PRESET,
        fasta=[GENOME],
        output_dir=os.path.join(args.out, "run"),
        window=args.window,
        steps=args.steps,
        batch_size=1,
        checkpoint_every=args.steps,
        fsdp=args.fsdp,
        config_overrides={"num_hidden_layers": args.layers},
    )
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # reset the peak (VmHWM) to the current RSS
    before, start = rss_kib("VmRSS"), time.perf_counter()
    model = pretrain(config)["model"]
    seconds = time.perf_counter() - start
    rank = int(os.environ["RANK"])
    parameters = sum(getattr(p, "to_local", lambda p=p: p)().numel() for p in model.parameters())  # its share
    record = {"peak_mib": (rss_kib("VmHWM") - before) / 1024, "seconds": seconds, "parameters": parameters}
    with open(os.path.join(args.out, f"rank{rank}.json"), "w") as handle:
        json.dump(record, handle)


def launch(args, fsdp: bool, out: str) -> list[dict]:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(args.nproc)]
    command += [__file__, "--worker", "--out", out, "--layers", str(args.layers), "--window", str(args.window)]
    command += ["--steps", str(args.steps), *(["--fsdp"] if fsdp else [])]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return [json.loads(Path(out, f"rank{rank}.json").read_text()) for rank in range(args.nproc)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=8, help="layers of the NT-v2-500M-width model (29 published)")
    parser.add_argument("--window", type=int, default=3000, help="bases per window (6-mer tokens: window / 6)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--nproc", type=int, default=2, help="processes (CPU, gloo)")
    parser.add_argument("--device", default="cpu", help="the harness's option; this benchmark runs on CPU processes")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--fsdp", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    peaks = {}
    for name, fsdp in KINDS.items():
        with tempfile.TemporaryDirectory() as out:
            ranks = launch(args, fsdp, out)
        peaks[name] = max(rank["peak_mib"] for rank in ranks)
        per_rank = ", ".join(f"rank {r}: {rank['peak_mib']:,.0f} MiB" for r, rank in enumerate(ranks))
        print(f"{name}: rank 0 holds {ranks[0]['parameters']:,} parameters; peak above start: {per_rank}")
        timing = Timing(name, [max(rank["seconds"] for rank in ranks)])
        report_timing("sharding", f"pretrain {args.steps} steps", name, timing, peaks[name])
    ratio = peaks["sharded (FSDP2)"] / peaks["data parallel"]
    label = f"NT-v2-500M width ({args.layers} layers) peak memory per process, sharded vs data parallel"
    print(target_line(label, ratio, 0.8, higher_is_better=False))


if __name__ == "__main__":
    main()
