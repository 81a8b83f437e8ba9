"""Training: pretraining from FASTA (accelerate), peft presets per family."""

from ..data import genome_windows
from .peft_presets import ia3_config, lora_config
from .pretrain import PretrainConfig, pretrain

__all__ = ["PretrainConfig", "genome_windows", "ia3_config", "lora_config", "pretrain"]
