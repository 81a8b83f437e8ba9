"""Explaining predictions: in-silico mutagenesis, attributions, attention maps, and their plots."""

from .attention import attention_maps
from .attributions import Attribution, attribute
from .mutagenesis import Mutagenesis, saturation_mutagenesis

__all__ = ["Attribution", "Mutagenesis", "attention_maps", "attribute", "saturation_mutagenesis"]
