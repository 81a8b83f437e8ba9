"""The benchmark harness runs each chosen benchmark in a process of its own and writes one JSON, markdown and plots
(a quick smoke run)."""

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
            "long_inputs",
            "nucleotide_transformer",
            "mfu",
            "pretrain",
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
    processes = report["processes"]  # each benchmark ran in a process of its own
    assert list(processes) == report["benchmarks"] and len(set(processes.values())) == len(processes)
    assert {("attention 1024", "multi-window"), ("attention 2048", "dense masked SDPA")} <= rows
    efficiency = {(row["workload"], row["implementation"]): row for row in report["efficiency"]}
    assert set(efficiency) == {(f"NT {w}", i) for w in ("forward", "train step") for i in ("EsmForMaskedLM", "dna_zoo")}
    assert all(row["gflops"] > 0 and row["fraction_of_matmul_rate"] > 0 for row in efficiency.values())
    assert "## Efficiency against the machine's own limit" in report_path.with_suffix(".md").read_text()
    for path in ("trinity_dna", "gena_lm block-sparse", "gena_lm recurrent"):  # every long-context path, by length
        assert {("forward 2048", path), ("forward 4096", path)} <= rows
    assert {
        ("pretrain step 4x101", "before (fp32, full projection)"),
        ("pretrain step 4x101", "after (all three)"),
    } <= rows
    assert all(row["median_s"] > 0 and row["min_s"] <= row["median_s"] <= row["max_s"] for row in report["timings"])
    assert {"label": "NT-v2-500M training MFU (GPU)", "skipped": "no CUDA device"} in report["targets"]
    assert any(Path(p).name.endswith("-time.png") for p in report["plots"])
    assert all((tmp_path / p).exists() for p in report["plots"])
    markdown = report_path.with_suffix(".md").read_text()
    assert "| trinity_dna | attention 2048 | multi-window |" in markdown and "skipped: no CUDA device" in markdown


def test_unknown_benchmark_names_are_refused():
    result = subprocess.run([sys.executable, "-m", "benchmarks", "nope"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2 and "unknown benchmark(s) nope" in result.stderr


def test_a_run_never_overwrites_an_earlier_report(tmp_path):
    from benchmarks.__main__ import unused_stem

    first = unused_stem(str(tmp_path), "vm-2026-12-02", ["ism"])
    assert first == str(tmp_path / "vm-2026-12-02-ism")
    Path(first + ".json").write_text("{}")
    assert unused_stem(str(tmp_path), "vm-2026-12-02", ["ism"]) == first + "-2"
    assert unused_stem(str(tmp_path), "vm-2026-12-02", []) == str(tmp_path / "vm-2026-12-02")


def test_the_masked_lm_check_hides_the_same_6mers_from_6mer_and_single_base_models(tmp_path):
    """The quality report's held-out masked-LM check (real V. cholerae windows): a 6-mer model and a single-base
    model are scored on the same hidden 6-mers against the same baselines; an untrained model sits near uniform."""
    import pytest
    import torch
    from transformers import AutoModelForMaskedLM

    import dna_zoo
    from benchmarks.quality import GENOMES, masked_lm_against_kmer_table

    if not GENOMES.is_dir():
        pytest.skip("the shared genomes are not beside the checkout")
    results = {}
    for family, tokenizer in (
        ("nucleotide_transformer", dna_zoo.NucleotideTransformerTokenizer()),
        ("ntv3_dna", dna_zoo.NTv3Tokenizer()),
    ):
        torch.manual_seed(0)
        config = dna_zoo.config_from_preset(family, "tiny", max_position_embeddings=1024)
        AutoModelForMaskedLM.from_config(config).save_pretrained(tmp_path / family)
        tokenizer.save_pretrained(tmp_path / family)
        results[family] = masked_lm_against_kmer_table(GENOMES, 8, 0, str(tmp_path / family))
    six_mer, single_base = results.values()
    for key in ("windows", "hidden_6mers", "kmer_table_nats", "markov_nats", "markov_in_species_nats"):
        assert six_mer[key] == single_base[key]
    assert six_mer["hidden_6mers"] > 50
    for result in results.values():  # untrained: about uniform over the 4,096 6-mers, unlike the counted baselines
        assert abs(result["model_nats"] - result["uniform_nats"]) < 0.1
        assert result["markov_in_species_nats"] < result["markov_nats"] < result["uniform_nats"]
