"""Run folders of pretraining and fine-tuning: the newest complete checkpoint, and no silent reuse of a folder."""

import os
import re
from collections.abc import Callable


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
