"""Pretraining windows: N runs, strands, random offsets, soft-masking, record splits, datasets on disk or streamed."""

import gzip
from pathlib import Path

import pytest

from dna_zoo.data import genome_windows, iter_windows, loss_mask, windows_dataset
from dna_zoo.inference import reverse_complement

DATA = Path(__file__).parent / "data"
LAMBDA = str(DATA / "lambda_phage.fa.gz")


@pytest.fixture
def fasta(tmp_path):
    path = tmp_path / "genome.fa.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(
            ">chr1\n" + "ACGT" * 10 + "NN" + "acgt" * 10 + "N" * 8 + "TTGCA" * 8 + "\n>chr2\n" + "GATC" * 20 + "\n"
        )
    return str(path)


def test_windows_skip_n_and_cover_both_strands():
    windows = genome_windows([LAMBDA], 1000, both_strands=True)
    assert len(windows) == 2 * (48502 // 1000) and all(len(w) == 1000 and "N" not in w for w in windows)


def test_n_runs_split_windows_only_from_the_chosen_length(fasta):
    every_n = list(iter_windows([fasta], 20, records=["chr1"]))
    assert all("N" not in w["sequence"] for w in every_n)
    long_runs = list(iter_windows([fasta], 20, split_n_run=5, records=["chr1"]))
    assert any("NN" in w["sequence"] for w in long_runs)  # the 2-N run stays inside a window
    assert all("N" * 5 not in w["sequence"] for w in long_runs)


def test_lowercase_upper_or_kept_for_the_loss_mask(fasta):
    upper = genome_windows([fasta], 40, records=["chr1"], split_n_run=3)
    kept = genome_windows([fasta], 40, records=["chr1"], split_n_run=3, lowercase="exclude")
    assert upper[1] == "ACGTNNACGT" * 4 and kept[1] == "ACGTNNacgt" * 4 or kept[1] != upper[1]
    assert all(w == w.upper() for w in upper) and any(w != w.upper() for w in kept)
    assert loss_mask("ACGTacgtAC", [(0, 0), (0, 4), (3, 6), (8, 10), (0, 0)]) == [True, True, False, True, True]
    with pytest.raises(ValueError, match="lowercase must be one of"):
        list(iter_windows([fasta], 10, lowercase="drop"))


def test_random_offsets_are_seeded_and_stay_inside_the_record():
    a = list(iter_windows([LAMBDA], 600, random_offsets=True, seed=1))
    b = list(iter_windows([LAMBDA], 600, random_offsets=True, seed=1))
    c = list(iter_windows([LAMBDA], 600, random_offsets=True, seed=2))
    assert a == b and a != c
    assert len({w["start"] % 6 for w in a}) == 6  # every 6-mer phase is seen
    assert all(0 <= w["start"] <= 48502 - 600 and len(w["sequence"]) == 600 for w in a)


def test_reverse_strand_windows_are_reverse_complements(fasta):
    pairs = list(iter_windows([fasta], 16, records=["chr2"], both_strands=True))
    assert [w["strand"] for w in pairs[:2]] == ["+", "-"]
    assert pairs[1]["sequence"] == reverse_complement(pairs[0]["sequence"]) and pairs[0]["start"] == pairs[1]["start"]


def test_split_by_record(fasta):
    train = {w["record"] for w in iter_windows([fasta], 10, exclude_records=["chr2"])}
    held_out = {w["record"] for w in iter_windows([fasta], 10, records=["chr2"])}
    assert train == {"chr1"} and held_out == {"chr2"}


def test_datasets_on_disk_and_streamed_agree(tmp_path):
    on_disk = windows_dataset([LAMBDA], 1000, cache_dir=str(tmp_path), both_strands=True)
    streamed = windows_dataset([LAMBDA], 1000, streaming=True, both_strands=True)
    assert len(on_disk) == 96 and list(on_disk) == list(streamed)
    assert list(tmp_path.rglob("*.arrow"))  # written to the cache folder, memory-mapped


@pytest.mark.parametrize("window,stride", [(150, 60), (300, 50), (1000, 1000)])
def test_interval_windows_label_every_window_as_the_definition_says(window, stride):
    """Coding (1): inside one interval; non-coding (0): touching none; straddling: left out. Checked window by
    window against the definition on the lambda phage's gene calls (overlapping genes included)."""
    from dna_zoo.data import interval_windows, read_fasta, read_intervals

    fasta, gff = DATA / "lambda_phage.fa.gz", DATA / "lambda_phage.prodigal.gff.gz"
    intervals = read_intervals(gff, feature="CDS")
    ((name, sequence),) = read_fasta(fasta)
    spans = intervals[name]
    expected = []
    for start in range(0, len(sequence) - window + 1, stride):
        end = start + window
        if any(first <= start and end <= last for first, last, _ in spans):
            expected.append((start, 1))
        elif not any(first < end and last > start for first, last, _ in spans):
            expected.append((start, 0))
    windows = interval_windows(str(fasta), intervals, window, stride)
    assert list(zip(windows["start"], windows["label"])) == expected
    assert all(s == sequence[start : start + window] for s, start in zip(windows["sequence"], windows["start"]))


def test_splits_of_overlapping_windows_share_no_base(tmp_path):
    """A random split of windows cut with a stride shorter than the window shares bases between train and test;
    split_windows by record or by position shares none."""
    from dna_zoo.data import interval_windows, read_fasta, read_intervals, shared_bases, split_windows

    lambda_phage = Path(__file__).parent / "data" / "lambda_phage.fa.gz"
    ((name, genome),) = list(read_fasta(lambda_phage))
    two = tmp_path / "two.fa"
    two.write_text(f">first\n{genome[:24000]}\n>second\n{genome[24000:]}\n")
    windows = interval_windows(str(two), {}, 300, stride=100)
    leaky = windows.train_test_split(test_size=0.2, seed=0)
    assert shared_bases(leaky["train"], leaky["test"]) > 0
    by_record = split_windows(windows, test=["second"])
    assert set(by_record["test"]["record"]) == {"second"} and shared_bases(by_record["train"], by_record["test"]) == 0
    drawn = split_windows(windows, test=0.3, seed=1)
    assert len(set(drawn["train"]["record"])) == 1 and shared_bases(drawn["train"], drawn["test"]) == 0
    single = interval_windows(
        str(lambda_phage), read_intervals(str(lambda_phage).replace(".fa.gz", ".prodigal.gff.gz")), 300, 100
    )
    by_position = split_windows(single, test=0.2, by="position")
    assert shared_bases(by_position["train"], by_position["test"]) == 0
    assert 0.1 < len(by_position["test"]) / len(single) < 0.3
    assert min(by_position["test"]["start"]) >= max(s + 300 for s in by_position["train"]["start"])
    with pytest.raises(ValueError, match="cannot be split by record: use by='position'"):
        split_windows(single, test=0.2)
    with pytest.raises(ValueError, match="no windows of record"):
        split_windows(windows, test=["chrZ"])
