"""Pretraining from FASTA through accelerate: MLM for encoders, causal LM for Mistral-DNA, resumable exactly.

One process, or data parallel under `torchrun --standalone --nproc_per_node N` / `accelerate launch` (FSDP by an
accelerate config, see the README). Checkpoints hold the model, optimizer, scheduler, RNG states and the data
position; each is written to a temporary folder and renamed, so a run killed at any moment leaves the previous
checkpoint loadable, and `resume=True` continues from the newest complete one with the same batches and masks as
an uninterrupted run. The loss log (`losses.json`) and a loss-curve plot (`loss_curve.png`) are written at the end.
"""

import json
import os
import shutil
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from tqdm.auto import tqdm
from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer, get_scheduler

from ..auto import FAMILIES
from ..checkpoints import CONFIG_CLASSES, load_config
from ..data.windows import loss_mask, windows_dataset
from ..inference.likelihood import selected_logits
from ..plots import plot_curves
from ..sharding import full_state_dict, load_shards, save_shards, shard_model, unsharded_copy
from .runs import check_resumable, latest_checkpoint, owned_run, refuse_reuse, run_identity
from .watchdog import RankWatch


@dataclass
class PretrainConfig:
    family: str | None  # None when `preset` is a config file (its model_type names the family)
    preset: str  # a preset name (`dna-zoo presets`), or a config.json file / model folder to start from scratch
    fasta: list[str]
    output_dir: str
    window: int = 600  # bases per training window
    stride: int | None = None  # bases between window starts (default: window, no overlap)
    random_offsets: bool = False  # jitter each window start by up to `stride` bases (every k-mer phase is seen)
    both_strands: bool = False
    split_n_run: int = 1  # runs of at least this many N split windows
    lowercase: str = "upper"  # soft-masked bases: "upper" (trained on) or "exclude" (context only, not in the loss)
    max_tokens: int | None = None  # truncate windows to this many tokens (default: the model's context)
    validation_fasta: list[str] = field(default_factory=list)  # held-out files (whole genomes)
    validation_records: list[str] = field(default_factory=list)  # records of `fasta` held out for validation
    validation_windows: int = 256  # validation windows evaluated (the first ones after a seeded shuffle)
    eval_every: int = 100
    steps: int = 100
    batch_size: int = 8
    gradient_accumulation: int = 1
    learning_rate: float = 5e-4
    weight_decay: float = 0.01
    warmup_steps: int = 0
    lr_scheduler: str = "linear"  # any transformers scheduler name: "cosine", "constant_with_warmup", ...
    mlm_probability: float = 0.15
    mask_replace: float = 0.8  # of the selected tokens, the share shown as the mask (BERT: 0.8); half the rest random
    checkpoint_every: int = 50
    seed: int = 0
    mixed_precision: str = "no"  # "bf16" (CPU with AMX / AVX-512 BF16, or GPU) / "fp16" (GPU)
    fsdp: bool = False  # shard weights, gradients and optimizer state across the processes (FSDP2, any device)
    rank_timeout: float = 300.0  # seconds a process of a distributed job may stay silent before the job is stopped
    config_overrides: dict = field(default_factory=dict)


def mask_tokens(
    input_ids, labels, special_ids, mask_id: int, vocab_size: int, probability: float, generator, replace: float = 0.8
):
    """BERT masking with an explicit generator (resumable): `probability` of the tokens that carry a label
    (not special, not padding, not soft-masked) are selected; of those `replace` (BERT: 80%) become the mask
    token, half the rest a random token and half stay; labels are -100 elsewhere."""
    selectable = ~torch.isin(input_ids, special_ids) & (labels != -100)
    selected = (torch.rand(input_ids.shape, generator=generator) < probability) & selectable
    draw = torch.rand(input_ids.shape, generator=generator)
    random_tokens = torch.randint(vocab_size, input_ids.shape, generator=generator)
    masked = torch.where(selected & (draw < replace), mask_id, input_ids)
    randomised = selected & (draw >= replace) & (draw < (1 + replace) / 2)
    masked = torch.where(randomised, random_tokens, masked)
    return masked, torch.where(selected, labels, -100)


def build_model(config: PretrainConfig):
    """A freshly initialised model (MLM head, or causal LM for a decoder family) and its family's default tokenizer."""
    if os.path.exists(config.preset):  # a config.json or a folder, of any layout the one loader reads
        model_config = load_config(config.preset, **config.config_overrides)
    else:
        if config.family not in CONFIG_CLASSES:
            raise ValueError(f"family {config.family!r} unknown; known: {', '.join(CONFIG_CLASSES)}")
        model_config = CONFIG_CLASSES[config.family].from_preset(config.preset, **config.config_overrides)
    classes = FAMILIES[type(model_config)]
    causal = AutoModelForMaskedLM not in classes  # Mistral-DNA, HyenaDNA: decoders
    model = classes[AutoModelForCausalLM if causal else AutoModelForMaskedLM](model_config)
    return model, classes[AutoTokenizer](), causal


def tokenized_windows(config: PretrainConfig, tokenizer, max_tokens: int, paths, cache_dir: str, **selection):
    """Windows of `paths` in a seeded order, tokenized: input_ids and per-token `in_loss` (soft-masked = False)."""
    dataset = windows_dataset(
        paths,
        config.window,
        cache_dir=cache_dir,
        stride=config.stride,
        random_offsets=config.random_offsets,
        both_strands=config.both_strands,
        split_n_run=config.split_n_run,
        lowercase=config.lowercase,
        seed=config.seed,
        **selection,
    )
    if len(dataset) == 0:
        raise ValueError(f"no window of {config.window} bases without an N run in {', '.join(map(str, paths))}")

    def encode(batch):
        encoded = tokenizer(batch["sequence"], truncation=True, max_length=max_tokens, return_offsets_mapping=True)
        in_loss = [loss_mask(s, offsets) for s, offsets in zip(batch["sequence"], encoded["offset_mapping"])]
        return {"input_ids": encoded["input_ids"], "in_loss": in_loss}

    dataset = dataset.shuffle(seed=config.seed)  # a fixed order: resuming replays it exactly
    dataset = dataset.map(encode, batched=True, remove_columns=dataset.column_names, desc="tokenizing windows")
    if config.lowercase == "exclude":  # windows entirely soft-masked teach nothing
        dataset = dataset.filter(lambda example: sum(example["in_loss"]) > 2, desc="dropping soft-masked windows")
    return dataset


def collate(tokenizer):
    """Pads `input_ids`; labels are the ids where the token counts in the loss (-100 on padding and soft-masking)."""

    def pad(examples):
        length = max(len(example["input_ids"]) for example in examples)
        input_ids = torch.full((len(examples), length), tokenizer.pad_token_id)
        attention_mask = torch.zeros((len(examples), length), dtype=torch.long)
        labels = torch.full((len(examples), length), -100)
        for row, example in enumerate(examples):
            ids = torch.tensor(example["input_ids"])
            input_ids[row, : len(ids)] = ids
            attention_mask[row, : len(ids)] = 1
            labels[row, : len(ids)] = torch.where(torch.tensor(example["in_loss"]), ids, -100)
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}

    return pad


class Masker:
    """MLM masking whose masks depend only on (seed, process, micro-batch): identical after a resume."""

    def __init__(self, config: PretrainConfig, tokenizer, vocab_size: int, causal: bool):
        self.config, self.tokenizer, self.vocab_size, self.causal = config, tokenizer, vocab_size, causal
        self.special_ids = torch.tensor(tokenizer.all_special_ids)

    def __call__(self, batch: dict, key: tuple, device) -> dict:
        if self.causal:
            return batch
        generator = torch.Generator().manual_seed(hash((self.config.seed, *key)))
        masked, labels = mask_tokens(
            batch["input_ids"].cpu(),
            batch["labels"].cpu(),
            self.special_ids,
            self.tokenizer.mask_token_id,
            self.vocab_size,
            self.config.mlm_probability,
            generator,
            self.config.mask_replace,
        )
        return {**batch, "input_ids": masked.to(device), "labels": labels.to(device)}


def training_loss(model, batch: dict, causal: bool) -> torch.Tensor:
    """The batch's loss. A masked LM's cross-entropy is taken from the logits of the labelled tokens alone, the
    vocabulary projected there only (the model's own loss projects every token and reads 15% of them); a causal
    LM's is the model's own (every token is a target, and Mistral-DNA adds its router losses)."""
    labelled = batch["labels"] != -100
    if not labelled.any():  # all soft-masked, or no token drawn: NaN otherwise, so train on nothing instead
        return model(**{**batch, "labels": None}).logits.sum() * 0.0
    if causal:
        return model(**batch).loss
    inputs = {key: value for key, value in batch.items() if key != "labels"}
    logits = selected_logits(model, inputs, labelled)  # (N, V)
    return torch.nn.functional.cross_entropy(logits.float(), batch["labels"][labelled])


@torch.no_grad()
def evaluate(model, loader, masker: Masker, device, causal: bool) -> float:
    """Mean validation loss over `loader`, with fixed masks (the same at every evaluation)."""
    model.eval()
    total, count = 0.0, 0
    for index, batch in enumerate(loader):
        batch = masker({k: v.to(device) for k, v in batch.items()}, (-1, index), device)
        tokens = int((batch["labels"] != -100).sum())
        if tokens:
            total += training_loss(model, batch, causal).item() * tokens
        count += tokens
    model.train()
    return total / max(count, 1)


def pretrain(config: PretrainConfig, resume: bool = False, stop_at: int | None = None, overwrite: bool = False) -> dict:
    """Train a fresh model of `config.preset` on FASTA windows; returns {"step", "losses", "validation", "model"}.

    `stop_at` ends this run after that step, as an interruption would (a later `resume=True` run continues).
    An `output_dir` that already holds checkpoints is refused unless `resume` (continue) or `overwrite` (start
    over: the earlier run's checkpoints and outputs are removed first). A resume continues only the run that wrote
    the checkpoint (run.json records its settings and input files), and a second job on the same folder is
    refused while the first runs.
    """
    checkpoint = latest_checkpoint(config.output_dir)
    refuse_reuse(config.output_dir, resume, overwrite, checkpoint)
    identity = run_identity(config)
    if resume:
        check_resumable(config.output_dir, identity, checkpoint)
    accelerator = Accelerator(
        gradient_accumulation_steps=config.gradient_accumulation,
        mixed_precision=config.mixed_precision,
        # with no accelerator, say so: accelerate then forms a CPU (gloo) group under torchrun instead of one process
        cpu=not (torch.cuda.is_available() or torch.backends.mps.is_available()),
    )
    # one job at a time in an output folder; --overwrite clears the earlier run first
    # a process that dies or hangs stops the job, naming it (rather than the others waiting in a collective)
    watch = RankWatch(
        config.output_dir,
        accelerator.process_index,
        accelerator.num_processes,
        config.rank_timeout,
        lambda: latest_checkpoint(config.output_dir),
        accelerator.wait_for_everyone,
    )
    with owned_run(config.output_dir, identity, overwrite and not resume, accelerator), watch:
        return _train(config, accelerator, checkpoint if resume else None, stop_at, watch)


def _train(config: PretrainConfig, accelerator, checkpoint: str | None, stop_at: int | None, watch: RankWatch) -> dict:
    """The training loop of `pretrain`, from scratch or from `checkpoint`."""
    set_seed(config.seed)
    model, tokenizer, causal = build_model(config)
    max_tokens = min(config.max_tokens or model.config.max_tokens, model.config.max_tokens)
    window_tokens = len(tokenizer("A" * config.window)["input_ids"])
    if window_tokens > max_tokens and accelerator.is_main_process:
        warnings.warn(
            f"windows of {config.window} bases are up to {window_tokens} tokens: truncated to {max_tokens} "
            "(the model's context or max_tokens); choose a smaller window to train on every base",
            stacklevel=2,
        )
    cache_dir = os.path.join(config.output_dir, "data_cache")
    with accelerator.main_process_first():  # rank 0 writes the Arrow cache, the others read it
        train = tokenized_windows(
            config, tokenizer, max_tokens, config.fasta, cache_dir, exclude_records=config.validation_records
        )
        validation = []
        if config.validation_fasta or config.validation_records:
            held_out = config.validation_fasta or config.fasta
            selection = {} if config.validation_fasta else {"records": config.validation_records}
            validation = tokenized_windows(config, tokenizer, max_tokens, held_out, cache_dir, **selection)
            validation = validation.select(range(min(config.validation_windows, len(validation))))
    loader = torch.utils.data.DataLoader(
        train, batch_size=config.batch_size, shuffle=False, collate_fn=collate(tokenizer)
    )
    validation_loader = torch.utils.data.DataLoader(
        validation, batch_size=config.batch_size, collate_fn=collate(tokenizer)
    )
    masker = Masker(config, tokenizer, model.config.vocab_size, causal)
    if config.fsdp:
        if accelerator.num_processes < 2:
            raise ValueError("fsdp shards across processes: launch with torchrun --nproc_per_node N (N >= 2)")
        model = shard_model(model.to(accelerator.device), config.mixed_precision)
    # one fused kernel per step on CPU and CUDA (a sharded model's DTensor parameters take the default path)
    fused = not config.fsdp and accelerator.device.type in ("cpu", "cuda")
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay, fused=fused
    )
    # the scheduler is stepped here once per optimizer step (accelerate's would step once per process)
    scheduler = get_scheduler(config.lr_scheduler, optimizer, config.warmup_steps, config.steps)
    accelerator.register_for_checkpointing(scheduler)
    if config.fsdp:  # sharded by shard_model: accelerate would wrap it in DDP
        loader = accelerator.prepare(loader)
    else:
        model, optimizer, loader = accelerator.prepare(model, optimizer, loader)

    step, losses, evaluations = 0, [], []
    if checkpoint:
        accelerator.load_state(checkpoint)
        if config.fsdp:
            load_shards(checkpoint, model, optimizer)
        with open(os.path.join(checkpoint, "progress.json")) as handle:
            progress = json.load(handle)
        step, losses, evaluations = progress["step"], progress["losses"], progress.get("validation", [])
    batches_per_epoch = len(loader)
    bar = tqdm(total=config.steps, initial=step, desc="pretraining", disable=not accelerator.is_main_process)
    model.train()
    micro_batch = step * config.gradient_accumulation
    while step < config.steps:
        position = micro_batch % batches_per_epoch
        epoch_loader = accelerator.skip_first_batches(loader, position) if position else loader
        for batch in epoch_loader:
            micro_batch += 1
            batch = masker(batch, (accelerator.process_index, micro_batch), accelerator.device)
            with accelerator.accumulate(model):
                loss = training_loss(model, batch, causal)
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad()
            if not accelerator.sync_gradients:
                continue
            step += 1
            watch.step = step
            losses.append(accelerator.gather(loss.detach()).mean().item())
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
            if not np.isfinite(losses[-1]):
                last = latest_checkpoint(config.output_dir)
                raise FloatingPointError(f"loss is {losses[-1]} at step {step}; last good checkpoint: {last}")
            if len(validation) and (step % config.eval_every == 0 or step == config.steps):
                evaluations.append([step, evaluate(model, validation_loader, masker, accelerator.device, causal)])
                bar.write(f"step {step}: validation loss {evaluations[-1][1]:.4f}")
            if step % config.checkpoint_every == 0 or step == config.steps:
                progress = {"step": step, "losses": losses, "validation": evaluations}
                _save_checkpoint(accelerator, config, progress, model, optimizer, tokenizer)
            if step >= config.steps or step == stop_at:
                break
        if step == stop_at:
            break
    bar.close()
    result = {"step": step, "losses": losses, "validation": evaluations, "model": accelerator.unwrap_model(model)}
    if step < config.steps:
        return result
    # every process takes part: a sharded model's layers are gathered
    state_dict = full_state_dict(model) if config.fsdp else accelerator.get_state_dict(model)
    if accelerator.is_main_process:
        final = os.path.join(config.output_dir, "final")
        if config.fsdp:  # a plain model of the gathered weights, whose tied weights are saved once
            unsharded_copy(result["model"], state_dict).save_pretrained(final)
        else:
            result["model"].save_pretrained(final, state_dict=state_dict)
        tokenizer.save_pretrained(final)
        with open(os.path.join(config.output_dir, "losses.json"), "w") as handle:
            json.dump({"config": asdict(config), "losses": losses, "validation": evaluations}, handle)
        plot_loss_curve(losses, evaluations, os.path.join(config.output_dir, "loss_curve.png"))
    accelerator.wait_for_everyone()
    return result


def plot_loss_curve(losses: list[float], evaluations: list, path: str, smoothing: int = 50) -> str:
    """Training loss (running mean over `smoothing` steps) and validation loss against the step."""
    window = max(1, min(smoothing, len(losses) // 10))
    smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
    series = {f"training (mean of {window} steps)": (np.arange(window, len(losses) + 1), smooth)}
    if evaluations:
        series["validation (held out)"] = tuple(zip(*evaluations))
    return plot_curves(series, path, "step", "loss", "pretraining loss")


def _save_checkpoint(accelerator, config: PretrainConfig, progress: dict, model, optimizer, tokenizer) -> None:
    """Write checkpoint-<step> atomically: everything goes to a temporary folder, renamed when complete (by the
    main process, once every process has written its part)."""
    final = os.path.join(config.output_dir, f"checkpoint-{progress['step']}")
    temporary = final + ".partial"
    if accelerator.is_main_process and os.path.exists(temporary):
        shutil.rmtree(temporary)
    accelerator.wait_for_everyone()
    accelerator.save_state(temporary)  # RNG states and the scheduler; the model and optimizer unless sharded
    if config.fsdp:  # each process its shard, beside what `dna-zoo convert` needs to make a plain folder of it
        save_shards(temporary, model, optimizer)
        if accelerator.is_main_process:
            model.config.save_pretrained(temporary)
            tokenizer.save_pretrained(temporary)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        with open(os.path.join(temporary, "progress.json"), "w") as handle:
            json.dump(progress, handle)
        if os.path.exists(final):
            shutil.rmtree(final)
        os.replace(temporary, final)
    accelerator.wait_for_everyone()
