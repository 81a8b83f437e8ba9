"""Fully sharded data parallel training (torch FSDP2 `fully_shard`) on any device, CPU (gloo) included.

accelerate shards models only on accelerators (its FSDP plugin is ignored on CPU), so dna_zoo applies
`fully_shard` itself, the same way on CPU and GPU: one FSDP unit per transformer layer (the model's
`_no_split_modules`), the embeddings and heads in the root unit (tied weights stay in one unit). Parameters,
gradients and optimizer state are split across the processes; each layer is gathered for its forward and backward.

Checkpoints of a sharded run hold each process's shard (torch.distributed.checkpoint, one file per process) next to
config.json: `load_model` reads such a folder on one process (no process group), so `dna-zoo convert CHECKPOINT
DEST` writes a plain `save_pretrained` folder from it.
"""

import os
import pickle
import warnings

import torch
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_state_dict,
    set_model_state_dict,
    set_state_dict,
)
from torch.distributed.fsdp import FSDPModule, MixedPrecisionPolicy, fully_shard

SHARDS = "model_shards"  # the torch.distributed.checkpoint folder inside a checkpoint
PRECISION = {"no": None, "bf16": torch.bfloat16}


def shard_model(model: torch.nn.Module, mixed_precision: str = "no") -> torch.nn.Module:
    """Shard `model` in place across the default process group: each `_no_split_modules` layer is one unit, the
    rest (embeddings, heads) the root unit. bf16 computes in bf16 and reduces gradients in fp32."""
    if mixed_precision not in PRECISION:
        raise ValueError(f"sharded training supports mixed precision {sorted(PRECISION)}, got {mixed_precision!r}")
    layer_classes = set(model._no_split_modules or ())
    layers = [module for module in model.modules() if type(module).__name__ in layer_classes]
    if not layers:
        raise ValueError(f"{type(model).__name__} names no layer class to shard (_no_split_modules)")
    policy = MixedPrecisionPolicy(param_dtype=PRECISION[mixed_precision], reduce_dtype=torch.float32)
    for layer in layers:
        fully_shard(layer, mp_policy=policy)
    fully_shard(model, mp_policy=policy)
    return model


def is_sharded(model: torch.nn.Module) -> bool:
    return isinstance(model, FSDPModule)


def full_state_dict(model: torch.nn.Module) -> dict:
    """The whole model's weights on the main process (an empty dict on the others), gathered layer by layer into
    CPU memory (collective)."""
    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def plain_class(model: torch.nn.Module) -> type:
    """The class of `model` before sharding (fully_shard swaps it for a subclass)."""
    return next(cls for cls in type(model).__mro__ if not issubclass(cls, FSDPModule))


def unsharded_copy(model: torch.nn.Module, state_dict: dict) -> torch.nn.Module:
    """A plain (unsharded) model of `model`'s class holding `state_dict` (from `full_state_dict`)."""
    plain = plain_class(model)(model.config)
    plain.load_state_dict(state_dict)
    return plain


def save_shards(folder: str, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """Every process writes its shard of the weights and optimizer state to `folder`/model_shards (collective)."""
    model_state, optimizer_state = get_state_dict(model, optimizer)
    dcp.save({"model": model_state, "optimizer": optimizer_state}, checkpoint_id=os.path.join(folder, SHARDS))


def load_shards(folder: str, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None) -> None:
    """Read `save_shards`' files back into a model sharded like the one that wrote them, and into its optimizer
    unless None (collective)."""
    if optimizer is None:
        state = {"model": get_model_state_dict(model)}
        dcp.load(state, checkpoint_id=os.path.join(folder, SHARDS))
        set_model_state_dict(model, state["model"])
        return
    model_state, optimizer_state = get_state_dict(model, optimizer)
    state = {"model": model_state, "optimizer": optimizer_state}
    dcp.load(state, checkpoint_id=os.path.join(folder, SHARDS))
    set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optimizer"])


def has_shards(folder: str) -> bool:
    """Whether `folder` holds a whole sharded checkpoint: its index (written once every process has written its
    shard) and every shard file the index names (a checkpoint half deleted by a rotation lacks some)."""
    shards = os.path.join(folder, SHARDS)
    try:
        index = dcp.FileSystemReader(shards).read_metadata()
    except (OSError, ValueError, EOFError, pickle.UnpicklingError):
        return False
    files = {item.relative_path for item in (index.storage_data or {}).values()}
    return all(os.path.isfile(os.path.join(shards, name)) for name in files)


def load_full_weights(folder: str, model: torch.nn.Module) -> None:
    """Load the whole model from a sharded checkpoint into an unsharded `model`, on one process."""
    state = {"model": model.state_dict()}
    with warnings.catch_warnings():  # torch says it assumes one process: that is the intent here
        warnings.filterwarnings("ignore", "torch.distributed is disabled", UserWarning)
        dcp.load(state, checkpoint_id=os.path.join(folder, SHARDS), no_dist=True)
    model.load_state_dict(state["model"])
