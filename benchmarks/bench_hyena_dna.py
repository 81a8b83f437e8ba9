"""HyenaDNA against multimolecule's native PyTorch HyenaDna (the reference implementation), same weights and inputs.

HyenaDNA-small width (H 256, filter order 64, MLP 1024), --layers layers, context set to --length, base models (no
LM head), fp32, batch --batch of --length positions. multimolecule reorders the vocabulary, so both models take the
same input embeddings (the lookup is negligible next to the Hyena operators). Workloads: forward (no grad) and one
training step (forward, mean of the last hidden state as a stand-in loss, backward, AdamW step). The outputs are
checked equal first.

    python benchmarks/bench_hyena_dna.py [--layers 2] [--batch 2] [--length 16384] [--repeats 5] [--device cpu]
"""

import argparse
import re
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import forward_and_training_step  # noqa: E402

from dna_zoo import HyenaDNAConfig, HyenaDNAModel  # noqa: E402

REFERENCE = "multimolecule HyenaDnaModel"


def multimolecule_to_dna_zoo(state_dict: dict) -> dict:
    """multimolecule's HyenaDnaModel weight names -> dna_zoo's HyenaDNAModel. multimolecule keeps one Sin frequency
    per activation of the implicit filter (implicit_filter.1/3/5.freq), the authors and dna_zoo one shared module
    (implicit_filter.1.freq): the copies must be equal."""
    renames = {
        r"\.mlp\.fc1\.": ".mlp.up_proj.",
        r"\.mlp\.fc2\.": ".mlp.down_proj.",
        r"^final_layer_norm\.": "final_norm.",
    }
    converted = {}
    for name, tensor in state_dict.items():
        shared = re.match(r"^(.*implicit_filter)\.[35]\.freq$", name)
        if shared:
            assert torch.equal(tensor, state_dict[shared.group(1) + ".1.freq"]), f"{name} differs from the shared one"
            continue
        if name.startswith("pooler."):
            continue
        for pattern, replacement in renames.items():
            name = re.sub(pattern, replacement, name)
        converted[name] = tensor
    return converted


def build_models(args):
    from multimolecule.models import HyenaDnaConfig, HyenaDnaModel

    shape = dict(hidden_size=256, num_hidden_layers=args.layers, intermediate_size=1024)
    shape.update(max_position_embeddings=args.length)
    torch.manual_seed(0)
    reference = HyenaDnaModel(HyenaDnaConfig(vocab_size=12, filter_order=64, embedding_dropout=0.0, **shape))
    reference.eval()
    ours = HyenaDNAModel(HyenaDNAConfig(vocab_size=12, filter_order=64, embedding_dropout=0.0, **shape))
    ours.load_state_dict(multimolecule_to_dna_zoo(reference.state_dict()))
    return reference.to(args.device).eval(), ours.to(args.device).eval()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--length", type=int, default=16384)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    reference, ours = build_models(args)
    torch.manual_seed(1)
    embeddings = torch.randn(args.batch, args.length, 256, device=args.device)
    with torch.no_grad():
        expected = reference(inputs_embeds=embeddings).last_hidden_state
        difference = expected - ours(inputs_embeds=embeddings).last_hidden_state
    print(f"max abs difference of the last hidden state: {difference.abs().max():.2e} (std {expected.std():.2f})")

    def run(model):
        return model(inputs_embeds=embeddings).last_hidden_state.mean()

    models = {REFERENCE: reference, "dna_zoo": ours}
    lines = forward_and_training_step("hyena_dna", "HyenaDNA", models, run, args.length, args.batch * args.length, args)
    print("\n".join(["", f"device: {args.device}, fp32, torch {torch.__version__}", *lines]))


if __name__ == "__main__":
    main()
