"""Training: pretraining from FASTA (accelerate), peft presets per family."""

from .peft_presets import ia3_config, lora_config
from .pretrain import PretrainConfig, genome_windows, pretrain

__all__ = ["PretrainConfig", "genome_windows", "ia3_config", "lora_config", "pretrain"]
