"""Attributions per base of a fine-tuned model's output, through Captum (`pip install dna_zoo[interpret]`):
integrated gradients and gradient x input on the output of the input-embedding layer, replaced in a model that
otherwise runs on its token ids exactly as in inference (pooling, token dropout, position embeddings and all). A
token's attribution is shared equally by the bases it covers (a 6-mer's by its six bases, a BPE token's by its
span), so per-base attributions sum to the token attributions, and for integrated gradients to f(x) - f(baseline)
(completeness; a mixture-of-experts model's top-k routing is not differentiable, so there it holds only
approximately). A model that embeds its input's reverse complement too (TrinityDNA's reverse-complement branch)
is explained through both strands' embeddings: a base's attribution is the sum of its token's on the forward
strand and of its complement's on the reverse strand, and completeness holds over both."""

from dataclasses import dataclass

import numpy as np
import torch

from ..inference.embeddings import check_vocabulary
from .mutagenesis import _head, _target

METHODS = ("integrated_gradients", "gradient_x_input")


@dataclass
class Attribution:
    """Per-base attributions of one sequence: `values[i]` is base i's share of the change in the target output."""

    sequence: str
    values: np.ndarray  # (L,)
    method: str
    score_name: str  # the output explained, e.g. "probability[LABEL_1]"
    output: float  # f(x): the target output for the sequence
    baseline_output: float  # f(baseline) (integrated gradients)
    name: str = "sequence"
    offset: int = 0

    def table(self) -> list[dict]:
        """One row per base: name, position (0-based, in the record), base, attribution."""
        return [
            dict(name=self.name, position=self.offset + i, base=base, attribution=float(value))
            for i, (base, value) in enumerate(zip(self.sequence, self.values))
        ]


def _target_output(model, head: str, target: int):
    """f(input_ids, attention_mask) -> (B,) the explained output: the target class's log-odds (against the other
    classes; of the label for multi-label), the regression value; for a token model their mean over its tokens."""
    problem = model.config.problem_type

    def forward(input_ids, attention_mask):
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits.float()
        if problem == "regression":
            values = logits[..., target]
        elif problem == "multi_label_classification":
            values = logits[..., target]  # the log-odds of the label
        else:  # the log-odds of the class against all others: unlike its probability, never saturated
            others = torch.cat([logits[..., :target], logits[..., target + 1 :]], -1)
            values = logits[..., target] - others.logsumexp(-1)
        if head == "token":
            mask = attention_mask.float()
            return (values * mask).sum(1) / mask.sum(1)
        return values

    return forward


def _strand_ids(model, layer, input_ids, attention_mask):
    """ids (1, T) -> (S, T'): the ids the model's input-embedding layer receives for an input, S = 1, or S = 2 for a
    model that also embeds the input's reverse complement (its `reverse_complement_ids`); T' >= T where the model
    extends its input. Checked once on
    `input_ids` by watching the layer during a forward, not assumed."""
    seen = []
    handle = layer.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    try:
        with torch.no_grad():
            model(input_ids=input_ids, attention_mask=attention_mask)
    finally:
        handle.remove()
    embedded = torch.cat(seen)
    length = input_ids.shape[1]
    if embedded.shape[0] == 1 and torch.equal(embedded[:, :length], input_ids):
        # the input itself, then what the model appends whatever the bases (NTv3: N up to a multiple of its
        # downsampling factor): (1, T' - T), kept fixed, so it takes no share of the attributions
        filler = embedded[:, length:]
        return lambda ids: torch.cat([ids, filler.expand(ids.shape[0], -1)], 1)
    reverse_complement = getattr(model.base_model, "reverse_complement_ids", None)

    def both_strands(ids):
        return torch.cat([ids, reverse_complement(ids, attention_mask)])

    if reverse_complement is not None and torch.equal(embedded, both_strands(input_ids)):
        return both_strands
    raise ValueError(
        f"{type(model).__name__} embeds other tokens than its input and its reverse complement: attributions "
        "through the input embeddings do not apply; use saturation_mutagenesis"
    )


def attribute(
    model,
    tokenizer,
    sequence: str,
    method: str = "integrated_gradients",
    target: int | str | None = None,
    steps: int = 32,
    shuffles: int = 8,
    seed: int = 0,
    name: str = "sequence",
    offset: int = 0,
) -> Attribution:
    """Attributions of a fine-tuned sequence or token model's `target` output (label name or index; default the
    predicted class; a class is explained by its log-odds, which do not saturate) to each base of `sequence`.

    method: "integrated_gradients" (`steps` points on the path from each of `shuffles` baselines, shuffles of the
        sequence's bases drawn from `seed` (of its tokens where a shuffle tokenizes to another length), averaged;
        the attributions sum to `output - baseline_output`, the mean over the baselines) or "gradient_x_input".
    """
    try:
        from captum.attr import InputXGradient, IntegratedGradients
    except ImportError:
        raise ImportError(
            "attributions need Captum: pip install 'dna_zoo[interpret]' (or pip install captum)"
        ) from None
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    head = _head(model)
    if head not in ("sequence", "token"):
        raise ValueError(f"attributions explain a fine-tuned head's output; {type(model).__name__} has none (use ISM)")
    check_vocabulary(model, tokenizer)
    model = model.eval()
    device = next(model.parameters()).device
    encoded = tokenizer(
        [sequence], return_offsets_mapping=True, return_special_tokens_mask=True, return_tensors="pt", verbose=False
    )
    offsets, special = encoded.pop("offset_mapping")[0], encoded.pop("special_tokens_mask")[0].bool()
    input_ids, attention_mask = encoded["input_ids"].to(device), encoded["attention_mask"].to(device)
    if input_ids.shape[1] > model.config.max_tokens:
        raise ValueError(
            f"{name}: {len(sequence)} bases are {input_ids.shape[1]} tokens, longer than the model's context "
            f"({model.config.max_tokens}): explain a shorter region"
        )
    layer = model.get_input_embeddings()
    strand_ids = _strand_ids(model, layer, input_ids, attention_mask)
    strands = strand_ids(input_ids)  # (S, T'): what the layer embeds
    with torch.no_grad():
        embeddings = layer(strands).flatten(0, 1)[None]  # (1, S * T, H)
        reference = model(input_ids=input_ids, attention_mask=attention_mask).logits.float()[0]
    reference = reference.softmax(-1) if model.config.problem_type == "single_label_classification" else reference
    target, score_name = _target(model, target, reference.cpu().numpy())
    explained = _target_output(model, head, target)
    count_strands, length = strands.shape

    def forward(replacement):  # (N, S * T, H) -> (N,): the model on its own ids, the embedding layer's output replaced
        count = replacement.shape[0]
        # the layer embeds strand by strand: [forward rows of the N inputs, then their reverse-complement rows]
        per_strand = replacement.view(count, count_strands, length, -1).transpose(0, 1).flatten(0, 1)
        handle = layer.register_forward_hook(lambda module, inputs, output: per_strand)
        try:
            return explained(input_ids.expand(count, -1), attention_mask.expand(count, -1))
        finally:
            handle.remove()

    # baselines: the sequence's bases in `shuffles` random orders (the same composition, no motif left, and still
    # a sequence the model knows), embedded; where a shuffle tokenizes into another number of tokens (BPE), the
    # sequence's own tokens in a random order instead. Special tokens stay in place.
    rng = np.random.default_rng(seed)
    movable = (~special).nonzero().flatten()
    baselines = []
    for _ in range(shuffles):
        shuffled = "".join(rng.permutation(list(sequence)))
        ids = tokenizer([shuffled], return_tensors="pt", verbose=False)["input_ids"].to(device)
        if ids.shape != input_ids.shape:
            order = torch.arange(len(special))
            order[movable] = movable[torch.from_numpy(rng.permutation(len(movable)))]
            ids = input_ids[:, order.to(device)]
        with torch.no_grad():
            baselines.append(layer(strand_ids(ids)).flatten(0, 1)[None])
    with torch.no_grad():
        output = float(forward(embeddings)[0])
        baseline_output = float(np.mean([float(forward(baseline)[0]) for baseline in baselines]))
    if method == "integrated_gradients":  # averaged over the baselines: sums to f(x) - mean f(baseline)
        explainer = IntegratedGradients(forward)
        token_values = sum(
            explainer.attribute(embeddings, baselines=baseline, n_steps=steps, internal_batch_size=16)
            for baseline in baselines
        ) / len(baselines)
    else:
        token_values = InputXGradient(forward).attribute(embeddings.clone().requires_grad_())
    token_values = token_values.sum(-1)[0].view(count_strands, length)  # (S, T'): summed over the hidden size
    if count_strands == 2:  # the reverse strand's token p is the forward strand's token T - 1 - p, complemented
        token_values = token_values[0] + token_values[1].flip(0)
    token_values = token_values.reshape(length).detach().float().cpu().numpy()  # (T',): the input's T, then filler
    values = np.zeros(len(sequence))
    for token, (start, end) in enumerate(offsets.tolist()):
        if end > start:
            values[start:end] = token_values[token] / (end - start)
    score_name = score_name.removeprefix("delta_").replace("probability", "log_odds")
    return Attribution(sequence.upper(), values, method, score_name, output, baseline_output, name, offset)
