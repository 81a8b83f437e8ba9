"""MkDocs hook: pages generated from the sources, so that the site cannot drift from them.

- families/<family>.md: the model cards (model_cards/, YAML front matter removed), with their images;
- cli.md: the `dna-zoo` reference, from the argparse parser itself;
- bad_input.md: the README's bad-input table;
- benchmarks.md: benchmarks/README.md with the recorded results and plots it links.
"""

import argparse
import re
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = (
    "nucleotide_transformer",
    "gena_lm",
    "mistral_dna",
    "trinity_dna",
    "dnabert_2",
    "hyena_dna",
    "caduceus_dna",
    "ntv3_dna",
    "demo",
)


def _without_front_matter(text: str) -> str:
    return re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S)


def _readme_section(heading: str) -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index(f"## {heading}")
    end = readme.find("\n## ", start + 3)
    return "#" + readme[start + 2 : end if end > 0 else None].lstrip("#")


def _cli_reference() -> str:
    from dna_zoo.cli import build_parser

    parser = build_parser()
    lines = ["# Command line: `dna-zoo`", "", "Generated from the command's own parser.", ""]
    lines += ["```text", parser.format_usage().strip(), "```", ""]
    commands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    helps = {choice.dest: choice.help for choice in commands._choices_actions}
    for name, subparser in commands.choices.items():
        lines += [f"## `dna-zoo {name}`", "", helps.get(name, ""), "", "```text", subparser.format_help().strip()]
        lines += ["```", ""]
    return "\n".join(lines)


def on_files(files, config):
    generated = {f"families/{name}.md": _without_front_matter((ROOT / "model_cards" / f"{name}.md").read_text())
                 for name in FAMILIES}
    generated["cli.md"] = _cli_reference()
    generated["bad_input.md"] = _readme_section("Bad input, broken files, interrupted jobs")
    generated["benchmarks.md"] = (ROOT / "benchmarks" / "README.md").read_text()
    for uri, content in generated.items():
        files.append(File.generated(config, uri, content=content))
    binaries = {"families/loss_curve.png": ROOT / "src" / "dna_zoo" / "demo_model" / "loss_curve.png"}
    binaries.update({f"results/{path.name}": path for path in (ROOT / "benchmarks" / "results").glob("*")
                     if path.suffix in (".png", ".json", ".md")})
    for uri, path in binaries.items():
        files.append(File.generated(config, uri, content=path.read_bytes()))
    return files
