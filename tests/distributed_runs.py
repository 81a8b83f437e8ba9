"""Run by the distributed tests under torchrun: every rank runs the jobs of the JSON argument one after another,
each a dict of PretrainConfig fields ("job": "pretrain") or FinetuneConfig fields ("job": "finetune"), with
"resume": true to continue one. After a data-parallel pretraining run each rank saves its weights (rank<N>.pt), to
show the ranks agree; a sharded run's ranks each hold a part only."""

import json
import os
import sys

import torch
from accelerate import PartialState

from dna_zoo.training import FinetuneConfig, PretrainConfig, finetune, pretrain

for run in json.loads(sys.argv[1]):
    job, resume = run.pop("job"), run.pop("resume", False)
    if job == "finetune":
        finetune(FinetuneConfig(**run), resume=resume)
        continue
    result = pretrain(PretrainConfig(**run), resume=resume)
    if not run.get("fsdp"):
        state = PartialState()
        weights = {name: tensor.detach().clone() for name, tensor in result["model"].state_dict().items()}
        torch.save(
            {"world": state.num_processes, "losses": result["losses"], "weights": weights},
            os.path.join(run["output_dir"], f"rank{state.process_index}.pt"),
        )
