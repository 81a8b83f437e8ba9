"""An independent reference of the Nucleotide Transformer v2 block, written from FACTS.md section 1 only.

It shares no code with dna_zoo and keeps the published (ESM) state-dict names, so a directory written from it
looks like a v2 checkpoint on the Hub. What it encodes, line by line from the facts:
- pre-LN blocks x + MHA(LN(x)), x + FFN(LN(x)); q/k/v/o with biases; no embedding LayerNorm, scale 1.0;
- rotary, base 10000, full head dim, rotate_half = cat(-x2, x1), positions 0..L-1 including <cls>;
  queries multiplied by head_dim**-0.5 BEFORE rotary;
- SwiGLU without biases: intermediate.dense Linear(H, 2I), FIRST half is the gate, silu(x1) * x2;
- final LayerNorm emb_layer_norm_after; LM head dense -> erf GELU -> LayerNorm -> decoder + bias;
- layer_norm_eps 1e-12.
"""

import math

import torch


def _linear(x, weights, name, bias=True):
    out = x @ weights[name + ".weight"].T
    return out + weights[name + ".bias"] if bias else out


def _layer_norm(x, weights, name):
    return torch.nn.functional.layer_norm(
        x, x.shape[-1:], weights[name + ".weight"], weights[name + ".bias"], eps=1e-12
    )


def _rotate(x, positions, head_dim):
    inv_freq = 1.0 / (10000 ** (torch.arange(0, head_dim, 2).float() / head_dim))
    angles = positions[:, None].float() * inv_freq[None, :]  # (L, D/2)
    angles = torch.cat([angles, angles], dim=-1)  # (L, D)
    x1, x2 = x[..., : head_dim // 2], x[..., head_dim // 2 :]
    rotated = torch.cat([-x2, x1], dim=-1)
    return x * angles.cos() + rotated * angles.sin()


def reference_logits(weights: dict, input_ids, attention_mask, num_layers: int, num_heads: int):
    """Logits (B, L, V) of an NT-v2 masked LM given its ESM-named state dict."""
    x = weights["esm.embeddings.word_embeddings.weight"][input_ids]
    batch, length, hidden = x.shape
    head_dim = hidden // num_heads
    positions = torch.arange(length)
    x = x * attention_mask[..., None]
    key_bias = (1.0 - attention_mask[:, None, None, :].float()) * -1e9  # (B, 1, 1, L)
    for i in range(num_layers):
        p = f"esm.encoder.layer.{i}."
        h = _layer_norm(x, weights, p + "attention.LayerNorm")

        def heads(t):
            return t.view(batch, length, num_heads, head_dim).transpose(1, 2)

        q = heads(_linear(h, weights, p + "attention.self.query")) * head_dim**-0.5
        k = heads(_linear(h, weights, p + "attention.self.key"))
        v = heads(_linear(h, weights, p + "attention.self.value"))
        q, k = _rotate(q, positions, head_dim), _rotate(k, positions, head_dim)
        scores = q @ k.transpose(-1, -2) + key_bias
        context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, length, hidden)
        x = x + _linear(context, weights, p + "attention.output.dense")
        h = _layer_norm(x, weights, p + "LayerNorm")
        gate_up = _linear(h, weights, p + "intermediate.dense", bias=False)
        gate, up = gate_up[..., : gate_up.shape[-1] // 2], gate_up[..., gate_up.shape[-1] // 2 :]
        x = x + _linear(torch.nn.functional.silu(gate) * up, weights, p + "output.dense", bias=False)
    x = _layer_norm(x, weights, "esm.encoder.emb_layer_norm_after")
    h = _linear(x, weights, "lm_head.dense")
    h = h * 0.5 * (1.0 + torch.erf(h / math.sqrt(2.0)))
    h = _layer_norm(h, weights, "lm_head.layer_norm")
    return h @ weights["lm_head.decoder.weight"].T + weights["lm_head.bias"]


def random_v2_checkpoint(hidden=64, layers=2, heads=4, intermediate=96, vocab=4107, max_pos=130, seed=0):
    """ESM-named random weights of a v2 model, including the unused position table, contact head and inv_freq."""
    g = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.randn(*shape, generator=g) * 0.1

    w = {
        "esm.embeddings.word_embeddings.weight": rand(vocab, hidden),
        "esm.embeddings.position_embeddings.weight": rand(max_pos, hidden),
        "esm.encoder.emb_layer_norm_after.weight": 1 + rand(hidden),
        "esm.encoder.emb_layer_norm_after.bias": rand(hidden),
        "esm.contact_head.regression.weight": rand(1, layers * heads),
        "esm.contact_head.regression.bias": rand(1),
        "lm_head.dense.weight": rand(hidden, hidden),
        "lm_head.dense.bias": rand(hidden),
        "lm_head.layer_norm.weight": 1 + rand(hidden),
        "lm_head.layer_norm.bias": rand(hidden),
        "lm_head.decoder.weight": rand(vocab, hidden),
        "lm_head.bias": rand(vocab),
    }
    head_dim = hidden // heads
    for i in range(layers):
        p = f"esm.encoder.layer.{i}."
        for name in ("query", "key", "value"):
            w[p + f"attention.self.{name}.weight"] = rand(hidden, hidden)
            w[p + f"attention.self.{name}.bias"] = rand(hidden)
        w[p + "attention.self.rotary_embeddings.inv_freq"] = 1.0 / (
            10000 ** (torch.arange(0, head_dim, 2).float() / head_dim)
        )
        w[p + "attention.output.dense.weight"] = rand(hidden, hidden)
        w[p + "attention.output.dense.bias"] = rand(hidden)
        w[p + "attention.LayerNorm.weight"] = 1 + rand(hidden)
        w[p + "attention.LayerNorm.bias"] = rand(hidden)
        w[p + "LayerNorm.weight"] = 1 + rand(hidden)
        w[p + "LayerNorm.bias"] = rand(hidden)
        w[p + "intermediate.dense.weight"] = rand(2 * intermediate, hidden)
        w[p + "output.dense.weight"] = rand(hidden, intermediate)
    config = {
        # As on the Hub: no model_type, remote-code auto_map, add_bias_fnn false.
        "architectures": ["EsmForMaskedLM"],
        "auto_map": {
            "AutoConfig": "esm_config.EsmConfig",
            "AutoModelForMaskedLM": "modeling_esm.EsmForMaskedLM",
        },
        "add_bias_fnn": False,
        "attention_probs_dropout_prob": 0.0,
        "emb_layer_norm_before": False,
        "hidden_dropout_prob": 0.0,
        "hidden_size": hidden,
        "intermediate_size": intermediate,
        "layer_norm_eps": 1e-12,
        "mask_token_id": 2,
        "max_position_embeddings": max_pos,
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "pad_token_id": 1,
        "position_embedding_type": "rotary",
        "tie_word_embeddings": False,
        "token_dropout": False,
        "vocab_size": vocab,
    }
    return w, config
