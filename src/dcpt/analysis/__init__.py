"""Feature analysis of restoration networks: do their features already tell degradations apart?

`features` builds a labelled set of degraded crops and pools each feature level of a net to one
vector per crop; `knn` scores a level by the cross-validated kNN accuracy of the degradation type;
`tsne` draws a level in 2-D. `dcpt analyse` ties them together. `sheet` draws the degradation
catalogue itself (``dcpt degrade --sheet``): every op at three levels on one image.
"""

from .features import (
    LabelledCrops,
    collect_features,
    concat_levels,
    level_names,
    paired_crops,
    synthetic_crops,
)
from .knn import knn_accuracy, make_knn, resolve_folds
from .tsne import embed_tsne, plot_tsne

__all__ = [
    "LabelledCrops",
    "collect_features",
    "concat_levels",
    "level_names",
    "paired_crops",
    "synthetic_crops",
    "knn_accuracy",
    "make_knn",
    "resolve_folds",
    "embed_tsne",
    "plot_tsne",
]
