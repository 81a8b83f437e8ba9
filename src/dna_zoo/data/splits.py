"""Train / test splits of genome windows that cannot leak: no base is in both parts.

Windows cut with a stride shorter than the window overlap, and a random split of them puts the same bases in
training and test (users report inflated test scores from it). Split whole records (chromosomes, contigs,
genomes) instead, or, for a single record, cut it at a position and drop the windows that cross the cut.
"""

from collections.abc import Sequence

import numpy as np
from datasets import Dataset, DatasetDict


def _extent(windows: Dataset) -> dict[str, tuple[int, int]]:
    """{record: (first base, last base + 1)} covered by the windows."""
    starts, ends = np.array(windows["start"]), np.array([len(s) for s in windows["sequence"]]) + windows["start"]
    extent = {}
    for record, start, end in zip(windows["record"], starts, ends):
        low, high = extent.get(record, (start, end))
        extent[record] = (min(low, int(start)), max(high, int(end)))
    return extent


def split_windows(
    windows: Dataset, test: float | Sequence[str] = 0.2, by: str = "record", seed: int = 0
) -> DatasetDict:
    """{"train", "test"} parts of `windows` (columns record, start, sequence: `interval_windows`,
    `labelled_windows`, `windows_dataset`) that share no base.

    by="record": whole records go to test: the names in `test`, or, for a fraction, records drawn with `seed`
        until they hold at least that fraction of the windows (at least one record stays in training).
    by="position": each record is cut at (1 - test) of the span its windows cover; the windows before the cut
        train, those after it test, and the ones that cross it are dropped.
    """
    if by not in ("record", "position"):
        raise ValueError(f"by must be 'record' or 'position', got {by!r}")
    records = windows["record"]
    if by == "record":
        names = sorted(set(records))
        if isinstance(test, str) or not isinstance(test, (int, float)):
            chosen = set([test] if isinstance(test, str) else test)
            if chosen - set(names):
                raise ValueError(f"no windows of record(s) {', '.join(sorted(chosen - set(names)))}")
        else:
            if len(names) < 2:
                raise ValueError(
                    f"one record ({names[0] if names else 'none'}) cannot be split by record: use by='position'"
                )
            counts = {name: records.count(name) for name in names}
            chosen, total = set(), 0
            for name in np.random.default_rng(seed).permutation(names):
                if total >= test * len(records) or len(chosen) == len(names) - 1:
                    break
                chosen.add(str(name))
                total += counts[name]
        side = np.array([record in chosen for record in records])
        keep = np.ones(len(records), dtype=bool)
    else:
        if not 0 < test < 1:
            raise ValueError(f"by='position' needs a fraction 0 < test < 1, got {test}")
        cuts = {name: int(low + (1 - test) * (high - low)) for name, (low, high) in _extent(windows).items()}
        starts = np.array(windows["start"])
        ends = starts + np.array([len(s) for s in windows["sequence"]])
        cut = np.array([cuts[record] for record in records])
        side, keep = starts >= cut, (ends <= cut) | (starts >= cut)
    return DatasetDict(
        train=windows.select(np.flatnonzero(keep & ~side)), test=windows.select(np.flatnonzero(keep & side))
    )


def shared_bases(train: Dataset, test: Dataset) -> int:
    """Bases (record, position) covered by windows of both parts: 0 for a split that cannot leak."""
    covered = []
    for part in (train, test):
        bases = set()
        for record, start, sequence in zip(part["record"], part["start"], part["sequence"]):
            bases.update((record, position) for position in range(start, start + len(sequence)))
        covered.append(bases)
    return len(covered[0] & covered[1])
