"""Fine-tuning on labelled sequences with transformers' Trainer: sequence classification (single- and
multi-label), regression and token (nucleotide) classification, full or through a peft preset (IA3, LoRA).

Data come from CSV/TSV/Parquet/JSONL files or `datasets` datasets (see `dna_zoo.data.tables`); per-base labels
(e.g. from BED/GFF intervals) become token labels through the tokenizer's offsets, for k-mer, BPE and single-base
tokenizers alike. Checkpoints are Trainer checkpoints: `resume=True` continues from the newest.
"""

import json
import os
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from accelerate import PartialState
from datasets import Dataset
from peft import PeftModel
from transformers import (
    DataCollatorForTokenClassification,
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from ..checkpoints import load_model, load_tokenizer
from ..data.tables import DataError, check_table, location, read_table
from ..inference.embeddings import check_vocabulary
from ..inference.resolution import bases_to_tokens
from ..models import InvalidSequenceError
from ..sharding import has_shards, shard_model
from .curves import plot_finetuning
from .metrics import BEST_METRIC, metrics_for
from .peft_presets import ia3_config, lora_config
from .runs import check_resumable, latest_checkpoint, owned_run, refuse_reuse, run_identity
from .sharded_trainer import ShardedTraining
from .watchdog import RankWatch

DEFAULT_LEARNING_RATE = {None: 5e-5, "ia3": 3e-3, "lora": 5e-4}  # full fine-tuning, NT-paper IA3, LoRA


@dataclass
class FinetuneConfig:
    model: str  # a dna_zoo folder, a published checkpoint (converted on load) or "demo" (the bundled model)
    train: object  # a CSV/TSV/Parquet/JSONL path, or a datasets.Dataset
    output_dir: str
    validation: object = None  # same kinds; used for early stopping and the best checkpoint
    test: object = None  # evaluated once at the end
    task: str = "classification"  # "classification" | "multilabel" | "regression" | "token"
    sequence_column: str = "sequence"
    label_columns: list[str] = field(default_factory=lambda: ["label"])
    peft: str | None = None  # None (full fine-tuning), "ia3" or "lora"
    epochs: float = 3.0
    batch_size: int = 8
    learning_rate: float | None = None  # default: 5e-5 full, 3e-3 IA3 (NT paper), 5e-4 LoRA
    weight_decay: float = 0.01
    warmup: float = 0.0  # warmup steps (an int) or a fraction of all steps (a float below 1)
    class_weights: object = None  # None, "balanced" (inverse class frequency), or one weight per class
    early_stopping_patience: int | None = 3  # evaluations without improvement (needs `validation`)
    eval_steps: int | None = None  # None: evaluate (and checkpoint) once per epoch
    max_length: int | None = None  # tokens; default the model's context. Longer sequences: see `too_long`
    too_long: str = "truncate"  # "truncate" (with a warning giving the count) or "error"
    seed: int = 0
    merge: bool = True  # with peft, also save the merged plain model in output_dir/merged
    dataloader_workers: int = 0
    fsdp: bool = False  # shard weights, gradients and optimizer state across the processes (FSDP2; full fine-tuning)
    rank_timeout: float = 300.0  # seconds a process of a distributed job may stay silent before the job is stopped


class WeightedTrainer(Trainer):
    """Trainer whose loss weights classes (cross-entropy) or positive labels (multi-label BCE)."""

    def __init__(self, *args, class_weights: torch.Tensor | None = None, task: str = "classification", **kwargs):
        super().__init__(*args, **kwargs)
        self.class_weights, self.task = class_weights, task

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if self.class_weights is None:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        logits, weights = outputs.logits.float(), self.class_weights.to(outputs.logits.device)
        if self.task == "multilabel":
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels.float(), pos_weight=weights)
        else:
            loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1), weights)
        return (loss, outputs) if return_outputs else loss

    def _save_checkpoint(self, model, trial) -> None:
        """Trainer's checkpoint, then a marker once every process has written its part: the main process writes
        trainer_state.json while the others may still be writing their RNG states (or a sharded model's
        shards), so that file alone does not show a checkpoint is whole."""
        super()._save_checkpoint(model, trial)
        self.accelerator.wait_for_everyone()
        if self.args.should_save:
            name = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
            with open(os.path.join(self._get_output_dir(trial=trial), name, COMPLETE), "w"):
                pass

    # Trainer reads a checkpoint's weight file into the model as it is, not strictly: weights saved under other
    # names than the model's (Mistral-DNA's experts, saved one per expert in Mixtral's layout) would silently keep
    # their current values on resume and when loading the best checkpoint. from_pretrained converts them.
    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        if isinstance(self.model, PeftModel):  # an adapter (and head), under its own names
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        self._load_weights(resume_from_checkpoint)

    def _load_best_model(self) -> None:
        if isinstance(self.model, PeftModel):
            return super()._load_best_model()
        self._load_weights(self.state.best_model_checkpoint)

    def _load_weights(self, checkpoint: str) -> None:
        saved = type(self.model).from_pretrained(checkpoint, dtype=self.model.dtype)
        self.model.load_state_dict(saved.state_dict())


class ShardedWeightedTrainer(ShardedTraining, WeightedTrainer):
    """WeightedTrainer of a model sharded by `shard_model`."""


class WatchedSteps(TrainerCallback):
    """Tells the rank watch the step reached (named in its stop line)."""

    def __init__(self, watch: RankWatch):
        self.watch = watch

    def on_step_end(self, args, state, control, **kwargs):
        self.watch.step = state.global_step


def _label_space(config: FinetuneConfig, classes) -> dict:
    """num_labels, problem_type, id2label and label2id for the model config."""
    if config.task == "regression":
        names = config.label_columns
        return {"num_labels": len(names), "problem_type": "regression", "id2label": dict(enumerate(names))}
    if config.task == "multilabel":
        names = [str(c) for c in classes] if classes is not None else config.label_columns
        problem = "multi_label_classification"
    else:
        names, problem = [str(c) for c in classes], "single_label_classification"
    if config.task == "token":
        problem = None  # token heads have no problem_type
    if len(names) < 2 and config.task != "multilabel":
        raise DataError(f"{config.task} needs at least two classes in the training data, found {names}")
    space = {
        "num_labels": len(names),
        "id2label": dict(enumerate(names)),
        "label2id": {n: i for i, n in enumerate(names)},
    }
    return {**space, "problem_type": problem} if problem else space


def encode(dataset: Dataset, tokenizer, config: FinetuneConfig, classes, max_length: int, source) -> Dataset:
    """Tokenized inputs and labels (ids, 0/1 vectors, floats, or per-token labels from per-base ones)."""
    index = {value: i for i, value in enumerate(classes or [])}
    token_task = config.task == "token"
    too_long = []

    def encode_batch(batch, rows):
        sequences = batch[config.sequence_column]
        try:
            encoded = tokenizer(sequences, return_offsets_mapping=token_task)
        except InvalidSequenceError as error:
            raise DataError(f"{location(source, rows[error.index])}: {error.reason}") from None
        long_rows = [row for row, ids in zip(rows, encoded["input_ids"]) if len(ids) > max_length]
        if long_rows and config.too_long == "error":
            raise DataError(f"{location(source, long_rows[0])}: longer than {max_length} tokens (too_long='error')")
        if long_rows:  # tokenized again only when something must be cut
            too_long.extend(long_rows)
            encoded = tokenizer(sequences, truncation=True, max_length=max_length, return_offsets_mapping=token_task)
        if config.task == "classification":
            encoded["labels"] = [index[value] for value in batch[config.label_columns[0]]]
        elif config.task == "regression":
            columns = [[float(v) for v in batch[c]] for c in config.label_columns]
            encoded["labels"] = [list(values) if len(values) > 1 else values[0] for values in zip(*columns)]
        elif config.task == "multilabel" and classes is not None:
            encoded["labels"] = [[float(c in row) for c in classes] for row in batch[config.label_columns[0]]]
        elif config.task == "multilabel":
            encoded["labels"] = [list(map(float, values)) for values in zip(*(batch[c] for c in config.label_columns))]
        else:
            per_base = batch[config.label_columns[0]]
            offsets = encoded.pop("offset_mapping")
            encoded["labels"] = [
                bases_to_tokens(np.array([index[v] for v in labels]), spans).tolist()
                for labels, spans in zip(per_base, offsets)
            ]
        return encoded

    columns = dataset.column_names
    encoded = dataset.map(encode_batch, batched=True, with_indices=True, remove_columns=columns, desc="tokenizing")
    if too_long:
        warnings.warn(
            f"{source or 'dataset'}: {len(set(too_long))} sequences longer than {max_length} tokens were truncated "
            "(too_long='error' refuses them; dna_zoo.embed(window=...) handles long sequences in windows)",
            stacklevel=2,
        )
    return encoded


def _class_weights(config: FinetuneConfig, dataset: Dataset, num_labels: int) -> torch.Tensor | None:
    if config.class_weights is None:
        return None
    if config.class_weights != "balanced":
        weights = torch.tensor(config.class_weights, dtype=torch.float)
        if weights.numel() != num_labels:
            raise ValueError(f"class_weights has {weights.numel()} entries for {num_labels} labels")
        return weights
    labels = dataset["labels"]
    if config.task == "multilabel":  # positives weighted by negatives / positives per label
        positives = np.asarray(labels).sum(0)
        return torch.tensor((len(labels) - positives) / np.maximum(positives, 1), dtype=torch.float)
    flat = np.concatenate([np.ravel(label) for label in labels])
    counts = np.bincount(flat[flat >= 0], minlength=num_labels)
    return torch.tensor(len(flat[flat >= 0]) / (num_labels * np.maximum(counts, 1)), dtype=torch.float)


def finetune(config: FinetuneConfig, resume: bool = False, overwrite: bool = False) -> dict:
    """Fine-tune; returns {"metrics": {"validation": ..., "test": ...}, "trainer", "model_dir", "plots"}.

    The final model (or adapter + head with peft) and tokenizer go to `output_dir/final` (with the metrics in its
    model card); with peft and `merge`, `output_dir/merged` holds the merged plain dna_zoo model. Beside
    metrics.json: loss_curve.png, validation_<metric>.png and, for binary classification, roc_curve.png and
    pr_curve.png.
    """
    on_cpu = not torch.cuda.is_available()
    state = PartialState(cpu=on_cpu)  # under torchrun: joins the process group (as TrainingArguments would)
    if config.fsdp and config.peft:
        raise ValueError("fsdp shards full fine-tuning: a peft adapter trains too few weights to need it (drop one)")
    if config.fsdp and state.num_processes < 2:
        raise ValueError("fsdp shards across processes: launch with torchrun --nproc_per_node N (N >= 2)")
    checkpoint = latest_complete_checkpoint(config.output_dir)
    refuse_reuse(config.output_dir, resume, overwrite, checkpoint)
    identity = run_identity(config)
    if resume:
        check_resumable(config.output_dir, identity, checkpoint)
    tokenizer = load_tokenizer(config.model)
    splits = {"train": config.train, "validation": config.validation, "test": config.test}
    tables = {name: read_table(source) for name, source in splits.items() if source is not None}
    sources = {name: source if isinstance(source, str) else None for name, source in splits.items()}  # for errors
    classes = None
    for name, table in tables.items():
        found = check_table(table, config.sequence_column, config.label_columns, config.task, sources[name])
        if name == "train":
            classes = found
        elif found is not None and not set(found) <= set(classes):
            raise DataError(
                f"{sources[name] or name}: labels {sorted(set(found) - set(classes), key=str)} never "
                "occur in the training data"
            )
    set_seed(
        config.seed
    )  # the new head (and a peft adapter) are initialised from the seed, not from whatever ran before
    task = "token-classification" if config.task == "token" else "sequence-classification"
    model = load_model(config.model, task=task, **_label_space(config, classes))
    check_vocabulary(model, tokenizer)
    max_length = min(config.max_length or model.config.max_tokens, model.config.max_tokens)
    data = {
        name: encode(table, tokenizer, config, classes, max_length, sources[name]) for name, table in tables.items()
    }
    weights = _class_weights(config, data["train"], model.config.num_labels)
    if config.peft:
        from peft import get_peft_model

        presets = {"ia3": ia3_config, "lora": lora_config}
        if config.peft not in presets:
            raise ValueError(f"peft must be one of {sorted(presets)} or None, got {config.peft!r}")
        model = get_peft_model(model, presets[config.peft](model))
    if config.fsdp:
        model = shard_model(model.to(state.device))
    has_validation = "validation" in data
    strategy = "steps" if config.eval_steps else "epoch"
    best = "eval_" + BEST_METRIC[config.task]
    arguments = TrainingArguments(
        output_dir=config.output_dir,
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size * 2,
        learning_rate=config.learning_rate or DEFAULT_LEARNING_RATE[config.peft],
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup,
        eval_strategy=strategy if has_validation else "no",
        save_strategy=strategy,
        eval_steps=config.eval_steps,
        save_steps=config.eval_steps,
        save_total_limit=2,
        load_best_model_at_end=has_validation,
        metric_for_best_model=best if has_validation else None,
        greater_is_better=True,
        logging_steps=10,
        report_to=[],
        seed=config.seed,
        dataloader_num_workers=config.dataloader_workers,
        use_cpu=on_cpu,
    )
    collator = (DataCollatorForTokenClassification if config.task == "token" else DataCollatorWithPadding)(tokenizer)
    callbacks = (
        [EarlyStoppingCallback(config.early_stopping_patience)]
        if has_validation and config.early_stopping_patience
        else []
    )
    trainer = (ShardedWeightedTrainer if config.fsdp else WeightedTrainer)(
        model=model,
        args=arguments,
        train_dataset=data["train"],
        eval_dataset=data.get("validation"),
        data_collator=collator,
        processing_class=tokenizer,  # saved with each checkpoint
        compute_metrics=metrics_for(config.task),
        callbacks=callbacks,
        class_weights=weights,
        task=config.task,
    )
    # a process that dies or hangs stops the job, naming it (rather than the others waiting in a collective)
    watch = RankWatch(
        config.output_dir,
        state.process_index,
        state.num_processes,
        config.rank_timeout,
        lambda: latest_complete_checkpoint(config.output_dir),
        state.wait_for_everyone,
    )
    trainer.add_callback(WatchedSteps(watch))
    # one job at a time in an output folder; --overwrite clears the earlier run first
    with owned_run(config.output_dir, identity, overwrite and not resume, state, complete_checkpoint), watch:
        trainer.train(resume_from_checkpoint=checkpoint if resume else None)
        trainer.remove_callback(EarlyStoppingCallback)  # the final evaluations below are not part of training
        predictions = {
            name: trainer.predict(data[name], metric_key_prefix=name) for name in ("validation", "test") if name in data
        }
        metrics = {name: output.metrics for name, output in predictions.items()}
        final = os.path.join(config.output_dir, "final")
        _save_final(config, trainer, tokenizer, metrics, final, state.is_main_process)
        plots = []
        if state.is_main_process:
            with open(os.path.join(config.output_dir, "metrics.json"), "w") as handle:
                settings = {
                    k: v if isinstance(v, (str, int, float, list, type(None))) else repr(v)
                    for k, v in asdict(config).items()
                }
                log = {"config": settings, "metrics": metrics, "log": trainer.state.log_history}
                json.dump(log, handle, indent=1)
            plots = plot_finetuning(config.output_dir, trainer.state.log_history, config.task, predictions)
        state.wait_for_everyone()  # every process returns once the files are there
        return {"metrics": metrics, "trainer": trainer, "model_dir": final, "plots": plots}


def _save_final(config: FinetuneConfig, trainer: Trainer, tokenizer, metrics: dict, final: str, main: bool) -> None:
    """The trained model (or adapter + head, and the merged model) with the tokenizer, written by the main process
    (every process calls this: a sharded model's layers are gathered)."""
    if config.peft and main:
        trainer.model.save_pretrained(final)  # adapter + trained head
        tokenizer.save_pretrained(final)
    plain = (trainer.model.merge_and_unload() if config.merge else None) if config.peft else trainer.model
    if plain is None:
        return
    plain.config.dna_zoo_metrics = {name: _rounded(values) for name, values in metrics.items()}
    folder = os.path.join(config.output_dir, "merged") if config.peft else final
    if config.fsdp:
        trainer.save_model(folder)
    elif main:
        plain.save_pretrained(folder)
    if main:
        tokenizer.save_pretrained(folder)


# Written into a Trainer checkpoint once every process has finished writing it.
COMPLETE = "dna_zoo_complete"
# The weights a Trainer checkpoint holds: a whole model, or a peft adapter (with its trained head).
CHECKPOINT_WEIGHTS = {"model.safetensors", "pytorch_model.bin", "adapter_model.safetensors", "adapter_model.bin"}


def complete_checkpoint(path: str) -> bool:
    """Whether a Trainer checkpoint was written to the end and not half deleted. Trainer writes checkpoint-N in
    place and deletes old ones with rmtree: a folder without the marker written once every process has finished
    it (`WeightedTrainer._save_checkpoint`), a readable state, its weights or its optimizer state (a kill while
    writing it, or while the rotation deleted it) is not complete; a sharded one needs every shard its index names.
    """
    try:
        with open(os.path.join(path, "trainer_state.json")) as handle:
            json.load(handle)
    except (OSError, ValueError):
        return False
    names = set(os.listdir(path))
    if COMPLETE not in names:
        return False
    return ("optimizer.pt" in names and bool(names & CHECKPOINT_WEIGHTS)) or has_shards(path)


def latest_complete_checkpoint(output_dir: str) -> str | None:
    """The newest complete Trainer checkpoint of `output_dir` (`complete_checkpoint`)."""
    return latest_checkpoint(output_dir, complete=complete_checkpoint)


def _rounded(values: dict) -> dict:
    return {key: round(value, 4) for key, value in values.items() if isinstance(value, float)}
