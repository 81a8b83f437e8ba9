"""A whole bacterial chromosome embedded per base, both strands, through `dna-zoo embed` as a user runs it.

The E. coli K-12 MG1655 chromosome (4.64 Mb, ../shared/data/genomes) and prefixes of it go through
`dna-zoo embed --model demo --pooling base --strand both --window 1024 --overlap 128` into a per-base NPZ, each
length in its own process: wall time and the process's peak RSS (os.wait4), against the length (the per-base
time is taken after the start-up of the same command on a 1 kb record). Stitching
streams the output to disk window batch by window batch, so the peak must not grow with the length (target:
under 2 GB for the whole chromosome) and the time must grow linearly.

    python benchmarks/bench_genome_embedding.py [--lengths 250000 ... 4641652] [--quick]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Timing, report_timing, target_line  # noqa: E402

from dna_zoo.data import read_fasta  # noqa: E402

GENOME = Path(__file__).resolve().parents[2] / "shared" / "data" / "genomes" / "ecoli_k12_mg1655.fa.gz"
COMMAND = ["--model", "demo", "--pooling", "base", "--strand", "both", "--window", "1024", "--overlap", "128"]
LIMIT_MIB = 2048


def run_embed(folder: str, sequence: str) -> tuple[float, float]:
    """(seconds, peak RSS MiB) of one `dna-zoo embed` process on one record; checks the output's shape."""
    fasta, out, log = (os.path.join(folder, name) for name in ("prefix.fa", "bases.npz", "stderr.txt"))
    with open(fasta, "w") as handle:
        handle.write(f">ecoli_k12_prefix\n{sequence}\n")
    command = [sys.executable, "-m", "dna_zoo.cli", "embed", "--fasta", fasta, "--out", out, *COMMAND]
    start = time.perf_counter()
    with open(log, "w") as stderr:  # a file, not a pipe: the progress bar never blocks the process
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"dna-zoo embed failed: {Path(log).read_text()[-2000:]}")
    shape = per_base_shape(out)
    assert shape[0] == len(sequence), f"per-base output of {shape[0]} bases for a {len(sequence)}-base record"
    os.remove(out)
    return seconds, usage.ru_maxrss / 1024  # KiB on Linux


def per_base_shape(path: str) -> tuple[int, int]:
    """The shape of the first record's per-base array, read from its .npy header (not the whole array)."""
    with zipfile.ZipFile(path) as archive, archive.open("embeddings_0.npy") as member:
        np.lib.format.read_magic(member)
        return np.lib.format.read_array_header_2_0(member)[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[250_000, 500_000, 1_000_000, 2_000_000, 0])
    parser.add_argument("--quick", action="store_true", help="20 kb and 40 kb prefixes: a smoke run")
    parser.add_argument("--device", default="cpu", help="accepted for the harness; the command runs on CPU")
    args = parser.parse_args(argv)
    (_, chromosome), *_ = read_fasta(GENOME)
    lengths = [20_000, 40_000] if args.quick else [length or len(chromosome) for length in args.lengths]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        startup, _ = run_embed(folder, chromosome[:1000])  # interpreter, imports, model: not part of the per-base cost
        print(f"start-up (1 kb record): {startup:.1f} s")
        for length in lengths:
            seconds, peak = run_embed(folder, chromosome[:length])
            workload = f"per-base both strands {length}"
            report_timing("genome embedding", workload, "dna-zoo embed", Timing("", [seconds]), peak, unit="bases")
            rows.append((length, seconds - startup, peak))
    (short, short_s, short_peak), (long, long_s, long_peak) = rows[0], rows[-1]
    print(target_line(f"peak memory at {long:,} bases vs {LIMIT_MIB} MiB", long_peak / LIMIT_MIB, 1.0, False))
    print(target_line(f"peak memory {long:,} vs {short:,} bases", long_peak / short_peak, 1.25, False))
    per_base = (long_s / long) / (short_s / short)
    print(target_line(f"seconds per base {long:,} vs {short:,} bases (linear: 1x)", per_base, 1.25, False))


if __name__ == "__main__":
    main()
