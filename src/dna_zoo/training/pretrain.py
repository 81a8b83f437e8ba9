"""Pretraining from FASTA through accelerate: MLM for encoders, causal LM for Mistral-DNA, resumable exactly.

One process, or data parallel under `torchrun --standalone --nproc_per_node N` / `accelerate launch`. Checkpoints
hold the model, optimizer, scheduler, RNG states and the data position; each is written to a temporary folder
and renamed, so a run killed at any moment leaves the previous checkpoint loadable, and `resume=True` continues
from the newest complete one with the same batches and masks as an uninterrupted run.
"""

import json
import os
import shutil
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from tqdm.auto import tqdm
from transformers import (
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoTokenizer,
    DataCollatorForLanguageModeling,
    get_scheduler,
)

from ..auto import FAMILIES
from ..checkpoints import CONFIG_CLASSES
from ..data.fasta import read_fasta
from ..inference import reverse_complement


@dataclass
class PretrainConfig:
    family: str
    preset: str
    fasta: list[str]
    output_dir: str
    window: int = 600  # bases per training window
    stride: int | None = None  # bases between window starts (default: window, no overlap)
    both_strands: bool = False
    steps: int = 100
    batch_size: int = 8
    gradient_accumulation: int = 1
    learning_rate: float = 5e-4
    weight_decay: float = 0.01
    warmup_steps: int = 0
    mlm_probability: float = 0.15
    checkpoint_every: int = 50
    seed: int = 0
    mixed_precision: str = "no"  # "bf16" / "fp16" on GPU
    config_overrides: dict = field(default_factory=dict)


def genome_windows(paths, window: int, stride: int | None = None, both_strands: bool = False) -> list[str]:
    """Windows of `window` bases of every record, upper-cased, split at runs of N (a window holds no N)."""
    stride = stride or window
    out = []
    for path in paths:
        for _, sequence in read_fasta(path):
            for piece in sequence.upper().split("N"):
                for start in range(0, len(piece) - window + 1, stride):
                    chunk = piece[start : start + window]
                    out.append(chunk)
                    if both_strands:
                        out.append(reverse_complement(chunk))
    return out


def mask_tokens(input_ids, labels, special_ids, mask_id: int, vocab_size: int, probability: float, generator):
    """BERT masking with an explicit generator (resumable): `probability` of the non-special tokens are selected;
    of those 80% become the mask token, 10% a random token, 10% stay; labels are -100 elsewhere."""
    selectable = ~torch.isin(input_ids, special_ids)
    selected = (torch.rand(input_ids.shape, generator=generator) < probability) & selectable
    draw = torch.rand(input_ids.shape, generator=generator)
    random_tokens = torch.randint(vocab_size, input_ids.shape, generator=generator)
    masked = torch.where(selected & (draw < 0.8), mask_id, input_ids)
    masked = torch.where(selected & (draw >= 0.8) & (draw < 0.9), random_tokens, masked)
    return masked, torch.where(selected, labels, -100)


def _latest_checkpoint(output_dir: str) -> str | None:
    if not os.path.isdir(output_dir):
        return None
    names = os.listdir(output_dir)  # a "checkpoint-N.partial" folder is a write that was killed: never resumed from
    steps = [
        int(name.split("-")[1]) for name in names if name.startswith("checkpoint-") and name.split("-")[1].isdigit()
    ]
    return os.path.join(output_dir, f"checkpoint-{max(steps)}") if steps else None


def pretrain(config: PretrainConfig, resume: bool = False, stop_at: int | None = None) -> dict:
    """Train `config.preset` of `config.family` on FASTA windows; returns {"step", "losses", "model"}.

    `stop_at` ends this run after that step, as an interruption would (a later `resume=True` run continues).
    """
    accelerator = Accelerator(
        gradient_accumulation_steps=config.gradient_accumulation,
        mixed_precision=config.mixed_precision,
        # with no accelerator, say so: accelerate then forms a CPU (gloo) group under torchrun instead of one process
        cpu=not (torch.cuda.is_available() or torch.backends.mps.is_available()),
    )
    set_seed(config.seed)
    config_class = CONFIG_CLASSES[config.family]
    causal = config.family == "mistral_dna"
    head = AutoModelForCausalLM if causal else AutoModelForMaskedLM
    model = FAMILIES[config_class][head](config_class.from_preset(config.preset, **config.config_overrides))
    tokenizer = FAMILIES[config_class][AutoTokenizer]()

    windows = genome_windows(config.fasta, config.window, config.stride, config.both_strands)
    if not windows:
        raise ValueError(f"no window of {config.window} N-free bases in {config.fasta}")
    np.random.default_rng(config.seed).shuffle(windows)  # a fixed order: resuming replays it exactly
    encoded = tokenizer(windows, truncation=True, max_length=model.config.max_tokens)
    examples = [{"input_ids": ids} for ids in encoded["input_ids"]]
    collator = DataCollatorForLanguageModeling(tokenizer, mlm=False)  # pads; labels = ids (padding -100)
    special_ids = torch.tensor(tokenizer.all_special_ids)
    vocab_size = model.config.vocab_size
    loader = torch.utils.data.DataLoader(examples, batch_size=config.batch_size, shuffle=False, collate_fn=collator)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = get_scheduler("linear", optimizer, config.warmup_steps, config.steps)
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)

    step, losses = 0, []
    checkpoint = _latest_checkpoint(config.output_dir) if resume else None
    if checkpoint:
        accelerator.load_state(checkpoint)
        with open(os.path.join(checkpoint, "progress.json")) as handle:
            progress = json.load(handle)
        step, losses = progress["step"], progress["losses"]
    batches_per_epoch = len(loader)
    bar = tqdm(total=config.steps, initial=step, desc="pretraining", disable=not accelerator.is_main_process)
    model.train()
    micro_batch = step * config.gradient_accumulation
    while step < config.steps:
        position = micro_batch % batches_per_epoch
        epoch_loader = accelerator.skip_first_batches(loader, position) if position else loader
        for batch in epoch_loader:
            micro_batch += 1
            if not causal:  # masks depend only on (seed, process, micro-batch): the same after a resume
                generator = torch.Generator().manual_seed(hash((config.seed, accelerator.process_index, micro_batch)))
                masked, labels = mask_tokens(
                    batch["input_ids"].cpu(),
                    batch["labels"].cpu(),
                    special_ids,
                    tokenizer.mask_token_id,
                    vocab_size,
                    config.mlm_probability,
                    generator,
                )
                batch = {**batch, "input_ids": masked.to(accelerator.device), "labels": labels.to(accelerator.device)}
            with accelerator.accumulate(model):
                loss = model(**batch).loss
                accelerator.backward(loss)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            if not accelerator.sync_gradients:
                continue
            step += 1
            losses.append(accelerator.gather(loss.detach()).mean().item())
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
            if not np.isfinite(losses[-1]):
                last = _latest_checkpoint(config.output_dir)
                raise FloatingPointError(f"loss is {losses[-1]} at step {step}; last good checkpoint: {last}")
            if step % config.checkpoint_every == 0 or step == config.steps:
                _save_checkpoint(accelerator, config, step, losses)
            if step >= config.steps or step == stop_at:
                break
        if step == stop_at:
            break
    bar.close()
    if step < config.steps:
        return {"step": step, "losses": losses, "model": accelerator.unwrap_model(model)}
    if accelerator.is_main_process:
        accelerator.unwrap_model(model).save_pretrained(os.path.join(config.output_dir, "final"))
        tokenizer.save_pretrained(os.path.join(config.output_dir, "final"))
        with open(os.path.join(config.output_dir, "losses.json"), "w") as handle:
            json.dump({"config": asdict(config), "losses": losses}, handle)
    accelerator.wait_for_everyone()
    return {"step": step, "losses": losses, "model": accelerator.unwrap_model(model)}


def _save_checkpoint(accelerator, config: PretrainConfig, step: int, losses: list[float]) -> None:
    """Write checkpoint-<step> atomically: everything goes to a temporary folder, renamed when complete."""
    final = os.path.join(config.output_dir, f"checkpoint-{step}")
    temporary = final + ".partial"
    if accelerator.is_main_process and os.path.exists(temporary):
        shutil.rmtree(temporary)
    accelerator.wait_for_everyone()
    accelerator.save_state(temporary)
    if accelerator.is_main_process:
        with open(os.path.join(temporary, "progress.json"), "w") as handle:
            json.dump({"step": step, "losses": losses}, handle)
        if os.path.exists(final):
            shutil.rmtree(final)
        os.replace(temporary, final)
    accelerator.wait_for_everyone()
