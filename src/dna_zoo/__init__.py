"""dna_zoo: a Hugging Face transformers-compatible zoo of DNA language models.

Importing dna_zoo registers every family with AutoConfig, AutoModel* and AutoTokenizer.
"""

from .auto import register_all
from .checkpoints import config_from_preset, list_presets
from .convert import convert
from .inference import embed, score_variants, tokens_to_bases
from .models import *  # noqa: F403  (configs, models, tokenizers and errors: models.__all__)
from .models import __all__ as _model_names

register_all()

__version__ = "0.1.0"

__all__ = [*_model_names, "config_from_preset", "convert", "embed", "list_presets", "score_variants", "tokens_to_bases"]
