"""The demo's two figures, drawn with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Sequence

from ..fileio import atomic_path
from .report import LABELS, ROWS

COLUMNS = ("input", "scratch", "dcpt", "maskdcpt")
COLUMN_TITLES = ("degraded", "scratch", "DCPT init", "MaskDCPT init", "clean")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def psnr_bars(tables: Dict[str, Dict], path: Path) -> None:
    """Grouped bars: PSNR (dB, mean with the seeds' sd as error bars) of the degraded input and of each
    model, per degradation type and on average. `tables` hold ``[mean, sd]`` per type."""
    import numpy as np

    plt = _pyplot()
    groups = list(tables["input"]["psnr"])
    x = np.arange(len(groups))
    width = 0.8 / len(ROWS)
    colours = {"input": "0.6"}
    fig, ax = plt.subplots(figsize=(1.6 * len(groups) + 2, 4))
    for i, name in enumerate(ROWS):
        means = [tables[name]["psnr"][g][0] for g in groups]
        sds = [tables[name]["psnr"][g][1] for g in groups]
        ax.bar(
            x + (i - (len(ROWS) - 1) / 2) * width,
            means,
            width,
            yerr=sds if any(sds) else None,
            capsize=2,
            label=LABELS[name],
            color=colours.get(name),
        )
    ax.set_xticks(x)
    ax.set_xticklabels(groups)
    ax.set_ylabel("PSNR (dB)")
    ax.set_title("Held-out PSNR per degradation type (shipped nets, mean ± sd over seeds)")
    lows = [tables[n]["psnr"][g][0] for n in ROWS for g in groups]
    ax.set_ylim(max(0.0, min(lows) - 3.0), max(lows) + 1.5)
    ax.legend(fontsize="small", ncol=2)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)


def image_grid(types: Sequence, outputs: Dict[str, Dict], path: Path, index: int = -1) -> None:
    """Rows = degradation types; columns = degraded | scratch | DCPT init | MaskDCPT init | clean (the
    first shipped seed of each), for crop `index` (default: the last crop, from a colour photograph)."""
    plt = _pyplot()
    fig, axes = plt.subplots(
        len(types), len(COLUMN_TITLES), figsize=(2.2 * len(COLUMN_TITLES), 2.2 * len(types)), squeeze=False
    )
    for r, t in enumerate(types):
        images = [outputs[c][t.name][index] for c in COLUMNS] + [t.gt[index]]
        for c, img in enumerate(images):
            ax = axes[r][c]
            ax.imshow(img.clamp(0.0, 1.0).permute(1, 2, 0).numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(COLUMN_TITLES[c])
            if c == 0:
                ax.set_ylabel(t.name)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
