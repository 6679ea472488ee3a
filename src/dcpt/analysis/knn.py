"""kNN probe: how well a feature level predicts the degradation type, with no training of the net.

Protocol (fixed so numbers are comparable): features are standardised (zero mean, unit variance per
channel, fitted on the training folds only), a `KNeighborsClassifier` with `k` neighbours and the
cosine (default) or euclidean metric votes, and the accuracy is the mean over a stratified k-fold
cross-validation (5 folds by default, shuffled with a fixed seed; fewer when a class has fewer
samples). Chance level is 1 / number of classes.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError

METRICS = ("cosine", "euclidean")


def make_knn(k: int = 5, metric: str = "cosine"):
    """The estimator that is cross-validated: standardisation then a k-nearest-neighbour vote."""
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if metric not in METRICS:
        raise DataError(f"unknown kNN metric {metric!r}: expected one of {', '.join(METRICS)}")
    return make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=k, metric=metric))


def resolve_folds(labels: np.ndarray, folds: int, k: int) -> int:
    """The number of folds to use: `folds`, capped by the smallest class; checks every class has at
    least two samples and each training split has more than `k` samples."""
    _, counts = np.unique(labels, return_counts=True)
    if len(counts) < 2:
        raise DataError(f"a kNN probe needs at least two classes, got {len(counts)}")
    n_folds = min(int(folds), int(counts.min()))
    if n_folds < 2:
        raise DataError(
            f"every class needs at least 2 samples for cross-validation; the smallest has {counts.min()}"
        )
    train_size = len(labels) - int(np.ceil(len(labels) / n_folds))
    if train_size < k:
        raise DataError(f"k={k} neighbours need more samples: a training split holds only {train_size}")
    return n_folds


def knn_accuracy(
    features: np.ndarray,
    labels: np.ndarray,
    k: int = 5,
    metric: str = "cosine",
    folds: int = 5,
    seed: int = 0,
) -> float:
    """Mean stratified k-fold accuracy (in [0, 1]) of `make_knn(k, metric)` on ``N x C`` `features`."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    labels = np.asarray(labels)
    if features.ndim != 2 or features.shape[0] != labels.shape[0]:
        raise DataError(f"expected N x C features for {labels.shape[0]} labels, got shape {features.shape}")
    n_folds = resolve_folds(labels, folds, k)
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    scores = cross_val_score(make_knn(k, metric), features, labels, cv=splitter, scoring="accuracy")
    return float(np.mean(scores))
