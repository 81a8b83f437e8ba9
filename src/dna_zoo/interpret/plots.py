"""Figures of per-base explanations, written as PNG: an ISM heatmap, a sequence logo of importance, and a track
of per-base scores with gene intervals."""

import matplotlib.transforms as transforms
import numpy as np
from matplotlib.font_manager import FontProperties
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.textpath import TextPath

from ..plots import plt  # the Agg backend, set once

BASE_COLORS = {"A": "#109648", "C": "#255C99", "G": "#F7B32B", "T": "#D62839", "N": "#808080"}
FONT = FontProperties(family="DejaVu Sans", weight="bold")


def _width(length: int) -> float:
    return float(np.clip(length / 12, 6, 24))


def plot_ism_heatmap(result, path: str) -> str:
    """Score of every base -> A, C, G, T (rows) along the sequence (columns), diverging around 0; the reference
    base of each column is marked with a dot."""
    length = len(result.sequence)
    figure, axes = plt.subplots(figsize=(_width(length), 2.6))
    limit = float(np.abs(result.scores).max()) or 1.0
    extent = (result.offset - 0.5, result.offset + length - 0.5, 3.5, -0.5)
    image = axes.imshow(result.scores.T, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, extent=extent)
    reference = [(result.offset + i, "ACGT".index(base)) for i, base in enumerate(result.sequence) if base in "ACGT"]
    if reference and length <= 2000:
        x, y = zip(*reference)
        axes.scatter(x, y, s=max(1, 400 / length), c="black", marker="o", linewidths=0)
    axes.set(yticks=range(4), yticklabels=list("ACGT"), xlabel="position (0-based)", title=f"ISM: {result.name}")
    figure.colorbar(image, ax=axes, label=result.score_name, pad=0.01)
    figure.tight_layout()
    figure.savefig(path, dpi=120, format="png")  # any file name (a temporary one)
    plt.close(figure)
    return path


def _draw_letter(axes, letter: str, x: float, height: float) -> None:
    """`letter` filling the box [x - 0.45, x + 0.45] x [0, height] (below the axis for a negative height)."""
    glyph = TextPath((0, 0), letter, size=1, prop=FONT)
    box = glyph.get_extents()
    placed = (
        transforms.Affine2D()
        .translate(-box.x0, -box.y0)
        .scale(0.9 / box.width, abs(height) / box.height)
        .translate(x - 0.45, min(height, 0))
    )
    axes.add_patch(PathPatch(placed.transform_path(glyph), color=BASE_COLORS.get(letter, "#808080"), linewidth=0))


def plot_importance_logo(result, path: str, values: np.ndarray | None = None, label: str = "importance") -> str:
    """The sequence drawn as letters whose height is each base's importance (`values`, default the ISM
    importance: the mean score drop on mutating it)."""
    values = result.importance() if values is None else values
    length = len(result.sequence)
    figure, axes = plt.subplots(figsize=(_width(length), 2.4))
    for index, (base, value) in enumerate(zip(result.sequence, values)):
        if value:
            _draw_letter(axes, base, result.offset + index, float(value))
    low, high = min(float(values.min()), 0.0), max(float(values.max()), 0.0)
    margin = 0.05 * ((high - low) or 1.0)
    axes.set(xlim=(result.offset - 1, result.offset + length), ylim=(low - margin, high + margin))
    axes.axhline(0, color="black", linewidth=0.5)
    axes.set(xlabel="position (0-based)", ylabel=label, title=f"{label}: {result.name}")
    figure.tight_layout()
    figure.savefig(path, dpi=120, format="png")  # any file name (a temporary one)
    plt.close(figure)
    return path


def plot_track(
    values: np.ndarray, path: str, offset: int = 0, intervals=(), label: str = "score", title: str = ""
) -> str:
    """Per-base `values` as a track along positions offset.., with (start, end, strand) intervals (genes from a
    GFF, 0-based, end exclusive) drawn as boxes with an arrow in the strand's direction underneath."""
    positions = offset + np.arange(len(values))
    figure, (track, genes) = plt.subplots(
        2, 1, figsize=(_width(len(values)), 3.2), sharex=True, gridspec_kw={"height_ratios": [4, 1]}
    )
    track.fill_between(positions, values, step="mid", color="#255C99", alpha=0.8, linewidth=0)
    track.axhline(0, color="black", linewidth=0.5)
    track.set(ylabel=label, title=title)
    for start, end, strand in intervals:
        genes.add_patch(
            Rectangle((start - 0.5, 0.2), end - start, 0.6, color="#109648" if strand != "-" else "#D62839")
        )
        genes.annotate(
            "",
            (end if strand != "-" else start, 0.5),
            (start if strand != "-" else end, 0.5),
            arrowprops=dict(arrowstyle="->", color="white", linewidth=1),
        )
    genes.set(ylim=(0, 1), yticks=[], xlabel="position (0-based)", xlim=(positions[0] - 0.5, positions[-1] + 0.5))
    genes.set_ylabel("genes", rotation=0, ha="right", va="center")
    figure.tight_layout()
    figure.savefig(path, dpi=120, format="png")  # any file name (a temporary one)
    plt.close(figure)
    return path
