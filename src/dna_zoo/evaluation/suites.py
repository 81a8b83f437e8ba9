"""The standard DNA benchmark suites as `datasets` splits: from a local folder in each suite's own layout, or
from the Hub by dataset id (through `datasets`; tests never download).

- GUE (DNABERT-2's Genome Understanding Evaluation): ROOT/GROUP/TASK/{train,dev,test}.csv with a header
  `sequence,label`. Tasks are named as in the DNABERT-2 scripts, a numbered task by its group and number:
  `tf0` (tf/0), `mouse3` (mouse/3), `prom_300_all` (prom/prom_300_all), `H3` (EMP/H3), `covid` (virus/covid).
- Nucleotide Transformer downstream tasks (the revised set, or the original 18): one table per split
  (ROOT/{train,test}.{csv,parquet,jsonl}) with columns sequence, label and name (the task); on the Hub
  `InstaDeepAI/nucleotide_transformer_downstream_tasks_revised` (or `..._tasks`). The column names are UNVERIFIED
  against the published files: they are parameters.
- genomic-benchmarks: ROOT/TASK/{train,test}/CLASS/*.txt, one sequence per file, the class folders in sorted order
  giving labels 0, 1, ...; on the Hub `katarinagresova/Genomic_Benchmarks_TASK` (columns seq, label).
Every suite gives {"train", "validation"?, "test"} with columns sequence and label; where a suite has no
validation split, `evaluate` holds out part of train.
"""

import csv
from pathlib import Path

from datasets import Dataset, DatasetDict

from ..data import read_table

SUITES = ("gue", "nt", "nt_original", "genomic_benchmarks")
HUB_IDS = {
    "nt": "InstaDeepAI/nucleotide_transformer_downstream_tasks_revised",
    "nt_original": "InstaDeepAI/nucleotide_transformer_downstream_tasks",
    "genomic_benchmarks": "katarinagresova/Genomic_Benchmarks_{task}",
}
# The papers' own recipes (the NT paper's IA3 recipe; DNABERT-2's GUE fine-tuning: lr 3e-5, batch 32, epochs
# UNVERIFIED here, 3 by default).
RECIPES = {
    "nt": dict(peft="ia3", learning_rate=3e-3, batch_size=8, epochs=3.0),
    "nt_original": dict(peft="ia3", learning_rate=3e-3, batch_size=8, epochs=3.0),
    "gue": dict(peft=None, learning_rate=3e-5, batch_size=32, epochs=3.0),
    "genomic_benchmarks": dict(peft=None, learning_rate=1e-4, batch_size=32, epochs=3.0),
}
# Each suite's own headline metric, reported beside MCC (genomic-benchmarks reports accuracy).
SUITE_METRICS = {"gue": "mcc", "nt": "mcc", "nt_original": "mcc", "genomic_benchmarks": "accuracy"}


def _gue_tasks(root: Path) -> dict[str, Path]:
    tasks = {}
    for folder in sorted(path.parent for path in root.glob("*/*/train.csv")):
        group, task = folder.parent.name, folder.name
        tasks[f"{group}{task}" if task.isdigit() else task] = folder
    return tasks


def _csv_split(path: Path) -> Dataset:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not {"sequence", "label"} <= set(rows[0]):
        raise ValueError(f"{path}: a GUE split needs a header sequence,label and at least one row")
    return Dataset.from_dict({"sequence": [r["sequence"] for r in rows], "label": [int(r["label"]) for r in rows]})


def _genomic_benchmarks_split(folder: Path) -> Dataset:
    classes = sorted(path.name for path in folder.iterdir() if path.is_dir())
    rows = {"sequence": [], "label": []}
    for label, name in enumerate(classes):
        for path in sorted((folder / name).glob("*.txt")):
            rows["sequence"].append(path.read_text().strip())
            rows["label"].append(label)
    if not rows["sequence"]:
        raise ValueError(f"{folder}: no CLASS/*.txt sequences")
    return Dataset.from_dict(rows)


def list_tasks(suite: str, source: str) -> list[str]:
    """The tasks a local suite folder holds."""
    root = Path(source)
    if suite == "gue":
        return list(_gue_tasks(root))
    if suite == "genomic_benchmarks":
        return sorted(path.name for path in root.iterdir() if (path / "train").is_dir())
    table = read_table(str(next(root.glob("train.*"))))
    return sorted(set(table["name"]))


def load_task(
    suite: str, task: str, source: str | None = None, name_column: str = "name", sequence_column: str = "sequence"
) -> DatasetDict:
    """{"train", "validation" (GUE's dev), "test"} of one task, columns sequence and label: from `source`, a local
    folder in the suite's layout, or else from the Hub (`HUB_IDS`)."""
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; choose from {', '.join(SUITES)}")
    if source is None:
        return _from_hub(suite, task, name_column, sequence_column)
    root = Path(source)
    if not root.is_dir():
        raise FileNotFoundError(f"{source}: no such folder (a local copy of the {suite} suite)")
    if suite == "gue":
        tasks = _gue_tasks(root)
        if task not in tasks:
            raise ValueError(f"{source}: no GUE task {task!r}; it has {', '.join(tasks) or 'none'}")
        splits = {"train": "train", "validation": "dev", "test": "test"}
        return DatasetDict({key: _csv_split(tasks[task] / f"{name}.csv") for key, name in splits.items()})
    if suite == "genomic_benchmarks":
        if not (root / task / "train").is_dir():
            raise ValueError(f"{source}: no genomic-benchmarks task {task!r}")
        return DatasetDict({split: _genomic_benchmarks_split(root / task / split) for split in ("train", "test")})
    splits = {}
    for split in ("train", "test"):
        paths = sorted(root.glob(f"{split}.*"))
        if not paths:
            raise FileNotFoundError(f"{source}: no {split}.csv / .parquet / .jsonl")
        table = read_table(str(paths[0]))
        rows = [i for i, name in enumerate(table[name_column]) if name == task]
        if not rows:
            raise ValueError(f"{paths[0]}: no rows of task {task!r} (column {name_column!r})")
        part = table.select(rows)
        splits[split] = Dataset.from_dict({"sequence": part[sequence_column], "label": [int(v) for v in part["label"]]})
    return DatasetDict(splits)


def _from_hub(suite: str, task: str, name_column: str, sequence_column: str) -> DatasetDict:
    from datasets import load_dataset

    if suite == "gue":
        raise ValueError("GUE is distributed as a folder (DNABERT-2's release): pass its local path as the source")
    if suite == "genomic_benchmarks":
        data = load_dataset(HUB_IDS[suite].format(task=task))
        return DatasetDict({s: d.rename_column("seq", "sequence") for s, d in data.items()})
    data = load_dataset(HUB_IDS[suite])
    return DatasetDict(
        {
            split: part.filter(lambda row: row[name_column] == task).rename_column(sequence_column, "sequence")
            if sequence_column != "sequence"
            else part.filter(lambda row: row[name_column] == task)
            for split, part in data.items()
        }
    )
