"""Synthetic behavior events with the patterns the ulm marts and models look for.

The generator is deterministic: the same arguments give the same users, items and
events, row for row, and the same files byte for byte. What it models:

- Acquisition: users sign up in every month of the history, 6% more each month,
  with more sign-ups in November and December; the first event of a user comes
  0 to 5 minutes after ``signed_up_at``.
- Shopper types (hidden): window shoppers (many views, rare purchases), regulars,
  bargain hunters (frequent, cheap items, discounts, larger quantities), big
  spenders (expensive items) and one-time buyers (buy in the first session, then
  leave). Each user also has an engagement level and a slow drift in activity.
- Lifecycle: week by week an active user has Poisson sessions; the chance to stop
  rises with few recent sessions, few sessions overall, a drop against the four
  weeks before, and in the first month. A stopped user returns after 6 or more
  weeks with a chance set by the shopper type (resurrection), or never.
- Sessions: an optional login, views about a minute apart, an add_to_cart right
  after some views, then one purchase per bought cart at checkout. Sessions start
  at local day-time hours and are hours or days apart.
- Items: 12 categories, brands, and bundles of 3 to 6 related items with
  Zipf-like popularity. Each user favours 1 to 3 categories and a few bundles,
  and keeps browsing and buying inside them, so items bought together predict
  later purchases far better than overall popularity does.
- Money: revenue = quantity * price, less a 5-30% discount on some purchases;
  refunds repeat the purchase's quantity and revenue (positive) 1 to 45 days
  later, for a few percent of purchases.

With ``dirty=True`` a small, counted share of rows breaks the input contract the
way real feeds do (see ``DIRTY_KINDS``), so staging and its rejects can be
reconciled against ``Dataset.injected``.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import gzip
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

log = logging.getLogger(__name__)

SAMPLE_USERS = 7_500
USERS_PER_ITEM = 10
MIN_ITEMS = 80
PILOT_USERS = 50_000
FORMATS = ("csv.gz", "parquet")

EVENT_COLUMNS = (
    "event_id",
    "user_id",
    "event_at",
    "event_type",
    "item_id",
    "quantity",
    "revenue",
)
USER_COLUMNS = ("user_id", "signed_up_at", "country", "acquisition_channel")
ITEM_COLUMNS = ("item_id", "category", "brand", "price")

LOGIN, VIEW, ADD_TO_CART, PURCHASE, REFUND = range(5)
RAW_EVENT_TYPES = (
    "login",
    "view",
    "add_to_cart",
    "purchase",
    "refund",
    "page_view",
    "View",
    "cart",
    "PURCHASE",
    "wishlist_add",
)
# (canonical kind, index of the raw spelling in RAW_EVENT_TYPES, share of rows)
RAW_TYPE_VARIANTS = (
    (VIEW, 5, 0.04),
    (VIEW, 6, 0.015),
    (ADD_TO_CART, 7, 0.05),
    (PURCHASE, 8, 0.02),
)
UNKNOWN_EVENT_TYPE = 9

# Share of rows written as "2024-03-05T14:22:31Z", "2024-03-05 14:22:31" (UTC
# without a zone) and "2024-03-05T16:22:31+02:00" (local time of the user's
# country with its offset): all three spell the same instant.
EVENT_AT_STYLE_SHARES = (0.88, 0.07, 0.05)

DIRTY_KINDS = (
    "user_id_missing",
    "user_id_blank",
    "user_id_null_text",
    "event_at_unparseable",
    "event_at_missing",
    "event_at_far_future",
    "event_type_unknown",
    "event_id_reused",
    "revenue_negative",
    "revenue_not_numeric",
    "revenue_decimal_comma",
    "row_duplicated",
)
DIRTY_SHARE_PER_KIND = 0.0004
DIRTY_MIN_PER_KIND = 4
FAR_FUTURE_ROWS = 2

HOUR = 3_600
DAY = 86_400
WEEK = 7 * DAY
MAX_VIEWS_PER_SESSION = 40
MAX_GAP_IN_SESSION = 1_200


@dataclass(frozen=True)
class _Category:
    name: str
    base_price: float
    share: float


_CATEGORIES = (
    _Category("electronics", 120.0, 0.10),
    _Category("computers", 380.0, 0.05),
    _Category("phones", 260.0, 0.06),
    _Category("home", 55.0, 0.11),
    _Category("kitchen", 38.0, 0.10),
    _Category("garden", 42.0, 0.06),
    _Category("fashion", 32.0, 0.14),
    _Category("shoes", 68.0, 0.08),
    _Category("beauty", 19.0, 0.10),
    _Category("sports", 48.0, 0.07),
    _Category("toys", 26.0, 0.06),
    _Category("books", 14.0, 0.07),
)
N_CATEGORIES = len(_CATEGORIES)

# (country, share of users, UTC offset in minutes, fixed all year)
_COUNTRIES = (
    ("US", 0.34, -300),
    ("GB", 0.12, 0),
    ("DE", 0.12, 60),
    ("FR", 0.09, 60),
    ("ES", 0.05, 60),
    ("IT", 0.05, 60),
    ("NL", 0.05, 60),
    ("PL", 0.05, 60),
    ("SE", 0.04, 60),
    ("IN", 0.09, 330),
)

# (channel, share of users, engagement multiplier); paid_social's share grows
# over the history, so later cohorts retain a little worse.
_CHANNELS = (
    ("organic_search", 0.30, 1.05),
    ("paid_search", 0.20, 0.90),
    ("paid_social", 0.12, 0.70),
    ("direct", 0.15, 1.15),
    ("referral", 0.08, 1.30),
    ("email", 0.08, 1.20),
    ("affiliate", 0.07, 0.80),
)
PAID_SOCIAL = 2
PAID_SOCIAL_GROWTH = 2.0

MONTHLY_ACQUISITION_GROWTH = 1.06
# Multipliers by calendar month, January first.
ACQUISITION_SEASON = (1.05, 0.95, 1.0, 1.0, 0.95, 0.9, 0.85, 0.9, 1.0, 1.05, 1.3, 1.35)
ACTIVITY_SEASON = (0.95, 0.95, 1.0, 1.0, 1.0, 0.92, 0.9, 0.92, 1.0, 1.02, 1.15, 1.25)
# Relative chance that a session starts at each local hour, midnight first.
SESSION_HOUR_WEIGHTS = (
    0.6, 0.35, 0.2, 0.15, 0.15, 0.25, 0.6, 1.2, 1.8, 2.2, 2.4, 2.6,
    2.9, 2.8, 2.6, 2.5, 2.6, 2.9, 3.4, 3.9, 4.1, 3.8, 2.8, 1.5,
)  # fmt: skip


@dataclass(frozen=True)
class _Persona:
    name: str
    share: float
    weekly_sessions: float
    extra_views: float
    login_rate: float
    cart_rate: float
    buy_rate: float
    multi_quantity_rate: float
    discount_rate: float
    refund_rate: float
    price_taste: int
    churn_logit: float
    comeback_rate: float


_PERSONAS = (
    _Persona(
        name="window_shopper",
        share=0.30,
        weekly_sessions=0.3,
        extra_views=4.0,
        login_rate=0.15,
        cart_rate=0.035,
        buy_rate=0.18,
        multi_quantity_rate=0.05,
        discount_rate=0.15,
        refund_rate=0.03,
        price_taste=0,
        churn_logit=-1.2,
        comeback_rate=0.25,
    ),
    _Persona(
        name="regular",
        share=0.25,
        weekly_sessions=0.38,
        extra_views=2.5,
        login_rate=0.45,
        cart_rate=0.14,
        buy_rate=0.38,
        multi_quantity_rate=0.10,
        discount_rate=0.20,
        refund_rate=0.025,
        price_taste=0,
        churn_logit=-2.0,
        comeback_rate=0.35,
    ),
    _Persona(
        name="bargain_hunter",
        share=0.13,
        weekly_sessions=0.55,
        extra_views=3.0,
        login_rate=0.35,
        cart_rate=0.18,
        buy_rate=0.45,
        multi_quantity_rate=0.30,
        discount_rate=0.60,
        refund_rate=0.03,
        price_taste=-1,
        churn_logit=-1.8,
        comeback_rate=0.30,
    ),
    _Persona(
        name="big_spender",
        share=0.08,
        weekly_sessions=0.32,
        extra_views=2.0,
        login_rate=0.50,
        cart_rate=0.20,
        buy_rate=0.45,
        multi_quantity_rate=0.20,
        discount_rate=0.10,
        refund_rate=0.06,
        price_taste=1,
        churn_logit=-2.1,
        comeback_rate=0.30,
    ),
    _Persona(
        name="one_time_buyer",
        share=0.24,
        weekly_sessions=0.5,
        extra_views=2.5,
        login_rate=0.20,
        cart_rate=0.02,
        buy_rate=0.30,
        multi_quantity_rate=0.05,
        discount_rate=0.25,
        refund_rate=0.04,
        price_taste=0,
        churn_logit=0.6,
        comeback_rate=0.05,
    ),
)
ONE_TIME_BUYER = 4
FIRST_SESSION_CART_RATE = 0.4
FIRST_SESSION_BUY_RATE = 0.75

# Weekly chance that an active user stops: logistic of
#   persona churn_logit
#   - SESSION_EFFECT * log1p(sessions in the last 4 weeks)
#   - HABIT_EFFECT * log1p(sessions since sign-up or return)
#   + DECLINE_EFFECT * max(0, log1p(sessions 5-8 weeks ago) - log1p(last 4 weeks))
#   + NEW_USER_EFFECT during the first 4 weeks after sign-up.
SESSION_EFFECT = 0.6
DECLINE_EFFECT = 1.0
NEW_USER_EFFECT = 0.7
HABIT_EFFECT = 0.5
FATIGUE_NOISE = 0.12
PRICE_TASTE_STRENGTH = 2.0
MAX_WEEKLY_SESSIONS = 5.0


@dataclass
class Dataset:
    """Generated tables; ``injected`` counts the rows of each of ``DIRTY_KINDS``."""

    events: pd.DataFrame
    users: pd.DataFrame
    items: pd.DataFrame
    injected: dict[str, int] = field(default_factory=dict)


@dataclass
class _Catalog:
    category: np.ndarray
    price_cents: np.ndarray
    brand: np.ndarray
    item_number: np.ndarray
    bundle_start: np.ndarray
    bundle_size: np.ndarray
    bundle_cdf: np.ndarray
    item_cdf: np.ndarray
    popularity_cdf: np.ndarray
    brand_names: list[str]


@dataclass
class _Users:
    signup_at: np.ndarray
    persona: np.ndarray
    engagement: np.ndarray
    drift: np.ndarray
    country: np.ndarray
    channel: np.ndarray
    affinity: np.ndarray
    affinity_count: np.ndarray
    bundle_offset: np.ndarray
    bundles: np.ndarray


@dataclass
class _Events:
    user: np.ndarray
    at: np.ndarray  # epoch seconds, UTC
    kind: np.ndarray  # LOGIN, VIEW, ADD_TO_CART, PURCHASE or REFUND
    item: np.ndarray  # -1 for logins
    quantity: np.ndarray  # 0 for logins
    revenue_cents: np.ndarray  # 0 except on purchases and refunds
    refunded: np.ndarray  # purchases that get a refund later


def _persona_values(name: str) -> np.ndarray:
    return np.array([getattr(persona, name) for persona in _PERSONAS])


def _rng(seed: int, stage: int) -> np.random.Generator:
    return np.random.default_rng([seed, stage])


def _epoch_seconds(moment: pd.Timestamp) -> int:
    return int((moment - pd.Timestamp("1970-01-01")) // pd.Timedelta(seconds=1))


def _history_bounds(start: str, months: int) -> tuple[np.ndarray, np.ndarray]:
    """Epoch seconds of each month start (months + 1 bounds) and calendar months."""
    start_at = pd.Timestamp(start)
    if start_at.tzinfo is not None:
        start_at = start_at.tz_convert("UTC").tz_localize(None)
    bounds = [start_at + pd.DateOffset(months=m) for m in range(months + 1)]
    seconds = np.array([_epoch_seconds(bound) for bound in bounds], dtype=np.int64)
    calendar_month = np.array([bound.month for bound in bounds[:-1]]) - 1
    return seconds, calendar_month


def _segmented_cdf(
    weights: np.ndarray, segment: np.ndarray, n_segments: int
) -> np.ndarray:
    """Cumulative weights for drawing within a segment, for several weight rows.

    ``weights`` has one row per group and one column per element; elements are
    sorted by ``segment``. The value for group g, segment s lies in
    (g * n_segments + s, g * n_segments + s + 1], so a draw is
    ``searchsorted(cdf, g * n_segments + s + u, "right") % n_elements``.
    """
    n_groups, n_elements = weights.shape
    seg_start = np.searchsorted(segment, np.arange(n_segments), side="left")
    seg_end = np.searchsorted(segment, np.arange(n_segments), side="right") - 1
    cumulative = np.cumsum(weights, axis=1)
    before = np.concatenate([np.zeros((n_groups, 1)), cumulative], axis=1)
    base = before[:, seg_start][:, segment]
    total = (cumulative[:, seg_end] - before[:, seg_start])[:, segment]
    within = (cumulative - base) / total
    within[:, seg_end] = 1.0
    group_offset = (np.arange(n_groups) * n_segments)[:, None]
    return (within + segment[None, :] + group_offset).reshape(-1)


def _brand_names(n_brands: int) -> list[str]:
    syllables = np.array(
        ["ka", "lo", "mi", "ra", "ve", "to", "sen", "dor"]
        + ["bel", "nix", "qua", "zu", "fen", "mar", "tis", "or"]
    )
    n_syllables = 2 if n_brands <= len(syllables) ** 2 else 3
    space = len(syllables) ** n_syllables
    code = (np.arange(n_brands) * 7919 + 11) % space
    parts = []
    for position in range(n_syllables):
        parts.append(syllables[(code // len(syllables) ** position) % len(syllables)])
    names = parts[0]
    for part in parts[1:]:
        names = np.char.add(names, part)
    return [str(name).capitalize() for name in names]


def _build_catalog(n_items: int, rng: np.random.Generator) -> _Catalog:
    shares = np.array([c.share for c in _CATEGORIES])
    base_price = np.array([c.base_price for c in _CATEGORIES])

    sizes = rng.integers(3, 7, size=n_items // 3 + 1)
    ends = np.cumsum(sizes)
    n_bundles = int(np.searchsorted(ends, n_items)) + 1
    sizes = sizes[:n_bundles]
    sizes[-1] -= ends[n_bundles - 1] - n_items
    extra = rng.choice(N_CATEGORIES, size=n_bundles - N_CATEGORIES, p=shares)
    bundle_category = np.sort(np.concatenate([np.arange(N_CATEGORIES), extra]))

    rank_key = bundle_category + rng.random(n_bundles)
    rank = np.empty(n_bundles, dtype=np.int64)
    rank[np.argsort(rank_key)] = np.arange(n_bundles)
    rank -= np.searchsorted(bundle_category, bundle_category, side="left")
    zipf = (rank + 1.0) ** -1.05
    zipf_total = np.bincount(bundle_category, zipf, N_CATEGORIES)
    bundle_popularity = shares[bundle_category] * zipf / zipf_total[bundle_category]
    price_level = rng.lognormal(0.0, 0.55, n_bundles)

    items_per_category = np.bincount(bundle_category, sizes, N_CATEGORIES)
    brands_per_category = np.maximum(3, np.round(items_per_category / 40)).astype(int)
    brand_offset = np.concatenate([[0], np.cumsum(brands_per_category)[:-1]])
    bundle_brand = brand_offset[bundle_category] + (
        brands_per_category[bundle_category] * rng.random(n_bundles) ** 2
    ).astype(np.int64)

    bundle = np.repeat(np.arange(n_bundles), sizes)
    bundle_start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    position = np.arange(n_items) - bundle_start[bundle]
    category = bundle_category[bundle]
    popularity = (
        bundle_popularity[bundle]
        * (position + 1.0) ** -0.8
        * rng.lognormal(0.0, 0.25, n_items)
    )
    price = (
        base_price[category]
        * price_level[bundle]
        * np.where(position == 0, 1.0, 0.4)
        * rng.lognormal(0.0, 0.35, n_items)
    )
    price_cents = np.maximum(99, np.round(price) * 100 - 1).astype(np.int64)
    other_brand = brand_offset[category] + (
        brands_per_category[category] * rng.random(n_items)
    ).astype(np.int64)
    brand = np.where(rng.random(n_items) < 0.75, bundle_brand[bundle], other_brand)

    taste = np.array([0.0, 1.0, -1.0])[:, None]
    bundle_weights = bundle_popularity[None, :] * price_level[None, :] ** (
        PRICE_TASTE_STRENGTH * taste
    )
    item_weights = popularity[None, :] * (price / base_price[category]) ** (
        PRICE_TASTE_STRENGTH * taste
    )
    popularity_cdf = np.cumsum(popularity) / popularity.sum()
    popularity_cdf[-1] = 1.0

    log.info(
        "catalog: %d items in %d bundles, %d categories, %d brands",
        n_items,
        n_bundles,
        N_CATEGORIES,
        int(brands_per_category.sum()),
    )
    return _Catalog(
        category=category,
        price_cents=price_cents,
        brand=brand,
        item_number=rng.permutation(n_items),
        bundle_start=bundle_start,
        bundle_size=sizes,
        bundle_cdf=_segmented_cdf(bundle_weights, bundle_category, N_CATEGORIES),
        item_cdf=_segmented_cdf(item_weights, category, N_CATEGORIES),
        popularity_cdf=popularity_cdf,
        brand_names=_brand_names(int(brands_per_category.sum())),
    )


def _taste_group(persona: np.ndarray) -> np.ndarray:
    """0 neutral, 1 prefers expensive items, 2 prefers cheap items."""
    return _persona_values("price_taste")[persona] % 3


def _affinity_draw(
    user: np.ndarray, users: _Users, rng: np.random.Generator
) -> np.ndarray:
    slot = np.searchsorted([0.6, 0.9], rng.random(len(user)), side="right")
    slot = np.minimum(slot, users.affinity_count[user] - 1)
    return users.affinity[user, slot]


def _build_users(
    n_users: int,
    month_bounds: np.ndarray,
    calendar_month: np.ndarray,
    catalog: _Catalog,
    rng: np.random.Generator,
) -> _Users:
    n_months = len(calendar_month)
    month_weight = (
        MONTHLY_ACQUISITION_GROWTH ** np.arange(n_months)
        * np.array(ACQUISITION_SEASON)[calendar_month]
    )
    month = rng.choice(n_months, size=n_users, p=month_weight / month_weight.sum())
    signup_span = np.diff(month_bounds)
    signup_span[-1] -= 2 * HOUR
    signup_at = month_bounds[month] + (rng.random(n_users) * signup_span[month]).astype(
        np.int64
    )
    signup_at = np.sort(signup_at)
    month = np.searchsorted(month_bounds, signup_at, side="right") - 1

    persona = rng.choice(
        len(_PERSONAS), size=n_users, p=_persona_values("share")
    ).astype(np.int8)
    country = rng.choice(
        len(_COUNTRIES), size=n_users, p=[c[1] for c in _COUNTRIES]
    ).astype(np.int8)

    channel_weight = np.tile([c[1] for c in _CHANNELS], (n_months, 1))
    channel_weight[:, PAID_SOCIAL] *= 1 + PAID_SOCIAL_GROWTH * np.arange(
        n_months
    ) / max(n_months - 1, 1)
    channel_cdf = np.cumsum(channel_weight, axis=1)
    channel_cdf /= channel_cdf[:, -1:]
    channel = (rng.random(n_users)[:, None] >= channel_cdf[month]).sum(axis=1)
    channel = channel.astype(np.int8)

    channel_effect = np.array([c[2] for c in _CHANNELS])[channel]
    engagement = rng.lognormal(-0.18, 0.6, n_users) * channel_effect
    drift = rng.normal(-0.02, 0.035, n_users)

    affinity_count = rng.choice([1, 2, 3], size=n_users, p=[0.45, 0.35, 0.2])
    shares = np.array([c.share for c in _CATEGORIES])
    preference = np.log(shares)[None, :] + rng.gumbel(size=(n_users, N_CATEGORIES))
    affinity = np.argsort(-preference, axis=1)[:, :3].astype(np.int16)

    bundle_count = 1 + np.minimum(rng.poisson(1.6, n_users), 5)
    bundle_offset = np.concatenate([[0], np.cumsum(bundle_count)])
    owner = np.repeat(np.arange(n_users), bundle_count)
    users = _Users(
        signup_at=signup_at,
        persona=persona,
        engagement=engagement,
        drift=drift,
        country=country,
        channel=channel,
        affinity=affinity,
        affinity_count=affinity_count,
        bundle_offset=bundle_offset,
        bundles=np.empty(0, dtype=np.int64),
    )
    bundle_category = _affinity_draw(owner, users, rng)
    key = _taste_group(persona[owner]) * N_CATEGORIES + bundle_category
    n_bundles = len(catalog.bundle_start)
    users.bundles = (
        np.searchsorted(catalog.bundle_cdf, key + rng.random(len(owner)), side="right")
        % n_bundles
    )
    log.info(
        "users: %d signed up over %d months, personas %s",
        n_users,
        n_months,
        dict(
            zip(
                [p.name for p in _PERSONAS],
                np.bincount(persona, minlength=5).tolist(),
                strict=True,
            )
        ),
    )
    return users


def _weekly_sessions(
    users: _Users, start_s: int, end_s: int, rng: np.random.Generator
) -> np.ndarray:
    """Sessions per week (rows) and user (columns) from the churn process."""
    n_users = len(users.signup_at)
    n_weeks = -(-(end_s - start_s) // WEEK)
    signup_week = (users.signup_at - start_s) // WEEK
    signup_week_left = 1 - ((users.signup_at - start_s) % WEEK) / WEEK
    week_middle = start_s + np.arange(n_weeks) * WEEK + WEEK // 2
    week_calendar_month = pd.to_datetime(week_middle, unit="s").month.to_numpy() - 1
    season = np.array(ACTIVITY_SEASON)[week_calendar_month]
    base_rate = _persona_values("weekly_sessions")[users.persona] * users.engagement
    churn_logit = _persona_values("churn_logit")[users.persona]
    comeback_rate = _persona_values("comeback_rate")[users.persona]

    counts = np.zeros((n_weeks, n_users), dtype=np.uint8)
    recent = np.zeros((8, n_users), dtype=np.uint8)
    active = np.zeros(n_users, dtype=bool)
    log_fatigue = np.zeros(n_users)
    comeback_week = np.full(n_users, -1, dtype=np.int64)
    lifetime_sessions = np.zeros(n_users, dtype=np.int64)
    for week in range(n_weeks):
        joining = np.flatnonzero(signup_week == week)
        returning = np.flatnonzero(comeback_week == week)
        opening = np.concatenate([joining, returning])
        active[opening] = True
        log_fatigue[joining] = 0.0
        log_fatigue[returning] = np.log(rng.uniform(0.5, 1.0, len(returning)))
        recent[:, opening] = 0

        now = np.flatnonzero(active)
        rate = base_rate[now] * np.exp(log_fatigue[now]) * season[week]
        just_joined = signup_week[now] == week
        rate[just_joined] *= signup_week_left[now[just_joined]]
        sessions = rng.poisson(np.minimum(rate, MAX_WEEKLY_SESSIONS))
        counts[week, now] = sessions
        counts[week, opening] = np.maximum(counts[week, opening], 1)
        recent[week % 8] = counts[week]

        last_weeks = [(week - lag) % 8 for lag in range(4)]
        earlier_weeks = [(week - lag) % 8 for lag in range(4, 8)]
        last4 = np.log1p(recent[last_weeks][:, now].sum(axis=0, dtype=np.int64))
        earlier4 = np.log1p(recent[earlier_weeks][:, now].sum(axis=0, dtype=np.int64))
        lifetime_sessions[now] += counts[week, now]
        logit = (
            churn_logit[now]
            - SESSION_EFFECT * last4
            - HABIT_EFFECT * np.log1p(lifetime_sessions[now])
            + DECLINE_EFFECT * np.maximum(earlier4 - last4, 0.0)
            + NEW_USER_EFFECT * (week - signup_week[now] < 4)
        )
        stopping = now[rng.random(len(now)) < 1.0 / (1.0 + np.exp(-logit))]
        active[stopping] = False
        coming_back = stopping[rng.random(len(stopping)) < comeback_rate[stopping]]
        comeback_week[stopping] = -1
        comeback_week[coming_back] = week + 5 + rng.geometric(1 / 8, len(coming_back))

        log_fatigue[now] += users.drift[now] + rng.normal(0, FATIGUE_NOISE, len(now))
        np.clip(log_fatigue, -3.0, 0.7, out=log_fatigue)
    return counts


def _sessions(
    users: _Users, start_s: int, end_s: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Session user, start (epoch seconds) and rank within the user, by user, time."""
    counts = _weekly_sessions(users, start_s, end_s, rng)
    week, user = np.nonzero(counts)
    repeats = counts[week, user]
    session_user = np.repeat(user, repeats)
    session_week = np.repeat(week, repeats).astype(np.int64)
    del counts, week, user, repeats
    n_sessions = len(session_user)

    hour_cdf = np.cumsum(SESSION_HOUR_WEIGHTS) / np.sum(SESSION_HOUR_WEIGHTS)
    hour_cdf[-1] = 1.0
    offset = np.array([c[2] * 60 for c in _COUNTRIES])[users.country[session_user]]
    week_start = start_s + session_week * WEEK
    at = (
        week_start
        + rng.integers(0, 7, n_sessions) * DAY
        + np.searchsorted(hour_cdf, rng.random(n_sessions), side="right") * HOUR
        + rng.integers(0, HOUR, n_sessions)
        - offset
    )

    signup = users.signup_at[session_user]
    in_signup_week = session_week == (signup - start_s) // WEEK
    first_of_week = np.ones(n_sessions, dtype=bool)
    first_of_week[1:] = (session_user[1:] != session_user[:-1]) | (
        session_week[1:] != session_week[:-1]
    )
    opening = in_signup_week & first_of_week
    later_span = np.maximum(week_start + WEEK - signup - HOUR, HOUR)
    later = signup + HOUR + (rng.random(n_sessions) * later_span).astype(np.int64)
    at = np.where(in_signup_week, later, np.maximum(at, signup + HOUR))
    at = np.where(opening, signup + rng.integers(0, 300, n_sessions), at)

    kept = at < end_s
    session_user, at = session_user[kept], at[kept]
    order = np.lexsort((at, session_user))
    session_user, at = session_user[order], at[order]
    rank = _rank_within(session_user)
    log.info("sessions: %d for %d users", len(at), len(np.unique(session_user)))
    return session_user, at, rank


def _rank_within(group: np.ndarray) -> np.ndarray:
    """Position of each row within its run of equal, adjacent group values."""
    n = len(group)
    starts = np.ones(n, dtype=bool)
    starts[1:] = group[1:] != group[:-1]
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    return np.arange(n) - first


def _view_items(
    view_session: np.ndarray,
    session_user: np.ndarray,
    focus_bundle: np.ndarray,
    users: _Users,
    catalog: _Catalog,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Item of each view and whether it came from the session's focus bundle.

    A view shows an item of the session's focus bundle (55%), an item of one of
    the user's favourite categories at the user's price taste (35%), or an item
    drawn by overall popularity (10%).
    """
    n_views = len(view_session)
    source = np.searchsorted([0.55, 0.9], rng.random(n_views), side="right")
    item = np.empty(n_views, dtype=np.int32)

    from_focus = np.flatnonzero(source == 0)
    bundle = focus_bundle[view_session[from_focus]]
    position = catalog.bundle_size[bundle] * rng.random(len(from_focus)) ** 1.4
    item[from_focus] = catalog.bundle_start[bundle] + position.astype(np.int64)

    from_category = np.flatnonzero(source == 1)
    user = session_user[view_session[from_category]]
    key = _taste_group(users.persona[user]) * N_CATEGORIES + _affinity_draw(
        user, users, rng
    )
    drawn = np.searchsorted(
        catalog.item_cdf, key + rng.random(len(from_category)), side="right"
    )
    item[from_category] = drawn % len(catalog.category)

    from_popular = np.flatnonzero(source == 2)
    item[from_popular] = np.searchsorted(
        catalog.popularity_cdf, rng.random(len(from_popular)), side="right"
    )
    return item, source == 0


def _within_session(flags: np.ndarray, first_row: np.ndarray) -> np.ndarray:
    """Count of earlier flagged rows in the same session, for every row."""
    before = np.cumsum(flags, dtype=np.int32) - flags
    return before - before[first_row]


def _session_events(
    session_user: np.ndarray,
    session_at: np.ndarray,
    session_rank: np.ndarray,
    users: _Users,
    catalog: _Catalog,
    rng: np.random.Generator,
) -> _Events:
    """Events of every session, in order.

    A session is an optional login, then views, each maybe followed at once by an
    add_to_cart of the same item, then at checkout one purchase per bought cart.
    """
    n_sessions = len(session_user)
    persona = users.persona[session_user]
    n_views = np.minimum(
        1 + rng.poisson(_persona_values("extra_views")[persona]), MAX_VIEWS_PER_SESSION
    )
    has_login = (
        rng.random(n_sessions) < _persona_values("login_rate")[persona]
    ).astype(np.int32)
    bundle_count = np.diff(users.bundle_offset)[session_user]
    focus_bundle = users.bundles[
        users.bundle_offset[session_user]
        + (rng.random(n_sessions) * bundle_count).astype(np.int64)
    ]
    view_session = np.repeat(np.arange(n_sessions, dtype=np.int32), n_views)
    first_view = (np.cumsum(n_views) - n_views)[view_session]
    item, from_focus = _view_items(
        view_session, session_user, focus_bundle, users, catalog, rng
    )
    n_view_rows = len(view_session)

    view_persona = persona[view_session]
    one_time_first_session = (persona == ONE_TIME_BUYER) & (session_rank == 0)
    in_first_purchase_session = one_time_first_session[view_session]
    cart_rate = _persona_values("cart_rate")[view_persona] * np.where(
        from_focus, 1.6, 0.5
    )
    cart_rate[in_first_purchase_session] = FIRST_SESSION_CART_RATE
    carted = rng.random(n_view_rows) < cart_rate
    del cart_rate
    cart_rows = np.flatnonzero(carted)
    cart_persona = view_persona[cart_rows]
    buy_rate = _persona_values("buy_rate")[cart_persona]
    buy_rate[in_first_purchase_session[cart_rows]] = FIRST_SESSION_BUY_RATE
    bought_carts = np.flatnonzero(rng.random(len(cart_rows)) < buy_rate)
    purchase_rows = cart_rows[bought_carts]
    bought = np.zeros(n_view_rows, dtype=bool)
    bought[purchase_rows] = True

    multiple = (
        rng.random(len(cart_rows))
        < _persona_values("multi_quantity_rate")[cart_persona]
    )
    extra = np.minimum(rng.geometric(0.65, len(cart_rows)), 4)
    cart_quantity = np.where(multiple, 1 + extra, 1).astype(np.int8)
    purchase_quantity = cart_quantity[bought_carts]
    discounted = (
        rng.random(len(purchase_rows))
        < _persona_values("discount_rate")[cart_persona[bought_carts]]
    )
    discount = np.where(discounted, rng.integers(1, 7, len(purchase_rows)) * 0.05, 0.0)
    revenue_cents = np.round(
        catalog.price_cents[item[purchase_rows]] * purchase_quantity * (1.0 - discount)
    ).astype(np.int64)

    n_carts = np.bincount(view_session[cart_rows], minlength=n_sessions)
    n_purchases = np.bincount(view_session[purchase_rows], minlength=n_sessions)
    size = has_login + n_views + n_carts + n_purchases
    offset = np.cumsum(size) - size
    view_slot = (
        offset[view_session]
        + has_login[view_session]
        + (np.arange(n_view_rows) - first_view)
        + _within_session(carted, first_view)
    )
    cart_slot = view_slot[cart_rows] + 1
    purchase_session = view_session[purchase_rows]
    purchase_slot = (
        offset[purchase_session]
        + has_login[purchase_session]
        + n_views[purchase_session]
        + n_carts[purchase_session]
        + _within_session(bought, first_view)[purchase_rows]
    )
    del carted, bought, first_view

    n_events = int(size.sum())
    event_session = np.repeat(np.arange(n_sessions, dtype=np.int32), size)
    kind = np.full(n_events, LOGIN, dtype=np.int8)
    event_item = np.full(n_events, -1, dtype=np.int32)
    quantity = np.zeros(n_events, dtype=np.int8)
    revenue = np.zeros(n_events, dtype=np.int64)
    kind[view_slot] = VIEW
    event_item[view_slot] = item
    quantity[view_slot] = 1
    kind[cart_slot] = ADD_TO_CART
    event_item[cart_slot] = item[cart_rows]
    quantity[cart_slot] = cart_quantity
    kind[purchase_slot] = PURCHASE
    event_item[purchase_slot] = item[purchase_rows]
    quantity[purchase_slot] = purchase_quantity
    revenue[purchase_slot] = revenue_cents
    del view_slot, cart_slot, purchase_slot, item

    elapsed = _elapsed_in_session(kind, event_session, rng)
    return _Events(
        user=session_user[event_session].astype(np.int32),
        at=session_at[event_session] + elapsed,
        kind=kind,
        item=event_item,
        quantity=quantity,
        revenue_cents=revenue,
        refunded=np.zeros(n_events, dtype=bool),
    )


def _elapsed_in_session(
    kind: np.ndarray, event_session: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Seconds from the session start to each event; gaps stay under 20 minutes."""
    n_events = len(kind)
    gap = np.zeros(n_events, dtype=np.float32)
    is_view = np.flatnonzero(kind == VIEW)
    gap[is_view] = 8 + 55 * rng.standard_exponential(len(is_view), dtype=np.float32)
    is_cart = np.flatnonzero(kind == ADD_TO_CART)
    gap[is_cart] = 3 + 12 * rng.standard_exponential(len(is_cart), dtype=np.float32)
    is_purchase = kind == PURCHASE
    checkout = is_purchase.copy()
    checkout[1:] &= ~is_purchase[:-1]
    line_item = np.flatnonzero(is_purchase & ~checkout)
    checkout = np.flatnonzero(checkout)
    gap[checkout] = 25 + 80 * rng.standard_exponential(len(checkout), dtype=np.float32)
    gap[line_item] = rng.integers(1, 4, len(line_item))
    np.minimum(gap, MAX_GAP_IN_SESSION, out=gap)
    session_start = np.ones(n_events, dtype=bool)
    session_start[1:] = event_session[1:] != event_session[:-1]
    gap[session_start] = 0
    elapsed = np.cumsum(gap.astype(np.int64))
    elapsed -= np.maximum.accumulate(np.where(session_start, elapsed, 0))
    return elapsed


def _with_refunds(
    events: _Events, users: _Users, end_s: int, rng: np.random.Generator
) -> _Events:
    purchases = np.flatnonzero(events.kind == PURCHASE)
    rate = _persona_values("refund_rate")[users.persona[events.user[purchases]]]
    refunded = purchases[rng.random(len(purchases)) < rate]
    delay = DAY + np.minimum(rng.exponential(6.0 * DAY, len(refunded)), 44 * DAY)
    refund_at = events.at[refunded] + delay.astype(np.int64)
    in_history = refund_at < end_s
    refunded, refund_at = refunded[in_history], refund_at[in_history]
    events.refunded[refunded] = True
    return _Events(
        user=np.concatenate([events.user, events.user[refunded]]),
        at=np.concatenate([events.at, refund_at]),
        kind=np.concatenate([events.kind, np.full(len(refunded), REFUND, np.int8)]),
        item=np.concatenate([events.item, events.item[refunded]]),
        quantity=np.concatenate([events.quantity, events.quantity[refunded]]),
        revenue_cents=np.concatenate(
            [events.revenue_cents, events.revenue_cents[refunded]]
        ),
        refunded=np.concatenate([events.refunded, np.zeros(len(refunded), bool)]),
    )


def _time_ordered(events: _Events, start_s: int, end_s: int) -> _Events:
    kept = np.flatnonzero(events.at < end_s)
    user_bits = int(events.user.max(initial=0)).bit_length()
    time_bits = int(end_s - start_s).bit_length()
    if user_bits + time_bits <= 62:
        key = ((events.at[kept] - start_s) << user_bits) | events.user[kept]
        order = kept[np.argsort(key, kind="stable")]
    else:
        order = kept[np.lexsort((events.user[kept], events.at[kept]))]
    names = [column.name for column in dataclasses.fields(_Events)]
    return _Events(**{name: getattr(events, name)[order] for name in names})


def _simulate(
    n_users: int, n_items: int, seed: int, start: str, months: int
) -> tuple[_Events, _Users, _Catalog]:
    month_bounds, calendar_month = _history_bounds(start, months)
    start_s, end_s = int(month_bounds[0]), int(month_bounds[-1])
    catalog = _build_catalog(n_items, _rng(seed, 1))
    users = _build_users(n_users, month_bounds, calendar_month, catalog, _rng(seed, 2))
    session_user, session_at, session_rank = _sessions(
        users, start_s, end_s, _rng(seed, 3)
    )
    events_rng = _rng(seed, 4)
    events = _session_events(
        session_user, session_at, session_rank, users, catalog, events_rng
    )
    events = _with_refunds(events, users, end_s, events_rng)
    events = _time_ordered(events, start_s, end_s)
    counts = np.bincount(events.kind, minlength=5)
    log.info(
        "events: %d (login %d, view %d, add_to_cart %d, purchase %d, refund %d)",
        len(events.kind),
        *counts.tolist(),
    )
    return events, users, catalog


def default_items(n_users: int) -> int:
    return max(MIN_ITEMS, round(n_users / USERS_PER_ITEM))


def users_for_events(
    n_events: int, seed: int = 42, start: str = "2024-01-01", months: int = 18
) -> int:
    """Number of users whose generated history holds about ``n_events`` events."""
    events, _, _ = _simulate(
        PILOT_USERS, default_items(PILOT_USERS), seed, start, months
    )
    events_per_user = len(events.kind) / PILOT_USERS
    n_users = max(1, round(n_events / events_per_user))
    log.info(
        "%.1f events per user in a pilot: %d users for %d events",
        events_per_user,
        n_users,
        n_events,
    )
    return n_users


def _pick_dirty_rows(
    kind: np.ndarray, refunded: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    n_rows = len(kind)
    per_kind = max(DIRTY_MIN_PER_KIND, round(DIRTY_SHARE_PER_KIND * n_rows))

    view_kinds = DIRTY_KINDS[:8]
    view_counts = [
        FAR_FUTURE_ROWS if name == "event_at_far_future" else per_kind
        for name in view_kinds
    ]
    views = np.flatnonzero(kind == VIEW)
    picked = rng.choice(views, size=min(sum(view_counts), len(views)), replace=False)
    rows = dict(
        zip(view_kinds, np.split(picked, np.cumsum(view_counts)[:-1]), strict=True)
    )
    money_kinds = DIRTY_KINDS[8:11]
    money = np.flatnonzero((kind == PURCHASE) & ~refunded)
    picked_money = rng.choice(
        money, size=min(len(money_kinds) * per_kind, len(money)), replace=False
    )
    split_at = np.arange(1, len(money_kinds)) * per_kind
    rows.update(zip(money_kinds, np.split(picked_money, split_at), strict=True))
    reused = rows["event_id_reused"]
    dirty = np.concatenate([picked, picked_money])
    rows["event_id_reused"] = reused[(reused > 0) & ~np.isin(reused - 1, dirty)]

    taken = np.zeros(n_rows, dtype=bool)
    taken[picked] = True
    taken[picked_money] = True
    taken[rows["event_id_reused"] - 1] = True
    clean = np.flatnonzero(~taken)
    rows["row_duplicated"] = rng.choice(
        clean, size=min(per_kind, len(clean)), replace=False
    )
    return {name: np.sort(rows[name]) for name in DIRTY_KINDS}


@functools.cache
def _digit_table(width: int) -> np.ndarray:
    return np.array([f"{i:0{width}d}" for i in range(10**width)], dtype=f"S{width}")


@functools.cache
def _clock_table() -> np.ndarray:
    seconds = np.arange(DAY)
    return np.char.add(
        np.char.add(_digit_table(2)[seconds // HOUR], b":"),
        np.char.add(
            np.char.add(_digit_table(2)[seconds // 60 % 60], b":"),
            _digit_table(2)[seconds % 60],
        ),
    )


def _decimal_parts(values: np.ndarray, width: int) -> list[np.ndarray]:
    """Zero-padded decimal text of ``values`` as byte-string columns, left first."""
    parts = []
    remaining = values.astype(np.int64)
    for _ in range(width // 4):
        remaining, low = np.divmod(remaining, 10_000)
        parts.append(_digit_table(4)[low])
    if width % 4:
        parts.append(_digit_table(width % 4)[remaining])
    return parts[::-1]


def _joined_text(
    parts: list[np.ndarray | bytes],
    n_rows: int,
    valid: np.ndarray | None = None,
    trim: bool = False,
) -> pa.Array:
    """Arrow strings made by joining fixed-width byte-string columns row by row.

    With ``trim`` the trailing spaces used as padding are cut; rows where
    ``valid`` is False are nulls.
    """
    layout = np.dtype(
        [
            (
                f"part{i}",
                part.dtype if isinstance(part, np.ndarray) else f"S{len(part)}",
            )
            for i, part in enumerate(parts)
        ]
    )
    rows = np.empty(n_rows, dtype=layout)
    for i, part in enumerate(parts):
        rows[f"part{i}"] = part
    width = layout.itemsize
    offsets = np.arange(0, (n_rows + 1) * width, width, dtype=np.int64)
    bitmap, null_count = None, 0
    if valid is not None and not valid.all():
        bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
        null_count = int(n_rows - valid.sum())
    text = pa.LargeStringArray.from_buffers(
        n_rows,
        pa.py_buffer(offsets),
        pa.py_buffer(rows.view(np.uint8)),
        bitmap,
        null_count,
    )
    return pc.utf8_rtrim(text, " ") if trim else text


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    parts = [prefix.encode(), *_decimal_parts(numbers, width)]
    return _joined_text(parts, len(numbers))


def _id_width(n: int, minimum: int) -> int:
    return max(minimum, len(str(max(n - 1, 0))))


def _timestamps(
    at: np.ndarray, style: np.ndarray, country: np.ndarray, state: np.ndarray
) -> pa.Array:
    """ISO-8601 text for epoch seconds.

    ``style`` 0 gives "...Z", 1 "YYYY-MM-DD HH:MM:SS" and 2 the local time with the
    country's offset. ``state`` 1 writes "not a date", 2 leaves the value empty and
    3 moves the year to 2099.
    """
    offset_minutes = np.array([c[2] for c in _COUNTRIES])[country]
    local = at + np.where(style == 2, offset_minutes * 60, 0)
    days = local // DAY
    first_day = int(days.min(initial=0))
    last_day = int(days.max(initial=0))
    calendar = np.arange(first_day, last_day + 1).astype("datetime64[D]")
    date = np.datetime_as_string(calendar).astype("S10")[days - first_day]
    separator = np.where(style == 1, b" ", b"T")
    clock = _clock_table()[local - days * DAY]
    suffixes = [b"Z", b""] + [
        f"{'-' if m < 0 else '+'}{abs(m) // 60:02d}:{abs(m) % 60:02d}".encode()
        for _, _, m in _COUNTRIES
    ]
    suffix_table = np.array([s.ljust(6) for s in suffixes], dtype="S6")
    suffix = suffix_table[np.where(style == 2, 2 + country.astype(np.int64), style)]

    far_future = np.flatnonzero(state == 3)
    date[far_future] = [
        b"2099" + value[4:].replace(b"-02-29", b"-02-28") for value in date[far_future]
    ]
    unparseable = state == 1
    date[unparseable] = b"not a date"
    separator[unparseable] = b" "
    clock[unparseable] = b" " * 8
    suffix[unparseable] = b" " * 6
    parts = [date, separator, clock, suffix]
    return _joined_text(parts, len(at), valid=state != 2, trim=True)


def _money(cents: np.ndarray, state: np.ndarray) -> pa.Array:
    """Decimal text; ``state`` 1 negates, 2 writes "abc", 3 uses a decimal comma."""
    whole = pc.cast(pa.array(cents // 100), pa.string())
    fraction = pc.utf8_lpad(pc.cast(pa.array(cents % 100), pa.string()), 2, "0")
    separator = pa.array(np.where(state == 3, ",", "."))
    sign = pa.array(np.where(state == 1, "-", ""))
    text = pc.binary_join_element_wise(sign, whole, separator, fraction, "")
    return pc.if_else(pa.array(state == 2), pa.scalar("abc"), text)


def _events_frame(
    events: _Events,
    users: _Users,
    catalog: _Catalog,
    dirty: bool,
    seed: int,
) -> tuple[pd.DataFrame, dict[str, int]]:
    n_rows = len(events.kind)
    n_users = len(users.signup_at)
    style_rng = _rng(seed, 5)
    style = np.searchsorted(
        np.cumsum(EVENT_AT_STYLE_SHARES)[:-1], style_rng.random(n_rows), side="right"
    )
    raw_type = events.kind.astype(np.int8)
    for canonical, variant, share in RAW_TYPE_VARIANTS:
        chosen = (events.kind == canonical) & (style_rng.random(n_rows) < share)
        raw_type[chosen] = variant

    event_number = np.arange(n_rows, dtype=np.int64)
    user_code = events.user.astype(np.int64)
    at_state = np.zeros(n_rows, dtype=np.int8)
    money_state = np.zeros(n_rows, dtype=np.int8)
    injected = dict.fromkeys(DIRTY_KINDS, 0)
    row = np.arange(n_rows)
    if dirty:
        dirty_rows = _pick_dirty_rows(events.kind, events.refunded, _rng(seed, 6))
        injected = {name: len(rows) for name, rows in dirty_rows.items()}
        user_code[dirty_rows["user_id_missing"]] = -1
        user_code[dirty_rows["user_id_blank"]] = n_users
        user_code[dirty_rows["user_id_null_text"]] = n_users + 1
        at_state[dirty_rows["event_at_unparseable"]] = 1
        at_state[dirty_rows["event_at_missing"]] = 2
        at_state[dirty_rows["event_at_far_future"]] = 3
        raw_type[dirty_rows["event_type_unknown"]] = UNKNOWN_EVENT_TYPE
        reused = dirty_rows["event_id_reused"]
        event_number[reused] = event_number[reused - 1]
        money_state[dirty_rows["revenue_negative"]] = 1
        money_state[dirty_rows["revenue_not_numeric"]] = 2
        money_state[dirty_rows["revenue_decimal_comma"]] = 3
        row = np.sort(np.concatenate([row, dirty_rows["row_duplicated"]]))
        log.info(
            "dirty rows: %d injected (%.2f%% of rows) %s",
            sum(injected.values()),
            100 * sum(injected.values()) / n_rows,
            injected,
        )

    user_vocabulary = pa.concat_arrays(
        [
            _ids("u", np.arange(n_users), _id_width(n_users, 7)),
            pa.array(["  ", "NULL"], pa.large_string()),
        ]
    )
    user_code = user_code[row]
    item_vocabulary = _ids(
        "i", catalog.item_number, _id_width(len(catalog.category), 5)
    )
    item = events.item[row]
    kind = events.kind[row]
    quantity = events.quantity[row]
    money_rows = np.flatnonzero((kind == PURCHASE) | (kind == REFUND))
    money_index = np.full(len(row), -1, dtype=np.int64)
    money_index[money_rows] = np.arange(len(money_rows))
    money = _money(events.revenue_cents[row][money_rows], money_state[row][money_rows])

    columns = {
        "event_id": _ids("e", event_number[row], _id_width(n_rows, 9)),
        "user_id": pc.take(user_vocabulary, pa.array(user_code, mask=user_code < 0)),
        "event_at": _timestamps(
            events.at[row], style[row], users.country[events.user[row]], at_state[row]
        ),
        "event_type": pc.take(
            pa.array(RAW_EVENT_TYPES, pa.large_string()), pa.array(raw_type[row])
        ),
        "item_id": pc.take(item_vocabulary, pa.array(item, mask=item < 0)),
        "quantity": pc.take(
            pa.array([str(q) for q in range(6)], pa.large_string()),
            pa.array(quantity, mask=quantity == 0),
        ),
        "revenue": pc.take(money, pa.array(money_index, mask=money_index < 0)),
    }
    frame = pa.table(columns).to_pandas()
    return frame, injected


def _users_frame(users: _Users) -> pd.DataFrame:
    n_users = len(users.signup_at)
    signed_up_at = _timestamps(
        users.signup_at,
        np.zeros(n_users, dtype=np.int64),
        users.country,
        np.zeros(n_users, dtype=np.int8),
    )
    return pa.table(
        {
            "user_id": _ids("u", np.arange(n_users), _id_width(n_users, 7)),
            "signed_up_at": signed_up_at,
            "country": pc.take(
                pa.array([c[0] for c in _COUNTRIES]), pa.array(users.country)
            ),
            "acquisition_channel": pc.take(
                pa.array([c[0] for c in _CHANNELS]), pa.array(users.channel)
            ),
        }
    ).to_pandas()


def _items_frame(catalog: _Catalog) -> pd.DataFrame:
    order = np.argsort(catalog.item_number)
    n_items = len(order)
    return pa.table(
        {
            "item_id": _ids("i", catalog.item_number[order], _id_width(n_items, 5)),
            "category": pc.take(
                pa.array([c.name for c in _CATEGORIES]),
                pa.array(catalog.category[order]),
            ),
            "brand": pc.take(
                pa.array(catalog.brand_names), pa.array(catalog.brand[order])
            ),
            "price": catalog.price_cents[order] / 100,
        }
    ).to_pandas()


def generate(
    n_users: int,
    seed: int = 42,
    start: str = "2024-01-01",
    months: int = 18,
    n_items: int | None = None,
    dirty: bool = True,
) -> Dataset:
    if n_users < 1:
        raise ValueError(f"n_users must be at least 1, got {n_users}")
    if months < 1:
        raise ValueError(f"months must be at least 1, got {months}")
    n_items = default_items(n_users) if n_items is None else n_items
    if n_items < MIN_ITEMS:
        raise ValueError(
            f"n_items must be at least {MIN_ITEMS} so that every one of the "
            f"{N_CATEGORIES} categories holds whole bundles, got {n_items}"
        )
    events, users, catalog = _simulate(n_users, n_items, seed, start, months)
    events_frame, injected = _events_frame(events, users, catalog, dirty, seed)
    return Dataset(
        events=events_frame,
        users=_users_frame(users),
        items=_items_frame(catalog),
        injected=injected,
    )


def _write_csv_gz(frame: pd.DataFrame, path: Path) -> None:
    """Gzip with a zero timestamp and no file name, so equal frames give equal bytes."""
    with (
        path.open("wb") as raw,
        gzip.GzipFile(
            filename="", mode="wb", compresslevel=6, fileobj=raw, mtime=0
        ) as zipped,
        io.TextIOWrapper(zipped, encoding="utf-8", newline="") as text,
    ):
        frame.to_csv(text, index=False, lineterminator="\n", chunksize=500_000)


def write(dataset: Dataset, out_dir: Path, fmt: str) -> list[Path]:
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {"events": dataset.events, "users": dataset.users, "items": dataset.items}
    paths = []
    for name, frame in tables.items():
        if fmt == "parquet":
            path = out_dir / f"{name}.parquet"
            table = pa.Table.from_pandas(frame, preserve_index=False)
            pq.write_table(table, path, compression="zstd")
        elif name == "events":
            path = out_dir / "events.csv.gz"
            _write_csv_gz(frame, path)
        else:
            path = out_dir / f"{name}.csv"
            frame.to_csv(path, index=False, lineterminator="\n")
        log.info("wrote %s: %d rows, %d bytes", path, len(frame), path.stat().st_size)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m ulm.sample",
        description="Write deterministic synthetic users, items and raw events.",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--users", type=int, help=f"default {SAMPLE_USERS}")
    size.add_argument(
        "--events", type=int, help="approximate event count; picks users and items"
    )
    parser.add_argument("--items", type=int, help="default: one item per 10 users")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--start", default="2024-01-01")
    parser.add_argument("--months", type=int, default=18)
    parser.add_argument("--format", choices=FORMATS, default="csv.gz")
    parser.add_argument("--out", type=Path, default=Path("data/sample"))
    parser.add_argument(
        "--clean", action="store_true", help="leave out the deliberately broken rows"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        pd.Timestamp(args.start)
    except ValueError:
        parser.error(f"--start must be a date such as 2024-01-01, got {args.start!r}")
    try:
        if args.events is not None:
            n_users = users_for_events(args.events, args.seed, args.start, args.months)
        else:
            n_users = SAMPLE_USERS if args.users is None else args.users
        dataset = generate(
            n_users,
            seed=args.seed,
            start=args.start,
            months=args.months,
            n_items=args.items,
            dirty=not args.clean,
        )
    except ValueError as error:
        parser.error(str(error))
    write(dataset, args.out, args.format)


if __name__ == "__main__":
    main()
