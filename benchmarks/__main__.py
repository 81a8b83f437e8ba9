"""One harness for every benchmark: `python -m benchmarks [NAME ...] [--device cpu|cuda] [--quick]`.

NAME is any of nucleotide_transformer, mistral_dna, gena_lm, trinity_dna, dnabert2, hyena_dna, sweep, long_inputs, mfu,
genome_embedding, ism, sharding, pretrain, quality (default: all but quality, which trains 18 models and runs on its
own in under 30 minutes).
Each benchmark compares dna_zoo with the reference on the same weights and inputs in one process (interleaved
repetitions after a warm-up, median and spread, peak memory per run) and checks its targets as PASS / FAIL lines.
The run writes benchmarks/results/<machine>-<date>.json, a markdown report beside it and PNG plots (target ratios
per family; time and memory against length on log-log axes).
"""

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import REPORT  # noqa: E402

from dna_zoo.plots import plot_bars, plot_curves  # noqa: E402

MODULES = {
    "nucleotide_transformer": "bench_nucleotide_transformer",
    "mistral_dna": "bench_mistral_dna",
    "gena_lm": "bench_gena_lm",
    "trinity_dna": "bench_trinity_dna",
    "dnabert2": "bench_dnabert2",
    "hyena_dna": "bench_hyena_dna",
    "sweep": "bench_sweep",
    "long_inputs": "bench_long_inputs",
    "mfu": "bench_mfu",
    "genome_embedding": "bench_genome_embedding",
    "ism": "bench_ism",
    "sharding": "bench_sharding",
    "pretrain": "bench_pretrain",
    "quality": "quality",
}
QUICK = {  # smaller workloads for a smoke run (--quick); ratios from them are not the recorded figures
    "nucleotide_transformer": [
        "--layers",
        "1",
        "--batch",
        "1",
        "--length",
        "200",
        "--repeats",
        "2",
        "--tokenizer-sequences",
        "20",
    ],
    "mistral_dna": ["--layers", "1", "--batch", "1", "--length", "128", "--repeats", "2"],
    "gena_lm": ["--layers", "1", "--batch", "1", "--repeats", "2"],
    "trinity_dna": ["--lengths", "1024", "2048", "--repeats", "2"],
    "dnabert2": ["--layers", "1", "--batch", "2", "--length", "128", "--repeats", "2"],
    "hyena_dna": ["--layers", "1", "--batch", "1", "--length", "1024", "--repeats", "2"],
    "sweep": ["--quick", "--repeats", "2"],
    "long_inputs": ["--lengths", "2048", "4096"],
    "mfu": [],
    "genome_embedding": ["--quick"],
    "ism": ["--length", "60"],
    "sharding": ["--layers", "1", "--window", "600", "--steps", "2"],
    "pretrain": ["--batch", "4", "--hidden", "64", "--layers", "1", "--repeats", "2"],
    "quality": ["--seeds", "0", "--train-windows", "150", "--test-windows", "100", "--epochs", "1"],
}


def sweep_plots(timings: list[dict], stem: str) -> list[str]:
    """Time and memory against length (log-log), one line per benchmark and implementation; rows whose length
    counts bases (the genome embedding) get plots of their own."""
    series = {}  # (unit, "time" or "memory") -> {label: (lengths, values)}
    for row in timings:
        kind, _, length = row["workload"].rpartition(" ")
        unit = row.get("unit", "tokens")
        swept = row["benchmark"].startswith(("sweep", "long inputs")) or kind == "attention" or unit == "bases"
        if not swept or not length.isdigit():
            continue
        key = f"{row['benchmark']}: {row['implementation']}"
        for name, value in (("time", row["median_s"]), ("memory", row["peak_mib"])):
            if value is not None:
                lengths, values = series.setdefault((unit, name), {}).setdefault(key, ([], []))
                lengths.append(int(length))
                values.append(max(value, 0.1) if name == "memory" else value)
    paths = []
    for (unit, name), lines in series.items():
        lines = {k: v for k, v in lines.items() if len(v[0]) > 1}
        label = "median seconds" if name == "time" else "peak MiB"
        path = f"{stem}-{name}.png" if unit == "tokens" else f"{stem}-{unit}-{name}.png"
        if lines:
            paths.append(plot_curves(lines, path, unit, label, f"{name} vs length", log="xy"))
    return paths


def markdown(report: dict) -> str:
    lines = [
        f"# Benchmarks: {report['machine']}, {report['date']}",
        "",
        f"{report['device']}; torch {report['torch']}, transformers {report['transformers']}, "
        f"{report['threads']} threads.",
        "",
        "## Targets",
        "",
        "| result | measured | target | |",
        "| --- | --- | --- | --- |",
    ]
    for target in report["targets"]:
        if "skipped" in target:
            lines.append(f"| {target['label']} | skipped: {target['skipped']} | | |")
            continue
        sign = ">=" if target["higher_is_better"] else "<="
        verdict = "PASS" if target["passed"] else "**FAIL**"
        lines.append(f"| {target['label']} | {target['value']:.2f}x | {sign} {target['target']}x | {verdict} |")
    lines += [
        "",
        "## Timings",
        "",
        "| benchmark | workload | implementation | median s | spread s | peak MiB | tokens/s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in report["timings"]:
        memory = f"{row['peak_mib']:,.0f}" if row["peak_mib"] is not None else ""
        rate = f"{row['tokens_per_s']:,.0f}" if row["tokens_per_s"] else ""
        lines.append(
            f"| {row['benchmark']} | {row['workload']} | {row['implementation']} | {row['median_s']:.4f} | "
            f"{row['min_s']:.4f}..{row['max_s']:.4f} | {memory} | {rate} |"
        )
    if report.get("efficiency"):
        lines += [
            "",
            "## Efficiency against the machine's own limit",
            "",
            "| workload | implementation | GFLOP/s of matmuls | of torch's dense matmul rate on the same shapes |",
            "| --- | --- | --- | --- |",
        ]
        for row in report["efficiency"]:
            lines.append(
                f"| {row['workload']} | {row['implementation']} | {row['gflops']:.0f} | "
                f"{row['fraction_of_matmul_rate']:.0%} |"
            )
    lines += ["", *[f"![{Path(p).stem}]({Path(p).name})" for p in report["plots"]]]
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", help=f"any of {', '.join(MODULES)} (default: all but quality)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="small workloads: a smoke run, not recorded figures")
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument(
        "--replot", metavar="JSON", help="rewrite the markdown and plots of a saved report; run nothing"
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: the child process of one benchmark
    parser.add_argument("--record", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        return run_one(args.one, args.device, args.quick, args.record)
    if args.replot:
        return write_report(json.loads(Path(args.replot).read_text()), args.replot.removesuffix(".json"))
    unknown = set(args.names) - set(MODULES)
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(sorted(unknown))}; choose from {', '.join(MODULES)}")
    names = args.names or [name for name in MODULES if name != "quality"]
    processes = {name: run_isolated(name, args.device, args.quick) for name in names}
    machine = platform.node() + ("-quick" if args.quick else "")
    os.makedirs(args.out, exist_ok=True)
    stem = unused_stem(args.out, f"{machine}-{date.today().isoformat()}", args.names)
    device = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU ({os.cpu_count()} cores)"
    report = {
        "machine": platform.node(),
        "date": date.today().isoformat(),
        "device": device,
        "torch": torch.__version__,
        "transformers": importlib.import_module("transformers").__version__,
        "threads": torch.get_num_threads(),
        "benchmarks": names,
        "processes": processes,
        "quick": args.quick,
        "targets": REPORT["targets"],
        "timings": REPORT["timings"],
        "efficiency": REPORT["efficiency"],
    }
    return write_report(report, stem)


def run_isolated(name: str, device: str, quick: bool) -> int:
    """Run one benchmark in a fresh interpreter and merge what it recorded into REPORT; -> its process id.

    A fresh process per benchmark keeps the allocator state one benchmark leaves out of the next one's timings:
    the Mistral-DNA training-step ratio read 1.20x alone and 0.93x right after the GENA benchmark in one process
    (benchmarks/README.md, "The harness")."""
    print(f"\n=== {name} ===", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        recorded = Path(tmp) / "report.json"
        command = [sys.executable, "-m", "benchmarks", "--one", name, "--device", device, "--record", str(recorded)]
        subprocess.run([*command, *(["--quick"] if quick else [])], cwd=HERE.parent, check=True)
        child = json.loads(recorded.read_text())
    for key, rows in child["report"].items():
        REPORT[key].extend(rows)
    return child["pid"]


def run_one(name: str, device: str, quick: bool, record: str) -> None:
    """The child side of `run_isolated`: run benchmark `name` here and write what it recorded to `record`."""
    module = importlib.import_module(MODULES[name])
    extra = QUICK[name] if quick else []
    module.main([*extra, *([] if name == "quality" else ["--device", device])])
    Path(record).write_text(json.dumps({"pid": os.getpid(), "report": REPORT}))


def unused_stem(folder: str, name: str, benchmarks: list[str]) -> str:
    """folder/name, then the benchmarks run when not all of them, then -2, -3, ... if an earlier run of the same
    day already wrote there: a run never overwrites another's report."""
    name += "".join(f"-{benchmark}" for benchmark in benchmarks)
    stem, count = os.path.join(folder, name), 1
    while os.path.exists(stem + ".json"):
        count += 1
        stem = os.path.join(folder, f"{name}-{count}")
    return stem


def write_report(report: dict, stem: str) -> dict:
    """JSON, markdown and plots (target ratios; time and memory against length) of one run, at `stem`.*"""
    ratios = {t["label"]: t["value"] for t in report["targets"] if "value" in t}
    report["plots"] = sweep_plots(report["timings"], stem)
    if ratios:
        failed = frozenset(t["label"] for t in report["targets"] if t.get("passed") is False)
        title = "measured ratios (red: target missed; dashed: 1x)"
        path = f"{stem}-ratios.png"
        report["plots"].append(plot_bars(ratios, path, "ratio (x, log)", title, 1.0, log=True, failed=failed))
    report["plots"] = [os.path.basename(p) for p in report["plots"]]  # beside the report
    with open(stem + ".json", "w") as handle:
        json.dump(report, handle, indent=1)
    with open(stem + ".md", "w") as handle:
        handle.write(markdown(report))
    failed = [t["label"] for t in report["targets"] if t.get("passed") is False]
    print(f"\nreport: {stem}.json, {stem}.md, {len(report['plots'])} plots; {len(failed)} target(s) missed: {failed}")
    return report


if __name__ == "__main__":
    main()
