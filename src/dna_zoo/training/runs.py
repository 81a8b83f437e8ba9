"""Run folders of pretraining and fine-tuning: the newest complete checkpoint, no silent reuse of a folder, a
record of what each run is (so a resume continues its own run only), one job at a time in a folder, and nothing
half-written left by a full disk."""

import hashlib
import json
import os
import re
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from dataclasses import asdict

from ..outputs import exclusive, remove, storage_failure, writing

RUN_FILE = "run.json"
# What a run writes into its folder once training has finished.
FINAL_OUTPUTS = (
    r"final|merged|losses\.json|metrics\.json|loss_curve\.png|validation_\w+\.png|roc_curve\.png|pr_curve\.png"
)
# Everything a run writes: removed by --overwrite (the data cache is keyed by its inputs and is kept).
RUN_OUTPUTS = re.compile(rf"checkpoint-\d+(\.partial)?|run\.json|{FINAL_OUTPUTS}")


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


# Settings that do not change what a run computes: a resume may change them.
NOT_IDENTITY = {"output_dir", "rank_timeout"}


def run_identity(config) -> dict:
    """What makes a run the same run: every setting of its config but where it writes and how long it waits for a
    silent process (NOT_IDENTITY), its input files included."""
    settings = {key: _stamp(value) for key, value in asdict(config).items() if key not in NOT_IDENTITY}
    return json.loads(json.dumps(settings))


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
                remove(os.path.join(output_dir, name))
    with writing(os.path.join(output_dir, RUN_FILE)) as temporary, open(temporary, "w", encoding="utf-8") as handle:
        json.dump(identity, handle, indent=1)


@contextmanager
def owned_run(output_dir: str, identity: dict, clear: bool, state, complete: Callable[[str], bool] | None = None):
    """For the time of a job on `output_dir`: its lock and the run's record (written by the main process of
    `state`, an accelerate state or Accelerator; `clear` removes an earlier run first), every process in step.
    When the storage refuses a write (a full disk), what was being written is removed: checkpoint folders that are
    partial or not `complete`, and the final model; the complete checkpoints stay, for --resume."""
    with ExitStack() as stack:
        if state.is_main_process:
            os.makedirs(output_dir, exist_ok=True)
            stack.enter_context(exclusive(output_dir))
            start_run(output_dir, identity, clear)
        state.wait_for_everyone()
        try:
            yield
        except BaseException as error:
            if state.is_main_process and storage_failure(error):
                discard_unfinished(output_dir, complete)
            raise


def discard_unfinished(output_dir: str, complete: Callable[[str], bool] | None) -> None:
    """Remove what a run was writing when it failed: partial checkpoints, checkpoints that are not `complete`, and
    the final outputs (written only once training has finished; a resume writes them again)."""
    for name in os.listdir(output_dir):
        path = os.path.join(output_dir, name)
        checkpoint = re.fullmatch(r"checkpoint-\d+", name)
        unfinished = checkpoint and complete is not None and not complete(path)
        if unfinished or re.fullmatch(rf"checkpoint-\d+\.partial|{FINAL_OUTPUTS}", name):
            remove(path)
