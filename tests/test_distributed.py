"""Pretraining and fine-tuning (Trainer) on several processes (gloo, CPU) under torchrun: data parallel and sharded
(FSDP2) runs agree step for step, a sharded checkpoint survives the loss of a rank and converts to a plain folder, a
dead or hung rank stops the job with one line naming it, and a two-node launch equals a one-node one."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from dna_zoo import NucleotideTransformerForMaskedLM, config_from_preset
from dna_zoo.checkpoints import detect_checkpoint, load_model
from dna_zoo.data import interval_windows, read_intervals
from dna_zoo.sharding import shard_model
from dna_zoo.training import FinetuneConfig, PretrainConfig, finetune, pretrain
from dna_zoo.training.finetune import complete_checkpoint
from dna_zoo.training.watchdog import RankWatch

LAMBDA = str(Path(__file__).parent / "data" / "lambda_phage.fa.gz")
GENES = str(Path(__file__).parent / "data" / "lambda_phage.prodigal.gff.gz")
SCRIPT = str(Path(__file__).parent / "distributed_runs.py")
FAMILIES = ["nucleotide_transformer", "gena_lm", "mistral_dna", "trinity_dna"]
STOP_LINE = re.compile(r"^dna_zoo: rank 1 \(process (\d+) on [^)]+\) (.+): stopping the job; (.+)$", re.MULTILINE)


def run(output_dir, family="nucleotide_transformer", **overrides):
    """A pretraining job."""
    settings = dict(job="pretrain", family=family, preset="tiny", fasta=[LAMBDA], output_dir=str(output_dir))
    return {**settings, "window": 240, "steps": 6, "batch_size": 4, "checkpoint_every": 3, **overrides}


def tuning(output_dir, model, data, **overrides):
    """A fine-tuning job on coding windows of lambda phage (`data`: the folder of train.csv and validation.csv)."""
    settings = dict(job="finetune", model=str(model), output_dir=str(output_dir), train=str(data / "train.csv"))
    return {**settings, "validation": str(data / "validation.csv"), "epochs": 1, "batch_size": 4, **overrides}


def launch(runs, *rendezvous, nproc=2, **popen):
    """torchrun training `runs` one after another on `nproc` processes (per node, with `rendezvous` arguments)."""
    rendezvous = rendezvous or ("--standalone",)
    command = [sys.executable, "-m", "torch.distributed.run", *rendezvous, "--nproc_per_node", str(nproc), SCRIPT]
    return subprocess.Popen([*command, json.dumps(runs)], text=True, **popen)


def finish(process, timeout=600):
    output, errors = process.communicate(timeout=timeout)
    return process.returncode, errors or ""


def final_weights(folder):
    return load_file(os.path.join(folder, "final", "model.safetensors"))


def max_difference(a, b):
    assert a.keys() == b.keys()
    return max((a[name] - b[name]).abs().max().item() for name in a)


def losses(folder):
    with open(os.path.join(folder, "losses.json")) as handle:
        return json.load(handle)["losses"]


# the uninterrupted sharded runs the kill tests resume towards
LONG = dict(steps=14, checkpoint_every=1, fsdp=True)
LONG_TUNING = dict(validation=None, epochs=2, eval_steps=1, learning_rate=1e-3, fsdp=True)  # 16 steps, each saved


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One launch of two processes: each family pretrained data parallel and sharded, then fine-tuned from that
    model data parallel and sharded, and the long sharded runs."""
    root = tmp_path_factory.mktemp("reference")
    windows = interval_windows(LAMBDA, read_intervals(GENES, feature="CDS"), 150, stride=60).shuffle(seed=0)
    (root / "coding").mkdir()
    windows.select(range(64)).to_csv(root / "coding" / "train.csv", index=False)
    windows.select(range(64, 96)).to_csv(root / "coding" / "validation.csv", index=False)
    kinds = ("ddp", "fsdp")
    runs = [run(root / f"{family}-{kind}", family, fsdp=kind == "fsdp") for family in FAMILIES for kind in kinds]
    runs.append(run(root / "long", **LONG))
    pretrained = {family: root / f"{family}-ddp" / "final" for family in FAMILIES}
    runs += [
        tuning(root / f"tune-{family}-{kind}", pretrained[family], root / "coding", eval_steps=2, fsdp=kind == "fsdp")
        for family in FAMILIES
        for kind in kinds
    ]
    runs.append(tuning(root / "tune-long", pretrained[FAMILIES[0]], root / "coding", **LONG_TUNING))
    code, errors = finish(launch(runs, stderr=subprocess.PIPE))
    assert code == 0, errors[-4000:]
    return root


def test_data_parallel_ranks_hold_identical_weights(reference):
    ranks = [torch.load(reference / "nucleotide_transformer-ddp" / f"rank{r}.pt") for r in (0, 1)]
    assert all(r["world"] == 2 for r in ranks) and ranks[0]["losses"] == ranks[1]["losses"]
    for name, tensor in ranks[0]["weights"].items():
        assert torch.equal(tensor, ranks[1]["weights"][name]), name
    assert len(set(ranks[0]["losses"])) == len(ranks[0]["losses"])  # guard: the weights moved step to step
    assert (reference / "nucleotide_transformer-ddp" / "checkpoint-3").is_dir()


@pytest.mark.parametrize("family", FAMILIES)
def test_sharded_run_equals_data_parallel_run(reference, family):
    """Same seed and global batch: the sharded run's loss curve and final weights are the data-parallel run's."""
    ddp, fsdp = reference / f"{family}-ddp", reference / f"{family}-fsdp"
    assert losses(fsdp) == pytest.approx(losses(ddp), rel=1e-5)
    assert len(set(losses(ddp))) == len(losses(ddp))  # guard: training moved the weights
    assert max_difference(final_weights(ddp), final_weights(fsdp)) <= 1e-5


@pytest.mark.parametrize("family", FAMILIES)
def test_sharded_checkpoint_converts_to_a_plain_model(reference, family, tmp_path):
    """A sharded checkpoint holds one weight file per process; the one loader reads it on one process."""
    checkpoint = reference / f"{family}-fsdp" / "checkpoint-6"
    assert len(list((checkpoint / "model_shards").glob("*.distcp"))) == 2
    assert detect_checkpoint(str(checkpoint)).layout == "dna_zoo-sharded"
    model = load_model(str(checkpoint))
    model.save_pretrained(tmp_path / "plain")
    plain, trained = load_file(tmp_path / "plain" / "model.safetensors"), final_weights(reference / f"{family}-fsdp")
    assert plain.keys() == trained.keys()
    assert all(torch.equal(plain[name], trained[name]) for name in plain)
    assert detect_checkpoint(str(tmp_path / "plain")).layout == "dna_zoo"


def wait_for(condition, process, seconds=300):
    deadline = time.time() + seconds
    while not condition():
        assert process.poll() is None, finish(process)[1][-4000:]  # the launch ended first
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def rank_pid(output_dir, rank, process):
    beat = Path(output_dir) / ".ranks" / f"rank-{rank}.json"
    wait_for(lambda: beat.exists(), process)
    return json.loads(beat.read_text())["pid"]


def test_sigkill_of_one_rank_then_resume_gives_the_uninterrupted_weights(reference, tmp_path):
    folder = tmp_path / "killed"
    process = launch([run(folder, **LONG)], stderr=subprocess.PIPE)
    pid = rank_pid(folder, 1, process)
    wait_for(lambda: (folder / "checkpoint-3").is_dir(), process)
    os.kill(pid, signal.SIGKILL)
    code, errors = finish(process)
    assert code != 0 and not (folder / "final").exists()  # the job stopped, before its end
    lines = STOP_LINE.findall(errors)
    assert len(lines) == 1 and lines[0][0] == str(pid) and lines[0][1].startswith("died at step"), errors[-3000:]
    assert "the last complete checkpoint is" in lines[0][2]
    code, errors = finish(launch([run(folder, **LONG, resume=True)], stderr=subprocess.PIPE))
    assert code == 0, errors[-4000:]
    assert max_difference(final_weights(reference / "long"), final_weights(folder)) <= 1e-6
    assert losses(folder) == pytest.approx(losses(reference / "long"), rel=1e-6)


def tuning_log(folder):
    with open(os.path.join(folder, "metrics.json")) as handle:
        return json.load(handle)["log"]


@pytest.mark.parametrize("family", FAMILIES)
def test_sharded_fine_tuning_equals_data_parallel_fine_tuning(reference, family):
    """Trainer, same seed and global batch: the same training losses, evaluations, best checkpoint and weights."""
    ddp, fsdp = reference / f"tune-{family}-ddp", reference / f"tune-{family}-fsdp"
    keys = ("loss", "eval_loss", "eval_mcc", "train_loss")
    for a, b in zip(tuning_log(ddp), tuning_log(fsdp), strict=True):
        assert {k: a[k] for k in keys if k in a} == pytest.approx({k: b[k] for k in keys if k in b}, rel=1e-5)
    evaluations = [entry["eval_loss"] for entry in tuning_log(ddp) if "eval_loss" in entry]
    assert len(evaluations) == 4 and len(set(evaluations)) == 4  # guard: training moved the weights
    a, b = final_weights(ddp), final_weights(fsdp)
    assert a.keys() - final_weights(reference / f"{family}-ddp").keys()  # a new head
    assert max_difference(a, b) <= 1e-5
    checkpoint = fsdp / "checkpoint-8"  # sharded: one shard per process, read back by the one loader
    assert len(list((checkpoint / "model_shards").glob("*.distcp"))) == 2
    assert detect_checkpoint(str(checkpoint)).layout == "dna_zoo-sharded"
    plain, converted = load_model(str(ddp / "checkpoint-8")), load_model(str(checkpoint))
    assert type(converted) is type(plain) and type(plain).__name__.endswith("ForSequenceClassification")
    assert max_difference(plain.state_dict(), converted.state_dict()) <= 1e-5
    for folder in (ddp, fsdp):  # the final model is the best checkpoint's, every weight of it (Mistral's experts too)
        with open(folder / "checkpoint-8" / "trainer_state.json") as handle:
            best = json.load(handle)["best_model_checkpoint"]
        assert not best.endswith("checkpoint-8")  # guard: loading the best checkpoint changes the weights
        final = load_model(str(folder / "final")).state_dict()
        assert max_difference(final, load_model(best).state_dict()) == 0, folder


def test_a_sharded_checkpoint_is_complete_only_with_every_shard(reference, tmp_path):
    """What resume and the stop line take for a checkpoint: its trainer state and every shard its index names (a
    save killed before the index, or a checkpoint half deleted by the rotation, is passed over)."""
    copy = tmp_path / "checkpoint-8"
    shutil.copytree(reference / f"tune-{FAMILIES[0]}-fsdp" / "checkpoint-8", copy)
    assert complete_checkpoint(str(copy))
    (copy / "model_shards" / "__1_0.distcp").unlink()
    assert not complete_checkpoint(str(copy))
    (copy / "model_shards" / ".metadata").unlink()
    assert not complete_checkpoint(str(copy))


def test_sigkill_of_one_rank_while_fine_tuning_then_resume_gives_the_uninterrupted_weights(reference, tmp_path):
    folder, model = tmp_path / "killed", reference / f"{FAMILIES[0]}-ddp" / "final"
    job = tuning(folder, model, reference / "coding", **LONG_TUNING)
    process = launch([job], stderr=subprocess.PIPE)
    pid = rank_pid(folder, 1, process)
    wait_for(lambda: (folder / "checkpoint-5" / "trainer_state.json").is_file(), process)
    os.kill(pid, signal.SIGKILL)
    code, errors = finish(process)
    assert code != 0 and not (folder / "final").exists()  # the job stopped, before its end
    lines = STOP_LINE.findall(errors)
    assert len(lines) == 1 and lines[0][0] == str(pid) and lines[0][1].startswith("died at step"), errors[-3000:]
    code, errors = finish(launch([{**job, "resume": True}], stderr=subprocess.PIPE))
    assert code == 0, errors[-4000:]
    assert max_difference(final_weights(reference / "tune-long"), final_weights(folder)) <= 1e-6
    # guard: it resumed rather than started again. Trainer's train_loss sums the losses of the steps this launch
    # ran, over all steps: smaller after a resume
    assert tuning_log(folder)[-1]["train_loss"] < tuning_log(reference / "tune-long")[-1]["train_loss"]


@pytest.mark.slow
def test_a_hung_rank_stops_the_job_within_the_timeout(tmp_path):
    folder = tmp_path / "hung"
    process = launch([run(folder, steps=400, checkpoint_every=2, fsdp=True, rank_timeout=8)], stderr=subprocess.PIPE)
    pid = rank_pid(folder, 1, process)
    wait_for(lambda: (folder / "checkpoint-2").is_dir(), process)
    os.kill(pid, signal.SIGSTOP)
    stopped = time.time()
    code, errors = finish(process, timeout=120)
    assert code != 0 and time.time() - stopped < 8 + 30, errors[-3000:]
    lines = STOP_LINE.findall(errors)
    assert len(lines) == 1 and "sent no heartbeat for 8 s" in lines[0][1], errors[-3000:]
    checkpoint = re.search(r"the last complete checkpoint is (\S+)", lines[0][2]).group(1)
    assert load_model(checkpoint) is not None  # complete: it loads


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_two_node_launch_equals_one_node(reference, tmp_path):
    """`--nnodes 2`, one process each, rendezvous on 127.0.0.1: the same run as two processes on one node."""
    folder, port = tmp_path / "two-nodes", free_port()
    runs = [run(folder, fsdp=True)]
    nodes = [
        launch(
            runs,
            "--nnodes",
            "2",
            "--node_rank",
            str(node),
            "--master_addr",
            "127.0.0.1",
            "--master_port",
            str(port),
            nproc=1,
            stderr=subprocess.PIPE,
        )
        for node in (0, 1)
    ]
    for node in nodes:
        code, errors = finish(node)
        assert code == 0, errors[-4000:]
    assert losses(folder) == pytest.approx(losses(reference / "nucleotide_transformer-fsdp"), rel=1e-6)
    assert max_difference(final_weights(reference / "nucleotide_transformer-fsdp"), final_weights(folder)) <= 1e-6


def test_sharding_needs_several_processes_no_fp16_and_no_adapter(tmp_path):
    settings = run(tmp_path / "one", fsdp=True)
    settings.pop("job")
    with pytest.raises(ValueError, match="launch with torchrun --nproc_per_node N"):
        pretrain(PretrainConfig(**settings))
    with pytest.raises(ValueError, match="launch with torchrun --nproc_per_node N"):
        finetune(FinetuneConfig(model="demo", train=None, output_dir=str(tmp_path / "two"), fsdp=True))
    with pytest.raises(ValueError, match="fsdp shards full fine-tuning: a peft adapter"):
        finetune(FinetuneConfig(model="demo", train=None, output_dir=str(tmp_path / "two"), fsdp=True, peft="ia3"))
    model = NucleotideTransformerForMaskedLM(config_from_preset("nucleotide_transformer", "tiny"))
    with pytest.raises(ValueError, match="supports mixed precision .* got 'fp16'"):
        shard_model(model, "fp16")


def test_the_watch_names_a_peer_that_falls_silent_or_dies(tmp_path):
    """In one process: rank 0's watch reading a peer's heartbeat file."""
    watch = RankWatch(str(tmp_path), 0, 2, timeout=1.0, last_checkpoint=lambda: None, barrier=lambda: None)
    watch.started = time.monotonic()
    (tmp_path / ".ranks").mkdir()
    beat = {"rank": 1, "pid": os.getpid(), "host": socket.gethostname(), "step": 7, "beat": 1}
    (tmp_path / ".ranks" / "rank-1.json").write_text(json.dumps(beat))
    assert watch.failure() is None  # beating: well
    time.sleep(1.2)
    problem, hung = watch.failure()  # the counter has not moved for the timeout
    assert problem.startswith(f"rank 1 (process {os.getpid()} on ") and "sent no heartbeat for 1 s" in problem
    assert hung == os.getpid() and "at step 7" in problem
    finished = subprocess.Popen(["true"])
    finished.wait()
    (tmp_path / ".ranks" / "rank-1.json").write_text(json.dumps({**beat, "pid": finished.pid, "beat": 2}))
    problem, hung = watch.failure()
    assert problem == f"rank 1 (process {finished.pid} on {socket.gethostname()}) died at step 7" and hung is None
