"""GENA-LM block-sparse attention against transformers' BigBirdModel (block_sparse), same weights and inputs.

BigBird-base width (H 768, 12 heads, FFN 3072, block 64, 3 random blocks), 2 layers, batch 2, fp32; base models
(no 32k-vocabulary MLM head, which would hide the attention). Workloads: forward (no grad) and one training step
(forward, mean of the last hidden state as a stand-in loss, backward, AdamW step), at 4096 tokens; then the
dna_zoo forward at 8192 tokens for the scaling target.

    python benchmarks/bench_gena_lm.py [--layers 2] [--batch 2] [--repeats 3] [--device cpu]
"""

import argparse
import sys
import tempfile
from pathlib import Path

import torch
from transformers import BigBirdConfig, BigBirdModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import interleaved_timings, peak_memory_mib, report_timing, target_line  # noqa: E402

from dna_zoo import GenaLMModel  # noqa: E402


def build_models(args):
    torch.manual_seed(0)
    config = BigBirdConfig(
        vocab_size=32000,
        hidden_size=768,
        num_hidden_layers=args.layers,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=8192,
        block_size=64,
        num_random_blocks=3,
        attention_type="block_sparse",
        pad_token_id=3,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    reference = BigBirdModel(config)
    with tempfile.TemporaryDirectory() as tmp:
        reference.save_pretrained(tmp)
        ours = GenaLMModel.from_pretrained(tmp)
    return reference.to(args.device), ours.to(args.device)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    reference, ours = build_models(args)
    torch.manual_seed(1)
    input_ids = torch.randint(5, 32000, (args.batch, 4096), device=args.device)
    with torch.no_grad():
        reference.eval(), ours.eval()
        difference = (reference(input_ids).last_hidden_state - ours(input_ids).last_hidden_state).abs().max()
    print(f"max abs difference of the last hidden state at 4096 tokens (eval): {difference:.2e}")

    def forward(model, ids):
        def run():
            with torch.no_grad():
                model(input_ids=ids)

        return run

    optimizers = {id(m): torch.optim.AdamW(m.parameters(), lr=1e-6) for m in (reference, ours)}

    def train_step(model):
        def run():
            model(input_ids=input_ids).last_hidden_state.mean().backward()
            optimizers[id(model)].step()
            optimizers[id(model)].zero_grad(set_to_none=True)

        return run

    tokens = args.batch * 4096
    lines, our_forward = [], None
    for workload, make, repeats in (
        ("forward", lambda m: forward(m, input_ids), args.repeats),
        ("train step", train_step, max(4, args.repeats)),
    ):
        for model in (reference, ours):
            model.train(workload == "train step")
        fns = {"BigBirdModel": make(reference), "dna_zoo": make(ours)}
        timings = interleaved_timings(fns, repeats=repeats, device=args.device)
        memory = {name: peak_memory_mib(fn, args.device) for name, fn in fns.items()}
        for name, timing in timings.items():
            report_timing("gena_lm", f"{workload} 4096", name, timing, memory[name], tokens)
        speed = timings["BigBirdModel"].median / timings["dna_zoo"].median
        target = 2.5 if workload == "train step" else 2.0  # issue 18: the training step clearly past 2x
        lines.append(target_line(f"GENA BigBird {workload} at 4096 tokens vs BigBirdModel", speed, target, True))
        lines.append(
            target_line(
                f"GENA BigBird {workload} peak memory vs BigBirdModel",
                memory["dna_zoo"] / memory["BigBirdModel"],
                1.0,
                False,
            )
        )
        if workload == "forward":
            our_forward = timings["dna_zoo"].median

    ours.eval()
    long_ids = torch.randint(5, 32000, (args.batch, 8192), device=args.device)
    long_time = interleaved_timings({"dna_zoo 8192": forward(ours, long_ids)}, repeats=args.repeats)["dna_zoo 8192"]
    report_timing("gena_lm", "forward 8192", "dna_zoo", long_time, tokens=args.batch * 8192)
    lines.append(
        target_line("GENA BigBird forward time 8192 / 4096 tokens", long_time.median / our_forward, 2.3, False)
    )
    print("\n".join(["", f"device: {args.device}, fp32, torch {torch.__version__}", *lines]))


if __name__ == "__main__":
    main()
