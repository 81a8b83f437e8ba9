"""The `dna-zoo` command."""

import argparse

import torch
from transformers import AutoModel

from .auto import FAMILIES
from .checkpoints import PRESETS, config_from_preset


def list_presets_table() -> list[tuple[str, str, int, int]]:
    """(family, preset, parameters of the base model, context in tokens) for every preset."""
    rows = []
    for family, presets in PRESETS.items():
        for name in presets:
            config = config_from_preset(family, name)
            with torch.device("meta"):
                model = FAMILIES[type(config)][AutoModel](config)
            rows.append((family, name, sum(p.numel() for p in model.parameters()), config.max_tokens))
    return rows


def presets_command(args) -> None:
    rows = list_presets_table()
    width = max(len(name) for _, name, _, _ in rows)
    print(f"{'family':<24} {'preset':<{width}} {'base params':>14} {'context (tokens)':>17}")
    for family, name, params, context in rows:
        print(f"{family:<24} {name:<{width}} {params:>14,} {context:>17,}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="dna-zoo", description="DNA language models for transformers.")
    commands = parser.add_subparsers(dest="command", required=True)
    presets = commands.add_parser("presets", help="list every preset with its size and context length")
    presets.set_defaults(run=presets_command)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
