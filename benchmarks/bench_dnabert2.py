"""DNABERT-2 against multimolecule's native PyTorch DnaBert2 (the reference implementation), same weights and inputs.

DNABERT-2-117M width (H 768, 12 heads, gated FFN 3072), --layers layers (12 in the published model), base models
(no MLM head), fp32, batch --batch of --length tokens with the last rows padded (a real batch of BPE tokens is
ragged). Workloads: forward (no grad) and one training step (forward, mean of the last hidden state over real
tokens as a stand-in loss, backward, AdamW step). The outputs are checked equal on real tokens first.

    python benchmarks/bench_dnabert2.py [--layers 2] [--batch 8] [--length 512] [--repeats 3] [--device cpu]
"""

import argparse
import re
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import forward_and_training_step  # noqa: E402

from dna_zoo import DNABERT2Config, DNABERT2Model  # noqa: E402


def multimolecule_to_dna_zoo(state_dict: dict) -> dict:
    """multimolecule's DnaBert2Model weight names -> dna_zoo's DNABERT2Model (q, k, v fused into Wqkv)."""
    renames = {
        r"^encoder\.layer\.(\d+)\.attention\.output\.dense\.": r"layers.\1.attention.o_proj.",
        r"^encoder\.layer\.(\d+)\.attention\.output\.layer_norm\.": r"layers.\1.attention_norm.",
        r"^encoder\.layer\.(\d+)\.mlp\.up_proj\.": r"layers.\1.mlp.gate_up_proj.",
        r"^encoder\.layer\.(\d+)\.mlp\.down_proj\.": r"layers.\1.mlp.down_proj.",
        r"^encoder\.layer\.(\d+)\.mlp\.layer_norm\.": r"layers.\1.mlp_norm.",
    }
    converted = {}
    for name, tensor in state_dict.items():
        fused = re.match(r"^encoder\.layer\.(\d+)\.attention\.self\.query\.(weight|bias)$", name)
        if fused:
            layer, kind = fused.groups()
            parts = [state_dict[f"encoder.layer.{layer}.attention.self.{p}.{kind}"] for p in ("query", "key", "value")]
            converted[f"layers.{layer}.attention.Wqkv.{kind}"] = torch.cat(parts)
            continue
        if re.match(r"^encoder\.layer\.\d+\.attention\.self\.(key|value)\.", name) or name.startswith("pooler."):
            continue
        for pattern, replacement in renames.items():
            name = re.sub(pattern, replacement, name)
        converted[name] = tensor
    return converted


def build_models(args):
    from multimolecule.models import DnaBert2Config, DnaBert2Model

    shape = dict(hidden_size=768, num_hidden_layers=args.layers, num_attention_heads=12, intermediate_size=3072)
    torch.manual_seed(0)
    reference = DnaBert2Model(
        DnaBert2Config(vocab_size=4096, hidden_dropout=0.0, attention_dropout=0.0, pad_token_id=3, **shape),
        add_pooling_layer=False,
    )
    ours = DNABERT2Model(DNABERT2Config(vocab_size=4096, hidden_dropout=0.0, **shape))
    ours.load_state_dict(multimolecule_to_dna_zoo(reference.state_dict()))
    return reference.to(args.device).eval(), ours.to(args.device).eval()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--length", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    reference, ours = build_models(args)
    torch.manual_seed(1)
    input_ids = torch.randint(5, 4096, (args.batch, args.length), device=args.device)
    lengths = torch.linspace(args.length, args.length // 2, args.batch, device=args.device).long()  # ragged rows
    attention_mask = (torch.arange(args.length, device=args.device)[None] < lengths[:, None]).long()
    input_ids = input_ids.masked_fill(attention_mask == 0, 3)
    real = attention_mask.bool()
    with torch.no_grad():
        expected = reference(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        difference = (expected - ours(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state)[real]
    print(f"max abs difference of the last hidden state on real tokens: {difference.abs().max():.2e}")

    tokens = int(attention_mask.sum())

    def run(model):
        return model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state[real].mean()

    models = {"multimolecule DnaBert2Model": reference, "dna_zoo": ours}
    lines = forward_and_training_step("dnabert2", "DNABERT-2", models, run, args.length, tokens, args)
    print("\n".join(["", f"device: {args.device}, fp32, torch {torch.__version__}", *lines]))


if __name__ == "__main__":
    main()
