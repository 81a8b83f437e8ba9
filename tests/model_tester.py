"""Checks every family must pass, run with each family's `tiny` preset.

A family's test module subclasses `FamilyModelTests`, sets `config_class`, `model_classes` (each model class
mapped to the Auto class that must load it) and `base_class`, and implements `make_batch(config)` returning
padded (input_ids, attention_mask) whose rows have different lengths.
"""

import torch
from transformers import AutoConfig


def _outputs(model, input_ids, attention_mask, **kwargs):
    with torch.no_grad():
        out = model(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
    return out.logits if hasattr(out, "logits") else out.last_hidden_state


def enable_activation_checkpointing(model) -> None:
    """transformers 5.23 renamed gradient checkpointing to activation checkpointing (the old name is deprecated)."""
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


class FamilyModelTests:
    config_class = None
    model_classes: dict = {}
    base_class = None
    preset = "tiny"
    head_kwargs = {"num_labels": 3}

    def make_batch(self, config):
        raise NotImplementedError

    def make_model(self, cls, **overrides):
        torch.manual_seed(0)
        config = self.config_class.from_preset(self.preset, **self.head_kwargs, **overrides)
        return cls(config).eval()

    def test_save_load_round_trip_is_exact(self, tmp_path):
        for cls in self.model_classes:
            model = self.make_model(cls)
            input_ids, attention_mask = self.make_batch(model.config)
            model.save_pretrained(tmp_path / cls.__name__)
            loaded = cls.from_pretrained(tmp_path / cls.__name__).eval()
            assert torch.equal(
                _outputs(model, input_ids, attention_mask), _outputs(loaded, input_ids, attention_mask)
            ), cls.__name__

    def test_auto_classes_round_trip(self, tmp_path):
        for cls, auto_class in self.model_classes.items():
            model = self.make_model(cls)
            model.save_pretrained(tmp_path / cls.__name__)
            config = AutoConfig.from_pretrained(tmp_path / cls.__name__)
            assert isinstance(config, self.config_class)
            loaded = auto_class.from_pretrained(tmp_path / cls.__name__).eval()
            assert type(loaded) is cls
            input_ids, attention_mask = self.make_batch(model.config)
            assert torch.equal(_outputs(model, input_ids, attention_mask), _outputs(loaded, input_ids, attention_mask))

    def test_eager_and_sdpa_agree(self):
        for cls in self.model_classes:
            eager = self.make_model(cls)
            eager.set_attn_implementation("eager")
            sdpa = self.make_model(cls)
            sdpa.set_attn_implementation("sdpa")
            assert eager.config._attn_implementation == "eager" and sdpa.config._attn_implementation == "sdpa"
            input_ids, attention_mask = self.make_batch(eager.config)
            eager_out, sdpa_out = _outputs(eager, input_ids, attention_mask), _outputs(sdpa, input_ids, attention_mask)
            if eager_out.dim() == 3:  # per-token outputs: padding positions are undefined (may be fully masked)
                real = attention_mask.bool()
                eager_out, sdpa_out = eager_out[real], sdpa_out[real]
            torch.testing.assert_close(eager_out, sdpa_out, atol=1e-5, rtol=1e-5)

    def test_outputs_do_not_depend_on_padding(self):
        """Each row of a padded batch gives what it gives alone, at every real position (and pooled)."""
        for cls in self.model_classes:
            model = self.make_model(cls)
            input_ids, attention_mask = self.make_batch(model.config)
            batched = _outputs(model, input_ids, attention_mask)
            for row in range(input_ids.shape[0]):
                length = int(attention_mask[row].sum())
                alone = _outputs(model, input_ids[row : row + 1, :length], attention_mask[row : row + 1, :length])
                expected = batched[row : row + 1, :length] if batched.dim() == 3 else batched[row : row + 1]
                torch.testing.assert_close(alone, expected, atol=1e-5, rtol=1e-5, msg=f"{cls.__name__} row {row}")

    def test_gradient_checkpointing_gives_same_gradients(self):
        for cls in self.model_classes:
            grads = []
            for checkpointing in (False, True):
                model = self.make_model(cls).train()
                if checkpointing:
                    enable_activation_checkpointing(model)
                    assert any(getattr(m, "gradient_checkpointing", False) for m in model.modules())
                input_ids, attention_mask = self.make_batch(model.config)
                out = model(input_ids=input_ids, attention_mask=attention_mask)
                (out.logits if hasattr(out, "logits") else out.last_hidden_state).square().mean().backward()
                grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
            assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 0
            for name in grads[0]:
                torch.testing.assert_close(grads[0][name], grads[1][name], atol=1e-6, rtol=1e-5, msg=name)

    def test_hidden_states_cover_every_layer(self):
        model = self.make_model(self.base_class)
        input_ids, attention_mask = self.make_batch(model.config)
        with torch.no_grad():
            out = model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        assert len(out.hidden_states) == model.config.num_hidden_layers + 1
        assert torch.equal(out.hidden_states[-1], out.last_hidden_state)
