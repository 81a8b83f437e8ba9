"""dna_zoo: a Hugging Face transformers-compatible zoo of DNA language models.

Importing dna_zoo registers every family with AutoConfig, AutoModel* and AutoTokenizer (for dna_zoo folders).
`load_model` / `load_tokenizer` load any folder or Hub id of the eight families, published layouts included.
"""

from .auto import register_all
from .checkpoints import config_from_preset, detect_checkpoint, list_presets, load_config, load_model, load_tokenizer
from .convert import convert
from .inference import embed, score_variants, tokens_to_bases
from .models import *  # noqa: F403  (configs, models, tokenizers and errors: models.__all__)
from .models import __all__ as _model_names

register_all()

__version__ = "0.1.0"

__all__ = [
    *_model_names,
    "config_from_preset",
    "convert",
    "detect_checkpoint",
    "embed",
    "list_presets",
    "load_config",
    "load_model",
    "load_tokenizer",
    "score_variants",
    "tokens_to_bases",
]
