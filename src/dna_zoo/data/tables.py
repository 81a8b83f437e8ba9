"""Fine-tuning data: CSV / TSV / Parquet / JSONL files or a `datasets` dataset with a sequence column and label
column(s), checked row by row so that a bad row is reported by file and line, never as a crash inside training.
"""

import math
import os

import numpy as np
from datasets import Dataset, DatasetDict, load_dataset
from datasets.exceptions import DatasetGenerationError

TASKS = ("classification", "multilabel", "regression", "token")
FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".jsonl": "json", ".json": "json"}


class DataError(ValueError):
    """A fine-tuning table with a missing column, a missing value or a label of the wrong type (file and line)."""


def read_table(source, split: str = "train") -> Dataset:
    """A `datasets.Dataset` from a CSV/TSV/Parquet/JSONL path (compressed files too) or a Dataset/DatasetDict."""
    if isinstance(source, DatasetDict):
        return source[split]
    if isinstance(source, Dataset):
        return source
    path = str(source)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"table not found: {path}")
    stem = path[:-3] if path.endswith(".gz") else path
    extension = os.path.splitext(stem)[1].lower()
    if extension not in FORMATS:
        raise DataError(f"{path}: unknown table format {extension!r}; use one of {', '.join(FORMATS)}")
    if os.path.getsize(path) == 0:
        raise DataError(f"{path}: the table is empty (no header, no rows)")
    options = {"delimiter": "\t"} if extension == ".tsv" else {}
    try:
        table = load_dataset(FORMATS[extension], data_files=path, split="train", **options)
    except DatasetGenerationError as error:  # datasets' wrapper: say which file, and what its reader said
        raise DataError(f"{path}: cannot be read as a {extension[1:]} table ({error.__cause__ or error})") from None
    except ValueError as error:  # datasets: 'Instruction "train" corresponds to no data!'
        if "corresponds to no data" not in str(error):
            raise
        table = None
    if table is None or len(table) == 0:
        raise DataError(f"{path}: the table has no rows")
    return table


def location(source: str | None, row: int) -> str:
    """Where row `row` (0-based) is: a line number for text tables (CSV/TSV have a header line), else a row."""
    if source is None:
        return f"row {row}"
    name = source[:-3] if source.endswith(".gz") else source
    if name.endswith((".csv", ".tsv", ".txt")):
        return f"{source} line {row + 2}"
    if name.endswith((".jsonl", ".json")):
        return f"{source} line {row + 1}"
    return f"{source} row {row}"


def _is_number(value) -> bool:
    """Numbers and numeric strings (a CSV column with one bad cell is read as strings)."""
    if isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def check_table(
    dataset: Dataset, sequence_column: str, label_columns: list[str], task: str, source: str | None = None
) -> list | None:
    """Checks columns and values; returns the sorted class names for classification (None otherwise).

    classification: one label column of class names or integers; multilabel: several 0/1 columns, or one column
    of lists of class names; regression: numbers; token: one column of per-base integer labels (lists of the
    sequence's length).
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    where = source or "the dataset"
    for column in [sequence_column, *label_columns]:
        if column not in dataset.column_names:
            raise DataError(f"{where}: no column {column!r}; columns are {', '.join(dataset.column_names)}")
    classes = set()
    for row, example in enumerate(dataset):
        sequence = example[sequence_column]
        if not isinstance(sequence, str) or not sequence.strip():
            raise DataError(f"{location(source, row)}: empty or missing sequence in column {sequence_column!r}")
        for column in label_columns:
            value = example[column]
            if _missing(value):
                raise DataError(f"{location(source, row)}: missing value in label column {column!r}")
            if task == "regression" and not _is_number(value):
                raise DataError(
                    f"{location(source, row)}: regression label {value!r} in column {column!r} is not a number"
                )
            if task == "token":
                if not isinstance(value, list) or len(value) != len(sequence):
                    length = len(value) if isinstance(value, list) else type(value).__name__
                    raise DataError(
                        f"{location(source, row)}: column {column!r} must hold one label per base "
                        f"({len(sequence)}), got {length}"
                    )
                classes.update(value)
            elif task == "multilabel" and len(label_columns) == 1:
                if not isinstance(value, list):
                    raise DataError(f"{location(source, row)}: multilabel column {column!r} must hold lists of labels")
                classes.update(value)
            elif task == "multilabel" and value not in (0, 1, True, False):
                raise DataError(f"{location(source, row)}: multilabel column {column!r} must be 0/1, got {value!r}")
            elif task == "classification":
                if isinstance(value, float) and not value.is_integer():
                    raise DataError(f"{location(source, row)}: class label {value!r} in {column!r} is not a class")
                classes.add(value)
    if task in ("classification", "token") or (task == "multilabel" and len(label_columns) == 1):
        return sorted(classes, key=lambda name: (isinstance(name, str), name))
    return None


def balanced(dataset: Dataset, label_column: str = "label", per_class: int | None = None, seed: int = 0) -> Dataset:
    """As many rows of each class (the size of the rarest class, or `per_class` if smaller), sampled with `seed`,
    in their original order."""
    labels = np.asarray(dataset[label_column])
    classes = np.unique(labels)
    count = min(int((labels == c).sum()) for c in classes)
    count = min(count, per_class) if per_class else count
    rng = np.random.default_rng(seed)
    keep = np.concatenate([rng.choice(np.flatnonzero(labels == c), count, replace=False) for c in classes])
    return dataset.select(np.sort(keep))
