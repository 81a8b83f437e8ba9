"""Fine-tuning on Trainer: real small task (lambda phage coding windows), regression, multi-label, token labels
from GFF intervals, peft, class weights, metrics, predict, and clear errors for bad tables."""

import csv
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from datasets import Dataset

from dna_zoo import NucleotideTransformerForMaskedLM, NucleotideTransformerTokenizer, config_from_preset
from dna_zoo.cli import main as cli
from dna_zoo.data import DataError, interval_windows, labelled_windows, read_intervals
from dna_zoo.training import FinetuneConfig, finetune
from dna_zoo.training.finetune import _class_weights
from dna_zoo.training.metrics import classification_metrics, multilabel_metrics, regression_metrics

DATA = Path(__file__).parent / "data"
LAMBDA, GENES = str(DATA / "lambda_phage.fa.gz"), str(DATA / "lambda_phage.prodigal.gff.gz")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny")
    NucleotideTransformerForMaskedLM(config_from_preset("nucleotide_transformer", "tiny")).save_pretrained(path)
    NucleotideTransformerTokenizer().save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def coding():
    windows = interval_windows(LAMBDA, read_intervals(GENES, feature="CDS"), 150, stride=60).shuffle(seed=0)
    return windows.train_test_split(test_size=0.2, seed=0)


def run(tmp_path, tiny, name, **settings):
    defaults = dict(model=tiny, output_dir=str(tmp_path / name), epochs=1, batch_size=16, learning_rate=1e-3)
    return finetune(FinetuneConfig(**{**defaults, **settings}))


def test_loss_falls_on_coding_windows_of_a_real_genome(tmp_path, tiny, coding):
    result = run(
        tmp_path, tiny, "coding", train=coding["train"], validation=coding["test"], epochs=3, class_weights="balanced"
    )
    losses = [entry["loss"] for entry in result["trainer"].state.log_history if "loss" in entry]
    assert len(losses) >= 6 and np.mean(losses[-3:]) < np.mean(losses[:3]) - 0.05
    metrics = result["metrics"]["validation"]
    assert {"validation_mcc", "validation_f1", "validation_accuracy", "validation_auroc", "validation_auprc"} <= set(
        metrics
    )
    card = (tmp_path / "coding" / "final" / "README.md").read_text()
    assert "Sequence classifier (or regressor) on a Nucleotide Transformer" in card and "language model" not in card
    assert re.search(r"\| validation \| mcc \| -?\d\.\d+ \|", card)  # one row per metric, no dicts in cells
    assert "{" not in card.split("## Metrics")[1] and "take label 1 (" in card  # F1's positive class is named
    names = {Path(path).name for path in result["plots"]}
    assert names == {"loss_curve.png", "validation_mcc.png", "roc_curve.png", "pr_curve.png"}
    assert all((tmp_path / "coding" / name).stat().st_size > 10_000 for name in names)
    log = json.loads((tmp_path / "coding" / "metrics.json").read_text())
    assert log["metrics"]["validation"] == metrics


def test_regression_with_one_label_from_csv_end_to_end(tmp_path, tiny):
    rng = np.random.default_rng(0)
    path = tmp_path / "gc.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sequence", "gc"])
        for _ in range(64):
            sequence = "".join(rng.choice(list("ACGT"), 60, p=rng.dirichlet([1, 1, 1, 1])))
            writer.writerow([sequence, (sequence.count("G") + sequence.count("C")) / 60])
    result = run(tmp_path, tiny, "gc", train=str(path), validation=str(path), task="regression", label_columns=["gc"])
    model_config = json.loads((tmp_path / "gc" / "final" / "config.json").read_text())
    assert len(model_config["id2label"]) == 1 and model_config["problem_type"] == "regression"
    assert {"validation_pearson", "validation_spearman", "validation_mse"} <= set(result["metrics"]["validation"])


def test_multilabel_jsonl_with_ia3_saves_adapter_and_merged_model(tmp_path, tiny):
    rng = np.random.default_rng(1)
    path = tmp_path / "sites.jsonl"
    with open(path, "w") as handle:
        for _ in range(48):
            sequence = "".join(rng.choice(list("ACGT"), 90))
            labels = {
                "ecori": int("GAATTC" in sequence),
                "gc_rich": int(sequence.count("G") + sequence.count("C") > 45),
            }
            handle.write(json.dumps({"sequence": sequence, **labels}) + "\n")
    result = run(
        tmp_path,
        tiny,
        "sites",
        train=str(path),
        test=str(path),
        task="multilabel",
        label_columns=["ecori", "gc_rich"],
        peft="ia3",
        learning_rate=3e-3,
    )
    assert {"test_f1_macro", "test_mcc", "test_subset_accuracy"} <= set(result["metrics"]["test"])
    assert (tmp_path / "sites" / "final" / "adapter_config.json").exists()  # adapter + head
    merged = json.loads((tmp_path / "sites" / "merged" / "config.json").read_text())
    assert merged["problem_type"] == "multi_label_classification" and merged["id2label"] == {
        "0": "ecori",
        "1": "gc_rich",
    }


def test_token_labels_from_gff_then_per_base_predictions(tmp_path, tiny):
    windows = labelled_windows(LAMBDA, read_intervals(GENES, feature="CDS"), 301, stride=2000)
    assert all(len(s) == len(labels) == 301 for s, labels in zip(windows["sequence"], windows["labels"]))
    run(tmp_path, tiny, "tokens", train=windows, task="token", label_columns=["labels"])
    sequences = ["ACGTAGCTAGCTAGGATCNNNNNNNNNNNNACG", "ACGTA"]
    path = tmp_path / "query.fa"
    path.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(sequences)))
    cli(
        [
            "predict",
            "--model",
            str(tmp_path / "tokens" / "final"),
            "--input",
            str(path),
            "--out",
            str(tmp_path / "p.tsv"),
        ]
    )
    rows = [line.split("\t") for line in (tmp_path / "p.tsv").read_text().splitlines()]
    assert rows[0] == ["id", "position", "prediction", "0", "1"]
    assert sum(row[0] == "s0" for row in rows) == len(sequences[0]) and sum(row[0] == "s1" for row in rows) == 5


def test_cli_finetune_and_predict_on_a_tsv(tmp_path, tiny, coding, capsys):
    path = tmp_path / "train.tsv"
    coding["train"].select(range(96)).to_csv(str(path), sep="\t", index=False)
    cli(
        [
            "finetune",
            "--model",
            tiny,
            "--train",
            str(path),
            "--validation",
            str(path),
            "--output-dir",
            str(tmp_path / "run"),
            "--epochs",
            "1",
            "--class-weights",
            "balanced",
        ]
    )
    assert "validation: mcc" in capsys.readouterr().out
    cli(["predict", "--model", str(tmp_path / "run" / "final"), "--input", str(path), "--out", str(tmp_path / "p.tsv")])
    lines = (tmp_path / "p.tsv").read_text().splitlines()
    assert lines[0] == "id\tprediction\t0\t1" and len(lines) == 97
    with pytest.raises(SystemExit, match="exists; pass --overwrite"):
        cli(
            [
                "predict",
                "--model",
                str(tmp_path / "run" / "final"),
                "--input",
                str(path),
                "--out",
                str(tmp_path / "p.tsv"),
            ]
        )


def test_class_weights_balanced_are_inverse_frequencies():
    labels = Dataset.from_dict({"labels": [0, 0, 0, 1]})
    weights = _class_weights(FinetuneConfig(model="m", train=None, output_dir="o", class_weights="balanced"), labels, 2)
    assert weights.tolist() == pytest.approx([4 / 6, 2.0])


@pytest.mark.parametrize(
    "rows, task, message",
    [
        ("sequence,label\nACGT,1\nACGT,\n", "classification", r"bad.csv line 3: missing value in label column 'label'"),
        ("sequence,label\nACGT,0.5\nACGT,high\n", "regression", r"bad.csv line 3: regression label 'high'"),
        ("sequence,label\nACGT,1\n,0\n", "classification", r"bad.csv line 3: empty or missing sequence"),
        ("sequence,target\nACGT,1\n", "classification", r"bad.csv: no column 'label'; columns are sequence, target"),
        ("sequence,label\nACGT,1\nACXT,0\n", "classification", r"bad.csv line 3: invalid character 'X' at position 2"),
    ],
)
def test_bad_tables_name_the_file_line_and_value(tmp_path, tiny, rows, task, message):
    path = tmp_path / "bad.csv"
    path.write_text(rows)
    with pytest.raises(DataError, match=message):
        run(tmp_path, tiny, "bad", train=str(path), task=task)


def test_metrics_match_their_definitions():
    logits = np.array([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 3.0]])
    metrics = classification_metrics(logits, np.array([0, 1, 1, 1]))
    assert metrics["accuracy"] == 0.75 and metrics["auroc"] == 1.0 and metrics["f1"] == pytest.approx(0.8)
    assert classification_metrics(np.zeros((3, 2)), np.array([-100, 1, 0]))["accuracy"] == 0.5  # -100 skipped
    multi = multilabel_metrics(np.array([[1.0, -1.0], [-1.0, 1.0]]), np.array([[1, 0], [0, 1]]))
    assert multi["subset_accuracy"] == 1.0 and multi["mcc"] == 1.0
    regression = regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 7.0]))
    assert (
        regression["pearson"] == pytest.approx(np.corrcoef([1, 2, 3], [2, 4, 7])[0, 1])
        and regression["spearman"] == 1.0
    )


def test_resume_skips_a_checkpoint_killed_while_saving(tmp_path, tiny, coding):
    from dna_zoo.training.finetune import latest_complete_checkpoint

    small = coding["train"].select(range(64))
    run(tmp_path, tiny, "resumable", train=small, validation=small)
    complete = latest_complete_checkpoint(str(tmp_path / "resumable"))
    assert complete is not None and complete.endswith("checkpoint-4")
    broken = tmp_path / "resumable" / "checkpoint-999"  # a save killed half way: weights, no trainer state
    broken.mkdir()
    (broken / "model.safetensors").write_bytes(b"\x00" * 10)
    assert latest_complete_checkpoint(str(tmp_path / "resumable")) == complete
    with pytest.raises(FileExistsError, match="holds checkpoints of an earlier run"):
        run(tmp_path, tiny, "resumable", train=small, validation=small)
    rotated = tmp_path / "resumable" / "checkpoint-998"  # half deleted by the rotation: trainer state, no weights
    shutil.copytree(complete, rotated)
    for name in ("model.safetensors", "optimizer.pt"):
        (rotated / name).unlink()
    assert latest_complete_checkpoint(str(tmp_path / "resumable")) == complete
    same = dict(model=tiny, output_dir=str(tmp_path / "resumable"), epochs=1, batch_size=16, learning_rate=1e-3)
    result = finetune(FinetuneConfig(train=small, validation=small, **same), resume=True)
    assert result["trainer"].state.global_step == 4  # resumed from checkpoint-4: nothing left to train
    with pytest.raises(ValueError, match="belongs to another run \\(it differs in learning_rate\\)"):
        finetune(FinetuneConfig(train=small, validation=small, **{**same, "learning_rate": 5e-4}), resume=True)
    other_data = coding["train"].select(range(64, 128))
    with pytest.raises(ValueError, match="belongs to another run \\(it differs in train\\)"):
        finetune(FinetuneConfig(train=other_data, validation=small, **same), resume=True)


@pytest.mark.parametrize("peft", [None, "lora"])
def test_the_same_seed_gives_the_same_metrics_and_weights(tmp_path, tiny, coding, peft):
    """The new head (and adapter) are initialised from the seed: anything drawn from torch's generator before
    finetune() is called must not change the result."""
    import torch
    from safetensors.torch import load_file

    train, test = coding["train"].select(range(64)), coding["test"].select(range(32))
    results = []
    for attempt in range(2):
        torch.rand(attempt + 1)  # the caller's random state differs between the two runs
        result = run(tmp_path, tiny, f"seed-{peft}-{attempt}", train=train, test=test, seed=0, peft=peft)
        folder = tmp_path / f"seed-{peft}-{attempt}" / ("merged" if peft else "final")
        results.append((result["metrics"]["test"], load_file(folder / "model.safetensors")))
    (metrics_a, weights_a), (metrics_b, weights_b) = results
    assert {k: v for k, v in metrics_a.items() if "runtime" not in k and "per_second" not in k} == {
        k: v for k, v in metrics_b.items() if "runtime" not in k and "per_second" not in k
    }
    assert weights_a.keys() == weights_b.keys()
    for name in weights_a:
        assert torch.equal(weights_a[name], weights_b[name]), name


def test_predict_ids_with_tabs_or_newlines_keep_the_tsv_whole(tmp_path, tiny, coding):
    run(tmp_path, tiny, "ids", train=coding["train"].select(range(32)), epochs=1)
    table = tmp_path / "ids.csv"
    table.write_text('name,sequence\n"a\tb",ACGTACGTACGT\n"c\nd",GGCCAATTGGCC\nplain,ACGTAAAA\n')
    out = tmp_path / "p.tsv"
    cli(["predict", "--model", str(tmp_path / "ids" / "final"), "--input", str(table), "--id-column", "name",
         "--out", str(out)])  # fmt: skip
    with open(out, newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    assert [row[0] for row in rows] == ["id", "a\tb", "c\nd", "plain"] and {len(row) for row in rows} == {4}


def test_a_byte_order_mark_is_not_part_of_a_bed_record_name(tmp_path):
    bed = tmp_path / "genes.bed"
    bed.write_bytes("\ufeffchr1\t10\t20\tg1\t0\t+\n".encode())
    assert read_intervals(bed) == {"chr1": [(10, 20, "+")]}


def test_resume_and_the_best_checkpoint_restore_every_weight_of_a_mistral_dna_model(tmp_path, coding):
    """Trainer reads a checkpoint's weight file into the model without converting it: Mistral-DNA's experts (saved
    one per expert, Mixtral's layout) kept their current values on resume and when the best checkpoint was loaded."""
    import torch

    from dna_zoo import MistralDNAForCausalLM, MistralDNATokenizer
    from dna_zoo.checkpoints import load_model

    model = tmp_path / "mistral"
    MistralDNAForCausalLM(config_from_preset("mistral_dna", "tiny")).save_pretrained(model)
    MistralDNATokenizer().save_pretrained(model)
    train, validation = coding["train"].select(range(64)), coding["test"].select(range(32))

    def same_weights(a, b):
        a, b = load_model(str(a)).state_dict(), load_model(str(b)).state_dict()
        return a.keys() == b.keys() and all(torch.equal(a[name], b[name]) for name in a)

    settings = dict(train=train, epochs=2, eval_steps=2, early_stopping_patience=None)
    best = run(tmp_path, str(model), "best", validation=validation, **settings)["trainer"].state.best_model_checkpoint
    assert not best.endswith("checkpoint-8")  # guard: the best checkpoint is not the last one
    assert same_weights(tmp_path / "best" / "final", best)

    run(tmp_path, str(model), "whole", **settings)  # 8 steps, checkpoints 6 and 8 kept
    shutil.copytree(tmp_path / "whole", tmp_path / "cut")
    for name in ("checkpoint-8", "final"):  # as if killed after checkpoint 6
        shutil.rmtree(tmp_path / "cut" / name)
    finetune(
        FinetuneConfig(
            model=str(model), output_dir=str(tmp_path / "cut"), batch_size=16, learning_rate=1e-3, **settings
        ),
        resume=True,
    )
    assert same_weights(tmp_path / "cut" / "final", tmp_path / "whole" / "final")
