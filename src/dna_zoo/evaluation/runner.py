"""Fine-tune a model on benchmark tasks, several seeds each, and report MCC as mean +- sd per task: resumable
(finished task/seed pairs are never redone; a pair killed half way resumes from its checkpoint)."""

import json
import os
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from ..outputs import writing
from ..plots import plt
from ..training import FinetuneConfig, finetune
from ..training.finetune import latest_complete_checkpoint
from .published import PUBLISHED_MEANS, PUBLISHED_TASKS
from .suites import RECIPES, SUITE_METRICS, load_task

RESULTS = "results.json"


@dataclass
class EvaluationConfig:
    suite: str  # see evaluation.suites.SUITES
    tasks: list[str]
    model: str  # a dna_zoo folder, a published checkpoint, or "demo"
    output_dir: str
    seeds: int = 3
    source: str | None = None  # a local folder in the suite's layout; None: the Hub
    peft: str | None = "recipe"  # "recipe" (the suite's paper), None (full fine-tuning), "ia3" or "lora"
    learning_rate: float | None = None  # default: the recipe's
    batch_size: int | None = None
    epochs: float | None = None
    max_train: int | None = None  # at most this many training sequences per task (a quick run)
    settings: dict = field(default_factory=dict)  # anything else for FinetuneConfig


def _task_files(config: EvaluationConfig, task: str) -> dict[str, str]:
    """The task's splits written once as CSV under output_dir/data/TASK (so a resumed pair sees the same files,
    and its checkpoints are recognised as its own); a suite without a validation split holds out 10% of train."""
    folder = os.path.join(config.output_dir, "data", task.replace("/", "_"))
    paths = {split: os.path.join(folder, f"{split}.csv") for split in ("train", "validation", "test")}
    if all(os.path.exists(path) for path in paths.values()):
        return paths
    data = load_task(config.suite, task, config.source)
    if "validation" not in data:
        held_out = data["train"].train_test_split(test_size=0.1, seed=0)
        data["train"], data["validation"] = held_out["train"], held_out["test"]
    if config.max_train and len(data["train"]) > config.max_train:
        data["train"] = data["train"].shuffle(seed=0).select(range(config.max_train))
    os.makedirs(folder, exist_ok=True)
    for split, path in paths.items():
        with writing(path) as temporary:
            data[split].select_columns(["sequence", "label"]).to_csv(temporary, index=False)
    return paths


def _save(path: str, results: dict) -> None:
    with writing(path) as temporary, open(temporary, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=1)


def evaluate(config: EvaluationConfig) -> dict:
    """Fine-tune and test every task x seed; returns and writes output_dir/results.json (every pair's test
    metrics), summary.md (mean +- sd per task, the published figure beside it where a paper reports this model on
    this suite) and mcc.png."""
    os.makedirs(config.output_dir, exist_ok=True)
    path = os.path.join(config.output_dir, RESULTS)
    results = {"suite": config.suite, "model": config.model, "runs": {}}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            results = json.load(handle)
        if (results["suite"], results["model"]) != (config.suite, config.model):
            raise ValueError(f"{path} holds {results['suite']} results of {results['model']}: use another output dir")
    recipe = dict(RECIPES[config.suite])
    if config.peft != "recipe":
        recipe["peft"] = config.peft
    for key in ("learning_rate", "batch_size", "epochs"):
        recipe[key] = getattr(config, key) or recipe[key]
    pairs = [(task, seed) for task in config.tasks for seed in range(config.seeds)]
    for task, seed in tqdm(pairs, desc="evaluating", unit="run"):
        key = f"{task}/seed{seed}"
        if key in results["runs"]:
            continue  # finished before: never redone
        files = _task_files(config, task)
        run_dir = os.path.join(config.output_dir, "runs", task.replace("/", "_"), f"seed{seed}")
        run = FinetuneConfig(
            model=config.model,
            train=files["train"],
            validation=files["validation"],
            test=files["test"],
            output_dir=run_dir,
            seed=seed,
            **recipe,
            **config.settings,
        )
        metrics = finetune(run, resume=latest_complete_checkpoint(run_dir) is not None)["metrics"]["test"]
        results["runs"][key] = {name.removeprefix("test_"): value for name, value in metrics.items()}
        _save(path, results)  # after every pair: a kill loses at most the pair running
    results["summary"] = summarise(results, config.tasks)
    _save(path, results)
    write_summary(results, config.output_dir)
    return results


def summarise(results: dict, tasks: list[str]) -> dict:
    """{task: {"mcc_mean", "mcc_sd", "seeds"} (and the suite's own metric's mean and sd; "published_mcc" where a
    paper reports this model on this task, with "published_source")} over the finished seeds of each task."""
    summary = {}
    metrics = dict.fromkeys(["mcc", SUITE_METRICS[results["suite"]]])
    for task in tasks:
        runs = [run for key, run in results["runs"].items() if key.rsplit("/seed", 1)[0] == task]
        if runs:
            summary[task] = {"seeds": len(runs)}
            for metric in metrics:
                values = [run[metric] for run in runs]
                summary[task][f"{metric}_mean"] = float(np.mean(values))
                summary[task][f"{metric}_sd"] = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
            published = PUBLISHED_TASKS.get((results["suite"], results["model"], task))
            if published:
                summary[task]["published_mcc"], summary[task]["published_source"] = published
    return summary


def write_summary(results: dict, output_dir: str) -> None:
    """summary.md (the table, the published figure per task beside ours where there is one, with its citation)
    and mcc.png (ours as bars with the seed sd, the published figures as black marks)."""
    summary = results["summary"]
    own = SUITE_METRICS[results["suite"]]
    extra = [own] if own != "mcc" else []
    citations = sorted({row["published_source"] for row in summary.values() if "published_mcc" in row})
    published_column = " published MCC |" if citations else ""
    lines = [
        f"# {results['suite']}: {results['model']}",
        "",
        "| task | MCC (mean +- sd) |" + "".join(f" {m} (mean +- sd) |" for m in extra) + published_column + " seeds |",
        "| --- | --- |" + " --- |" * len(extra) + " --- |" * bool(citations) + " --- |",
    ]
    for task, row in summary.items():
        cells = [f"{row[f'{m}_mean']:.3f} +- {row[f'{m}_sd']:.3f}" for m in ["mcc", *extra]]
        if citations:
            cells.append(f"{row['published_mcc']:.3f}" if "published_mcc" in row else "")
        lines.append(f"| {task} | {' | '.join(cells)} | {row['seeds']} |")
    mean = float(np.mean([row["mcc_mean"] for row in summary.values()]))
    lines += ["", f"Mean over tasks: {mean:.3f}."]
    compared = [row for row in summary.values() if "published_mcc" in row]
    if compared:
        ours, theirs = (float(np.mean([row[key] for row in compared])) for key in ("mcc_mean", "published_mcc"))
        lines.append(
            f"Over the {len(compared)} task(s) with a published figure: ours {ours:.3f}, published {theirs:.3f}."
        )
    lines += [f"Published MCC: {citation}." for citation in citations]
    published_mean = PUBLISHED_MEANS.get((results["suite"], results["model"]))
    if published_mean:
        lines.append(
            f"Published: {published_mean[0]:.3f} ({published_mean[1]}); a mean over the paper's full task set."
        )
    with open(os.path.join(output_dir, "summary.md"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    figure, axes = plt.subplots(figsize=(6, 0.4 * len(summary) + 1.2))
    names = list(summary)
    axes.barh(
        names,
        [summary[n]["mcc_mean"] for n in names],
        xerr=[summary[n]["mcc_sd"] for n in names],
        color="#255C99",
        label="dna_zoo",
    )
    if citations:
        marked = [n for n in names if "published_mcc" in summary[n]]
        axes.scatter(
            [summary[n]["published_mcc"] for n in marked], marked, color="black", marker="|", s=200, label="published"
        )
        axes.legend(loc="lower right", fontsize=8)
    axes.set(xlabel="test MCC (mean +- sd over seeds)", title=f"{results['suite']}: {results['model']}")
    axes.invert_yaxis()
    figure.tight_layout()
    figure.savefig(os.path.join(output_dir, "mcc.png"), dpi=120)
    plt.close(figure)
