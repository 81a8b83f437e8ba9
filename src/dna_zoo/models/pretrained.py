"""Base class of every dna_zoo model: strict loading, and conversion of published layouts on load.

transformers' own `from_pretrained` warns about unexpected keys and silently initialises missing ones at
random. A DNA model loaded that way gives plausible-looking garbage, so dna_zoo refuses instead: a
checkpoint key that is neither mapped nor known to be unused, or a missing backbone weight, is an error
that lists the keys. Only task heads (a new classifier on a pretrained backbone) may be missing.

This file travels to the Hub as remote code: it imports only torch and transformers.
"""

import re

from transformers import PreTrainedConfig, PreTrainedModel

HUB_KWARGS = ("cache_dir", "force_download", "proxies", "local_files_only", "token", "revision", "subfolder")


class CheckpointKeyError(ValueError):
    """A checkpoint's weights do not match the model: unknown keys, or backbone weights missing."""


class DNAPreTrainedModel(PreTrainedModel):
    """Families set `config_class`, `base_model_prefix`, `head_prefixes` and implement `original_layout`."""

    # Prefixes (after the base model prefix is removed) of the task heads of a family: a checkpoint of one head
    # may be loaded into another head class, so their keys may be unexpected or missing without harm.
    head_prefixes: tuple[str, ...] = ()

    @classmethod
    def original_layout(cls, raw_config: dict) -> tuple[dict[str, str], list[str]] | None:
        """For a raw config.json of a published (non-dna_zoo) layout: (key_mapping, ignorable_key_regexes).

        `key_mapping` maps regexes over the original keys to dna_zoo names; `ignorable_key_regexes` match keys
        the original checkpoint has but the model does not use. None when the directory is in dna_zoo layout.
        """
        return None

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, **kwargs):
        """`PreTrainedModel.from_pretrained`, converting published layouts and refusing unknown or missing weights."""
        hub_kwargs = {key: kwargs[key] for key in HUB_KWARGS if key in kwargs}
        raw_config, _ = PreTrainedConfig.get_config_dict(pretrained_model_name_or_path, **hub_kwargs)
        layout = cls.original_layout(raw_config)
        ignorable = []
        if layout is not None and "key_mapping" not in kwargs:
            kwargs["key_mapping"], ignorable = layout
        wants_info = kwargs.pop("output_loading_info", False)
        model, info = super().from_pretrained(
            pretrained_model_name_or_path, *model_args, output_loading_info=True, **kwargs
        )
        cls._check_loading_info(model, info, ignorable, str(pretrained_model_name_or_path))
        if layout is not None:
            # Save in the dna_zoo layout, not back in the original one (transformers reverts load-time renames).
            model._weight_conversions = None
        return (model, info) if wants_info else model

    @classmethod
    def _check_loading_info(cls, model, info: dict, ignorable: list[str], source: str) -> None:
        prefix = model.base_model_prefix + "."
        heads = tuple(cls.head_prefixes)

        def is_head(key: str) -> bool:
            return key.removeprefix(prefix).startswith(heads)

        ignore = re.compile("|".join(ignorable)) if ignorable else None
        unexpected = sorted(
            key for key in info["unexpected_keys"] if not is_head(key) and not (ignore and ignore.search(key))
        )
        missing = sorted(key for key in info["missing_keys"] if not is_head(key))
        if unexpected or missing:
            lines = [f"the weights in {source} do not fit {cls.__name__}:"]
            if unexpected:
                lines.append(f"  {len(unexpected)} unknown key(s) in the checkpoint: {', '.join(unexpected)}")
            if missing:
                lines.append(f"  {len(missing)} weight(s) missing from the checkpoint: {', '.join(missing)}")
            lines.append("Refusing to load rather than initialise them at random.")
            raise CheckpointKeyError("\n".join(lines))
