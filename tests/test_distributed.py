"""Pretraining on several processes (gloo, CPU) under torchrun: data parallel and sharded (FSDP2) runs agree step for
step, a sharded checkpoint survives the loss of a rank and converts to a plain folder, a dead or hung rank stops the
job with one line naming it, and a two-node launch equals a one-node one."""

import json
import os
import re
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
from dna_zoo.sharding import shard_model
from dna_zoo.training import PretrainConfig, pretrain
from dna_zoo.training.watchdog import RankWatch

LAMBDA = str(Path(__file__).parent / "data" / "lambda_phage.fa.gz")
SCRIPT = str(Path(__file__).parent / "distributed_pretrain.py")
FAMILIES = ["nucleotide_transformer", "gena_lm", "mistral_dna", "trinity_dna"]
STOP_LINE = re.compile(r"^dna_zoo: rank 1 \(process (\d+) on [^)]+\) (.+): stopping the job; (.+)$", re.MULTILINE)


def run(output_dir, family="nucleotide_transformer", **overrides):
    settings = dict(family=family, preset="tiny", fasta=[LAMBDA], output_dir=str(output_dir), window=240)
    return {**settings, "steps": 6, "batch_size": 4, "checkpoint_every": 3, **overrides}


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


def losses(folder):
    with open(os.path.join(folder, "losses.json")) as handle:
        return json.load(handle)["losses"]


# the uninterrupted sharded run the kill test resumes towards
LONG = dict(steps=14, checkpoint_every=1, fsdp=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One launch of two processes: each family trained data parallel and sharded, and the long sharded run."""
    root = tmp_path_factory.mktemp("reference")
    runs = [
        run(root / f"{family}-{kind}", family, fsdp=kind == "fsdp") for family in FAMILIES for kind in ("ddp", "fsdp")
    ]
    runs.append(run(root / "long", **LONG))
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
    a, b = final_weights(ddp), final_weights(fsdp)
    assert a.keys() == b.keys()
    assert max((a[name] - b[name]).abs().max().item() for name in a) <= 1e-5


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


def wait_for(condition, seconds=300):
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def rank_pid(output_dir, rank):
    beat = Path(output_dir) / ".ranks" / f"rank-{rank}.json"
    wait_for(lambda: beat.exists())
    return json.loads(beat.read_text())["pid"]


def test_sigkill_of_one_rank_then_resume_gives_the_uninterrupted_weights(reference, tmp_path):
    folder = tmp_path / "killed"
    process = launch([run(folder, **LONG)], stderr=subprocess.PIPE)
    pid = rank_pid(folder, 1)
    wait_for(lambda: (folder / "checkpoint-3").is_dir())
    os.kill(pid, signal.SIGKILL)
    code, errors = finish(process)
    assert code != 0 and not (folder / "final").exists()  # the job stopped, before its end
    lines = STOP_LINE.findall(errors)
    assert len(lines) == 1 and lines[0][0] == str(pid) and lines[0][1].startswith("died at step"), errors[-3000:]
    assert "the last complete checkpoint is" in lines[0][2]
    code, errors = finish(launch([run(folder, **LONG, resume=True)], stderr=subprocess.PIPE))
    assert code == 0, errors[-4000:]
    a, b = final_weights(reference / "long"), final_weights(folder)
    assert max((a[name] - b[name]).abs().max().item() for name in a) <= 1e-6
    assert losses(folder) == pytest.approx(losses(reference / "long"), rel=1e-6)


@pytest.mark.slow
def test_a_hung_rank_stops_the_job_within_the_timeout(tmp_path):
    folder = tmp_path / "hung"
    process = launch([run(folder, steps=400, checkpoint_every=2, fsdp=True, rank_timeout=8)], stderr=subprocess.PIPE)
    pid = rank_pid(folder, 1)
    wait_for(lambda: (folder / "checkpoint-2").is_dir())
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
    a, b = final_weights(reference / "nucleotide_transformer-fsdp"), final_weights(folder)
    assert max((a[name] - b[name]).abs().max().item() for name in a) <= 1e-6


def test_sharding_needs_several_processes_and_no_fp16(tmp_path):
    with pytest.raises(ValueError, match="launch with torchrun --nproc_per_node N"):
        pretrain(PretrainConfig(**run(tmp_path / "one", fsdp=True)))
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
