"""Training: pretraining from FASTA (accelerate), fine-tuning on Trainer, peft presets per family."""

from ..data import genome_windows
from .finetune import FinetuneConfig, finetune
from .peft_presets import ia3_config, lora_config
from .pretrain import PretrainConfig, pretrain

__all__ = ["FinetuneConfig", "PretrainConfig", "finetune", "genome_windows", "ia3_config", "lora_config", "pretrain"]
