"""The one loader: any folder or Hub id of the eight families, in a published layout or dna_zoo's, and the presets.

transformers' own Auto classes cannot be redirected to dna_zoo for folders whose model_type transformers owns:
a GENA BERT folder says "bert", an NT v1 folder "esm", a Mistral-DNA folder "mixtral" or "mistral" (and NT v2 folders
name no model_type at all), so `AutoModelForMaskedLM.from_pretrained(gena_folder)` builds transformers' post-LN
`BertForMaskedLM`, and `AutoTokenizer` a generic tokenizer. `load_model` and `load_tokenizer` recognise every
published layout and the dna_zoo one; every CLI command and API function that takes a model name goes through them.
"""

import json
import os
import re
import tempfile
from dataclasses import dataclass

import transformers
from transformers import PreTrainedConfig

from .auto import FAMILIES
from .models.pretrained import HUB_KWARGS, ensure_resolvable, task_of
from .sharding import has_shards, load_full_weights

CONFIG_CLASSES = {config_class.model_type: config_class for config_class in FAMILIES}
PRESETS = {family: config_class.presets for family, config_class in CONFIG_CLASSES.items()}
DEMO_MODEL = os.path.join(os.path.dirname(__file__), "demo_model")

# Task name -> the Auto class whose dna_zoo model does it ("lm": the family's language model, masked or causal).
TASKS = {
    "base": "AutoModel",
    "masked-lm": "AutoModelForMaskedLM",
    "causal-lm": "AutoModelForCausalLM",
    "sequence-classification": "AutoModelForSequenceClassification",
    "token-classification": "AutoModelForTokenClassification",
}

# The layouts dna_zoo loads, by id: the model_type of a published config.json, except NT v2 (InstaDeep's remote ESM
# code, SwiGLU MLP), whose Hub config names no model_type and whose re-saves say "esm".
LAYOUTS = {
    "dna_zoo": "dna_zoo",
    "esm": "Nucleotide Transformer v1, transformers ESM layout",
    "esm-swiglu": "Nucleotide Transformer v2, InstaDeep remote-code ESM layout",
    "bert": "GENA-LM BERT fork (AIRI)",
    "bert-alibi": "DNABERT-2, the authors' MosaicBERT remote-code layout (bert_layers)",
    "hyenadna": "HyenaDNA, the authors' HF remote-code layout",
    "caduceus": "Caduceus, the authors' HF remote-code layout",
    "ntv3": "Nucleotide Transformer v3 (pre- or post-trained), the authors' HF PyTorch layout",
    "big_bird": "GENA-LM BigBird, transformers BigBird layout",
    "mixtral": "Mistral-DNA, transformers Mixtral layout",
    "mistral": "Mistral-DNA, transformers Mistral layout (dense)",
    "dna_zoo-sharded": "dna_zoo sharded training checkpoint (FSDP, one weight file per process)",
}


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


def resolve_model(name_or_path: str | os.PathLike) -> str:
    """A local folder or a Hub id (`owner/name`): "demo" names the bundled demo model (a small single-base
    NTv3-style masked LM, see model_cards/demo.md); anything else that is neither is refused at once, without a
    network call."""
    name = str(name_or_path)
    if name == "demo":
        if not os.path.isfile(os.path.join(DEMO_MODEL, "model.safetensors")):
            raise FileNotFoundError(f"the bundled demo model is missing from {DEMO_MODEL} (a broken installation?)")
        return DEMO_MODEL
    if os.path.isdir(name):
        return name
    if os.path.exists(name):
        raise NotADirectoryError(f"{name} is a file; a model is a folder (config.json + weights) or a Hub id")
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", name):
        raise FileNotFoundError(
            f"{name!r} is neither a model folder, 'demo', nor a Hub id (owner/name, e.g. "
            "InstaDeepAI/nucleotide-transformer-v2-50m-multi-species; `dna-zoo presets` lists the published ones)"
        )
    return name


@dataclass(frozen=True)
class Checkpoint:
    """What a folder or Hub id holds: its path, its family's config class, and its layout."""

    path: str
    config_class: type
    layout: str  # a key of LAYOUTS
    raw_config: dict

    def __str__(self) -> str:
        return f"{self.path}: {self.family} ({LAYOUTS[self.layout]})"

    @property
    def family(self) -> str:
        return self.config_class.model_type

    @property
    def classes(self) -> dict:
        """Auto class -> dna_zoo class of the family."""
        return FAMILIES[self.config_class]

    @property
    def language_model_task(self) -> str:
        return "causal-lm" if transformers.AutoModelForCausalLM in self.classes else "masked-lm"

    @property
    def own_task(self) -> str:
        """The task of the checkpoint's own architecture (config.json's `architectures`); the family's language
        model when it names none."""
        architectures = self.raw_config.get("architectures") or []
        task = task_of(architectures[0]) if architectures else self.language_model_task
        return task if getattr(transformers, TASKS[task]) in self.classes else self.language_model_task


def detect_checkpoint(name_or_path: str | os.PathLike, **hub_kwargs) -> Checkpoint:
    """The family and layout of a folder, Hub id or config.json file, from its config; a clear error when it is
    none of them."""
    name = str(name_or_path)
    path = name if name.endswith(".json") and os.path.isfile(name) else resolve_model(name)
    if os.path.isdir(path) and not os.path.isfile(os.path.join(path, "config.json")):
        adapter = os.path.join(path, "adapter_config.json")
        if os.path.isfile(adapter):
            with open(adapter, encoding="utf-8") as handle:
                base = json.load(handle).get("base_model_name_or_path")
            merged = os.path.join(os.path.dirname(os.path.abspath(path)), "merged")
            hint = f"load the merged model in {merged}" if os.path.isdir(merged) else "merge it into its base model"
            raise ValueError(
                f"{path} is a peft adapter (adapter_config.json, base model {base}), not a whole model: {hint}, or "
                f"peft.PeftModel.from_pretrained(dna_zoo.load_model({base!r}, ...), {path!r})"
            )
    ensure_resolvable(path, ["config.json"], **hub_kwargs)
    raw_config, _ = PreTrainedConfig.get_config_dict(path, **hub_kwargs)
    model_type = raw_config.get("model_type")
    if model_type in CONFIG_CLASSES:
        layout = "dna_zoo-sharded" if os.path.isdir(path) and has_shards(path) else "dna_zoo"
        return Checkpoint(path, CONFIG_CLASSES[model_type], layout, raw_config)
    for config_class in FAMILIES:
        fields = config_class.config_from_original(raw_config)  # raises for layouts it refuses, saying why
        if fields is not None:
            layout = "esm-swiglu" if fields.get("mlp_type") == "swiglu" else config_class.published_layout or model_type
            return Checkpoint(path, config_class, layout, raw_config)
    raise ValueError(
        f"{path}: unknown checkpoint layout (model_type {model_type!r}); dna_zoo loads its own folders and the "
        "published Nucleotide Transformer v1/v2, GENA-LM BERT/BigBird, Mistral-DNA Mixtral/Mistral, DNABERT-2, "
        "HyenaDNA, Caduceus and NTv3 ones"
    )


def load_config(name_or_path: str | os.PathLike, **overrides):
    """The dna_zoo config of a folder, Hub id or config.json file of any layout of the eight families."""
    checkpoint = detect_checkpoint(name_or_path)
    return checkpoint.config_class.from_pretrained(checkpoint.path, **overrides)


def load_model(name_or_path: str | os.PathLike, task: str | None = None, **kwargs):
    """The dna_zoo model of any folder or Hub id of the eight families, converted on load from a published layout.

    task: "base" (the encoder or decoder), "masked-lm", "causal-lm", "sequence-classification",
        "token-classification", "lm" (the family's language model) or None (the checkpoint's own architecture).
    kwargs go to `from_pretrained` (config overrides such as num_labels, torch_dtype, Hub options).
    """
    checkpoint = detect_checkpoint(name_or_path, **{key: kwargs[key] for key in HUB_KWARGS if key in kwargs})
    task = {None: checkpoint.own_task, "lm": checkpoint.language_model_task}.get(task, task)
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; known: {', '.join([*TASKS, 'lm'])}")
    model_class = checkpoint.classes.get(getattr(transformers, TASKS[task]))
    if model_class is None:
        raise ValueError(f"the {checkpoint.family} family has no {task} model ({checkpoint.path})")
    if checkpoint.layout == "dna_zoo-sharded":
        with tempfile.TemporaryDirectory() as folder:
            _gather_shards(checkpoint, folder)
            return model_class.from_pretrained(folder, **kwargs)
    return model_class.from_pretrained(checkpoint.path, **kwargs)


def _gather_shards(checkpoint: Checkpoint, folder: str) -> None:
    """Save the model of a sharded training checkpoint, read on this one process, as a plain folder."""
    model_class = checkpoint.classes[getattr(transformers, TASKS[checkpoint.own_task])]
    model = model_class(checkpoint.config_class.from_pretrained(checkpoint.path))
    load_full_weights(checkpoint.path, model)
    model.save_pretrained(folder)


def load_tokenizer(name_or_path: str | os.PathLike, **kwargs):
    """The dna_zoo tokenizer of any folder or Hub id of the eight families (a published vocab.txt or tokenizer.json
    read with its own pipeline, under dna_zoo's input policy)."""
    checkpoint = detect_checkpoint(name_or_path, **{key: kwargs[key] for key in HUB_KWARGS if key in kwargs})
    return checkpoint.classes[transformers.AutoTokenizer].from_pretrained(checkpoint.path, **kwargs)
