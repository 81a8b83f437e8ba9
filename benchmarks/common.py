"""Measuring helpers shared by the benchmarks: interleaved timing and per-run peak memory.

Timings interleave the implementations (A B A B ...) after a warm-up, so machine noise hits both alike; the
median and the spread (min..max) are reported. Peak memory is the process's peak RSS during one run, above
its RSS just before the run (Linux: the peak is reset through /proc/self/clear_refs), or CUDA's max
allocated bytes on a GPU.
"""

import ctypes
import gc
import re
import statistics
import time
from dataclasses import dataclass, field

import torch


def rss_kib(field_name: str) -> int:
    with open("/proc/self/status") as status:
        return int(re.search(rf"{field_name}:\s+(\d+)", status.read()).group(1))


def _release_freed_memory() -> None:
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


def peak_memory_mib(fn, device: str = "cpu") -> float:
    """Extra memory (MiB) at the peak of one call of fn, above what the process held before it."""
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - before) / 2**20
    _release_freed_memory()
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # reset the peak (VmHWM) to the current RSS
    before = rss_kib("VmRSS")
    fn()
    return (rss_kib("VmHWM") - before) / 1024


@dataclass
class Timing:
    name: str
    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def spread(self) -> str:
        return f"{min(self.seconds):.3f}..{max(self.seconds):.3f}"


def interleaved_timings(fns: dict, repeats: int, warmup: int = 1, device: str = "cpu") -> dict[str, Timing]:
    """Time each fn `repeats` times, alternating between them, after `warmup` untimed rounds."""
    timings = {name: Timing(name) for name in fns}
    for round_index in range(warmup + repeats):
        for name, fn in fns.items():
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn()
            if device == "cuda":
                torch.cuda.synchronize()
            if round_index >= warmup:
                timings[name].seconds.append(time.perf_counter() - start)
    return timings


# What the benchmarks measured in this process, for the harness's report (python -m benchmarks).
REPORT: dict[str, list] = {"timings": [], "targets": [], "efficiency": []}  # efficiency: FLOP/s vs the matmul rate


def report_timing(
    benchmark: str,
    workload: str,
    name: str,
    timing: Timing,
    memory_mib: float | None = None,
    tokens: int | None = None,
    unit: str = "tokens",
) -> None:
    """Print one implementation's timing row and record it; `unit`: what the workload's length counts (tokens or
    bases), the x axis of its length plot."""
    rate = f"  {tokens / timing.median:,.0f} tokens/s" if tokens else ""
    memory = f"  peak +{memory_mib:,.0f} MiB" if memory_mib is not None else ""
    print(f"{workload:<12} {name:<22} median {timing.median:.4f}s (spread {timing.spread()}){rate}{memory}")
    REPORT["timings"].append(
        {
            "benchmark": benchmark,
            "workload": workload,
            "implementation": name,
            "median_s": timing.median,
            "min_s": min(timing.seconds),
            "max_s": max(timing.seconds),
            "peak_mib": memory_mib,
            "tokens": tokens,
            "tokens_per_s": tokens / timing.median if tokens else None,
            "unit": unit,
        }
    )


def target_line(label: str, value: float, target: float, higher_is_better: bool) -> str:
    """A PASS/FAIL line against a target ratio, recorded for the report (a missed target stays visible)."""
    ok = value >= target if higher_is_better else value <= target
    sign = ">=" if higher_is_better else "<="
    REPORT["targets"].append(
        {"label": label, "value": value, "target": target, "higher_is_better": higher_is_better, "passed": ok}
    )
    return f"{'PASS' if ok else 'FAIL'}  {label}: {value:.2f}x (target {sign} {target:.1f}x)"


def dense_matmul_rate(shapes: list[tuple[int, int, int]], device: str, repeats: int = 3) -> float:
    """FLOP/s of torch's dense matmul on the model's own Linear shapes, fp32: the machine's practical limit."""
    unique = set(shapes)  # each distinct shape timed once: a rate, not the model's total
    operands = [(torch.randn(t, i, device=device), torch.randn(i, o, device=device)) for t, i, o in unique]
    timings = interleaved_timings({"matmul": lambda: [a @ b for a, b in operands]}, repeats=repeats, device=device)
    return sum(2 * t * i * o for t, i, o in unique) / timings["matmul"].median


def efficiency_lines(workload: str, timings: dict[str, Timing], flops: float, matmul_rate: float) -> list[str]:
    """Each implementation's achieved matmul FLOP/s (`flops` per call) against the dense matmul rate on the same
    shapes, as INFO lines, recorded for the report."""
    lines = []
    for name, timing in timings.items():
        achieved = flops / timing.median
        lines.append(
            f"INFO  {workload} {name}: {achieved / 1e9:.0f} GFLOP/s of matmuls, "
            f"{achieved / matmul_rate:.0%} of torch's dense matmul rate on the same shapes"
        )
        REPORT["efficiency"].append(
            {
                "workload": workload,
                "implementation": name,
                "gflops": achieved / 1e9,
                "fraction_of_matmul_rate": achieved / matmul_rate,
            }
        )
    return lines


def forward_and_training_step(benchmark: str, family: str, models: dict, run, length: int, tokens: int, args):
    """Forward (no grad) and one training step (forward, a stand-in loss, backward, AdamW step) of a reference and
    dna_zoo on the same weights and inputs, interleaved. models: {label: model}, the reference first and dna_zoo
    as "dna_zoo"; run(model) -> the stand-in loss (a scalar). Returns the target lines (dna_zoo's speed against the
    reference's, >= 1x) and the peak-memory saving of each workload."""
    reference = next(iter(models))
    optimizers = {label: torch.optim.AdamW(model.parameters(), lr=1e-6) for label, model in models.items()}

    def forward(label):
        def step():
            with torch.no_grad():
                run(models[label])

        return step

    def train_step(label):
        def step():
            run(models[label]).backward()
            optimizers[label].step()
            optimizers[label].zero_grad(set_to_none=True)

        return step

    lines = []
    for workload, make in (("forward", forward), ("train step", train_step)):
        for model in models.values():
            model.train(workload == "train step")
        fns = {label: make(label) for label in models}
        timings = interleaved_timings(fns, repeats=args.repeats, device=args.device)
        memory = {label: peak_memory_mib(fn, args.device) for label, fn in fns.items()}
        for label in fns:
            report_timing(benchmark, f"{workload} {length}", label, timings[label], memory[label], tokens)
        speed = timings[reference].median / timings["dna_zoo"].median
        lines.append(target_line(f"{family} {workload} vs {reference}, speed", speed, 1.0, True))
        saving = memory[reference] / memory["dna_zoo"]
        lines.append(f"info  {family} {workload}: {saving:.2f}x the reference's peak memory saved")
    return lines
