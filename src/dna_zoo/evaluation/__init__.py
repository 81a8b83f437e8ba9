"""Benchmark suites (GUE, the Nucleotide Transformer tasks, genomic-benchmarks) and the runner that fine-tunes and
scores a model on them."""

from .runner import EvaluationConfig, evaluate
from .suites import SUITES, list_tasks, load_task

__all__ = ["SUITES", "EvaluationConfig", "evaluate", "list_tasks", "load_task"]
