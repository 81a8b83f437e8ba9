"""peft presets for every dna_zoo family (peft ships none for custom model types).

IA3 follows the Nucleotide Transformer paper: learned rescaling of keys, values and the feed-forward
intermediate activation in every layer (about 0.1% of the parameters), backbone frozen, the task head trained
and saved with the adapter. LoRA adapts the attention projections (and dense feed-forward layers). Mixture-of-
experts layers keep their experts in fused tensors, which are not Linear modules: their presets adapt attention
only (peft's own Mixtral IA3 default, `w2`, would match nothing there).
"""

from peft import IA3Config, LoraConfig, TaskType

# model_type -> (attention modules whose output IA3 rescales, feed-forward modules whose input it rescales, LoRA
# targets)
KEYS_VALUES = ["k_proj", "v_proj"]
ATTENTION = ["q_proj", "k_proj", "v_proj", "o_proj"]
TARGETS = {
    "nucleotide_transformer": (KEYS_VALUES, ["down_proj"], ATTENTION),
    "gena_lm": (KEYS_VALUES, ["down_proj"], ATTENTION),
    "trinity_dna": (KEYS_VALUES, ["down_proj"], ATTENTION),
    "mistral_dna": (KEYS_VALUES, ["mlp.down_proj"], ATTENTION),
    # one fused q/k/v projection (the published Wqkv): IA3 rescales queries too, LoRA adapts all three at once
    "dnabert_2": (["Wqkv"], ["down_proj"], ["Wqkv", "o_proj"]),
    # no attention: IA3 rescales the Hyena operator's input projection (gates and value), LoRA adapts it and its
    # output projection
    "hyena_dna": (["in_proj"], ["down_proj"], ["in_proj", "out_proj"]),
    # no attention, no MLP: IA3 rescales each Mamba's stream and gate (in_proj's output) and the scan's output
    # (out_proj's input); LoRA adapts both projections (shared by the two directions when tied, as published)
    "caduceus_dna": (["in_proj"], ["out_proj"], ["in_proj", "out_proj"]),
    # NT v2's Transformer layer, at the U-Net's coarsest resolution (the convolution towers are left as they are)
    "ntv3_dna": (KEYS_VALUES, ["down_proj"], ATTENTION),
}
HEADS = ("pooler", "classifier", "score")  # task heads: trained in full and saved with the adapter
TASKS = {
    "ForSequenceClassification": TaskType.SEQ_CLS,
    "ForTokenClassification": TaskType.TOKEN_CLS,
    "ForCausalLM": TaskType.CAUSAL_LM,
}


def _task(model):
    name = type(model).__name__
    return next((task for suffix, task in TASKS.items() if name.endswith(suffix)), None)


def _family(model):
    if model.config.model_type not in TARGETS:
        raise ValueError(f"no peft preset for model type {model.config.model_type!r}; known: {', '.join(TARGETS)}")
    return TARGETS[model.config.model_type]


def _heads(model) -> list[str]:
    return [head for head in HEADS if getattr(model, head, None) is not None]


def ia3_config(model, **overrides) -> IA3Config:
    """IA3 as in the NT paper: rescale keys, values and the feed-forward intermediate activation (the input of the
    down projection); the task head is trained and saved with the adapter. Paper recipe: Adam, lr 3e-3, batch 8."""
    attention, feedforward, _ = _family(model)
    targets = [*attention, *feedforward]
    settings = dict(
        task_type=_task(model),
        target_modules=targets,
        feedforward_modules=feedforward,
        modules_to_save=_heads(model),
    )
    return IA3Config(**{**settings, **overrides})


def lora_config(model, r: int = 16, alpha: int = 32, dropout: float = 0.05, **overrides) -> LoraConfig:
    """LoRA on the attention projections (Mistral-DNA fine-tuning used r 16 on attention); head saved with it."""
    _, _, targets = _family(model)
    settings = dict(
        task_type=_task(model),
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=targets,
        modules_to_save=_heads(model),
    )
    return LoraConfig(**{**settings, **overrides})
