"""Published presets of every family, by name (names of published checkpoints are their Hub ids)."""

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
