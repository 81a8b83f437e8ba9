"""Run by test_pretrain.py under torchrun: each rank pretrains and saves its weights for comparison."""

import os
import sys

import torch

from dna_zoo.training import PretrainConfig, pretrain

output_dir, fasta = sys.argv[1], sys.argv[2]
result = pretrain(
    PretrainConfig(
        family="nucleotide_transformer",
        preset="tiny",
        fasta=[fasta],
        output_dir=output_dir,
        window=300,
        steps=4,
        batch_size=4,
        checkpoint_every=2,
    )
)
rank = int(os.environ.get("RANK", 0))
from accelerate import PartialState  # noqa: E402

state = PartialState()
weights = {name: tensor.detach().clone() for name, tensor in result["model"].state_dict().items()}
torch.save(
    {"world": state.num_processes, "losses": result["losses"], "weights": weights},
    os.path.join(output_dir, f"rank{rank}.pt"),
)
