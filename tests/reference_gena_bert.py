"""An independent reference of GENA-LM's pre-LN BERT fork, written from FACTS.md section 2 only.

Keys are the fork's (bert.*, pre_attention_ln, post_attention_ln, last_layer_ln, cls.predictions.*), so a
directory written from it looks like a GENA BERT checkpoint. What it encodes:
- embeddings: word + absolute position + token type, then the embedding LayerNorm (kept in the fork);
- blocks: h = x + Attn(pre_attention_ln(x)); out = h + FFN(post_attention_ln(h)); no other LayerNorm or residual;
- optional last_layer_ln after the last layer; GELU (exact) FFN; scaled dot-product attention with biases;
- MLM head: transform.dense -> GELU -> transform.LayerNorm -> decoder (tied to word embeddings) + bias.
- what the fork saves per architecture (read in AIRI's src/gena_lm/modeling_bert.py): BertForMaskedLM has no
  pooler (as in HF BERT), BertForPreTraining has the pooler and the next-sentence head cls.seq_relationship;
- rotary positions (position_embedding_type "rotary"): no position table; queries and keys rotated over their
  first rotary_dim dimensions, half-split form, inv_freq = base^(-2i / rotary_dim), each layer keeping its
  `attention.self.rotary_emb.inv_freq` buffer in the checkpoint.
"""

import math

import torch


def _ln(x, w, name, eps):
    return torch.nn.functional.layer_norm(x, x.shape[-1:], w[name + ".weight"], w[name + ".bias"], eps=eps)


def _lin(x, w, name):
    return x @ w[name + ".weight"].T + w[name + ".bias"]


def _gelu(x):
    return x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))


def _rotate(x, rotary_dim, base):
    """Partial rotary over the first rotary_dim dimensions of x (B, H, L, D)."""
    length = x.shape[2]
    inv_freq = 1.0 / base ** (torch.arange(0, rotary_dim, 2).float() / rotary_dim)
    angles = torch.arange(length).float()[:, None] * inv_freq[None, :]  # (L, R / 2)
    cos, sin = torch.cat([angles, angles], -1).cos(), torch.cat([angles, angles], -1).sin()
    rot, rest = x[..., :rotary_dim], x[..., rotary_dim:]
    half = rotary_dim // 2
    rotated = rot * cos + torch.cat([-rot[..., half:], rot[..., :half]], -1) * sin
    return torch.cat([rotated, rest], -1)


def reference_logits(w, input_ids, attention_mask, layers, heads, eps, last_layer_norm, rotary_dim=None, base=1e4):
    batch, length = input_ids.shape
    x = (
        w["bert.embeddings.word_embeddings.weight"][input_ids]
        + w["bert.embeddings.token_type_embeddings.weight"][torch.zeros_like(input_ids)]
    )
    if rotary_dim is None:
        x = x + w["bert.embeddings.position_embeddings.weight"][torch.arange(length)]
    x = _ln(x, w, "bert.embeddings.LayerNorm", eps)
    hidden = x.shape[-1]
    d = hidden // heads
    bias = (1.0 - attention_mask[:, None, None, :].float()) * -1e9
    for i in range(layers):
        p = f"bert.encoder.layer.{i}."
        h = _ln(x, w, p + "pre_attention_ln", eps)

        def split(t):
            return t.view(batch, length, heads, d).transpose(1, 2)

        q, k, v = (split(_lin(h, w, p + f"attention.self.{n}")) for n in ("query", "key", "value"))
        if rotary_dim is not None:
            q, k = _rotate(q, rotary_dim, base), _rotate(k, rotary_dim, base)
        probs = ((q @ k.transpose(-1, -2)) / math.sqrt(d) + bias).softmax(-1)
        context = (probs @ v).transpose(1, 2).reshape(batch, length, hidden)
        x = x + _lin(context, w, p + "attention.output.dense")
        h = _ln(x, w, p + "post_attention_ln", eps)
        x = x + _lin(_gelu(_lin(h, w, p + "intermediate.dense")), w, p + "output.dense")
    if last_layer_norm:
        x = _ln(x, w, "bert.encoder.last_layer_ln", eps)
    h = _ln(_gelu(_lin(x, w, "cls.predictions.transform.dense")), w, "cls.predictions.transform.LayerNorm", eps)
    return h @ w["bert.embeddings.word_embeddings.weight"].T + w["cls.predictions.bias"]


def random_gena_checkpoint(
    last_layer_norm,
    hidden=32,
    layers=2,
    heads=4,
    intermediate=64,
    vocab=100,
    seed=0,
    architecture="BertForMaskedLM",
    rotary_dim=None,
):
    """Random weights in the GENA fork layout of `architecture`, and its config.json (model_type bert, pre-LN)."""
    g = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.randn(*shape, generator=g) * 0.1

    w = {
        "bert.embeddings.word_embeddings.weight": rand(vocab, hidden),
        "bert.embeddings.position_embeddings.weight": rand(512, hidden),
        "bert.embeddings.token_type_embeddings.weight": rand(2, hidden),
        "bert.embeddings.LayerNorm.weight": 1 + rand(hidden),
        "bert.embeddings.LayerNorm.bias": rand(hidden),
        "cls.predictions.transform.dense.weight": rand(hidden, hidden),
        "cls.predictions.transform.dense.bias": rand(hidden),
        "cls.predictions.transform.LayerNorm.weight": 1 + rand(hidden),
        "cls.predictions.transform.LayerNorm.bias": rand(hidden),
        "cls.predictions.bias": rand(vocab),
    }
    if architecture == "BertForPreTraining":
        w["bert.pooler.dense.weight"], w["bert.pooler.dense.bias"] = rand(hidden, hidden), rand(hidden)
        w["cls.seq_relationship.weight"], w["cls.seq_relationship.bias"] = rand(2, hidden), rand(2)
    if rotary_dim is not None:
        del w["bert.embeddings.position_embeddings.weight"]
    if last_layer_norm:
        w["bert.encoder.last_layer_ln.weight"] = 1 + rand(hidden)
        w["bert.encoder.last_layer_ln.bias"] = rand(hidden)
    for i in range(layers):
        p = f"bert.encoder.layer.{i}."
        for name in ("query", "key", "value"):
            w[p + f"attention.self.{name}.weight"] = rand(hidden, hidden)
            w[p + f"attention.self.{name}.bias"] = rand(hidden)
        w[p + "attention.output.dense.weight"] = rand(hidden, hidden)
        w[p + "attention.output.dense.bias"] = rand(hidden)
        for ln in ("pre_attention_ln", "post_attention_ln"):
            w[p + ln + ".weight"] = 1 + rand(hidden)
            w[p + ln + ".bias"] = rand(hidden)
        w[p + "intermediate.dense.weight"] = rand(intermediate, hidden)
        w[p + "intermediate.dense.bias"] = rand(intermediate)
        w[p + "output.dense.weight"] = rand(hidden, intermediate)
        w[p + "output.dense.bias"] = rand(hidden)
        if rotary_dim is not None:
            w[p + "attention.self.rotary_emb.inv_freq"] = 1.0 / 1e4 ** (torch.arange(0, rotary_dim, 2) / rotary_dim)
    config = {
        "model_type": "bert",
        "architectures": [architecture],
        "vocab_size": vocab,
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": intermediate,
        "hidden_act": "gelu",
        "max_position_embeddings": 512,
        "type_vocab_size": 2,
        "layer_norm_eps": 1e-12,
        "pad_token_id": 3,
        "pre_layer_norm": True,
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
    }
    config["last_layer_norm"] = last_layer_norm  # absent means: same as pre_layer_norm (the fork's default)
    if rotary_dim is not None:
        config.update(position_embedding_type="rotary", rotary_dim=rotary_dim, rotary_base=10000)
    return w, config
