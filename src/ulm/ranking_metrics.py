"""Top-k ranking metrics, computed per user on arrays and averaged over users.

Conventions shared by every function here:

- A user's list is cut at rank ``k``; ranks start at 1.
- ``hit_counts[u]`` is the number of relevant items in user ``u``'s top ``k``.
- ``relevant_counts[u]`` is the number of relevant items of user ``u`` (>= 1 for
  every evaluated user, whether or not they could be recommended).
- Precision divides by ``k`` even when fewer than ``k`` items were recommended.
- Every mean is over the evaluated users; with no users it is NaN.
"""

from __future__ import annotations

import numpy as np


def rank_discounts(ranks: np.ndarray) -> np.ndarray:
    """Gain of a relevant item at each rank: 1 / log2(rank + 1)."""
    return 1.0 / np.log2(np.asarray(ranks, dtype=np.float64) + 1.0)


def hits_per_user(
    user_index: np.ndarray,
    ranks: np.ndarray,
    is_relevant: np.ndarray,
    n_users: int,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Hit count and discounted cumulative gain of each user's top ``k``.

    ``user_index`` (0 .. n_users - 1), ``ranks`` and ``is_relevant`` describe one
    recommended item per position.
    """
    in_top_k = np.asarray(is_relevant, dtype=bool) & (np.asarray(ranks) <= k)
    users_hit = np.asarray(user_index)[in_top_k]
    hit_counts = np.bincount(users_hit, minlength=n_users)
    dcg = np.bincount(
        users_hit,
        weights=rank_discounts(np.asarray(ranks)[in_top_k]),
        minlength=n_users,
    )
    return hit_counts, dcg


def ideal_dcg(relevant_counts: np.ndarray, k: int) -> np.ndarray:
    """Best reachable DCG at ``k``: every relevant item ranked first."""
    cumulative = np.concatenate(([0.0], np.cumsum(rank_discounts(np.arange(1, k + 1)))))
    return cumulative[np.minimum(np.asarray(relevant_counts), k)]


def precision_at_k(hit_counts: np.ndarray, k: int) -> float:
    return _mean(np.asarray(hit_counts, dtype=np.float64) / k)


def recall_at_k(hit_counts: np.ndarray, relevant_counts: np.ndarray) -> float:
    return _mean(np.asarray(hit_counts, dtype=np.float64) / np.asarray(relevant_counts))


def ndcg_at_k(dcg: np.ndarray, relevant_counts: np.ndarray, k: int) -> float:
    return _mean(np.asarray(dcg, dtype=np.float64) / ideal_dcg(relevant_counts, k))


def hit_rate_at_k(hit_counts: np.ndarray) -> float:
    return _mean((np.asarray(hit_counts) > 0).astype(np.float64))


def catalog_coverage(recommended_items: np.ndarray, catalog_size: int) -> float:
    """Share of the catalog that appears in at least one user's list."""
    if catalog_size <= 0:
        return float("nan")
    return float(np.unique(recommended_items).size / catalog_size)


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")
