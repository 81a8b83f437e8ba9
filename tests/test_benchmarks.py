"""The benchmark harness runs a chosen benchmark and writes its JSON, markdown and plots (a quick smoke run)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_harness_writes_json_markdown_and_length_plots(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "trinity_dna",
            "mfu",
            "--quick",
            "--device",
            "cpu",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (report_path,) = tmp_path.glob("*-quick-*.json")
    report = json.loads(report_path.read_text())
    rows = {(row["workload"], row["implementation"]) for row in report["timings"]}
    assert {("attention 1024", "multi-window"), ("attention 2048", "dense masked SDPA")} <= rows
    assert all(row["median_s"] > 0 and row["min_s"] <= row["median_s"] <= row["max_s"] for row in report["timings"])
    assert {"label": "NT-v2-500M training MFU (GPU)", "skipped": "no CUDA device"} in report["targets"]
    assert any(Path(p).name.endswith("-time.png") for p in report["plots"])
    assert all((tmp_path / p).exists() for p in report["plots"])
    markdown = report_path.with_suffix(".md").read_text()
    assert "| trinity_dna | attention 2048 | multi-window |" in markdown and "skipped: no CUDA device" in markdown


def test_unknown_benchmark_names_are_refused():
    result = subprocess.run([sys.executable, "-m", "benchmarks", "nope"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2 and "unknown benchmark(s) nope" in result.stderr
