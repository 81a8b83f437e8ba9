"""Trainer for a model sharded by `dna_zoo.sharding.shard_model` (FSDP2), on CPU processes (gloo) as on GPUs.

accelerate shards models on accelerators only, and would wrap an already sharded model in DDP; this Trainer keeps
accelerate to the data loaders and the optimizer and does the sharded parts itself:

- checkpoint-N holds each process's shard of the weights and optimizer state (`model_shards/`, one file per
  process) beside config.json, the tokenizer, the scheduler, the RNG states, trainer_state.json and a completion marker;
  the one loader reads it on one process, so `dna-zoo convert checkpoint-N DEST` makes a plain folder of it;
- resuming and the best checkpoint load from those shards;
- `save_model` gathers the layers into one plain `save_pretrained` folder, written by the main process.
"""

import os

import torch
from torch import nn
from transformers.trainer import SCHEDULER_NAME, TRAINING_ARGS_NAME

from ..sharding import full_state_dict, load_shards, plain_class, save_shards, unsharded_copy


class Sharded(nn.Module):
    """What the training loop calls: the sharded model under a wrapper, so that accelerate does not prepare it."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.module = model

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)


class ShardedTraining:
    """Mixed into a Trainer class (before it) whose model `shard_model` has sharded."""

    def _wrap_model(self, model, training=True, dataloader=None):
        if not training or isinstance(model, Sharded):
            return model
        return Sharded(model)

    def save_model(self, output_dir: str | None = None, _internal_call: bool = False) -> None:
        output_dir = output_dir or self.args.output_dir
        if _internal_call:  # a checkpoint: the shards come with the optimizer state
            if self.args.should_save:
                self._save_small_parts(output_dir)
            return
        state_dict = full_state_dict(self.model)  # every process takes part
        if self.args.should_save:
            unsharded_copy(self.model, state_dict).save_pretrained(output_dir)
            self._save_small_parts(output_dir)

    def _save_small_parts(self, output_dir: str) -> None:
        os.makedirs(output_dir, exist_ok=True)
        self.model.config.architectures = [plain_class(self.model).__name__]  # what the one loader builds
        self.model.config.save_pretrained(output_dir)
        if self.processing_class is not None:
            self.processing_class.save_pretrained(output_dir)
        torch.save(self.args, os.path.join(output_dir, TRAINING_ARGS_NAME))

    def _save_optimizer_and_scheduler(self, output_dir: str) -> None:
        save_shards(output_dir, self.model, self.optimizer.optimizer)
        if self.args.should_save:
            torch.save(self.lr_scheduler.state_dict(), os.path.join(output_dir, SCHEDULER_NAME))

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        pass  # the weights come back with the optimizer state, from the shards

    def _load_optimizer_and_scheduler(self, checkpoint: str | None) -> None:
        if checkpoint is None:
            return
        load_shards(checkpoint, self.model, self.optimizer.optimizer)
        self.lr_scheduler.load_state_dict(torch.load(os.path.join(checkpoint, SCHEDULER_NAME), weights_only=True))

    def _load_best_model(self) -> None:
        load_shards(self.state.best_model_checkpoint, self.model)
