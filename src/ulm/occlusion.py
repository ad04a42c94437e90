"""Occlusion drivers of a boosted classifier, one tree walk per tree that matters.

The churn drivers ask, for every scored user and feature, how much the
log-odds drop when that one feature is set to a reference value. A boosted
model's log-odds are a baseline plus the sum of its trees' leaf values, and
setting feature j to another value can only move the trees that split on j.
Nor can it move a tree whose path for this user never tests j: the walk
with j replaced leaves that path at the first node that tests j, or not at
all. So instead of predicting the whole model again for every feature, the
kernel walks each tree once on the user's own values, noting the features
its path tests, then walks again only the trees whose path tested j, with j
replaced, and sums the differences.

The trees are read from scikit-learn's ``HistGradientBoostingClassifier``
(the node arrays of its fitted predictors, which are not public API).
``tree_arrays`` returns None for anything this walk does not reproduce
exactly (categorical splits, several trees per iteration, a changed node
layout); callers then predict the model once per feature instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

# a path's features are noted as bits of one 64-bit word
MAX_FEATURES = 64
_NODE_FIELDS = (
    "value",
    "feature_idx",
    "num_threshold",
    "missing_go_to_left",
    "left",
    "right",
    "is_leaf",
    "is_categorical",
)


@dataclass(frozen=True)
class TreeArrays:
    """Every tree's nodes laid end to end; child indices are global."""

    value: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    is_leaf: np.ndarray
    roots: np.ndarray


def tree_arrays(model: object, n_features: int) -> TreeArrays | None:
    """The fitted trees of a binary HistGradientBoostingClassifier, or None."""
    predictors = getattr(model, "_predictors", None)
    if n_features > MAX_FEATURES or not predictors:
        return None
    if any(len(per_iteration) != 1 for per_iteration in predictors):
        return None
    nodes = [per_iteration[0].nodes for per_iteration in predictors]
    names = nodes[0].dtype.names or ()
    if any(field not in names for field in _NODE_FIELDS):
        return None
    if any(tree["is_categorical"].any() for tree in nodes):
        return None

    sizes = np.array([len(tree) for tree in nodes], dtype=np.int64)
    roots = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
    every = np.concatenate(nodes)
    offsets = np.repeat(roots, sizes)
    is_leaf = every["is_leaf"].astype(np.bool_)
    feature = every["feature_idx"].astype(np.int64)
    if (feature[~is_leaf] >= n_features).any() or (feature[~is_leaf] < 0).any():
        return None
    return TreeArrays(
        value=every["value"].astype(np.float64),
        feature=feature,
        threshold=every["num_threshold"].astype(np.float64),
        missing_left=every["missing_go_to_left"].astype(np.bool_),
        left=every["left"].astype(np.int64) + offsets,
        right=every["right"].astype(np.int64) + offsets,
        is_leaf=is_leaf,
        roots=roots,
    )


def log_odds_drops(
    trees: TreeArrays,
    features: np.ndarray,
    reference: np.ndarray,
    explained: np.ndarray,
) -> np.ndarray:
    """Per row and feature: log-odds minus log-odds with the feature at reference.

    Rows where ``explained`` is false, and features already at the reference
    value, get 0.
    """
    nodes = (
        trees.value,
        trees.feature,
        trees.threshold,
        trees.missing_left,
        trees.left,
        trees.right,
        trees.is_leaf,
    )
    return _drops(
        np.ascontiguousarray(features, dtype=np.float64),
        np.ascontiguousarray(reference, dtype=np.float64),
        np.ascontiguousarray(explained, dtype=np.bool_),
        nodes,
        trees.roots,
    )


@numba.njit(nogil=True, cache=True)
def _walk(node, row, swapped, swapped_value, nodes):
    """Leaf value and the features the path tested (bits), for `row` with
    feature `swapped` (-1: none) read as `swapped_value`."""
    value, feature, threshold, missing_left, left, right, is_leaf = nodes
    # the fitted predictor's own walk: a missing value follows missing_left,
    # any other goes left when at most the threshold
    path = np.uint64(0)
    while not is_leaf[node]:
        f = feature[node]
        path |= np.uint64(1) << np.uint64(f)
        x = swapped_value if f == swapped else row[f]
        if np.isnan(x):
            node = left[node] if missing_left[node] else right[node]
        elif x <= threshold[node]:
            node = left[node]
        else:
            node = right[node]
    return value[node], path


@numba.njit(nogil=True, cache=True)
def _drops(features, reference, explained, nodes, roots):
    n_rows, n_features = features.shape
    drops = np.zeros((n_rows, n_features))
    own = np.empty(roots.size)
    paths = np.empty(roots.size, dtype=np.uint64)
    for i in range(n_rows):
        if not explained[i]:
            continue
        row = features[i]
        for t in range(roots.size):
            own[t], paths[t] = _walk(roots[t], row, -1, 0.0, nodes)
        for j in range(n_features):
            x = row[j]
            if x == reference[j] or (np.isnan(x) and np.isnan(reference[j])):
                continue
            bit = np.uint64(1) << np.uint64(j)
            drop = 0.0
            for t in range(roots.size):
                if paths[t] & bit == 0:
                    continue
                occluded, _ = _walk(roots[t], row, j, reference[j], nodes)
                drop += own[t] - occluded
            drops[i, j] = drop
    return drops
