import math

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from ulm import ranking_metrics
from ulm import recommend as cf

REFERENCE_AT = pd.Timestamp("2024-03-01")
NO_DECAY = {"view": 1.0, "add_to_cart": 3.0, "purchase": 5.0, "refund": -5.0}


def interactions(rows, reference_at=REFERENCE_AT):
    """Rows of (user, item, event_type, events[, days_ago]); no holdout."""
    records = []
    for row in rows:
        user, item, event_type, events = row[:4]
        days_ago = row[4] if len(row) > 4 else 0
        last_at = reference_at - pd.Timedelta(days=days_ago)
        records.append((user, item, event_type, events, last_at, events, last_at))
    return pd.DataFrame(
        records,
        columns=[
            "user_id",
            "item_id",
            "event_type",
            "events",
            "last_at",
            "events_before_holdout",
            "last_before_holdout_at",
        ],
    )


def dense(m):
    return m.matrix.toarray().astype(np.float64)


def similarity_frame(rows):
    return pd.DataFrame(rows, columns=["item_id", "similar_item_id", "similarity"])


# --- build_matrix --------------------------------------------------------------


def test_weights_and_half_life_decay():
    frame = interactions(
        [
            ("u2", "a", "view", 2, 10),  # 1 * 2 * 0.5 (one half-life old)
            ("u2", "a", "purchase", 1, 0),  # 5 * 1 * 1
            ("u1", "b", "add_to_cart", 1, 20),  # 3 * 1 * 0.25
            ("u1", "a", "login", 7, 0),  # weighs 0, kept as seen
            ("u1", "c", "view", 1, -5),  # after reference_at: age 0
        ]
    )
    m = cf.build_matrix(
        frame, NO_DECAY, REFERENCE_AT, half_life_days=10, count_scale="linear"
    )

    assert list(m.user_ids) == ["u1", "u2"]
    assert list(m.item_ids) == ["a", "b", "c"]
    assert m.matrix.dtype == np.float32
    np.testing.assert_allclose(dense(m), [[0.0, 0.75, 1.0], [6.0, 0.0, 0.0]])
    assert m.seen_matrix().toarray().tolist() == [
        [True, True, True],
        [True, False, False],
    ]


def test_without_half_life_counts_are_weighted_sums():
    frame = interactions([("u1", "a", "view", 4, 300), ("u1", "a", "purchase", 2)])
    m = cf.build_matrix(frame, NO_DECAY, REFERENCE_AT, count_scale="linear")
    np.testing.assert_allclose(dense(m), [[4.0 + 10.0]])


def test_repeats_count_on_a_log_scale_by_default():
    frame = interactions(
        [
            ("u1", "a", "view", 4),
            ("u1", "a", "purchase", 2),
            ("u1", "b", "purchase", 1),
            ("u2", "a", "purchase", 50),
        ]
    )
    m = cf.build_matrix(frame, NO_DECAY, REFERENCE_AT)
    binary = cf.build_matrix(frame, NO_DECAY, REFERENCE_AT, count_scale="binary")

    # 1 * (1 + ln 4) + 5 * (1 + ln 2); one purchase weighs 5; fifty about 24.6
    np.testing.assert_allclose(
        dense(m),
        [[1 + math.log(4) + 5 * (1 + math.log(2)), 5.0], [5 * (1 + math.log(50)), 0]],
        rtol=1e-6,
    )
    np.testing.assert_allclose(dense(binary), [[6.0, 5.0], [5.0, 0.0]])


def test_row_order_changes_no_cell_and_a_refunded_cell_is_seen_only():
    rows = [
        ("u1", "a", "purchase", 1, 3),
        ("u1", "a", "refund", 1, 1),  # 5 - 5 = 0: dropped from the matrix
        ("u1", "b", "view", 3, 2),
        ("u1", "c", "add_to_cart", 1, 0),
        ("u2", "b", "purchase", 2, 5),
        ("u2", "b", "view", 1, 4),
        ("u3", "c", "view", 1, 9),
    ]
    in_order = interactions(rows)
    shuffled = in_order.iloc[[6, 3, 0, 5, 2, 4, 1]].reset_index(drop=True)
    built = [
        cf.build_matrix(frame, NO_DECAY, REFERENCE_AT, count_scale="linear")
        for frame in (in_order, shuffled)
    ]

    expected = [[0.0, 3.0, 3.0], [0.0, 11.0, 0.0], [0.0, 0.0, 1.0]]
    for m in built:
        np.testing.assert_allclose(dense(m), expected)
        assert m.matrix.nnz == 4
        assert m.matrix.has_sorted_indices
        assert m.seen_matrix().toarray().tolist() == [
            [True, True, True],
            [False, True, False],
            [False, False, True],
        ]
        # u1's items by last event: c (0 days), a (1 day, its refund), b (2
        # days): b has two later items, though a weighs nothing.
        half = 0.5 ** (1 / 50)
        np.testing.assert_allclose(
            m.profile.toarray(),
            [[0.0, 3.0 * half**2, 3.0], [0.0, 11.0, 0.0], [0.0, 0.0, 1.0]],
            rtol=1e-6,
        )
    assert (built[0].matrix != built[1].matrix).nnz == 0


def test_scaled_counts_in_every_scale():
    counts = np.array([0, 1, 2, 10, -3])
    np.testing.assert_allclose(
        cf.scaled_counts(counts),
        [0.0, 1.0, 1 + math.log(2), 1 + math.log(10), 0.0],
    )
    np.testing.assert_allclose(
        cf.scaled_counts(counts, "linear"), [0.0, 1.0, 2.0, 10.0, 0.0]
    )
    np.testing.assert_allclose(
        cf.scaled_counts(counts, "binary"), [0.0, 1.0, 1.0, 1.0, 0.0]
    )
    with pytest.raises(ValueError, match="count_scale"):
        cf.scaled_counts(counts, "sqrt")


def test_log_scale_still_lets_refunds_cancel_purchases():
    frame = interactions(
        [
            ("u1", "a", "purchase", 3),
            ("u1", "a", "refund", 3),
            ("u1", "b", "purchase", 1),
            ("u1", "b", "refund", 2),
            ("u1", "c", "purchase", 2),
            ("u1", "c", "refund", 1),
        ]
    )
    m = cf.build_matrix(frame, cf.DEFAULT_WEIGHTS, REFERENCE_AT)

    # a: equal counts cancel; b: more refunds than purchases clip at 0
    np.testing.assert_allclose(dense(m), [[0.0, 0.0, 5 * math.log(2)]], rtol=1e-6)
    assert m.seen_matrix().nnz == 3


def test_refund_cancels_a_purchase_and_never_goes_negative():
    frame = interactions(
        [
            ("u1", "a", "purchase", 1),
            ("u1", "a", "refund", 1),
            ("u1", "b", "purchase", 1),
            ("u1", "b", "refund", 3),
            ("u1", "c", "view", 1),
        ]
    )
    m = cf.build_matrix(frame, cf.DEFAULT_WEIGHTS, REFERENCE_AT)

    np.testing.assert_allclose(dense(m), [[0.0, 0.0, 1.0]])
    assert m.matrix.nnz == 1
    assert m.seen_matrix().nnz == 3


def test_recent_item_weights_rank_each_users_items_from_the_latest():
    users = np.array([0, 0, 0, 0, 1, 1])
    seconds = np.array([100, 400, 400, 250, 5, 9])

    weights = cf.recent_item_weights(users, seconds, half_life=2)

    # user 0: the two items at 400 share rank 0, then 250 (rank 2), 100 (3);
    # user 1 is ranked on its own: 9 (rank 0), 5 (rank 1)
    np.testing.assert_allclose(weights, [0.5**1.5, 1.0, 1.0, 0.5, 0.5**0.5, 1.0])
    assert cf.recent_item_weights(np.array([]), np.array([]), 2).size == 0


def test_profile_weighs_older_items_less_and_leaves_similarities_alone():
    day = pd.Timedelta(days=1)
    frame = interactions(
        [
            ("u1", "a", "view", 1, 30),
            ("u1", "a", "purchase", 1, 2),
            ("u1", "b", "view", 2, 10),
            ("u1", "c", "view", 1, 0),
            ("u2", "a", "view", 1, 0),
        ]
    )
    m = cf.build_matrix(
        frame, NO_DECAY, REFERENCE_AT, count_scale="linear", recent_items_half_life=1
    )
    plain = cf.build_matrix(
        frame, NO_DECAY, REFERENCE_AT, count_scale="linear", recent_items_half_life=None
    )

    # u1 last touched c (0 days ago), a (2, its purchase), b (10): ranks 0, 1, 2
    np.testing.assert_allclose(dense(m), [[6.0, 2.0, 1.0], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(
        m.profile_matrix().toarray(), [[6.0 * 0.5, 2.0 * 0.25, 1.0], [1.0, 0, 0]]
    )
    assert plain.profile is None
    pd.testing.assert_frame_equal(
        cf.item_similarities(m, k=5, min_support=1),
        cf.item_similarities(plain, k=5, min_support=1),
    )
    missing = frame.assign(last_at=[REFERENCE_AT - day, pd.NaT, *[REFERENCE_AT] * 3])
    with pytest.raises(ValueError, match="last_at"):
        cf.build_matrix(missing, NO_DECAY, REFERENCE_AT)
    with pytest.raises(ValueError, match="recent_items_half_life"):
        cf.build_matrix(frame, NO_DECAY, REFERENCE_AT, recent_items_half_life=0)


def test_matrix_without_rows_builds_empty_with_the_recency_profile():
    # A single day of data leaves nothing before the holdout to train on.
    frame = interactions([("u1", "a", "view", 1)]).iloc[0:0]
    m = cf.build_matrix(frame, NO_DECAY, REFERENCE_AT, recent_items_half_life=50)

    assert m.matrix.shape == (0, 0)
    assert m.profile_matrix().shape == (0, 0)
    assert cf.item_similarities(m, k=5, min_support=1).empty


def test_recent_items_decide_between_two_candidates():
    # u1 touched x long ago and y lately; x's neighbour p and y's neighbour q
    # are equally similar, so only the recency of x and y can order p and q.
    rows = [("u1", "x", "view", 1, 40), ("u1", "y", "view", 1, 1)]
    rows += [("u2", "p", "view", 1, 0), ("u3", "q", "view", 1, 0)]
    m = cf.build_matrix(interactions(rows), NO_DECAY, REFERENCE_AT)
    sims = similarity_frame([("x", "p", 0.5), ("y", "q", 0.5)])

    recs = cf.recommend(m, sims, n=2)
    u1 = recs[recs.user_id == "u1"]

    assert u1.item_id.tolist() == ["q", "p"]
    assert u1.source_item_id.tolist() == ["y", "x"]
    np.testing.assert_allclose(u1.score, [0.5, 0.5 * 0.5 ** (1 / 50)], rtol=1e-6)


def test_positive_refund_weight_raises():
    frame = interactions([("u1", "a", "purchase", 1)])
    with pytest.raises(ValueError, match="refund"):
        cf.build_matrix(frame, {"purchase": 5.0, "refund": 1.0}, REFERENCE_AT)


def test_train_period_uses_counts_before_holdout_and_drops_empty_rows():
    frame = pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u2"],
            "item_id": ["a", "b", "a"],
            "event_type": ["view", "purchase", "view"],
            "events": [3, 1, 2],
            "last_at": [REFERENCE_AT] * 3,
            "events_before_holdout": [1, 0, 0],
            "last_before_holdout_at": [REFERENCE_AT, pd.NaT, pd.NaT],
        }
    )
    train = cf.build_matrix(frame, NO_DECAY, REFERENCE_AT, 7, period="train")
    everything = cf.build_matrix(
        frame, NO_DECAY, REFERENCE_AT, period="all", count_scale="linear"
    )

    assert list(train.user_ids) == ["u1"]
    assert list(train.item_ids) == ["a"]
    np.testing.assert_allclose(dense(train), [[1.0]])
    np.testing.assert_allclose(dense(everything), [[3.0, 5.0], [2.0, 0.0]])


def test_bad_period_and_missing_columns_are_named():
    frame = interactions([("u1", "a", "view", 1)])
    with pytest.raises(ValueError, match="period"):
        cf.build_matrix(frame, NO_DECAY, REFERENCE_AT, period="test")
    with pytest.raises(ValueError, match="event_type"):
        cf.build_matrix(frame.drop(columns="event_type"), NO_DECAY, REFERENCE_AT)


# --- item_similarities -----------------------------------------------------------


def three_by_three():
    # users x items (a, b, c): u1 = (1, 2, 0), u2 = (2, 0, 1), u3 = (0, 1, 3)
    return cf.build_matrix(
        interactions(
            [
                ("u1", "a", "view", 1),
                ("u1", "b", "view", 2),
                ("u2", "a", "view", 2),
                ("u2", "c", "view", 1),
                ("u3", "b", "view", 1),
                ("u3", "c", "view", 3),
            ]
        ),
        NO_DECAY,
        REFERENCE_AT,
        count_scale="linear",
    )


def test_cosine_on_a_three_by_three_example():
    sims = cf.item_similarities(three_by_three(), k=5, min_support=1)

    # |a| = |b| = sqrt(5), |c| = sqrt(10); a.b = 2, a.c = 2, b.c = 3
    expected = [
        ("a", "b", 2 / 5, 1, 1),
        ("a", "c", 2 / math.sqrt(50), 1, 2),
        ("b", "c", 3 / math.sqrt(50), 1, 1),
        ("b", "a", 2 / 5, 1, 2),
        ("c", "b", 3 / math.sqrt(50), 1, 1),
        ("c", "a", 2 / math.sqrt(50), 1, 2),
    ]
    assert list(sims.columns) == cf.SIMILARITY_COLUMNS
    assert list(zip(sims.item_id, sims.similar_item_id, strict=True)) == [
        row[:2] for row in expected
    ]
    np.testing.assert_allclose(sims.similarity, [row[2] for row in expected])
    assert sims.support.tolist() == [row[3] for row in expected]
    assert sims["rank"].tolist() == [row[4] for row in expected]
    assert (sims.item_id != sims.similar_item_id).all()


def test_min_support_drops_pairs_seen_together_too_rarely():
    m = cf.build_matrix(
        interactions(
            [
                ("u1", "a", "view", 1),
                ("u1", "b", "view", 1),
                ("u2", "a", "view", 1),
                ("u2", "b", "view", 1),
                ("u3", "a", "view", 1),
                ("u3", "c", "view", 1),
            ]
        ),
        NO_DECAY,
        REFERENCE_AT,
    )
    sims = cf.item_similarities(m, k=5, min_support=2)

    # a-b share u1 and u2; a-c only u3, so it is left out
    assert list(zip(sims.item_id, sims.similar_item_id, strict=True)) == [
        ("a", "b"),
        ("b", "a"),
    ]
    assert sims.support.tolist() == [2, 2]
    np.testing.assert_allclose(sims.similarity, [2 / math.sqrt(6)] * 2)


def test_top_k_cut_breaks_ties_by_similar_item_id():
    # y and z have identical columns, so sim(x, y) == sim(x, z) exactly
    rows = [("u1", "x", "view", 1), ("u2", "x", "view", 1)]
    for user in ("u1", "u2"):
        rows += [(user, "z", "view", 1), (user, "y", "view", 1)]
    rows += [("u3", "w", "view", 1), ("u3", "x", "view", 1)]
    m = cf.build_matrix(interactions(rows), NO_DECAY, REFERENCE_AT)

    sims = cf.item_similarities(m, k=1, min_support=1)

    neighbour = dict(zip(sims.item_id, sims.similar_item_id, strict=True))
    assert neighbour == {"w": "x", "x": "y", "y": "z", "z": "y"}
    assert sims["rank"].tolist() == [1, 1, 1, 1]


def random_matrix(seed, n_users=60, n_items=25, density=0.15):
    rng = np.random.default_rng(seed)
    matrix = sparse.random(
        n_users, n_items, density=density, random_state=rng, format="csr"
    )
    matrix.data = np.ceil(matrix.data * 3).astype(np.float32)
    return cf.InteractionMatrix(
        matrix=matrix.astype(np.float32),
        user_ids=np.array([f"u{i:03d}" for i in range(n_users)], dtype=object),
        item_ids=np.array([f"i{i:03d}" for i in range(n_items)], dtype=object),
    )


def test_blocks_give_the_same_neighbours_as_a_dense_computation():
    m = random_matrix(seed=5)
    values = m.matrix.toarray().astype(np.float64)
    dots = values.T @ values
    supports = (values > 0).astype(float).T @ (values > 0).astype(float)
    norms = np.sqrt((values**2).sum(axis=0))
    expected = []
    for i in range(values.shape[1]):
        candidates = [
            (dots[i, j] / (norms[i] * norms[j]), j)
            for j in range(values.shape[1])
            if j != i and supports[i, j] >= 2
        ]
        candidates.sort(key=lambda pair: (-pair[0], pair[1]))
        expected += [(i, j, s) for s, j in candidates[:4]]

    for block_size in (1, 3, 2048):
        sims = cf.item_similarities(m, k=4, min_support=2, block_size=block_size)
        got = list(
            zip(
                sims.item_id.str[1:].astype(int),
                sims.similar_item_id.str[1:].astype(int),
                strict=True,
            )
        )
        assert got == [(i, j) for i, j, _ in expected]
        np.testing.assert_allclose(sims.similarity, [s for _, _, s in expected])


def dense_neighbours(values, k, min_support):
    """(item, neighbour, similarity, support, rank) rows computed the plain way."""
    positive = (values > 0).astype(np.float64)
    dots = values.T @ values
    supports = positive.T @ positive
    norms = np.sqrt((values**2).sum(axis=0))
    rows = []
    for i in range(values.shape[1]):
        candidates = [
            (min(dots[i, j] / (norms[i] * norms[j]), 1.0), j)
            for j in range(values.shape[1])
            if j != i and supports[i, j] >= max(min_support, 1)
        ]
        candidates.sort(key=lambda pair: (-pair[0], pair[1]))
        for rank, (similarity, j) in enumerate(candidates[:k], start=1):
            rows.append((i, j, similarity, int(supports[i, j]), rank))
    return rows


def test_kernel_matches_a_dense_reference_with_ties_and_support_cuts():
    rng = np.random.default_rng(3)
    values = rng.choice([0] * 12 + [1, 2, 3], size=(60, 14)).astype(np.float64)
    # Item 10 copies item 3 and item 11 doubles it: exact ties. Items 12 and
    # 13 share at most one user with any other item.
    values[:, 10] = values[:, 3]
    values[:, 11] = 2 * values[:, 3]
    values[:, 12] = 0.0
    values[[4, 9], 12] = 1.0
    values[:, 13] = 0.0
    values[7, 13] = 1.0
    m = cf.InteractionMatrix(
        matrix=sparse.csr_matrix(values.astype(np.float32)),
        user_ids=np.array([f"u{i:03d}" for i in range(values.shape[0])], dtype=object),
        item_ids=np.array([f"i{i:03d}" for i in range(values.shape[1])], dtype=object),
    )

    # What the case exercises, read off the reference: ties broken by the
    # smaller item, at the top and at the cut, and pairs that only
    # min_support=1 keeps.
    wide = dense_neighbours(values, k=5, min_support=2)
    of_3 = [(j, similarity) for i, j, similarity, _, _ in wide if i == 3]
    assert of_3[:2] == [(10, 1.0), (11, 1.0)]
    of_4 = [(j, similarity, rank) for i, j, similarity, _, rank in wide if i == 4]
    assert [(j, rank) for j, _, rank in of_4[2:5]] == [(3, 3), (10, 4), (11, 5)]
    assert of_4[2][1] == of_4[3][1] == of_4[4][1]
    loose = dense_neighbours(values, k=5, min_support=1)
    assert {i for i, *_ in loose} >= {12, 13}
    assert not {i for i, *_ in wide} & {12, 13}

    for k, min_support in ((3, 2), (1, 1), (8, 3), (40, 2)):
        expected = dense_neighbours(values, k=k, min_support=min_support)
        for block_size, n_threads in ((2048, 1), (1, 2), (4, 2)):
            sims = cf.item_similarities(
                m,
                k=k,
                min_support=min_support,
                block_size=block_size,
                n_threads=n_threads,
            )
            got = list(
                zip(
                    sims.item_id.str[1:].astype(int),
                    sims.similar_item_id.str[1:].astype(int),
                    sims.support,
                    sims["rank"],
                    strict=True,
                )
            )
            assert got == [(i, j, support, rank) for i, j, _, support, rank in expected]
            np.testing.assert_allclose(
                sims.similarity, [row[2] for row in expected], rtol=0, atol=1e-12
            )
            assert sims.support.dtype == np.int64
            assert sims["rank"].dtype == np.int64


# --- recommend -------------------------------------------------------------------


def source_example():
    # u1: a (view, weight 1), b (purchase, weight 5); u2: x, y; u3: z
    m = cf.build_matrix(
        interactions(
            [
                ("u1", "a", "view", 1),
                ("u1", "b", "purchase", 1),
                ("u2", "x", "view", 1),
                ("u2", "y", "view", 1),
                ("u3", "z", "view", 1),
            ]
        ),
        NO_DECAY,
        REFERENCE_AT,
    )
    sims = similarity_frame(
        [("a", "x", 0.9), ("b", "x", 0.3), ("a", "y", 0.6), ("b", "y", 0.1)]
    )
    return m, sims


def test_scores_and_source_item_on_a_hand_example():
    m, sims = source_example()
    recs = cf.recommend(m, sims, n=2)
    u1 = recs[recs.user_id == "u1"]

    # x: 1 * 0.9 + 5 * 0.3 = 2.4, led by b (1.5 > 0.9)
    # y: 1 * 0.6 + 5 * 0.1 = 1.1, led by a (0.6 > 0.5)
    assert list(recs.columns) == cf.RECOMMENDATION_COLUMNS
    assert u1.item_id.tolist() == ["x", "y"]
    np.testing.assert_allclose(u1.score, [2.4, 1.1])
    assert u1.source_item_id.tolist() == ["b", "a"]
    assert u1.strategy.tolist() == ["item_cf", "item_cf"]
    assert u1["rank"].tolist() == [1, 2]


def test_short_lists_are_filled_with_popular_unseen_items():
    m, sims = source_example()
    recs = cf.recommend(m, sims, n=3, users_without_history=["u0", "u2"])

    # every item has one user: popularity order is a, b, x, y, z
    assert recs.user_id.tolist() == ["u0"] * 3 + ["u1"] * 3 + ["u2"] * 3 + ["u3"] * 3
    by_user = {user: rows for user, rows in recs.groupby("user_id")}
    assert by_user["u0"].item_id.tolist() == ["a", "b", "x"]
    assert by_user["u1"].item_id.tolist() == ["x", "y", "z"]
    assert by_user["u1"].strategy.tolist() == ["item_cf", "item_cf", "popular"]
    assert by_user["u2"].item_id.tolist() == ["a", "b", "z"]
    assert by_user["u3"].item_id.tolist() == ["a", "b", "x"]
    popular = recs[recs.strategy == "popular"]
    assert (popular.score == 0).all()
    assert popular.source_item_id.isna().all()
    for rows in by_user.values():
        assert rows["rank"].tolist() == [1, 2, 3]


def test_popular_items_order_by_distinct_users_then_id():
    m = cf.build_matrix(
        interactions(
            [
                ("u1", "c", "view", 9),
                ("u1", "b", "view", 1),
                ("u2", "b", "view", 1),
                ("u2", "a", "view", 1),
                ("u3", "a", "view", 1),
                ("u3", "d", "refund", 1),
            ]
        ),
        cf.DEFAULT_WEIGHTS,
        REFERENCE_AT,
    )
    assert cf.popular_items(m).tolist() == ["a", "b", "c"]


def test_seen_items_are_never_recommended_even_after_a_refund():
    rows = [
        ("u1", "a", "view", 1),
        ("u1", "b", "purchase", 1),
        ("u1", "b", "refund", 1),
        ("u2", "a", "view", 1),
        ("u2", "b", "view", 1),
        ("u3", "a", "view", 1),
        ("u3", "b", "view", 1),
        ("u3", "c", "view", 1),
    ]
    m = cf.build_matrix(interactions(rows), cf.DEFAULT_WEIGHTS, REFERENCE_AT)
    sims = cf.item_similarities(m, k=5, min_support=1)
    recs = cf.recommend(m, sims, n=5)

    assert recs[recs.user_id == "u1"].item_id.tolist() == ["c"]
    assert recs[recs.user_id == "u2"].item_id.tolist() == ["c"]
    assert recs[recs.user_id == "u3"].empty

    m = random_matrix(seed=11)
    recs = cf.recommend(m, cf.item_similarities(m, k=5, min_support=1), n=8)
    users = pd.Index(m.user_ids).get_indexer(recs.user_id)
    items = pd.Index(m.item_ids).get_indexer(recs.item_id)
    assert not np.asarray(m.seen_matrix()[users, items]).any()
    assert (
        recs.groupby("user_id")["rank"]
        .apply(lambda ranks: ranks.tolist() == list(range(1, len(ranks) + 1)))
        .all()
    )


def test_recommendations_are_deterministic_across_batches_and_threads():
    m = random_matrix(seed=7, n_users=80, n_items=30)
    sims = cf.item_similarities(m, k=6, min_support=1)
    first = cf.recommend(m, sims, n=7)
    again = cf.recommend(m, sims, n=7, batch_size=3, n_threads=1)
    pd.testing.assert_frame_equal(first, again)
    pd.testing.assert_frame_equal(
        sims, cf.item_similarities(m, k=6, min_support=1, block_size=2, n_threads=1)
    )


# --- evaluate --------------------------------------------------------------------


def test_evaluate_on_a_hand_built_split():
    holdout_start = pd.Timestamp("2024-01-15")
    before, during = pd.Timestamp("2024-01-05"), pd.Timestamp("2024-01-20")
    train = [
        ("u1", "a"),
        ("u1", "b"),
        ("u2", "a"),
        ("u2", "b"),
        ("u3", "p"),
        ("u3", "q"),
        ("u4", "p"),
        ("u4", "q"),
        ("u5", "p"),
        ("u5", "q"),
        ("u6", "a"),
        ("u7", "p"),
    ]
    holdout = [("u6", "b"), ("u6", "d"), ("u7", "c"), ("u1", "a"), ("u8", "a")]
    rows = [(u, i, "view", 1, 1, before, before) for u, i in train]
    rows += [(u, i, "purchase", 1, 0, during, pd.NaT) for u, i in holdout]
    frame = pd.DataFrame(
        rows,
        columns=[
            "user_id",
            "item_id",
            "event_type",
            "events",
            "events_before_holdout",
            "last_at",
            "last_before_holdout_at",
        ],
    )

    metrics = cf.evaluate(
        frame, NO_DECAY, "2024-02-01", holdout_start, k=2, min_support=2
    )

    # Train popularity: p (4 users), a (3), q (3), b (2). Evaluated: u6 (b and
    # d relevant) and u7 (c relevant); u1 bought an item it had seen, u8 has no
    # train history. item_cf: u6 -> b (neighbour of a), p; u7 -> q, a.
    # most_popular: u6 -> p, q; u7 -> a, q.
    ndcg_u6 = 1.0 / (1.0 + 1.0 / math.log2(3))
    expected = {
        ("item_cf", "precision_at_2"): 0.25,
        ("item_cf", "recall_at_2"): 0.25,
        ("item_cf", "ndcg_at_2"): ndcg_u6 / 2,
        ("item_cf", "hit_rate_at_2"): 0.5,
        ("item_cf", "catalog_coverage"): 1.0,
        ("item_cf", "users_evaluated"): 2.0,
        ("most_popular", "precision_at_2"): 0.0,
        ("most_popular", "recall_at_2"): 0.0,
        ("most_popular", "ndcg_at_2"): 0.0,
        ("most_popular", "hit_rate_at_2"): 0.0,
        ("most_popular", "catalog_coverage"): 0.75,
        ("most_popular", "users_evaluated"): 2.0,
    }
    assert list(metrics.columns) == cf.METRIC_COLUMNS
    assert (metrics.model == "recommendations").all()
    got = {
        (row.variant, row.metric_name): row.metric_value for row in metrics.itertuples()
    }
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value), key


def test_evaluate_rejects_a_holdout_after_the_reference_date():
    frame = interactions([("u1", "a", "view", 1)])
    with pytest.raises(ValueError, match="holdout_start"):
        cf.evaluate(frame, NO_DECAY, "2024-01-01", "2024-02-01")


# --- ranking metrics -------------------------------------------------------------


def test_ranking_metrics_by_hand():
    users = np.array([0, 0, 0, 1, 1, 1])
    ranks = np.array([1, 2, 3, 1, 2, 3])
    relevant = np.array([False, True, True, True, False, False])
    hit_counts, dcg = ranking_metrics.hits_per_user(users, ranks, relevant, 3, k=2)

    # rank 3 is outside the top 2; user 2 got no list at all
    assert hit_counts.tolist() == [1, 1, 0]
    np.testing.assert_allclose(dcg, [1 / math.log2(3), 1.0, 0.0])
    relevant_counts = np.array([3, 1, 2])
    np.testing.assert_allclose(
        ranking_metrics.ideal_dcg(relevant_counts, 2),
        [1 + 1 / math.log2(3), 1.0, 1 + 1 / math.log2(3)],
    )
    assert ranking_metrics.precision_at_k(hit_counts, 2) == pytest.approx(1 / 3)
    assert ranking_metrics.recall_at_k(hit_counts, relevant_counts) == pytest.approx(
        (1 / 3 + 1 + 0) / 3
    )
    assert ranking_metrics.ndcg_at_k(dcg, relevant_counts, 2) == pytest.approx(
        ((1 / math.log2(3)) / (1 + 1 / math.log2(3)) + 1.0) / 3
    )
    assert ranking_metrics.hit_rate_at_k(hit_counts) == pytest.approx(2 / 3)
    assert ranking_metrics.catalog_coverage(np.array([3, 1, 3]), 4) == 0.5
    assert math.isnan(ranking_metrics.precision_at_k(np.array([]), 2))


def test_sorted_codes_agree_for_arrow_strings_and_python_objects() -> None:
    ids = ["u10", "u2", "ä", "u10", "U1", "b", "u2", "Zz", "é"]
    from_arrow = cf._sorted_codes(pd.Series(ids, dtype="string[pyarrow]"))
    from_objects = cf._sorted_codes(pd.Series(ids, dtype=object))
    values = sorted(set(ids))
    assert from_arrow[1].tolist() == from_objects[1].tolist() == values
    expected_codes = [values.index(i) for i in ids]
    assert from_arrow[0].tolist() == from_objects[0].tolist() == expected_codes
