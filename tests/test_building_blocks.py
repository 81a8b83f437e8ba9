"""The shared attention module and layers, against transformers' own implementations where one exists."""

from types import SimpleNamespace

import pytest
import torch
from transformers.models.esm.modeling_esm import EsmRotaryEmbedding
from transformers.models.esm.modeling_esm import apply_rotary_pos_emb as esm_apply_rotary
from transformers.models.llama.modeling_llama import LlamaRMSNorm

from dna_zoo.models.attention import DNAAttention, RotaryEmbedding, apply_rotary
from dna_zoo.models.layers import GeluMLP, RMSNorm, SwiGLUMLP, build_mlp, pool_hidden_states


def attention_config(implementation="sdpa", heads=4, kv_heads=None, hidden=32):
    config = SimpleNamespace(
        hidden_size=hidden,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        attention_bias=True,
        attention_dropout=0.0,
    )
    config._attn_implementation = implementation
    return config


def test_rmsnorm_matches_llama():
    torch.manual_seed(0)
    ours, reference = RMSNorm(16, eps=1e-5), LlamaRMSNorm(16, eps=1e-5)
    with torch.no_grad():
        ours.weight.normal_()
        reference.weight.copy_(ours.weight)
    x = torch.randn(2, 5, 16)
    torch.testing.assert_close(ours(x), reference(x))


def test_swiglu_gates_with_the_first_half():
    torch.manual_seed(0)
    mlp = SwiGLUMLP(8, 12)
    x = torch.randn(3, 8)
    gate_up = x @ mlp.gate_up_proj.weight.T
    expected = (torch.nn.functional.silu(gate_up[:, :12]) * gate_up[:, 12:]) @ mlp.down_proj.weight.T
    torch.testing.assert_close(mlp(x), expected)
    assert mlp.gate_up_proj.bias is None and mlp.down_proj.bias is None


def test_gelu_mlp_is_exact_gelu_with_biases():
    torch.manual_seed(0)
    mlp = GeluMLP(8, 12)
    x = torch.randn(3, 8)
    hidden = x @ mlp.up_proj.weight.T + mlp.up_proj.bias
    hidden = hidden * 0.5 * (1 + torch.erf(hidden / 2**0.5))
    torch.testing.assert_close(mlp(x), hidden @ mlp.down_proj.weight.T + mlp.down_proj.bias)


def test_build_mlp_rejects_unknown_kind():
    with pytest.raises(ValueError, match="mlp_type"):
        build_mlp(SimpleNamespace(mlp_type="relu", hidden_size=4, intermediate_size=8, mlp_bias=True))


def test_rotary_matches_transformers_esm():
    torch.manual_seed(0)
    head_dim, length = 16, 11
    q, k = torch.randn(2, 4, length, head_dim), torch.randn(2, 4, length, head_dim)
    positions = torch.arange(length).unsqueeze(0)
    cos, sin = RotaryEmbedding(head_dim)(q, positions)
    esm_rotary = EsmRotaryEmbedding(SimpleNamespace(rope_theta=10000.0, hidden_size=head_dim, num_attention_heads=1))
    esm_cos, esm_sin = esm_rotary(q, positions)
    expected_q, expected_k = esm_apply_rotary(q, k, esm_cos, esm_sin)
    torch.testing.assert_close(apply_rotary(q, cos, sin), expected_q)
    torch.testing.assert_close(apply_rotary(k, cos, sin), expected_k)


@pytest.mark.parametrize("kv_heads", [None, 2, 1], ids=["mha", "gqa", "mqa"])
@pytest.mark.parametrize("causal", [False, True], ids=["bidirectional", "causal"])
def test_eager_and_sdpa_agree(kv_heads, causal):
    torch.manual_seed(0)
    eager = DNAAttention(attention_config("eager", kv_heads=kv_heads), is_causal=causal)
    sdpa = DNAAttention(attention_config("sdpa", kv_heads=kv_heads), is_causal=causal)
    sdpa.load_state_dict(eager.state_dict())
    x = torch.randn(2, 9, 32)
    mask = None
    if causal:  # eager needs the explicit mask that the model's mask builder would give it
        mask = torch.ones(9, 9, dtype=torch.bool).tril()[None, None]
    torch.testing.assert_close(eager(x, mask)[0], sdpa(x, mask)[0], atol=1e-5, rtol=1e-5)


def test_encoder_attention_sees_the_future_and_causal_does_not():
    """The SDPA trap: an encoder module left with is_causal unset would silently run causal attention."""
    torch.manual_seed(0)
    x = torch.randn(1, 8, 32)
    changed = x.clone()
    changed[0, -1] += 1.0
    for causal in (False, True):
        module = DNAAttention(attention_config("sdpa"), is_causal=causal)
        first_positions_move = not torch.allclose(module(x)[0][0, :-1], module(changed)[0][0, :-1])
        assert first_positions_move is not causal


def test_grouped_query_projection_shapes():
    module = DNAAttention(attention_config(kv_heads=2))
    assert module.k_proj.out_features == module.v_proj.out_features == 2 * 8
    assert module.q_proj.out_features == 32 and module.num_key_value_groups == 2


def test_pooling_excludes_padding():
    hidden = torch.tensor([[[1.0], [3.0], [100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert pool_hidden_states(hidden, mask, "mean").item() == 2.0
    assert pool_hidden_states(hidden, mask, "max").item() == 3.0
    assert pool_hidden_states(hidden, mask, "cls").item() == 1.0
    with pytest.raises(ValueError, match="pooling"):
        pool_hidden_states(hidden, mask, "median")
