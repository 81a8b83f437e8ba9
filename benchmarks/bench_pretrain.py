"""Pretraining throughput (tokens/s of one optimizer step) of `dna-zoo pretrain`'s step against the step it
replaced, on the same model, weights and masked batches of real genome windows, interleaved in one run.

Model: the demo-6mer preset (the demo model bundled until 2026-12: NT-v2 layout, H 128, 4 layers, FFN 512, 6-mer
tokens; `--hidden H` for width H with FFN 2H),
batch 32 windows of 600 bases of E. coli K-12 (101 tokens each), 15% of the tokens masked as pretraining masks
them. Steps (forward, loss, backward, AdamW step):
- before: the model's own loss (the vocabulary projected at every token), fp32, AdamW's default (foreach);
- each change alone: the loss from the labelled tokens' logits only (`training_loss`), bf16 autocast (on a CPU
  with AMX or AVX-512 BF16, `--mixed-precision bf16`), the fused AdamW;
- after: all three, what `dna-zoo pretrain --mixed-precision bf16` runs.
Every variant starts from the same weights (a fresh copy each), so the comparison is of work, not of progress.

    python benchmarks/bench_pretrain.py [--batch 32] [--window 600] [--repeats 5] [--hidden H] [--layers N]
"""

import argparse
import contextlib
import copy
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import interleaved_timings, report_timing, target_line  # noqa: E402

from dna_zoo import NucleotideTransformerForMaskedLM, NucleotideTransformerTokenizer  # noqa: E402
from dna_zoo.checkpoints import CONFIG_CLASSES  # noqa: E402
from dna_zoo.data import read_fasta  # noqa: E402
from dna_zoo.training.pretrain import mask_tokens, training_loss  # noqa: E402

GENOME = Path(__file__).resolve().parents[2] / "shared" / "data" / "genomes" / "ecoli_k12_mg1655.fa.gz"
VARIANTS = {  # label: (labelled tokens only, bf16 autocast, fused AdamW)
    "before (fp32, full projection)": (False, False, False),
    "labelled tokens only": (True, False, False),
    "bf16 autocast": (False, True, False),
    "fused AdamW": (False, False, True),
    "after (all three)": (True, True, True),
}


def masked_batch(tokenizer, batch: int, window: int, device: str) -> dict:
    (_, chromosome), *_ = read_fasta(GENOME)
    windows = [chromosome[i * window : (i + 1) * window].upper() for i in range(batch)]
    encoded = tokenizer(windows, return_tensors="pt")
    special = torch.tensor(tokenizer.all_special_ids)
    generator = torch.Generator().manual_seed(0)
    input_ids, labels = mask_tokens(
        encoded["input_ids"], encoded["input_ids"], special, tokenizer.mask_token_id, len(tokenizer), 0.15, generator
    )
    batch = {"input_ids": input_ids, "attention_mask": encoded["attention_mask"], "labels": labels}
    return {key: value.to(device) for key, value in batch.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--window", type=int, default=600, help="bases per window (6 per token)")
    parser.add_argument("--hidden", type=int, help="width (FFN twice it); default: the demo-6mer preset's")
    parser.add_argument("--layers", type=int, help="default: the demo-6mer preset's")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    overrides = {"hidden_size": args.hidden, "intermediate_size": 2 * args.hidden} if args.hidden else {}
    if args.layers:
        overrides["num_hidden_layers"] = args.layers
    config = CONFIG_CLASSES["nucleotide_transformer"].from_preset("demo-6mer", **overrides)
    tokenizer = NucleotideTransformerTokenizer()
    batch = masked_batch(tokenizer, args.batch, args.window, args.device)
    tokens = int(batch["attention_mask"].sum())
    initial = NucleotideTransformerForMaskedLM(config).to(args.device).train()

    def step_of(labelled_only: bool, bf16: bool, fused: bool):
        model = copy.deepcopy(initial)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=fused)
        autocast = torch.autocast(args.device, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()

        def step():
            with autocast:
                loss = training_loss(model, batch, causal=False) if labelled_only else model(**batch).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        return step

    fns = {label: step_of(*flags) for label, flags in VARIANTS.items()}
    timings = interleaved_timings(fns, args.repeats, warmup=1, device=args.device)
    workload = f"pretrain step {args.batch}x{tokens // args.batch}"
    for label, timing in timings.items():
        report_timing("pretrain", workload, label, timing, tokens=tokens)
    before = timings["before (fp32, full projection)"].median
    for label in list(VARIANTS)[1:]:
        print(f"    {label}: {before / timings[label].median:.2f}x the tokens/s of before")
    speedup = before / timings["after (all three)"].median
    print(target_line("pretrain step tokens/s, after vs before", speedup, 1.0, True))


if __name__ == "__main__":
    main()
