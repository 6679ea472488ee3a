"""t-SNE maps of pooled features, coloured by degradation type, several nets side by side."""

from __future__ import annotations

from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np

from ..fileio import atomic_path


def embed_tsne(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """``N x 2`` t-SNE embedding of standardised ``N x C`` `features` (PCA start, fixed random_state).

    Perplexity is 30, or (N - 1) / 3 for small sets, since t-SNE needs perplexity < N."""
    from sklearn.manifold import TSNE
    from sklearn.preprocessing import StandardScaler

    scaled = StandardScaler().fit_transform(features)
    perplexity = float(min(30.0, max(2.0, (features.shape[0] - 1) / 3.0)))
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
    return tsne.fit_transform(scaled)


def plot_tsne(
    panels: Sequence[Tuple[str, np.ndarray]], labels: np.ndarray, class_names: List[str], path
) -> Path:
    """Draw each ``(title, N x 2 embedding)`` panel, points coloured by class, one shared legend;
    write a PNG to `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    colours = plt.get_cmap("tab10" if len(class_names) <= 10 else "tab20")
    fig, axes = plt.subplots(1, len(panels), figsize=(5.0 * len(panels) + 2.0, 5.0), squeeze=False)
    for ax, (title, emb) in zip(axes[0], panels):
        for c, name in enumerate(class_names):
            pts = emb[labels == c]
            ax.scatter(pts[:, 0], pts[:, 1], s=12, color=colours(c % colours.N), label=name, alpha=0.8)
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    handles, names = axes[0][0].get_legend_handles_labels()
    legend_share = 2.0 / (5.0 * len(panels) + 2.0)  # the 2-inch strip on the right holds the legend
    fig.tight_layout(rect=(0, 0, 1 - legend_share, 1))
    fig.legend(handles, names, loc="center right", frameon=False, markerscale=1.5)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path
