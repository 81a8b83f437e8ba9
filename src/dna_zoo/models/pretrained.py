"""Base class of every dna_zoo model: strict loading, and conversion of published layouts on load.

transformers' own `from_pretrained` warns about unexpected keys and silently initialises missing ones at
random. A DNA model loaded that way gives plausible-looking garbage, so dna_zoo refuses instead: a
checkpoint key that is neither mapped nor known to be unused, or a missing backbone weight, is an error
that lists the keys. Only a new task head (a classifier on a pretrained backbone) may be missing; a head that the
checkpoint holds in part, or that its own architecture has, must load in full.

This file travels to the Hub as remote code: it imports only torch and transformers.
"""

import json
import logging
import os
import re
import shutil
import socket
import sys
import urllib.parse
from contextlib import contextmanager

import torch
from torch import nn
from transformers import PreTrainedConfig, PreTrainedModel
from transformers import initialization as init
from transformers.dynamic_module_utils import get_relative_import_files
from transformers.utils import cached_file
from transformers.utils import logging as transformers_logging
from transformers.utils.hub import ModelCard, ModelCardData  # huggingface_hub's card API, re-exported by transformers

from .attention import RotaryEmbedding
from .layers import MaskedLMHead, RMSNorm


def write_remote_code(save_directory: str | os.PathLike, module_name: str, json_name: str, auto_map: dict) -> None:
    """Copy a module's file and every sibling file it imports into save_directory and add `auto_map` to the saved
    json_name, so that transformers alone (`trust_remote_code=True`) can load the folder without dna_zoo."""
    module_file = sys.modules[module_name].__file__
    for path in [module_file, *get_relative_import_files(module_file)]:
        shutil.copy(path, save_directory)
    json_path = os.path.join(save_directory, json_name)
    with open(json_path, encoding="utf-8") as handle:
        saved = json.load(handle)
    saved["auto_map"] = {**saved.get("auto_map", {}), **auto_map}
    with open(json_path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(saved, handle, indent=2, sort_keys=True)
    os.replace(json_path + ".tmp", json_path)


def missing_checkpoint_error(name) -> OSError:
    """The one error for a name that is neither a local folder nor reachable (no network, HF_HUB_OFFLINE=1)."""
    return OSError(
        f"{name!r} is not a local folder and could not be found in the Hugging Face cache (no network, or "
        f"HF_HUB_OFFLINE=1). On a machine with access, download it once, e.g. `hf download {name} --local-dir DIR`, "
        f'then pass the local path: from_pretrained("DIR").'
    )


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hub's host answers a TCP connection within `timeout` s (True behind a proxy, which this cannot
    test). A machine without network says so at once, instead of after the Hub client's retries."""
    if any(os.environ.get(key) for key in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    host = urllib.parse.urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def ensure_resolvable(name, filenames, **hub_kwargs) -> None:
    """Raise unless one of `filenames` is in the local folder `name`, or in the Hugging Face cache, or can be
    resolved from the Hub (tried only when the Hub can be reached)."""
    if os.path.isdir(str(name)):
        if not any(os.path.isfile(os.path.join(name, filename)) for filename in filenames):
            raise OSError(f"{name} holds none of {', '.join(filenames)}: it is not a saved model or tokenizer folder")
        return
    if os.path.isfile(str(name)):
        return
    cached = {**hub_kwargs, "local_files_only": True}
    online = not hub_kwargs.get("local_files_only") and os.environ.get("HF_HUB_OFFLINE", "0") in ("0", "", "false")
    for options in (cached, hub_kwargs) if online and hub_reachable() else (cached,):
        for filename in filenames:
            try:
                if cached_file(name, filename, _raise_exceptions_for_missing_entries=False, **options):
                    return
            except OSError:
                pass
    raise missing_checkpoint_error(name)


# Class-name suffix -> task, for the classes dna_zoo builds and the architectures a published config.json names.
TASK_SUFFIXES = {
    "ForMaskedLM": "masked-lm",
    "ForPreTraining": "masked-lm",  # BERT / BigBird pretraining saves: an MLM head (and an unused next-sentence head)
    "ForCausalLM": "causal-lm",
    "ForSequenceClassification": "sequence-classification",
    "ForTokenClassification": "token-classification",
}


def task_of(class_name: str) -> str:
    """The task of a model class name ("base" for an encoder or decoder without a head)."""
    return next((task for suffix, task in TASK_SUFFIXES.items() if class_name.endswith(suffix)), "base")


HEAD_DESCRIPTIONS = {  # what each head is, by class-name suffix, for model cards
    "ForMaskedLM": "Masked language model",
    "ForCausalLM": "Causal language model",
    "ForSequenceClassification": "Sequence classifier (or regressor)",
    "ForTokenClassification": "Per-token (nucleotide-level) classifier",
    "Model": "Base model (hidden states, no task head)",
}
PIPELINE_TAGS = {  # the Hub pipeline of each head, by class-name suffix
    "ForMaskedLM": "fill-mask",
    "ForCausalLM": "text-generation",
    "ForSequenceClassification": "text-classification",
    "ForTokenClassification": "token-classification",
    "Model": "feature-extraction",
}
CARD_CONFIG_FIELDS = (
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "vocab_size",
    "max_position_embeddings",
    "num_local_experts",
    "num_experts_per_tok",
    "attention_type",
    "head_windows",
)


def model_card(model, auto_class: str) -> ModelCard:
    """A model card for a saved model: the family's Hub metadata, its configuration, its fine-tuning task and
    labels when it has a task head, any `dna_zoo_metrics` recorded in the config, and a usage snippet."""
    config, description = model.config, sys.modules[type(model).__module__].MODEL_DESCRIPTION
    head = type(model).__name__
    source = str(getattr(config, "_name_or_path", "") or "")
    base_model = source if source.count("/") == 1 and not os.path.exists(source) else None
    data = ModelCardData(
        library_name="transformers",
        pipeline_tag=next(tag for suffix, tag in PIPELINE_TAGS.items() if head.endswith(suffix)),
        tags=["biology", "genomics", "DNA", "dna_zoo", config.model_type],
        base_model=base_model,
    )
    rows = [f"| {field} | {getattr(config, field)} |" for field in CARD_CONFIG_FIELDS if hasattr(config, field)]
    what = next(text for suffix, text in HEAD_DESCRIPTIONS.items() if head.endswith(suffix))
    lines = [
        f"# {head}",
        "",
        f"{what} on {description}. Saved with dna_zoo: it loads with `dna_zoo.load_model` or transformers' Auto",
        "classes after `import dna_zoo`, or with transformers alone and `trust_remote_code=True` (the model code is",
        "in this folder).",
        "",
        "## Configuration",
        "",
        "| field | value |",
        "| --- | --- |",
        *rows,
    ]
    if head.endswith("Classification"):
        labels = ", ".join(f"{i}: {name}" for i, name in sorted(config.id2label.items()))
        lines += ["", "## Task", "", f"- head: {head}", f"- problem type: {config.problem_type or 'per-token labels'}"]
        lines += [f"- labels: {labels}"]
        if config.num_labels == 2 and config.problem_type != "multi_label_classification":
            lines += [f"- F1, AUROC and AUPRC take label 1 ({config.id2label[1]}) as the positive class"]
    metrics = getattr(config, "dna_zoo_metrics", None)
    if metrics:
        lines += ["", "## Metrics", "", "| split | metric | value |", "| --- | --- | --- |"]
        for split, values in metrics.items():
            values = values if isinstance(values, dict) else {split: values}
            lines += [f"| {split} | {name.removeprefix(split + '_')} | {value} |" for name, value in values.items()]
    lines += [
        "",
        "## Usage",
        "",
        "```python",
        f"from transformers import AutoTokenizer, {auto_class}",
        "",
        f'model = {auto_class}.from_pretrained("PATH_OR_REPO", trust_remote_code=True)',
        'tokenizer = AutoTokenizer.from_pretrained("PATH_OR_REPO", trust_remote_code=True)',
        "```",
    ]
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines) + "\n")


def safetensors_key_names(folder) -> list[str] | None:
    """Tensor names of a local folder's safetensors weights, from the headers alone (no tensor is read); None when
    there are none to read (a Hub id, .bin weights, an unreadable header: from_pretrained reports those)."""
    index = os.path.join(str(folder), "model.safetensors.index.json")
    path = os.path.join(str(folder), "model.safetensors")
    try:
        if os.path.isfile(index):
            with open(index, encoding="utf-8") as handle:
                return list(json.load(handle)["weight_map"])
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as handle:
            size = int.from_bytes(handle.read(8), "little")
            if size > os.path.getsize(path) - 8:
                return None
            return [key for key in json.loads(handle.read(size)) if key != "__metadata__"]
    except (OSError, ValueError, KeyError):
        return None


def check_depth_against_weights(folder, num_hidden_layers: int | None) -> None:
    """A config whose layer count the weights do not have is refused before any model is built (a config.json
    saying 40000 layers beside 6 MB of weights would otherwise build for minutes and many GB first)."""
    keys = safetensors_key_names(folder)
    layers = {int(match.group(1)) for key in keys or () if (match := re.search(r"\.layers?\.(\d+)\.", key))}
    if layers and num_hidden_layers is not None and max(layers) + 1 != num_hidden_layers:
        raise ValueError(
            f"the config of {folder} says num_hidden_layers={num_hidden_layers}, but its weights hold "
            f"{max(layers) + 1} layers: use the config the weights were saved with"
        )


# Deserialisation errors of truncated or corrupted weight files (safetensors, pickle), matched by name; a broken
# torch zip archive raises a RuntimeError whose message starts "PytorchStreamReader failed".
UNREADABLE_WEIGHT_ERRORS = {"SafetensorError", "UnpicklingError", "EOFError"}

HUB_KWARGS = ("cache_dir", "force_download", "proxies", "local_files_only", "token", "revision", "subfolder")


logger = transformers_logging.get_logger(__name__)


@contextmanager
def held_load_report():
    """Hold back transformers' LOAD REPORT table (it lists known-unused keys and new heads on every load): it is
    shown only when loading fails. Yields a flag to set when the load went well."""
    modeling_logger = logging.getLogger("transformers.modeling_utils")
    held = []

    def hold(record: logging.LogRecord) -> bool:
        if "LOAD REPORT" in record.getMessage():
            held.append(record)
            return False
        return True

    outcome = {"ok": False}
    modeling_logger.addFilter(hold)
    try:
        yield outcome
    finally:
        modeling_logger.removeFilter(hold)
        if not outcome["ok"]:
            for record in held:
                modeling_logger.handle(record)


class DNAConfig(PreTrainedConfig):
    """Base of every family's config: named presets, and translation of published config.json files on load.

    Families set `presets` (name -> field values) and may override `config_from_original`.
    """

    presets = {}  # name -> field values (no annotation: configs are dataclasses in transformers 5)
    unverified_presets = {}  # name -> the fields no primary source confirmed (shown by `dna-zoo presets`)
    published_layout = None  # the loader's name (checkpoints.LAYOUTS) for a published config; None: its model_type

    @staticmethod
    def config_from_original(raw: dict) -> dict | None:
        """Fields of this config for a published (non-dna_zoo) config.json; None if `raw` is not one."""
        return None

    @property
    def embedding_size(self) -> int:
        """Width of the per-token vectors the embedding API returns (last_hidden_state, the forward strand's half
        for reverse-complement equivariant models); families whose output width is not hidden_size override it."""
        return self.hidden_size

    @classmethod
    def from_preset(cls, name: str, **overrides):
        """Config of a preset (a published checkpoint's Hub id, or `tiny`); keyword arguments override fields."""
        if name not in cls.presets:
            raise KeyError(f"unknown {cls.__name__} preset {name!r}; known: {', '.join(cls.presets)}")
        return cls(**{**cls.presets[name], **overrides})

    @classmethod
    def get_config_dict(cls, pretrained_model_name_or_path, **kwargs):
        """Reads config.json; a published layout's config is translated to this class's fields."""
        config_dict, unused = super().get_config_dict(pretrained_model_name_or_path, **kwargs)
        translated = cls.config_from_original(config_dict)
        if translated is not None:
            config_dict = {**translated, "model_type": cls.model_type}
        return config_dict, unused


class CheckpointKeyError(ValueError):
    """A checkpoint's weights do not match the model: unknown keys, or backbone weights missing."""


class DNAPreTrainedModel(PreTrainedModel):
    """Families set `config_class`, `base_model_prefix`, `head_prefixes` and may implement `original_key_mapping`.

    Keys that published checkpoints carry but the model never uses go in `_keys_to_ignore_on_load_unexpected`.
    """

    # Prefixes (after the base model prefix is removed) of the task heads of a family: a checkpoint of one head
    # may be loaded into another head class, so their keys may be unexpected or missing without harm.
    head_prefixes: tuple[str, ...] = ()

    @torch.no_grad()
    def _init_weights(self, module):
        """Normal(0, initializer_range) weights, zero biases, unit norms, zero padding rows; rotary frequencies
        (a non-persistent buffer, rebuilt after meta-device loading). Families add their own parameters."""
        std = self.config.initializer_range
        if isinstance(module, (nn.Linear, nn.Conv1d)):
            init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, mean=0.0, std=std)
            if module.padding_idx is not None and not getattr(module.weight, "_is_hf_initialized", False):
                module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, RMSNorm):
            init.ones_(module.weight)
        elif isinstance(module, MaskedLMHead):
            init.zeros_(module.bias)
        elif isinstance(module, RotaryEmbedding):
            init.copy_(module.inv_freq, module.compute_inv_freq())

    def save_pretrained(self, save_directory, *args, **kwargs):
        """`PreTrainedModel.save_pretrained`, plus the family's code files and an `auto_map` naming every Auto class
        of the family (the modeling module's AUTO_MAP), so the folder also loads with transformers alone, and a
        README.md model card."""
        super().save_pretrained(save_directory, *args, **kwargs)
        modeling = sys.modules[type(self).__module__]
        configuration = type(self.config).__module__.rsplit(".", 1)[-1]
        auto_map = {"AutoConfig": f"{configuration}.{type(self.config).__name__}"}
        auto_map.update(
            {auto: f"{modeling.__name__.rsplit('.', 1)[-1]}.{name}" for auto, name in modeling.AUTO_MAP.items()}
        )
        write_remote_code(save_directory, modeling.__name__, "config.json", auto_map)
        write_remote_code(save_directory, type(self.config).__module__, "config.json", {})
        self._write_model_card(save_directory)

    def _write_model_card(self, folder) -> None:
        modeling = sys.modules[type(self).__module__]
        auto_class = next(auto for auto, name in modeling.AUTO_MAP.items() if name == type(self).__name__)
        model_card(self, auto_class).save(os.path.join(folder, "README.md"))

    def _upload_modified_files(self, working_dir, *args, **kwargs):
        """push_to_hub: transformers writes its generic card over ours after saving; put ours back first."""
        self._write_model_card(working_dir)
        return super()._upload_modified_files(working_dir, *args, **kwargs)

    @classmethod
    def original_key_mapping(cls, raw_config: dict) -> dict[str, str] | None:
        """For the raw config.json of a published (non-dna_zoo) layout, regexes over its weight names mapped to
        dna_zoo names (applied in order, each to the result of the previous); None for the dna_zoo layout."""
        return None

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, **kwargs):
        """`PreTrainedModel.from_pretrained`, converting published layouts and refusing unknown or missing weights."""
        hub_kwargs = {key: kwargs[key] for key in HUB_KWARGS if key in kwargs}
        ensure_resolvable(pretrained_model_name_or_path, ["config.json"], **hub_kwargs)
        raw_config, _ = PreTrainedConfig.get_config_dict(pretrained_model_name_or_path, **hub_kwargs)
        key_mapping = cls.original_key_mapping(raw_config)
        if key_mapping is not None:
            kwargs.setdefault("key_mapping", key_mapping)
        config = kwargs.get("config")
        depth = config.num_hidden_layers if config is not None else raw_config.get("num_hidden_layers")
        check_depth_against_weights(pretrained_model_name_or_path, kwargs.get("num_hidden_layers", depth))
        wants_info = kwargs.pop("output_loading_info", False)
        with held_load_report() as report:
            model, info = cls._load_with_clear_errors(pretrained_model_name_or_path, model_args, kwargs)
            cls._check_loading_info(model, info, str(pretrained_model_name_or_path), raw_config)
            report["ok"] = True
        if key_mapping is not None:
            # Save in the dna_zoo layout, not back in the original one (transformers reverts load-time renames).
            model._weight_conversions = None
        return (model, info) if wants_info else model

    @classmethod
    def _load_with_clear_errors(cls, pretrained_model_name_or_path, model_args, kwargs):
        """`PreTrainedModel.from_pretrained` with loading info; unreadable weights and shape mismatches are one
        error naming the folder and its weight files."""
        try:
            return super().from_pretrained(
                pretrained_model_name_or_path, *model_args, output_loading_info=True, **kwargs
            )
        except Exception as error:
            folder = str(pretrained_model_name_or_path)
            files = (
                sorted(f for f in os.listdir(folder) if f.endswith((".safetensors", ".bin")))
                if os.path.isdir(folder)
                else []
            )
            weights = ", ".join(files) or "weight files"
            if type(error).__name__ in UNREADABLE_WEIGHT_ERRORS or "PytorchStreamReader failed" in str(error):
                raise OSError(
                    f"the weights in {folder} ({weights}) are truncated or corrupted and cannot be read "
                    f"({type(error).__name__}: {error}); download or save them again"
                ) from error
            if "ignore_mismatched_sizes" in str(error):
                raise ValueError(
                    f"the weights in {folder} ({weights}) do not have the shapes its config.json describes (the report "
                    "above lists each weight); use the config the weights were saved with, or pass "
                    "ignore_mismatched_sizes=True only to re-initialise those weights for a new task"
                ) from error
            raise

    @classmethod
    def _check_loading_info(cls, model, info: dict, source: str, raw_config: dict) -> None:
        """Refuse unknown keys and missing weights. Only a new task head may be missing: one that the checkpoint
        holds in part, or that its own architecture (config.json's `architectures`) has, must load in full."""
        prefix = model.base_model_prefix + "."

        def head_of(key: str) -> str | None:
            return next((head for head in cls.head_prefixes if key.removeprefix(prefix).startswith(head)), None)

        # Known-unused keys declared by any submodule (older transformers 5.x read only the top class's list).
        ignored = {p for m in model.modules() for p in (getattr(m, "_keys_to_ignore_on_load_unexpected", None) or ())}
        unexpected = sorted(
            key
            for key in info["unexpected_keys"]
            if head_of(key) is None and not any(re.search(pattern, key) for pattern in ignored)
        )
        missing = set(info["missing_keys"])
        own_head = task_of(cls.__name__) in {task_of(name) for name in raw_config.get("architectures") or ()}
        tied = set(getattr(model, "_tied_weights_keys", None) or ())  # loaded through their source, not by name
        incomplete = []
        for head in sorted({head_of(key) for key in missing} - {None}):
            loaded = [k for k in model.state_dict() if head_of(k) == head and k not in missing and k not in tied]
            if loaded or own_head:
                incomplete += sorted(key for key in missing if head_of(key) == head)
        backbone = sorted(key for key in missing if head_of(key) is None)
        if unexpected or backbone or incomplete:
            lines = [f"the weights in {source} do not fit {cls.__name__}:"]
            if unexpected:
                lines.append(f"  {len(unexpected)} unknown key(s) in the checkpoint: {', '.join(unexpected)}")
            if backbone:
                lines.append(f"  {len(backbone)} weight(s) missing from the checkpoint: {', '.join(backbone)}")
            if incomplete:
                whose = "its own architecture's" if own_head else "a partly saved"
                lines.append(f"  {len(incomplete)} weight(s) of {whose} head missing: {', '.join(incomplete)}")
            lines.append("Refusing to load rather than initialise them at random.")
            raise CheckpointKeyError("\n".join(lines))
        new_head = sorted(missing)
        if new_head:
            logger.warning(
                f"Some weights of {cls.__name__} were not in {source} and are newly initialised (a new task head): "
                f"{', '.join(new_head)}. Train the model on a downstream task before using its predictions."
            )
