"""Published presets of every family, by name (names of published checkpoints are their Hub ids)."""

import os

from .auto import FAMILIES

CONFIG_CLASSES = {config_class.model_type: config_class for config_class in FAMILIES}
PRESETS = {family: config_class.presets for family, config_class in CONFIG_CLASSES.items()}


def list_presets(family: str | None = None) -> dict[str, list[str]]:
    """Preset names by family (model_type); `family` restricts the listing to one family."""
    if family is not None and family not in PRESETS:
        raise KeyError(f"unknown family {family!r}; known: {', '.join(PRESETS)}")
    return {name: list(presets) for name, presets in PRESETS.items() if family in (None, name)}


def config_from_preset(family: str, name: str, **overrides):
    """The config of preset `name` of `family`, e.g. config_from_preset("nucleotide_transformer", "tiny")."""
    if family not in CONFIG_CLASSES:
        raise KeyError(f"unknown family {family!r}; known: {', '.join(CONFIG_CLASSES)}")
    return CONFIG_CLASSES[family].from_preset(name, **overrides)


DEMO_MODEL = os.path.join(os.path.dirname(__file__), "demo_model")


def resolve_model(name_or_path: str) -> str:
    """ "demo" names the bundled demo model (a small NT-v2-style masked LM, see model_cards/demo.md); anything else
    (a folder or a Hub id) is returned as it is."""
    if name_or_path == "demo":
        if not os.path.isfile(os.path.join(DEMO_MODEL, "model.safetensors")):
            raise FileNotFoundError(f"the bundled demo model is missing from {DEMO_MODEL} (a broken installation?)")
        return DEMO_MODEL
    return name_or_path
