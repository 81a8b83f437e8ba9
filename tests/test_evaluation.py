"""Benchmark suites from local folders in each suite's own layout (tiny fixtures built here; nothing downloaded),
and the evaluate runner: MCC per task and seed, resumable without redoing finished pairs."""

import json
import zlib

import numpy as np
import pytest

from dna_zoo.evaluation import EvaluationConfig, evaluate, list_tasks, load_task

MOTIF = "GGGCCCAAATTT"


def sequences(count: int, seed: int):
    """(sequence, label): label 1 holds MOTIF (an easy task, so a tiny fine-tuning run learns something)."""
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(count):
        bases = "".join(rng.choice(list("ACGT"), 60))
        label = index % 2
        rows.append((bases[:20] + MOTIF + bases[32:] if label else bases, label))
    return rows


@pytest.fixture()
def gue(tmp_path):
    """ROOT/GROUP/TASK/{train,dev,test}.csv with a sequence,label header, as DNABERT-2 distributes GUE."""
    for group, task in (("tf", "0"), ("prom", "prom_300_all")):
        folder = tmp_path / "GUE" / group / task
        folder.mkdir(parents=True)
        for split, count in (("train", 64), ("dev", 16), ("test", 32)):
            rows = sequences(count, zlib.crc32(f"{task}/{split}".encode()))
            (folder / f"{split}.csv").write_text("sequence,label\n" + "".join(f"{s},{y}\n" for s, y in rows))
    return tmp_path / "GUE"


def test_gue_layout(gue):
    assert list_tasks("gue", gue) == ["prom_300_all", "tf0"]
    data = load_task("gue", "tf0", str(gue))
    assert {split: len(part) for split, part in data.items()} == {"train": 64, "validation": 16, "test": 32}
    assert set(data["train"].column_names) == {"sequence", "label"} and set(data["train"]["label"]) == {0, 1}
    with pytest.raises(ValueError, match="no GUE task 'tf9'"):
        load_task("gue", "tf9", str(gue))
    with pytest.raises(ValueError, match="pass its local path"):
        load_task("gue", "tf0")


def test_nucleotide_transformer_tasks_layout(tmp_path):
    """One table per split with sequence, name (the task) and label columns."""
    for split, count in (("train", 20), ("test", 10)):
        rows = [(s, y, "promoter_all" if i % 2 else "enhancers") for i, (s, y) in enumerate(sequences(count, 1))]
        (tmp_path / f"{split}.csv").write_text("sequence,label,name\n" + "".join(f"{s},{y},{n}\n" for s, y, n in rows))
    assert list_tasks("nt", tmp_path) == ["enhancers", "promoter_all"]
    data = load_task("nt", "promoter_all", str(tmp_path))
    assert len(data["train"]) == 10 and len(data["test"]) == 5 and "validation" not in data


def test_genomic_benchmarks_layout(tmp_path):
    """ROOT/TASK/{train,test}/CLASS/*.txt, the class folders in sorted order giving the labels."""
    for split in ("train", "test"):
        for label, name in enumerate(("negative", "positive")):
            folder = tmp_path / "human_nontata_promoters" / split / name
            folder.mkdir(parents=True)
            for index, (sequence, _) in enumerate(sequences(3, label)):
                (folder / f"{index}.txt").write_text(sequence + "\n")
    assert list_tasks("genomic_benchmarks", tmp_path) == ["human_nontata_promoters"]
    data = load_task("genomic_benchmarks", "human_nontata_promoters", str(tmp_path))
    assert data["train"]["label"] == [0, 0, 0, 1, 1, 1] and len(data["train"]["sequence"][0]) == 60


def test_evaluate_runs_every_task_and_seed_and_resumes_without_redoing_them(gue, tmp_path, monkeypatch):
    from dna_zoo.evaluation import runner

    out = tmp_path / "run"
    config = EvaluationConfig(
        suite="gue",
        tasks=["tf0", "prom_300_all"],
        model="demo",
        output_dir=str(out),
        seeds=2,
        source=str(gue),
        epochs=1,
        learning_rate=1e-3,
        batch_size=16,
    )
    calls = []
    real = runner.finetune
    monkeypatch.setattr(runner, "finetune", lambda *a, **k: calls.append(a[0].output_dir) or real(*a, **k))
    results = evaluate(config)
    assert sorted(results["runs"]) == ["prom_300_all/seed0", "prom_300_all/seed1", "tf0/seed0", "tf0/seed1"]
    assert all(-1 <= run["mcc"] <= 1 for run in results["runs"].values()) and len(calls) == 4
    assert set(results["summary"]) == {"tf0", "prom_300_all"} and results["summary"]["tf0"]["seeds"] == 2
    assert "| tf0 |" in (out / "summary.md").read_text() and (out / "mcc.png").stat().st_size > 5_000
    # a killed run: one pair's result is lost; the rerun does that pair only
    saved = json.loads((out / "results.json").read_text())
    del saved["runs"]["tf0/seed1"]
    (out / "results.json").write_text(json.dumps(saved))
    calls.clear()
    again = evaluate(config)
    assert len(calls) == 1 and calls[0].endswith("tf0/seed1") and sorted(again["runs"]) == sorted(results["runs"])
    with pytest.raises(ValueError, match="holds gue results of demo"):
        evaluate(EvaluationConfig(suite="gue", tasks=["tf0"], model="other", output_dir=str(out), source=str(gue)))


def test_evaluate_command(gue, tmp_path, capsys):
    from dna_zoo.cli import main

    out = tmp_path / "cli"
    main(
        ["evaluate", "--suite", "gue", "--tasks", "tf0", "--source", str(gue), "--output-dir", str(out)]
        + ["--seeds", "1", "--epochs", "1", "--learning-rate", "1e-3", "--batch-size", "16"]
    )
    assert "tf0: MCC" in capsys.readouterr().out and (out / "results.json").exists()


def test_hub_suites_are_read_through_datasets(monkeypatch):
    """By Hub id (no download here: datasets.load_dataset is stood in for by the published column layouts)."""
    import datasets
    from datasets import Dataset, DatasetDict

    asked = []

    def load_dataset(name):
        asked.append(name)
        if name.startswith("katarinagresova/"):
            return DatasetDict(train=Dataset.from_dict({"seq": ["ACGT", "GGCC"], "label": [0, 1]}))
        rows = {"sequence": ["ACGT", "GGCC", "TTAA"], "label": [0, 1, 1], "name": ["a", "b", "a"]}
        return DatasetDict(train=Dataset.from_dict(rows), test=Dataset.from_dict(rows))

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    benchmarks = load_task("genomic_benchmarks", "human_enhancers_cohn")
    assert benchmarks["train"]["sequence"] == ["ACGT", "GGCC"]
    nt = load_task("nt", "a")
    assert nt["train"]["sequence"] == ["ACGT", "TTAA"] and nt["test"]["label"] == [0, 1]
    assert asked == [
        "katarinagresova/Genomic_Benchmarks_human_enhancers_cohn",
        "InstaDeepAI/nucleotide_transformer_downstream_tasks_revised",
    ]


def test_the_summary_reports_each_suites_own_metric_beside_mcc(tmp_path):
    from dna_zoo.evaluation.runner import summarise, write_summary

    runs = {"promoters/seed0": {"mcc": 0.5, "accuracy": 0.75}, "promoters/seed1": {"mcc": 0.7, "accuracy": 0.85}}
    results = {"suite": "genomic_benchmarks", "model": "demo", "runs": runs}
    results["summary"] = summarise(results, ["promoters"])
    assert results["summary"]["promoters"]["accuracy_mean"] == pytest.approx(0.8)
    assert results["summary"]["promoters"]["mcc_sd"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    write_summary(results, str(tmp_path))
    assert "| promoters | 0.600 +- 0.141 | 0.800 +- 0.071 | 2 |" in (tmp_path / "summary.md").read_text()


def test_the_summary_puts_the_papers_figure_beside_each_task_of_the_same_model(tmp_path):
    """DNABERT-2's Table 4 per GUE task and the NT paper's figure per original NT task, for the models they
    report, with the citation; nothing for other models."""
    from dna_zoo.evaluation.published import DNABERT2_TABLE4, NT_FIGURE
    from dna_zoo.evaluation.runner import summarise, write_summary

    runs = {"tf0/seed0": {"mcc": 0.70}, "tf0/seed1": {"mcc": 0.72}, "covid/seed0": {"mcc": 0.6}}
    results = {"suite": "gue", "model": "zhihan1996/DNABERT-2-117M", "runs": runs}
    results["summary"] = summarise(results, ["tf0", "covid"])
    assert results["summary"]["tf0"]["published_mcc"] == pytest.approx(0.7199)
    assert results["summary"]["covid"]["published_source"] == DNABERT2_TABLE4
    write_summary(results, str(tmp_path))
    text = (tmp_path / "summary.md").read_text()
    assert "| task | MCC (mean +- sd) | published MCC | seeds |" in text
    assert "| tf0 | 0.710 +- 0.014 | 0.720 | 2 |" in text and "| covid | 0.600 +- 0.000 | 0.710 | 1 |" in text
    assert f"Published MCC: {DNABERT2_TABLE4}." in text
    assert "Over the 2 task(s) with a published figure: ours 0.655, published 0.715." in text
    assert "Published: 0.621" in text  # the suite mean another paper reports

    nt = {"suite": "gue", "model": "InstaDeepAI/nucleotide-transformer-2.5b-multi-species", "runs": runs}
    assert summarise(nt, ["tf0"])["tf0"]["published_mcc"] == pytest.approx(0.6664)
    donors = {"splice_sites_donors/seed0": {"mcc": 0.9}}
    nt18 = {"suite": "nt_original", "model": "InstaDeepAI/nucleotide-transformer-500m-1000g", "runs": donors}
    assert summarise(nt18, ["splice_sites_donors"])["splice_sites_donors"]["published_mcc"] == 0.94
    assert summarise(nt18, ["splice_sites_donors"])["splice_sites_donors"]["published_source"] == NT_FIGURE
    demo = {"suite": "gue", "model": "demo", "runs": runs}
    demo["summary"] = summarise(demo, ["tf0"])
    write_summary(demo, str(tmp_path))
    assert "published_mcc" not in demo["summary"]["tf0"]
    assert "published MCC" not in (tmp_path / "summary.md").read_text()
