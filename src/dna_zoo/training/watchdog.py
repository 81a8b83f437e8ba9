"""A watch over the processes of a distributed job: when one dies or hangs, the others stop the job with one line
naming it, instead of waiting in a collective until the process group's timeout (30 minutes by default).

Every process writes a heartbeat file (`output_dir/.ranks/rank-N.json`: its process id, host, step and a counter)
from a background thread, which keeps beating while the training loop waits in a collective. Each process reads
its peers' files: a peer whose counter has not moved for `timeout` seconds hangs (or was stopped); a peer on the
same host whose process is gone died. Multi-node jobs need `output_dir` on a filesystem all nodes share (their
checkpoints do too).
"""

import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable

HEARTBEATS = ".ranks"


class RankWatch:
    """Context manager run by every process of a job, around its training loop. `last_checkpoint()` names the
    newest complete checkpoint, for the stop line. Enter it on every process at once (the main process first
    clears an earlier job's heartbeats, then `barrier()`)."""

    def __init__(
        self,
        output_dir: str,
        rank: int,
        world_size: int,
        timeout: float,
        last_checkpoint: Callable[[], str | None],
        barrier: Callable[[], None],
    ):
        self.folder = os.path.join(output_dir, HEARTBEATS)
        self.rank, self.world_size, self.timeout = rank, world_size, timeout
        self.last_checkpoint, self.barrier = last_checkpoint, barrier
        self.interval = min(1.0, timeout / 5)
        self.step, self.beats, self.host = 0, 0, socket.gethostname()
        self.seen: dict[int, tuple[int, float]] = {}  # peer rank -> (its counter, when it last moved, our clock)
        self.stopped = threading.Event()

    def __enter__(self):
        if self.world_size == 1:  # nothing to watch
            return self
        if self.rank == 0 and os.path.isdir(self.folder):
            for name in os.listdir(self.folder):
                os.remove(os.path.join(self.folder, name))
        os.makedirs(self.folder, exist_ok=True)
        self.barrier()
        self._beat()
        self.started = time.monotonic()
        self.thread = threading.Thread(target=self._watch, name="dna_zoo-rank-watch", daemon=True)
        self.thread.start()
        if threading.current_thread() is threading.main_thread():  # a launcher's SIGTERM: say why, then stop
            self.previous_handler = signal.signal(signal.SIGTERM, self._terminated)
        return self

    def __exit__(self, kind, error, traceback):
        if self.world_size == 1:
            return
        self.stopped.set()
        self.thread.join()
        if kind is not None and issubclass(kind, RuntimeError):
            self._blame_a_peer()
        if hasattr(self, "previous_handler"):
            signal.signal(signal.SIGTERM, self.previous_handler)
        if kind is None:
            os.remove(self._path(self.rank))

    def _blame_a_peer(self) -> None:
        """A collective fails at once when a peer's connection drops: if a peer is gone, say so rather than show
        the collective's traceback (the launcher may take a moment to reap a killed process)."""
        deadline = time.monotonic() + 3 * self.interval + 1
        while time.monotonic() < deadline:
            failure = self.failure()
            if failure:
                self._stop(failure[0])
            time.sleep(self.interval / 2)

    def _path(self, rank: int) -> str:
        return os.path.join(self.folder, f"rank-{rank}.json")

    def _beat(self) -> None:
        self.beats += 1
        beat = {"rank": self.rank, "pid": os.getpid(), "host": self.host, "step": self.step, "beat": self.beats}
        temporary = self._path(self.rank) + ".tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(beat, handle)
        os.replace(temporary, self._path(self.rank))

    def _read(self, rank: int) -> dict | None:
        try:
            with open(self._path(rank), encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):  # not written yet
            return None

    def failure(self) -> tuple[str, int | None] | None:
        """What is wrong with a peer (the stop line's subject) and the process id of a hung peer on this host (to
        end: the launcher would wait for a stopped process to exit), or None while all are well."""
        now = time.monotonic()
        for rank in range(self.world_size):
            if rank == self.rank:
                continue
            beat = self._read(rank)
            if beat is None:
                if now - self.started > self.timeout:
                    return f"rank {rank} has not started within {self.timeout:.0f} s", None
                continue
            process = f"rank {rank} (process {beat['pid']} on {beat['host']})"
            if beat["host"] == self.host and not _alive(beat["pid"]):
                return f"{process} died at step {beat['step']}", None
            counter, moved = self.seen.get(rank, (None, self.started))
            if beat["beat"] != counter:
                self.seen[rank] = (beat["beat"], now)
            elif now - moved > self.timeout:
                problem = (
                    f"{process} sent no heartbeat for {self.timeout:.0f} s (hung or stopped) at step {beat['step']}"
                )
                return problem, beat["pid"] if beat["host"] == self.host else None
        return None

    def _watch(self) -> None:
        while not self.stopped.wait(self.interval):
            self._beat()
            failure = self.failure()
            if failure:
                problem, hung = failure
                if hung is not None:
                    os.kill(hung, signal.SIGKILL)
                self._stop(problem)

    def _terminated(self, signum, frame) -> None:
        problem = (self.failure() or (f"rank {self.rank} was sent SIGTERM at step {self.step}",))[0]
        self._stop(problem, code=128 + signum)

    def _stop(self, problem: str, code: int = 1) -> None:
        """Print the stop line and end this process at once (its peers stop too: the launcher ends the others)."""
        checkpoint = self.last_checkpoint()
        kept = f"the last complete checkpoint is {checkpoint} (continue with --resume)"
        if checkpoint is None:
            kept = "no checkpoint was written yet"
        print(f"\ndna_zoo: {problem}: stopping the job; {kept}", file=sys.stderr, flush=True)  # own line, past tqdm
        os._exit(code)


def _alive(pid: int) -> bool:
    """Whether process `pid` of this host runs (a killed one not yet reaped by its launcher counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rpartition(")")[2].split()[0] not in ("Z", "X")  # zombie or dead
    except FileNotFoundError:
        return False
    except OSError:  # no /proc (macOS): ask the kernel
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
