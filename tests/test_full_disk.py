"""A write the storage refuses (a full disk, a quota, a file size limit) ends a command in one line naming the
output, and leaves no half-written file: outputs are written under a temporary name and removed on failure, run
folders keep only their complete checkpoints. The storage is made to refuse with a file size limit (RLIMIT_FSIZE:
the kernel fails a write past it with EFBIG, as a full disk fails one with ENOSPC), so no privileges are needed."""

import os
import resource
from contextlib import contextmanager
from pathlib import Path

import pytest

from dna_zoo import NucleotideTransformerForSequenceClassification, NucleotideTransformerTokenizer, config_from_preset
from dna_zoo.cli import main
from dna_zoo.outputs import storage_failure

DATA = Path(__file__).parent / "data"
LAMBDA = str(DATA / "lambda_phage.fa.gz")


@contextmanager
def file_size_limit(size: int):
    """Writes past `size` bytes of any file fail (Python ignores SIGXFSZ, so they raise OSError EFBIG)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def refused(command: list[str], size: int) -> str:
    """The one-line message of `command` run under a file size limit."""
    with file_size_limit(size), pytest.raises(SystemExit) as exit_info:
        main(command)
    message = str(exit_info.value.code)
    assert "\n" not in message and "a write failed: File too large" in message, message
    return message


def leftovers(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if ".partial" in path.name)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    path = tmp_path_factory.mktemp("classifier")
    config = config_from_preset("nucleotide_transformer", "tiny", num_labels=2)
    NucleotideTransformerForSequenceClassification(config).save_pretrained(path)
    NucleotideTransformerTokenizer().save_pretrained(path)
    return str(path)


def test_storage_failures_are_recognised_from_every_writer():
    assert storage_failure(OSError(28, "No space left on device")) == os.strerror(28)
    torch_zip = RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")
    assert "storage refused" in storage_failure(torch_zip)
    wrapped = ValueError("while saving")
    wrapped.__cause__ = OSError(122, "Disk quota exceeded")
    assert storage_failure(wrapped) == os.strerror(122)
    safetensors = RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)")
    assert storage_failure(safetensors) == os.strerror(28)
    assert storage_failure(ValueError("bad input")) is None


@pytest.mark.parametrize("suffix", [".npz", ".parquet"])
def test_embed_on_a_full_disk(tmp_path, classifier, suffix):
    fasta = tmp_path / "reads.fa"
    fasta.write_text(">long\n" + "ACGT" * 2000 + "\n")
    out = tmp_path / f"bases{suffix}"
    options = ["--pooling", "base", "--window", "600"]
    message = refused(["embed", "--model", classifier, "--fasta", str(fasta), "--out", str(out), *options], 100_000)
    assert str(out) in message
    assert not out.exists() and leftovers(tmp_path) == []


def test_predict_on_a_full_disk(tmp_path, classifier):
    fasta = tmp_path / "reads.fa"
    fasta.write_text("".join(f">read{i}\nACGTACGTTGCA\n" for i in range(400)))
    out = tmp_path / "predictions.tsv"
    assert str(out) in refused(["predict", "--model", classifier, "--input", str(fasta), "--out", str(out)], 4096)
    assert not out.exists() and leftovers(tmp_path) == []


def test_train_tokenizer_on_a_full_disk(tmp_path):
    out = tmp_path / "tokenizer"
    refused(["train-tokenizer", "--fasta", LAMBDA, "--vocab-size", "512", "--out", str(out)], 8192)
    assert not out.exists() and leftovers(tmp_path) == []


def test_pretrain_on_a_full_disk_keeps_only_complete_checkpoints(tmp_path):
    run = tmp_path / "run"
    command = ["pretrain", "--family", "nucleotide_transformer", "--fasta", LAMBDA, "--output-dir", str(run)]
    command += ["--window", "200", "--steps", "2", "--batch-size", "2", "--checkpoint-every", "1"]
    message = refused(command, 200_000)
    assert str(run) in message and "--resume" in message
    assert leftovers(tmp_path) == [] and not (run / "final").exists()
    assert not any(path.name.startswith("checkpoint-") for path in run.iterdir())


def test_a_checkpoint_the_disk_refuses_leaves_the_earlier_ones_to_resume_from(tmp_path):
    from dna_zoo.training import PretrainConfig, pretrain

    config = PretrainConfig(
        family="nucleotide_transformer",
        preset="tiny",
        fasta=[LAMBDA],
        output_dir=str(tmp_path / "run"),
        window=200,
        steps=3,
        batch_size=2,
        checkpoint_every=1,
    )
    pretrain(config, stop_at=1)  # checkpoint-1, complete
    with file_size_limit(200_000), pytest.raises(Exception) as error:
        pretrain(config, resume=True)  # checkpoint-2 cannot be written
    assert storage_failure(error.value) == os.strerror(27)
    assert sorted(path.name for path in (tmp_path / "run").iterdir() if "checkpoint" in path.name) == ["checkpoint-1"]
    assert pretrain(config, resume=True)["step"] == 3  # space again: it goes on from checkpoint-1


def test_finetune_on_a_full_disk_leaves_no_half_written_trainer_checkpoint(tmp_path, classifier):
    import numpy as np

    rng = np.random.default_rng(0)
    table = tmp_path / "train.tsv"
    rows = ("".join(rng.choice(list("ACGT"), 60)) + f"\t{i % 2}\n" for i in range(32))
    table.write_text("sequence\tlabel\n" + "".join(rows))
    run = tmp_path / "run"
    command = ["finetune", "--model", classifier, "--train", str(table), "--output-dir", str(run), "--epochs", "1"]
    assert str(run) in refused(command, 200_000)
    assert leftovers(tmp_path) == [] and not (run / "final").exists()
    assert not any(path.name.startswith("checkpoint-") for path in run.iterdir())
