"""Training helpers: peft presets per family."""

from .peft_presets import ia3_config, lora_config

__all__ = ["ia3_config", "lora_config"]
