"""Run folders of pretraining and fine-tuning: the newest complete checkpoint, no silent reuse of a folder, a
record of what each run is (so a resume continues its own run only), and an exclusive lock on an output."""

import fcntl
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from dataclasses import asdict

RUN_FILE = "run.json"
# What a run writes into its folder: removed by --overwrite (the data cache is keyed by its inputs and is kept).
RUN_OUTPUTS = re.compile(
    r"checkpoint-\d+(\.partial)?|final|merged|run\.json|losses\.json|metrics\.json"
    r"|loss_curve\.png|validation_\w+\.png|roc_curve\.png|pr_curve\.png"
)


def latest_checkpoint(output_dir: str, complete: Callable[[str], bool] | None = None) -> str | None:
    """The newest `checkpoint-N` folder of `output_dir` (for which `complete(path)` holds, when given). A
    "checkpoint-N.partial" folder is a write that was killed: it never matches."""
    if not os.path.isdir(output_dir):
        return None
    steps = sorted(
        (int(match.group(1)), name)
        for name in os.listdir(output_dir)
        if (match := re.fullmatch(r"checkpoint-(\d+)", name))
    )
    paths = (os.path.join(output_dir, name) for _, name in reversed(steps))
    return next((path for path in paths if complete is None or complete(path)), None)


def refuse_reuse(output_dir: str, resume: bool, overwrite: bool, checkpoint: str | None) -> None:
    """An output folder with checkpoints of an earlier run is used only to resume it or, asked, to start over."""
    if checkpoint and not (resume or overwrite):
        raise FileExistsError(
            f"{output_dir} holds checkpoints of an earlier run: pass resume=True (--resume) to continue it "
            "or overwrite=True (--overwrite) to start over"
        )


def _file_stamp(path: str) -> dict:
    """A file's name, size and a hash of its first and last MiB: the same data copied elsewhere keeps its stamp."""
    size = os.path.getsize(path)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        digest.update(handle.read(1 << 20))
        handle.seek(max(0, size - (1 << 20)))
        digest.update(handle.read(1 << 20))
    return {"file": os.path.basename(path), "size": size, "sha256": digest.hexdigest()}


def _stamp(value):
    """A JSON-able identity of a setting: input files by their content stamp, datasets by their fingerprint,
    everything else as it is (or its repr)."""
    if isinstance(value, (list, tuple)):
        return [_stamp(item) for item in value]
    if isinstance(value, str) and os.path.isfile(value):
        return _file_stamp(value)
    if hasattr(value, "_fingerprint"):  # a datasets.Dataset
        return {"dataset": value._fingerprint}
    return value if isinstance(value, (str, int, float, bool, dict, type(None))) else repr(value)


def run_identity(config) -> dict:
    """What makes a run the same run: every setting of its config but `output_dir`, its input files included."""
    return json.loads(json.dumps({key: _stamp(value) for key, value in asdict(config).items() if key != "output_dir"}))


def check_resumable(output_dir: str, identity: dict, checkpoint: str | None) -> None:
    """A checkpoint is resumed only by the run that wrote it (the same settings and input files)."""
    path = os.path.join(output_dir, RUN_FILE)
    if checkpoint is None or not os.path.isfile(path):
        return
    with open(path, encoding="utf-8") as handle:
        recorded = json.load(handle)
    differing = sorted(key for key in {*recorded, *identity} if recorded.get(key) != identity.get(key))
    if differing:
        raise ValueError(
            f"{checkpoint} belongs to another run (it differs in {', '.join(differing)}): resume it with the settings "
            f"and inputs in {path}, or pass overwrite=True (--overwrite) to start this run over"
        )


def start_run(output_dir: str, identity: dict, overwrite: bool) -> None:
    """Write the run's record; with `overwrite`, first remove everything an earlier run wrote there. Called by one
    process only (the main one)."""
    os.makedirs(output_dir, exist_ok=True)
    if overwrite:
        for name in os.listdir(output_dir):
            if RUN_OUTPUTS.fullmatch(name):
                target = os.path.join(output_dir, name)
                shutil.rmtree(target) if os.path.isdir(target) else os.remove(target)
    path = os.path.join(output_dir, RUN_FILE)
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(identity, handle, indent=1)
    os.replace(path + ".tmp", path)


@contextmanager
def owned_run(output_dir: str, identity: dict, clear: bool, state):
    """For the time of a job on `output_dir`: its lock and the run's record (written by the main process of
    `state`, an accelerate state or Accelerator; `clear` removes an earlier run first), every process in step."""
    with ExitStack() as stack:
        if state.is_main_process:
            os.makedirs(output_dir, exist_ok=True)
            stack.enter_context(exclusive(output_dir))
            start_run(output_dir, identity, clear)
        state.wait_for_everyone()
        yield


@contextmanager
def exclusive(output: str):
    """Hold an exclusive lock on an output (a file or a run folder) for as long as a job writes it: a second job on
    the same output is refused at once, in one line, instead of mixing or losing results."""
    folder, name = os.path.split(os.path.abspath(output))
    lock = os.path.join(folder, f".{name}.lock")  # beside the output, never inside a folder it may not own
    handle = open(lock, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise RuntimeError(
            f"another dna_zoo job is writing {os.path.abspath(output)} (it holds {lock}); wait for it to end or "
            "choose another output"
        ) from None
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
