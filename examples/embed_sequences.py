"""Embed DNA sequences with a DNA language model: one vector per sequence, padding and specials excluded.

    python examples/embed_sequences.py [--model PATH_OR_HUB_ID] [--layer -1] SEQUENCE [SEQUENCE ...]

Without --model, the bundled demo model (a small single-base NTv3-style model pretrained on three bacterial genomes,
shipped with dna_zoo) is used: it runs offline. PATH_OR_HUB_ID is a dna_zoo directory or a published checkpoint as it
sits on the Hub (e.g. a local copy of InstaDeepAI/nucleotide-transformer-v2-50m-multi-species): both load with
the same call. `--preset tiny` builds a randomly initialised model instead.
"""

import argparse

import torch

from dna_zoo import (
    NucleotideTransformerConfig,
    NucleotideTransformerModel,
    NucleotideTransformerTokenizer,
    load_model,
    load_tokenizer,
)


def embed(model, tokenizer, sequences: list[str], layer: int = -1) -> torch.Tensor:
    """(N, H) mean of a layer's hidden states over each sequence's own k-mer tokens (no <cls>, no padding)."""
    batch = tokenizer(sequences, padding=True, return_tensors="pt", return_special_tokens_mask=True)
    keep = batch["attention_mask"] * (1 - batch.pop("special_tokens_mask"))  # (N, L)
    with torch.no_grad():
        hidden = model(**batch, output_hidden_states=True).hidden_states[layer]  # (N, L, H)
    keep = keep.unsqueeze(-1).to(hidden.dtype)
    return (hidden * keep).sum(1) / keep.sum(1).clamp(min=1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--model", default="demo", help="a dna_zoo folder or a published checkpoint / Hub id (default: the demo model)"
    )
    source.add_argument("--preset", help="build a randomly initialised Nucleotide Transformer from a preset, e.g. tiny")
    parser.add_argument("--layer", type=int, default=-1, help="hidden-state index; -1 is the last (after final norm)")
    parser.add_argument("sequences", nargs="+", help="DNA sequences (A C G T N, any case)")
    args = parser.parse_args(argv)

    if not args.preset:
        model, tokenizer = load_model(args.model, task="base"), load_tokenizer(args.model)
    else:
        config = NucleotideTransformerConfig.from_preset(args.preset)
        model = NucleotideTransformerModel(config)
        tokenizer = NucleotideTransformerTokenizer(layout="v1" if config.vocab_size == 4105 else "v2")
    vectors = embed(model.eval(), tokenizer, args.sequences, args.layer)
    for sequence, vector in zip(args.sequences, vectors):
        shown = sequence if len(sequence) <= 24 else sequence[:21] + "..."
        print(f"{shown:<24} dim={vector.numel()} norm={vector.norm():.4f} first={vector[:3].tolist()}")
    return vectors


if __name__ == "__main__":
    main()
