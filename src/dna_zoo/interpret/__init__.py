"""Explaining predictions: in-silico mutagenesis, attributions, and their plots."""

from .attributions import Attribution, attribute
from .mutagenesis import Mutagenesis, saturation_mutagenesis

__all__ = ["Attribution", "Mutagenesis", "attribute", "saturation_mutagenesis"]
