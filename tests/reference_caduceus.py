"""An independent reference of Caduceus, written from the authors' code (kuleshov-group/caduceus:
caduceus/modeling_caduceus.py and modeling_rcps.py) as read, sharing no code with dna_zoo.

Each direction's Mamba is transformers' own MambaMixer (its torch path: mamba_ssm's selective_scan_ref), loaded
with the same weights, so the selective scan is checked against code nobody here wrote. Around it, the authors'
wrappers, line by line:
- BiMambaWrapper: out = mamba_fwd(x) + mamba_rev(x.flip(L)).flip(L); with weight tying, mamba_rev uses mamba_fwd's
  in_proj and out_proj;
- RCPSEmbedding: cat([E(ids), E(rc(ids)).flip(L, C)]) with rc(ids) = complement[ids.flip(L)];
- RCPSWrapper (the mixer): cat([f(x[:d]), rc(f(rc(x[d:])))]) with rc = flip(L, C);
- blocks with fused_add_norm (how every checkpoint was trained): the residual's forward slot gets the hidden state's
  SECOND half, the reverse-complement slot the flipped FIRST half (RCPSMambaBlock.forward, fused branch); without
  it, RCPSAddNormWrapper keeps the halves in place; the final norm keeps them in place either way;
- RCPSLMHead: x[:d] W^T + x[d:].flip(C) W[complement]^T.
No padding mask: the authors' model has none.
"""

import torch
from transformers import MambaConfig
from transformers.models.mamba.modeling_mamba import MambaMixer


def _rms_norm(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def _rc(x):
    return x.flip(-2, -1)


class ReferenceCaduceus:
    """The authors' forward pass over a state dict in their layout (`caduceus.backbone.*`) and their config.json."""

    def __init__(self, weights: dict, raw: dict):
        self.weights, self.raw = weights, raw
        self.rcps, self.fused = raw["rcps"], raw.get("fused_add_norm", True)
        self.eps = raw.get("norm_epsilon", 1e-5)
        d, ssm = raw["d_model"], raw["ssm_cfg"]
        config = MambaConfig(
            hidden_size=d,
            state_size=ssm["d_state"],
            conv_kernel=ssm["d_conv"],
            expand=ssm["expand"],
            time_step_rank=ssm.get("dt_rank", "auto"),
            use_bias=ssm.get("bias", False),
            use_conv_bias=ssm.get("conv_bias", True),
            hidden_act="silu",
            num_hidden_layers=1,
        )
        self.mixers = {}
        for i in range(raw["n_layer"]):
            for direction in ("mamba_fwd", "mamba_rev"):
                prefix = f"caduceus.backbone.layers.{i}.mixer.{'submodule.' if self.rcps else ''}{direction}."
                source = prefix.replace("mamba_rev", "mamba_fwd")
                mixer = MambaMixer(config, layer_idx=0).eval()
                state = {}
                for name in mixer.state_dict():
                    shared = raw.get("bidirectional_weight_tie", True) and name.split(".")[0] in ("in_proj", "out_proj")
                    state[name] = weights[(source if shared else prefix) + name]
                mixer.load_state_dict(state)
                self.mixers[i, direction] = mixer

    def bimamba(self, i, x):
        out = self.mixers[i, "mamba_fwd"](x)
        return out + self.mixers[i, "mamba_rev"](x.flip(1)).flip(1)

    def mixer(self, i, x):
        if not self.rcps:
            return self.bimamba(i, x)
        d = x.shape[-1] // 2
        return torch.cat([self.bimamba(i, x[..., :d]), _rc(self.bimamba(i, _rc(x[..., d:])))], dim=-1)

    def add_norm(self, x, residual, weight, swap):
        """(normed, residual) of one block's add + norm (prenorm=True)."""
        residual = x if residual is None else x + residual
        if not self.rcps:
            return _rms_norm(residual, weight, self.eps), residual
        d = x.shape[-1] // 2
        first, second = (residual[..., d:], residual[..., :d]) if swap else (residual[..., :d], residual[..., d:])
        residual = torch.cat([first, second], dim=-1)
        normed = torch.cat([_rms_norm(first, weight, self.eps), _rc(_rms_norm(_rc(second), weight, self.eps))], -1)
        return normed, residual

    @torch.no_grad()
    def hidden_states(self, input_ids: torch.Tensor) -> torch.Tensor:
        w = self.weights
        if self.rcps:
            table = w["caduceus.backbone.embeddings.word_embeddings.embedding.weight"]
            complement = torch.tensor([self.raw["complement_map"][str(i)] for i in range(table.shape[0])])
            rc_ids = complement[input_ids.flip(-1)]
            hidden = torch.cat([table[input_ids], _rc(table[rc_ids])], dim=-1)
        else:
            hidden = w["caduceus.backbone.embeddings.word_embeddings.weight"][input_ids]
        residual = None
        for i in range(self.raw["n_layer"]):
            norm = w[f"caduceus.backbone.layers.{i}.norm.{'submodule.' if self.rcps and not self.fused else ''}weight"]
            normed, residual = self.add_norm(hidden, residual, norm, swap=self.fused)
            hidden = self.mixer(i, normed)
        final = w[f"caduceus.backbone.norm_f.{'submodule.' if self.rcps and not self.fused else ''}weight"]
        return self.add_norm(hidden, residual, final, swap=False)[0]

    @torch.no_grad()
    def logits(self, input_ids: torch.Tensor) -> torch.Tensor:
        hidden = self.hidden_states(input_ids)
        table = self.weights[
            "caduceus.backbone.embeddings.word_embeddings." + ("embedding.weight" if self.rcps else "weight")
        ]
        if not self.rcps:
            return hidden @ table.T
        d = hidden.shape[-1] // 2
        complement = torch.tensor([self.raw["complement_map"][str(i)] for i in range(table.shape[0])])
        return hidden[..., :d] @ table.T + hidden[..., d:].flip(-1) @ table[complement].T
