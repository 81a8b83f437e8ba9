"""Explaining predictions: in-silico mutagenesis, attributions, attention maps, and their plots."""

from .mutagenesis import Mutagenesis, saturation_mutagenesis

__all__ = ["Mutagenesis", "saturation_mutagenesis"]
