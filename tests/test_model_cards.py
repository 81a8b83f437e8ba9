"""Model cards: front matter parses as Hub metadata, and the first Python snippet runs."""

import re
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

CARDS = sorted((Path(__file__).resolve().parent.parent / "model_cards").glob("*.md"))


def test_there_is_a_card_per_family():
    families = {
        "nucleotide_transformer",
        "mistral_dna",
        "trinity_dna",
        "gena_lm",
        "dnabert_2",
        "hyena_dna",
        "caduceus_dna",
        "ntv3_dna",
    }
    assert {card.stem for card in CARDS} == families | {"demo"}  # demo.md: the bundled model's card


@pytest.mark.parametrize("path", CARDS, ids=lambda p: p.stem)
def test_front_matter_is_valid_hub_metadata(path):
    data = ModelCard.load(path).data
    assert data.license and data.library_name and data.pipeline_tag
    assert {"biology", "genomics", "DNA"} <= set(data.tags)


@pytest.mark.parametrize("path", CARDS, ids=lambda p: p.stem)
def test_first_snippet_runs(path):
    snippet = re.search(r"```python\n(.*?)```", path.read_text(), re.S).group(1)
    exec(compile(snippet, str(path), "exec"), {})


@pytest.mark.parametrize("page", ["tasks/embed.md", "tasks/interpret.md"])
def test_documentation_snippets_run(page):
    """The documentation's runnable examples (the bundled demo model, offline)."""
    import textwrap

    path = Path(__file__).resolve().parent.parent / "docs" / page
    for snippet in re.findall(r"```python\n(.*?)```", path.read_text(), re.S):
        exec(compile(textwrap.dedent(snippet), str(path), "exec"), {})
