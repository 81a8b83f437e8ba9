"""Pretraining through accelerate: exact resume, atomic checkpoints, NaN stop (many processes: test_distributed)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from dna_zoo import NucleotideTransformerTokenizer
from dna_zoo.checkpoints import CONFIG_CLASSES
from dna_zoo.cli import main as cli
from dna_zoo.data import read_fasta
from dna_zoo.training import PretrainConfig, pretrain
from dna_zoo.training.pretrain import build_model, training_loss

LAMBDA = str(Path(__file__).parent / "data" / "lambda_phage.fa.gz")


def config(tmp_path, name, family="nucleotide_transformer", **overrides):
    settings = dict(
        family=family,
        preset="tiny",
        fasta=[LAMBDA],
        output_dir=str(tmp_path / name),
        window=300,
        steps=12,
        batch_size=4,
        checkpoint_every=4,
    )
    return PretrainConfig(**{**settings, **overrides})


def weights(folder):
    return load_file(os.path.join(folder, "final", "model.safetensors"))


@pytest.mark.parametrize("family", ["nucleotide_transformer", "mistral_dna"])
def test_interrupted_run_resumes_exactly(tmp_path, family):
    full = pretrain(config(tmp_path, "full", family))
    pretrain(config(tmp_path, "interrupted", family), stop_at=8)
    assert sorted(os.listdir(tmp_path / "interrupted")) == [
        "checkpoint-4",
        "checkpoint-8",
        "data_cache",
        "run.json",  # what the run is: its settings and inputs
    ]  # no .partial left
    resumed = pretrain(config(tmp_path, "interrupted", family), resume=True)
    assert resumed["losses"] == full["losses"] and len(full["losses"]) == 12
    a, b = weights(tmp_path / "full"), weights(tmp_path / "interrupted")
    assert max((a[k] - b[k]).abs().max().item() for k in a) <= 1e-6


def test_resume_skips_an_incomplete_checkpoint(tmp_path):
    pretrain(config(tmp_path, "run"), stop_at=8)
    shutil.copytree(tmp_path / "run" / "checkpoint-8", tmp_path / "run" / "checkpoint-12.partial")  # a killed write
    resumed = pretrain(config(tmp_path, "run"), resume=True)
    assert resumed["step"] == 12


def test_nan_loss_stops_with_the_step_and_the_last_good_checkpoint(tmp_path):
    with pytest.raises(FloatingPointError, match=r"at step \d+; last good checkpoint"):
        pretrain(config(tmp_path, "nan", learning_rate=1e30, checkpoint_every=1))


def test_validation_split_by_record_lowercase_excluded_and_loss_curve(tmp_path):
    """Validation on held-out records is evaluated every `eval_every` steps; soft-masked bases never carry a label;
    the loss log and the loss-curve plot are written."""
    import gzip

    from dna_zoo.training.pretrain import collate, tokenized_windows

    sequence = next(read_fasta(LAMBDA))[1]
    fasta = tmp_path / "two.fa.gz"
    with gzip.open(fasta, "wt") as handle:
        handle.write(f">a\n{sequence[:20000]}\n>b\n{sequence[20000:26150].lower()}{sequence[26150:30000]}\n")
    run = config(tmp_path, "split", fasta=[str(fasta)], validation_records=["b"], eval_every=4, lowercase="exclude")
    result = pretrain(run)
    assert [step for step, _ in result["validation"]] == [4, 8, 12]
    assert (tmp_path / "split" / "loss_curve.png").stat().st_size > 1000
    assert json.loads((tmp_path / "split" / "losses.json").read_text())["validation"] == result["validation"]

    tokenizer = NucleotideTransformerTokenizer()
    held_out = tokenized_windows(run, tokenizer, 100, [str(fasta)], str(tmp_path / "cache"), records=["b"])
    batch = collate(tokenizer)(list(held_out))
    soft_masked = sum(1 for example in held_out for keep in example["in_loss"] if not keep)
    assert len(held_out) == 13 and soft_masked == 25  # 20 all-lowercase windows dropped; 150 bases = 25 tokens
    assert int(((batch["labels"] == -100) & (batch["attention_mask"] == 1)).sum()) == soft_masked


def test_a_config_file_is_a_preset(tmp_path):
    from dna_zoo import config_from_preset

    config_from_preset("trinity_dna", "tiny", num_hidden_layers=1).save_pretrained(tmp_path / "arch")
    result = pretrain(
        config(tmp_path, "from_file", family=None, preset=str(tmp_path / "arch" / "config.json"), steps=2)
    )
    assert result["model"].config.model_type == "trinity_dna" and result["model"].config.num_hidden_layers == 1


def test_cli_pretrain(tmp_path, capsys):
    cli(
        [
            "pretrain",
            "--family",
            "trinity_dna",
            "--fasta",
            LAMBDA,
            "--output-dir",
            str(tmp_path / "cli"),
            "--window",
            "200",
            "--steps",
            "3",
            "--batch-size",
            "2",
            "--checkpoint-every",
            "3",
        ]
    )
    assert "trained 3 steps" in capsys.readouterr().out and (tmp_path / "cli" / "final" / "config.json").exists()


def test_sigkill_during_checkpointing_then_resume(tmp_path):
    """A run killed at any moment (here: while it writes a checkpoint every step) resumes from the newest complete
    checkpoint and ends with the weights of an uninterrupted run."""
    import signal
    import time

    def command(folder, *extra):
        return [
            sys.executable,
            "-m",
            "dna_zoo.cli",
            "pretrain",
            "--family",
            "nucleotide_transformer",
            "--fasta",
            LAMBDA,
            "--output-dir",
            str(folder),
            "--window",
            "300",
            "--steps",
            "60",
            "--batch-size",
            "4",
            "--checkpoint-every",
            "1",
            *extra,
        ]

    process = subprocess.Popen(command(tmp_path / "killed"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not any(
        p.name.startswith("checkpoint-3") for p in (tmp_path / "killed").glob("*")
    ):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "killed" / "final").exists()  # it really died before the end
    subprocess.run(command(tmp_path / "killed", "--resume"), check=True, capture_output=True)
    subprocess.run(command(tmp_path / "full"), check=True, capture_output=True)
    a, b = weights(tmp_path / "full"), weights(tmp_path / "killed")
    assert max((a[k] - b[k]).abs().max().item() for k in a) <= 1e-6


def test_an_output_dir_with_checkpoints_is_never_silently_reused(tmp_path):
    pretrain(config(tmp_path, "run", steps=4))
    with pytest.raises(FileExistsError, match="holds checkpoints of an earlier run: pass resume=True"):
        pretrain(config(tmp_path, "run", steps=4))
    assert pretrain(config(tmp_path, "run", steps=4), overwrite=True)["step"] == 4


def test_overwrite_clears_the_earlier_run_and_resume_continues_only_its_own(tmp_path):
    """--overwrite with other settings, interrupted, then --resume: the new run continues, never the old one's
    checkpoints (which once gave "trained 40 steps" for --steps 20 and the first run's weights)."""
    pretrain(config(tmp_path, "run", steps=12))
    first = weights(tmp_path / "run")
    pretrain(config(tmp_path, "run", steps=8, seed=1), overwrite=True, stop_at=4)
    assert sorted(p for p in os.listdir(tmp_path / "run") if p.startswith(("checkpoint", "final"))) == ["checkpoint-4"]
    resumed = pretrain(config(tmp_path, "run", steps=8, seed=1), resume=True)
    assert resumed["step"] == 8
    uninterrupted = pretrain(config(tmp_path, "fresh", steps=8, seed=1))
    assert resumed["losses"] == uninterrupted["losses"]
    second = weights(tmp_path / "run")
    assert any((first[k] - second[k]).abs().max() > 0 for k in first)


def test_resume_refuses_checkpoints_of_another_run(tmp_path):
    pretrain(config(tmp_path, "run"), stop_at=4)
    with pytest.raises(ValueError, match=r"checkpoint-4 belongs to another run \(it differs in seed, window\)"):
        pretrain(config(tmp_path, "run", seed=1, window=240), resume=True)


def test_a_second_job_on_the_same_output_folder_is_refused(tmp_path):
    from dna_zoo.outputs import exclusive

    os.makedirs(tmp_path / "run")
    with exclusive(str(tmp_path / "run")):  # a job writing there
        with pytest.raises(RuntimeError, match="another dna_zoo job is writing .*run"):
            pretrain(config(tmp_path, "run"))
    pretrain(config(tmp_path, "run", steps=4))  # free again


@pytest.mark.parametrize("family", sorted(CONFIG_CLASSES))
def test_training_loss_projects_only_the_labelled_tokens_and_equals_the_models_loss(family):
    torch.manual_seed(0)
    model, tokenizer, causal = build_model(PretrainConfig(family=family, preset="tiny", fasta=[], output_dir=""))
    model.eval()  # no dropout: the two losses see the same network
    encoded = tokenizer(["ACGTTGCAAGGCTTAACGTAGGCTAGCTAGGATCCA" * 3, "TTGACAGGCTAGCAATGCA" * 2], padding=True)
    input_ids = torch.tensor(encoded["input_ids"])
    attention_mask = torch.tensor(encoded["attention_mask"])
    labels = input_ids.masked_fill(attention_mask == 0, -100)
    if not causal:
        labels = labels.masked_fill(torch.rand(labels.shape) > 0.3, -100)
    batch = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
    projected = []
    decoder = model.get_output_embeddings()
    if isinstance(decoder, torch.nn.Module):
        decoder.register_forward_hook(lambda module, args, output: projected.append(output.shape[:-1]))

    ours = training_loss(model, batch, causal)
    ours.backward()
    our_grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    theirs = model(**batch).loss
    theirs.backward()
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    for name, p in model.named_parameters():
        if p.grad is not None:
            torch.testing.assert_close(our_grads[name], p.grad, rtol=1e-4, atol=1e-6, msg=name)
    if isinstance(decoder, torch.nn.Module) and not causal:
        assert projected[0] == (int((labels != -100).sum()),)  # the labelled tokens alone, not (B, T)


def test_mask_replace_sets_the_share_of_selected_tokens_shown_as_the_mask():
    from dna_zoo.training.pretrain import mask_tokens

    input_ids = torch.randint(5, 4000, (64, 200))
    special = torch.tensor([0, 1, 2, 3])
    shares = {}
    for replace in (0.8, 1.0, 0.0):
        masked, labels = mask_tokens(
            input_ids, input_ids, special, 2, 4100, 0.5, torch.Generator().manual_seed(0), replace
        )
        selected = labels != -100
        shown_as_mask = (masked == 2) & selected
        kept = (masked == input_ids) & selected
        shares[replace] = (shown_as_mask.sum() / selected.sum()).item(), (kept.sum() / selected.sum()).item()
        assert torch.equal(masked[~selected], input_ids[~selected])
    assert abs(shares[0.8][0] - 0.8) < 0.01 and abs(shares[0.8][1] - 0.1) < 0.01  # BERT's 80 / 10 / 10
    assert shares[1.0] == (1.0, 0.0)  # every selected token hidden: training sees what the held-out check measures
    assert shares[0.0][0] < 0.001 and abs(shares[0.0][1] - 0.5) < 0.01  # (a random token may draw the mask id)
