"""Writing outputs safely: checked before any work, locked while a job writes them, written under a temporary name
and renamed when complete, and a full disk said in one line with nothing half-written left behind."""

import errno
import fcntl
import os
import re
import shutil
from contextlib import contextmanager

# What a write says when the storage refuses it: a full disk or quota, a file size limit.
STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
# The same failures as reported by writers that raise no OSError and name no errno (torch.save's zip writer).
STORAGE_MESSAGES = ("No space left", "Disk quota exceeded", "File too large", "StorageFull", "inline_container.cc")


def check_output(path: str, overwrite: bool) -> None:
    """Before any work: an output (a file, or a folder with files) is never replaced unless `overwrite` says so,
    and its folder must exist and be writable, so that nothing is computed for an output that cannot be written."""
    if os.path.exists(path) and (os.path.isfile(path) or os.listdir(path)) and not overwrite:
        raise FileExistsError(f"{path} exists; pass --overwrite to replace it")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {path}: the folder {folder} is not writable")


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


def storage_failure(error: BaseException) -> str | None:
    """Why the storage refused a write ("No space left on device", ...), if that is what `error` (or an error it
    was raised from) is; None for any other error."""
    chain, seen = [], set()
    while error is not None and id(error) not in seen:  # a chain of contexts can loop
        seen.add(id(error))
        chain.append(error)
        error = error.__cause__ or error.__context__
    for error in chain:
        if isinstance(error, OSError) and error.errno in STORAGE_ERRNOS:
            return os.strerror(error.errno)
        rust = re.search(r"\(os error (\d+)\)", str(error))  # Rust writers (safetensors, tokenizers)
        if rust and int(rust.group(1)) in STORAGE_ERRNOS:
            return os.strerror(int(rust.group(1)))
    if any(message in str(error) for error in chain for message in STORAGE_MESSAGES):
        return "the storage refused a write (no space left on the device, or a file size limit)"
    return None


def remove(path: str) -> None:
    """Remove a file or a folder, if it exists."""
    if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


@contextmanager
def writing(path: str, keep_on_error: bool = False):
    """Yield a temporary name for `path` (PATH.partial, a file or a folder), renamed to `path` when the block ends
    without error. An error removes it (a full disk always does; `keep_on_error` keeps the work finished before
    any other error, e.g. the rows written so far), so a reader never takes a half-written output for a whole one."""
    path = os.path.normpath(path)  # "out/" -> "out": the temporary is a sibling, never inside
    temporary = f"{path}.partial"
    remove(temporary)  # a killed earlier job's leftover
    try:
        yield temporary
    except BaseException as error:
        if not keep_on_error or storage_failure(error):
            remove(temporary)
        raise
    if os.path.isdir(path) and not os.path.islink(path):  # a folder replaced (overwrite was checked by the caller)
        remove(path)
    os.replace(temporary, path)
