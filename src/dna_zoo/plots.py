"""Figures for results people look at (loss curves, benchmark and evaluation plots), written as PNG."""

import matplotlib

matplotlib.use("Agg")  # files only: works on machines without a display
import matplotlib.pyplot as plt  # noqa: E402


def plot_curves(series: dict, path: str, xlabel: str, ylabel: str, title: str = "", log: str = "") -> str:
    """One line per `series` entry (label -> (x, y)); `log` holds "x" and/or "y" for log axes. Returns `path`."""
    many = len(series) > 6
    figure, axes = plt.subplots(figsize=(10, 5) if many else (6, 4))
    colors = plt.cm.tab20.colors if many else plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (label, (x, y)) in enumerate(series.items()):
        color = colors[index % len(colors)]
        axes.plot(x, y, label=label, color=color, marker="o" if len(x) < 30 else None, markersize=3)
    axes.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if "x" in log:
        axes.set_xscale("log")
    if "y" in log:
        axes.set_yscale("log")
    axes.grid(alpha=0.3)
    if many:  # outside the axes, so that no line hides behind it
        axes.legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    else:
        axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def plot_bars(
    values: dict,
    path: str,
    ylabel: str,
    title: str = "",
    reference: float | None = None,
    log: bool = False,
    failed: frozenset = frozenset(),
) -> str:
    """Horizontal bars (label -> value), with an optional vertical reference line (e.g. a target ratio); labels in
    `failed` (missed targets) are drawn in red."""
    figure, axes = plt.subplots(figsize=(10 if log else 6, 0.4 * len(values) + 1.2))
    if log:
        axes.set_xscale("log")
    labels = list(values)
    colors = ["tab:red" if label in failed else "tab:blue" for label in labels]
    axes.barh(labels, [values[label] for label in labels], color=colors)
    if reference is not None:
        axes.axvline(reference, color="tab:red", linestyle="--", linewidth=1)
    axes.set(xlabel=ylabel, title=title)
    axes.invert_yaxis()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def plot_grouped_bars(groups: dict, path: str, ylabel: str, title: str = "") -> str:
    """Bars grouped by `groups` key (e.g. task), one bar per inner key (e.g. model) with a (mean, sd) error bar."""
    names = list(next(iter(groups.values())))
    width = 0.8 / len(names)
    figure, axes = plt.subplots(figsize=(1.8 + 1.6 * len(groups) * len(names) / 2, 4))
    for index, name in enumerate(names):
        positions = [g + (index - (len(names) - 1) / 2) * width for g in range(len(groups))]
        means = [groups[group][name][0] for group in groups]
        errors = [groups[group][name][1] for group in groups]
        axes.bar(positions, means, width, yerr=errors, capsize=3, label=name)
    axes.set_xticks(range(len(groups)), list(groups))
    axes.set(ylabel=ylabel, title=title)
    axes.axhline(0, color="black", linewidth=0.5)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
