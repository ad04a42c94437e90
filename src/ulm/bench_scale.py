"""Scale benchmark: the whole dbt build, and its floors, at growing event counts.

For each event count the benchmark generates events with ``ulm.sample``
(Parquet), runs the full ``dbt build`` (every model and test) into a warehouse
of its own, and on the same data measures two floors:

- a hand-written DuckDB SQL script (``FLOOR_SQL``) that reads the same raw file,
  types, cleans and deduplicates it minimally the way staging does, and computes
  the RFM values and scores and the activity features of ``fct_user_rfm`` and
  ``fct_user_activity``; its output is checked against the marts, user by user;
- the ``implicit`` library's item-item cosine recommender (optional extra
  ``bench``), fitted and asked for the top 10 of every user on the very user x
  item matrix ulm builds, beside ulm's own item CF on that matrix.

Measurements:

- wall seconds of the dbt process, from start to exit (parsing included);
- peak RSS: the largest sum of VmRSS over the dbt process and its descendants,
  polled from /proc every ``POLL_SECONDS``; ``ru_maxrss`` of the dbt process
  from ``os.wait4`` (the exact peak of the largest single process) is reported
  beside it;
- the peak size of DuckDB's temp directory during the build (spilled data);
- per-node execution times from ``target/run_results.json``; the report sums
  those of the SQL models upstream of fct_user_rfm and fct_user_activity
  (themselves included, read from the manifest's parent map). dbt runs up to
  ``threads`` nodes at once, so a node's time includes waiting for cores a
  concurrent node holds;
- "feature SQL alone": the same models (and the seeds they read) built by
  themselves, right after, into an empty warehouse of their own: dbt's own
  elapsed time of that run. Like the floor, it has the machine to itself, so
  this is the figure set against the floor;
- the load average of the machine before each phase, since timings on a
  shared machine are only as quiet as the machine.

The report is printed and written as JSON into the work directory.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

GIB = 1024**3
BUILD_SECONDS_BUDGET = 120.0
BUILD_RSS_BUDGET_BYTES = 4 * GIB
FEATURE_SQL_RATIO_BUDGET = 1.5
SIMILARITY_FIT_RATIO_BUDGET = 1.0
POLL_SECONDS = 0.2
DEFAULT_SCALES = (1_000_000, 10_000_000)
FEATURE_MARTS = ("fct_user_rfm", "fct_user_activity")
CF_NEIGHBOURS = 20
CF_RECOMMENDATIONS = 10
REPORT_NAME = "report.json"

# Per-user columns the floor computes, with the tolerance of the comparison
# against the marts (0 means exactly equal).
RFM_COLUMNS = {
    "rfm_segment": 0.0,
    "rfm_code": 0.0,
    "recency_days": 0.0,
    "frequency": 0.0,
    "monetary": 1e-6,
    "recency_score": 0.0,
    "frequency_score": 0.0,
    "monetary_score": 0.0,
    "is_buyer": 0.0,
    "last_purchase_date": 0.0,
}
ACTIVITY_COLUMNS = {
    "events_7d": 0.0,
    "active_days_7d": 0.0,
    "sessions_7d": 0.0,
    "events_30d": 0.0,
    "active_days_30d": 0.0,
    "sessions_30d": 0.0,
    "events_90d": 0.0,
    "active_days_90d": 0.0,
    "sessions_90d": 0.0,
    "events_previous_30d": 0.0,
    "events": 0.0,
    "sessions": 0.0,
    "purchases": 0.0,
    "purchase_days": 0.0,
    "net_revenue": 1e-6,
    "distinct_items": 0.0,
    "distinct_categories": 0.0,
    "tenure_days": 0.0,
    "days_since_last_event": 0.0,
    "days_since_last_purchase": 0.0,
    "mean_days_between_purchases": 1e-9,
    "activity_trend": 1e-9,
    "cart_to_purchase_rate": 1e-9,
    "first_event_at": 0.0,
    "last_event_at": 0.0,
}

# The floor: what a careful analyst would write by hand to get the same RFM and
# activity features from the raw file in one script. It reads the events once
# into a narrow table of valid rows, ranks only the rows whose event_id
# repeats (the same tie-break as staging: earliest event_at, then user_id,
# event_type, item_id, quantity and revenue as parsed), marks
# session starts on the clean rows, folds them into one row per user and day,
# and computes both marts from those rows. Placeholders: {events_path},
# {items_path}, {event_types_path}, {session_gap_microseconds},
# {future_tolerance_hours}.
FLOOR_SQL = """
create temp table event_types as
select
    lower(trim(raw_event_type)) as raw_event_type,
    event_type,
    cast(is_item_event as boolean) as is_item_event
from read_csv('{event_types_path}', header = true, all_varchar = true);

create temp table valid_events as
with

raw_events as (
    select
        cast(event_id as varchar) as raw_event_id,
        cast(user_id as varchar) as raw_user_id,
        cast(event_at as varchar) as raw_event_at,
        cast(event_type as varchar) as raw_event_type,
        cast(item_id as varchar) as raw_item_id,
        cast(quantity as varchar) as raw_quantity,
        cast(revenue as varchar) as raw_revenue
    from read_parquet('{events_path}')
),

typed as (
    select
        raw_events.*,
        trim(raw_user_id) as user_id,
        trim(raw_item_id) as item_id,
        trim(raw_quantity) as quantity_text,
        trim(raw_revenue) as revenue_text,
        event_types.event_type,
        event_types.is_item_event,
        timezone('UTC', try_cast(trim(raw_event_at) as timestamptz)) as event_at,
        try_cast(trim(raw_quantity) as bigint) as quantity,
        try_cast(replace(trim(raw_revenue), ',', '.') as decimal(18, 4))
            as revenue
    from raw_events
    left join event_types
        on lower(trim(raw_events.raw_event_type)) = event_types.raw_event_type
)

select
    coalesce(
        nullif(trim(raw_event_id), ''),
        'derived-' || md5(concat_ws(
            '|', raw_user_id, raw_event_at, raw_event_type, raw_item_id,
            raw_quantity, raw_revenue
        ))
    ) as event_id,
    user_id,
    case when is_item_event then item_id end as item_id,
    event_type,
    coalesce(quantity, 1) as quantity,
    revenue,
    event_at
from typed
where
    coalesce(
        lower(user_id) not in ('', 'null', 'none', 'nan', 'n/a', 'na'), false
    )
    and event_at is not null
    and event_at <= timezone('UTC', now()) + interval {future_tolerance_hours} hour
    and event_type is not null
    and (
        not is_item_event
        or coalesce(
            lower(item_id) not in ('', 'null', 'none', 'nan', 'n/a', 'na'), false
        )
    )
    and (quantity_text is null or quantity is not null)
    and (revenue_text is null or revenue is not null)
    and not (
        event_type in ('purchase', 'refund')
        and (coalesce(quantity, 0) < 0 or coalesce(revenue, 0) < 0)
    );

create temp table clean_events as
with

repeated as (
    select event_id from valid_events group by event_id having count(*) > 1
),

deduplicated as (
    select event_id, user_id, item_id, event_type, revenue, event_at
    from valid_events
    where event_id not in (select event_id from repeated)
    union all
    select event_id, user_id, item_id, event_type, revenue, event_at
    from valid_events
    where event_id in (select event_id from repeated)
    qualify row_number() over (
        partition by event_id
        order by event_at, user_id, event_type, item_id, quantity, revenue
    ) = 1
)

select
    *,
    coalesce(
        epoch_us(event_at) - epoch_us(lag(event_at) over (
            partition by user_id order by event_at, event_id
        )) > {session_gap_microseconds},
        true
    ) as is_session_start
from deduplicated;

-- A session that crosses midnight counts on both days: a day has its own
-- session starts, plus one session carried over when its first event is not
-- a start.
create temp table daily as
select
    user_id,
    cast(event_at as date) as activity_date,
    count(*) as events,
    count(*) filter (where is_session_start)
    + case
        when min(event_at) filter (where is_session_start) = min(event_at)
            then 0
        else 1
    end as sessions,
    count(*) filter (where event_type = 'purchase') as purchases,
    count(*) filter (where event_type = 'add_to_cart') as add_to_carts,
    coalesce(sum(revenue) filter (where event_type = 'purchase'), 0) as revenue,
    coalesce(sum(revenue) filter (where event_type = 'refund'), 0)
        as refunded_revenue,
    min(event_at) as first_event_at,
    max(event_at) as last_event_at
from clean_events
group by all;

create temp table as_of as
select cast(max(last_event_at) as date) as as_of_date from daily;

create table floor_rfm as
with

users as (
    select
        user_id,
        max(activity_date) filter (where purchases > 0) as last_purchase_date,
        count(*) filter (where purchases > 0) as frequency,
        sum(revenue) - sum(refunded_revenue) as monetary
    from daily
    group by user_id
),

buyers as (
    select
        users.*,
        date_diff('day', users.last_purchase_date, as_of.as_of_date)
            as recency_days
    from users
    cross join as_of
    where users.frequency > 0
),

scored as (
    select
        *,
        cast(5 - floor(
            5.0 * (rank() over (order by recency_days) - 1) / count(*) over ()
        ) as integer) as recency_score,
        cast(1 + floor(
            5.0 * (rank() over (order by frequency) - 1) / count(*) over ()
        ) as integer) as frequency_score,
        cast(1 + floor(
            5.0 * (rank() over (order by monetary) - 1) / count(*) over ()
        ) as integer) as monetary_score
    from buyers
)

select
    users.user_id,
    case
        when s.user_id is null then 'Non-buyer'
        when s.recency_score >= 4 and s.frequency_score >= 4
            and s.monetary_score >= 4 then 'Champions'
        when s.recency_score <= 2 and s.frequency_score >= 4
            and s.monetary_score >= 4 then 'Can''t Lose Them'
        when s.recency_score >= 3 and s.frequency_score >= 4 then 'Loyal'
        when s.recency_score <= 2 and s.frequency_score >= 3 then 'At Risk'
        when s.recency_score = 5 and s.frequency_score = 1 then 'New'
        when s.recency_score >= 4 and s.frequency_score >= 2
            then 'Potential Loyalist'
        when s.recency_score = 4 and s.frequency_score = 1 then 'Promising'
        when s.recency_score = 3 and s.frequency_score >= 2
            then 'Need Attention'
        when s.recency_score = 3 and s.frequency_score = 1
            then 'About To Sleep'
        when s.recency_score = 2 then 'Hibernating'
        else 'Lost'
    end as rfm_segment,
    cast(s.recency_score as varchar) || cast(s.frequency_score as varchar)
    || cast(s.monetary_score as varchar) as rfm_code,
    s.recency_days,
    users.frequency,
    users.monetary,
    s.recency_score,
    s.frequency_score,
    s.monetary_score,
    s.user_id is not null as is_buyer,
    users.last_purchase_date
from users
left join scored as s on users.user_id = s.user_id;

create table floor_activity as
with

daily_aged as (
    select
        daily.*,
        date_diff('day', daily.activity_date, as_of.as_of_date) as days_ago
    from daily
    cross join as_of
),

windows as (
    select
        user_id,
        coalesce(sum(events) filter (where days_ago < 7), 0) as events_7d,
        count(*) filter (where days_ago < 7) as active_days_7d,
        coalesce(sum(sessions) filter (where days_ago < 7), 0) as sessions_7d,
        coalesce(sum(events) filter (where days_ago < 30), 0) as events_30d,
        count(*) filter (where days_ago < 30) as active_days_30d,
        coalesce(sum(sessions) filter (where days_ago < 30), 0) as sessions_30d,
        coalesce(sum(events) filter (where days_ago < 90), 0) as events_90d,
        count(*) filter (where days_ago < 90) as active_days_90d,
        coalesce(sum(sessions) filter (where days_ago < 90), 0) as sessions_90d,
        coalesce(sum(events) filter (where days_ago >= 30 and days_ago < 60), 0)
            as events_previous_30d,
        sum(events) as events,
        sum(sessions) as sessions,
        sum(purchases) as purchases,
        sum(add_to_carts) as add_to_carts,
        count(*) filter (where purchases > 0) as purchase_days,
        sum(revenue) - sum(refunded_revenue) as net_revenue,
        min(days_ago) as days_since_last_event,
        max(days_ago) as tenure_days,
        min(days_ago) filter (where purchases > 0) as days_since_last_purchase,
        max(days_ago) filter (where purchases > 0) as days_since_first_purchase,
        min(first_event_at) as first_event_at,
        max(last_event_at) as last_event_at
    from daily_aged
    group by user_id
),

items as (
    select
        trim(cast(item_id as varchar)) as item_id,
        min(nullif(trim(cast(category as varchar)), '')) as category
    from read_parquet('{items_path}')
    group by 1
),

breadth as (
    select
        user_items.user_id,
        count(*) as distinct_items,
        count(distinct items.category) as distinct_categories
    from (
        select distinct user_id, item_id
        from clean_events
        where item_id is not null
    ) as user_items
    left join items on user_items.item_id = items.item_id
    group by user_items.user_id
)

select
    windows.* exclude (add_to_carts, days_since_first_purchase),
    coalesce(breadth.distinct_items, 0) as distinct_items,
    coalesce(breadth.distinct_categories, 0) as distinct_categories,
    case
        when windows.purchase_days >= 2
            then (
                windows.days_since_first_purchase
                - windows.days_since_last_purchase
            ) / (windows.purchase_days - 1)
    end as mean_days_between_purchases,
    case
        when windows.events_30d + windows.events_previous_30d > 0
            then (windows.events_30d - windows.events_previous_30d)
            / (windows.events_30d + windows.events_previous_30d)
    end as activity_trend,
    case
        when windows.add_to_carts > 0
            then windows.purchases / windows.add_to_carts
    end as cart_to_purchase_rate
from windows
left join breadth on windows.user_id = breadth.user_id;
"""


@dataclass(frozen=True)
class Measured:
    """What one measured subprocess took."""

    returncode: int
    wall_seconds: float
    peak_tree_rss_bytes: int
    max_rss_bytes: int
    peak_temp_bytes: int


# --- measuring a process ----------------------------------------------------------


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def tree_rss_bytes(root_pid: int) -> int:
    """Summed resident memory of a process and all its descendants (/proc)."""
    children = _children_by_parent()
    page = os.sysconf("SC_PAGE_SIZE")
    total, pending = 0, [root_pid]
    while pending:
        pid = pending.pop()
        try:
            with open(f"/proc/{pid}/statm", "rb") as statm:
                total += int(statm.read().split()[1]) * page
        except OSError:
            continue
        pending.extend(children.get(pid, []))
    return total


def directory_bytes(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def run_measured(
    command: Sequence[str],
    env: Mapping[str, str],
    cwd: Path,
    output_path: Path,
    temp_directory: Path | None = None,
) -> Measured:
    """Run a command, polling its process tree's memory until it exits.

    stdout and stderr go to ``output_path``. The exit is collected with
    ``os.wait4`` so the kernel's own peak (``ru_maxrss``) of that child is known.
    """
    peaks = {"rss": 0, "temp": 0}
    with open(output_path, "wb") as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(command), cwd=cwd, env=dict(env), stdout=output, stderr=output
        )
        finished = threading.Event()

        def poll() -> None:
            while not finished.is_set():
                peaks["rss"] = max(peaks["rss"], tree_rss_bytes(process.pid))
                if temp_directory is not None:
                    peaks["temp"] = max(peaks["temp"], directory_bytes(temp_directory))
                finished.wait(POLL_SECONDS)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        finished.set()
        poller.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    return Measured(
        returncode=process.returncode,
        wall_seconds=wall,
        peak_tree_rss_bytes=peaks["rss"],
        max_rss_bytes=usage.ru_maxrss * 1024,
        peak_temp_bytes=peaks["temp"],
    )


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


# --- data -------------------------------------------------------------------------


def generate_events(n_events: int, data_dir: Path, seed: int) -> dict[str, Any]:
    """Parquet events, users and items from ulm.sample, reused when already there."""
    stamp_path = data_dir / "generated.json"
    wanted = {"events": n_events, "seed": seed, "format": "parquet"}
    if stamp_path.exists():
        stamp = json.loads(stamp_path.read_text())
        if stamp.get("request") == wanted:
            log.info("reusing events generated earlier in %s", data_dir)
            return {**stamp, "reused": True}
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ulm.sample",
            "--events",
            str(n_events),
            "--seed",
            str(seed),
            "--format",
            "parquet",
            "--out",
            str(data_dir),
        ],
        check=True,
        capture_output=True,
    )
    stamp = {"request": wanted, "seconds": round(time.perf_counter() - started, 2)}
    stamp_path.write_text(json.dumps(stamp))
    log.info("generated %d events in %.1f s", n_events, stamp["seconds"])
    return {**stamp, "reused": False}


def parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def data_files(data_dir: Path) -> dict[str, Path]:
    return {
        name: (data_dir / f"{name}.parquet").absolute()
        for name in ("events", "users", "items")
    }


# --- the dbt build ----------------------------------------------------------------


def dbt_executable() -> Path:
    return Path(sys.executable).with_name("dbt")


def build_environment(scale_dir: Path, memory_limit: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "ULM_DUCKDB_PATH": str(scale_dir / "warehouse" / "ulm.duckdb"),
        "ULM_TEMP_DIRECTORY": str(scale_dir / "warehouse" / "tmp"),
        "ULM_PUBLISHED_PATH": str(scale_dir / "published" / "ulm.duckdb"),
        "DBT_TARGET_PATH": str(scale_dir / "target"),
        "DBT_LOG_PATH": str(scale_dir / "logs"),
    }
    if memory_limit:
        env["ULM_MEMORY_LIMIT"] = memory_limit
    return env


def run_dbt_build(
    project_dir: Path,
    run_dir: Path,
    files: Mapping[str, Path],
    memory_limit: str | None,
    selection: Sequence[str] = (),
) -> tuple[Measured, Path]:
    """A build from an empty warehouse in run_dir (every node, or the dbt
    arguments in selection); returns its measures and target dir."""
    for stale in ("warehouse", "published", "target", "logs"):
        shutil.rmtree(run_dir / stale, ignore_errors=True)
    (run_dir / "warehouse" / "tmp").mkdir(parents=True)
    variables = {
        "raw_events_path": str(files["events"]),
        "raw_users_path": str(files["users"]),
        "raw_items_path": str(files["items"]),
    }
    env = build_environment(run_dir, memory_limit)
    measured = run_measured(
        [str(dbt_executable()), "build", *selection, "--vars", json.dumps(variables)],
        env,
        project_dir,
        run_dir / "dbt_build.log",
        temp_directory=Path(env["ULM_TEMP_DIRECTORY"]),
    )
    log.info(
        "dbt build %s: exit %d, %.1f s, peak RSS %.2f GiB",
        " ".join(selection) or "(everything)",
        measured.returncode,
        measured.wall_seconds,
        measured.peak_tree_rss_bytes / GIB,
    )
    return measured, run_dir / "target"


def feature_path_selection() -> list[str]:
    """dbt arguments that build the feature marts and what they need: the
    models and seeds upstream of them, without tests."""
    return [
        "--select",
        *[f"+{mart}" for mart in FEATURE_MARTS],
        "--resource-type",
        "model",
        "--resource-type",
        "seed",
    ]


def feature_path_timings(run_results: Mapping[str, Any]) -> dict[str, Any]:
    """The feature path run alone: dbt's elapsed time and each model's."""
    models = {
        result["unique_id"].split(".")[-1]: round(float(result["execution_time"]), 2)
        for result in run_results["results"]
        if result["unique_id"].startswith("model.")
    }
    return {
        "succeeded": all(
            result["status"] == "success" for result in run_results["results"]
        ),
        "dbt_elapsed_seconds": round(float(run_results["elapsed_time"]), 2),
        "models": dict(sorted(models.items())),
    }


def measure_feature_path(
    project_dir: Path,
    scale_dir: Path,
    files: Mapping[str, Path],
    memory_limit: str | None,
) -> dict[str, Any]:
    """The feature marts built alone into an empty warehouse of their own.

    This is the like-for-like counterpart of the floor, which also runs alone:
    inside the full build dbt runs up to `threads` nodes at once, and a
    feature model's time there includes waiting for the cores that Python
    models and other SQL hold."""
    run_dir = scale_dir / "features"
    measured, target = run_dbt_build(
        project_dir, run_dir, files, memory_limit, feature_path_selection()
    )
    run_results_path = target / "run_results.json"
    if measured.returncode != 0 or not run_results_path.exists():
        raise RuntimeError(
            "the feature path build failed; see"
            f" {run_dir / 'dbt_build.log'}:\n"
            + "\n".join(last_error_lines(run_dir / "dbt_build.log", 3))
        )
    timings = feature_path_timings(json.loads(run_results_path.read_text()))
    shutil.rmtree(run_dir / "warehouse", ignore_errors=True)
    return {
        **timings,
        "wall_seconds": round(measured.wall_seconds, 2),
        "peak_rss_bytes": measured.peak_tree_rss_bytes,
    }


def upstream_models(manifest: Mapping[str, Any], targets: Sequence[str]) -> set[str]:
    """Model and seed ids the target models depend on, the targets included."""
    nodes = manifest["nodes"]
    by_name = {
        node["name"]: node_id
        for node_id, node in nodes.items()
        if node["resource_type"] == "model"
    }
    pending = [by_name[name] for name in targets]
    seen: set[str] = set()
    while pending:
        node_id = pending.pop()
        if node_id in seen or not node_id.startswith(("model.", "seed.")):
            continue
        seen.add(node_id)
        pending.extend(manifest["parent_map"].get(node_id, []))
    return seen


def node_timings(
    run_results: Mapping[str, Any], manifest: Mapping[str, Any]
) -> dict[str, Any]:
    """Execution seconds grouped the way the report reads them."""
    feature_nodes = (
        upstream_models(manifest, FEATURE_MARTS) if manifest["nodes"] else set()
    )
    times = {
        result["unique_id"]: float(result["execution_time"])
        for result in run_results["results"]
    }
    statuses = [result["status"] for result in run_results["results"]]
    errors = [
        f"{result['unique_id']}: {(result.get('message') or '').splitlines()[0]}"
        for result in run_results["results"]
        if result["status"] in ("error", "fail") and result.get("message")
    ]
    python_models = {
        node_id.split(".")[-1]: round(seconds, 2)
        for node_id, seconds in times.items()
        if manifest["nodes"].get(node_id, {}).get("language") == "python"
    }
    feature_models = {
        node_id.split(".")[-1]: round(times[node_id], 2)
        for node_id in sorted(feature_nodes)
        if node_id in times and node_id.startswith("model.")
    }
    sql_models = [
        node_id
        for node_id in times
        if node_id.startswith("model.")
        and manifest["nodes"][node_id].get("language") != "python"
    ]
    slowest = sorted(times.items(), key=lambda item: -item[1])[:12]
    return {
        "dbt_elapsed_seconds": round(float(run_results["elapsed_time"]), 2),
        "nodes": len(times),
        "failed_nodes": sum(status not in ("success", "pass") for status in statuses),
        "errors": errors[:3],
        "feature_sql_seconds": round(sum(feature_models.values()), 2),
        "feature_sql_models": feature_models,
        "other_sql_seconds": round(
            sum(times[n] for n in sql_models if n not in feature_nodes), 2
        ),
        "python_models": dict(sorted(python_models.items())),
        "python_seconds": round(sum(python_models.values()), 2),
        "data_tests_seconds": round(
            sum(s for n, s in times.items() if n.startswith("test.")), 2
        ),
        "unit_tests_seconds": round(
            sum(s for n, s in times.items() if n.startswith("unit_test.")), 2
        ),
        "seeds_seconds": round(
            sum(s for n, s in times.items() if n.startswith("seed.")), 2
        ),
        "slowest": [[node_id, round(seconds, 2)] for node_id, seconds in slowest],
    }


def last_error_lines(log_path: Path, n_lines: int = 1) -> list[str]:
    """The last lines of a dbt log that name an error."""
    lines = log_path.read_text(errors="replace").splitlines()
    return [line.strip() for line in lines if "Error" in line][-n_lines:]


def warehouse_counts(warehouse: Path) -> dict[str, int]:
    import duckdb

    queries = {
        "raw_rows": "select count(*) from staging.stg_raw__events_validated",
        "accepted_events": "select count(*) from marts.fct_events",
        "users": "select count(*) from marts.fct_user_activity",
        "items": "select count(*) from marts.dim_items",
        "interactions": "select count(*) from intermediate.int_user_item_interactions",
    }
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return {
            name: int(connection.execute(sql).fetchall()[0][0])
            for name, sql in queries.items()
        }


# --- floor (a): hand-written SQL ----------------------------------------------------


def floor_sql(
    events_path: Path,
    items_path: Path,
    event_types_path: Path,
    session_gap_minutes: int = 30,
    future_tolerance_hours: int = 24,
) -> str:
    def literal(path: Path) -> str:
        return str(path).replace("'", "''")

    return FLOOR_SQL.format(
        events_path=literal(events_path),
        items_path=literal(items_path),
        event_types_path=literal(event_types_path),
        session_gap_microseconds=int(session_gap_minutes) * 60_000_000,
        future_tolerance_hours=int(future_tolerance_hours),
    )


def run_floor_sql(
    database: Path,
    sql: str,
    threads: int,
    memory_limit: str,
    temp_directory: Path,
) -> float:
    """Run the floor script into a fresh DuckDB file; returns its SQL seconds."""
    import duckdb

    for stale in (database, database.with_name(database.name + ".wal")):
        stale.unlink(missing_ok=True)
    with duckdb.connect(str(database)) as connection:
        connection.execute("set TimeZone = 'UTC'")
        connection.execute(f"set threads = {int(threads)}")
        connection.execute(f"set memory_limit = '{memory_limit}'")
        connection.execute(f"set temp_directory = '{temp_directory}'")
        started = time.perf_counter()
        connection.execute(sql)
        seconds = time.perf_counter() - started
    return seconds


def measure_floor_sql(
    project_dir: Path,
    scale_dir: Path,
    files: Mapping[str, Path],
    threads: int,
    memory_limit: str,
) -> dict[str, Any]:
    """The floor script in a subprocess of its own, so its RSS is its own."""
    database = scale_dir / "floor" / "floor.duckdb"
    temp_directory = scale_dir / "floor" / "tmp"
    temp_directory.mkdir(parents=True, exist_ok=True)
    sql = floor_sql(
        files["events"], files["items"], project_dir / "seeds" / "event_types.csv"
    )
    arguments = json.dumps(
        [str(database), sql, threads, memory_limit, str(temp_directory)]
    )
    program = (
        "import json, sys\n"
        "from ulm.bench_scale import run_floor_sql\n"
        "database, sql, threads, limit, temp = json.loads(sys.argv[1])\n"
        "from pathlib import Path\n"
        "seconds = run_floor_sql(Path(database), sql, threads, limit, Path(temp))\n"
        "sys.stdout.write(json.dumps({'sql_seconds': seconds}))\n"
    )
    output_path = scale_dir / "floor" / "floor.log"
    measured = run_measured(
        [sys.executable, "-c", program, arguments],
        os.environ,
        project_dir,
        output_path,
        temp_directory=temp_directory,
    )
    if measured.returncode != 0:
        raise RuntimeError(
            f"the floor SQL failed; see {output_path}:\n{output_path.read_text()}"
        )
    sql_seconds = json.loads(output_path.read_text().splitlines()[-1])["sql_seconds"]
    log.info(
        "floor SQL: %.1f s SQL, %.1f s wall, peak RSS %.2f GiB",
        sql_seconds,
        measured.wall_seconds,
        measured.peak_tree_rss_bytes / GIB,
    )
    return {
        "sql_seconds": round(sql_seconds, 2),
        "wall_seconds": round(measured.wall_seconds, 2),
        "peak_rss_bytes": measured.peak_tree_rss_bytes,
        "peak_temp_bytes": measured.peak_temp_bytes,
        "database": database,
    }


def mismatch_sql(mart: str, floor_table: str, columns: Mapping[str, float]) -> str:
    """Users whose row differs between a mart and the floor's table (or is
    missing from one of them), per column."""
    checks = []
    for column, tolerance in columns.items():
        if tolerance > 0:
            differs = (
                f"coalesce(abs(cast(m.{column} as double) - cast(f.{column} as "
                f"double)) > {tolerance}, (m.{column} is null) <> "
                f"(f.{column} is null))"
            )
        else:
            differs = f"m.{column} is distinct from f.{column}"
        checks.append(f"count(*) filter (where {differs}) as {column}")
    return (
        "select count(*) filter (where m.user_id is null or f.user_id is null)"
        " as missing_users, count(*) as users, "
        + ", ".join(checks)
        + f" from {mart} as m full outer join {floor_table} as f"
        " on m.user_id = f.user_id"
    )


def compare_with_marts(warehouse: Path, floor_database: Path) -> dict[str, Any]:
    """How many users the floor and the marts disagree on, per column."""
    import duckdb

    result: dict[str, Any] = {}
    with duckdb.connect(str(floor_database), read_only=True) as connection:
        connection.execute(f"attach '{warehouse}' as ulm_warehouse (read_only)")
        for name, mart, table, columns in (
            ("rfm", "ulm_warehouse.marts.fct_user_rfm", "floor_rfm", RFM_COLUMNS),
            (
                "activity",
                "ulm_warehouse.marts.fct_user_activity",
                "floor_activity",
                ACTIVITY_COLUMNS,
            ),
        ):
            cursor = connection.execute(mismatch_sql(mart, table, columns))
            names = [column[0] for column in cursor.description]
            counts = dict(zip(names, cursor.fetchall()[0], strict=True))
            differing = {k: int(v) for k, v in counts.items() if k != "users" and v}
            result[name] = {"users": int(counts["users"]), "differing": differing}
    result["agrees"] = all(not part["differing"] for part in result.values())
    return result


# --- floor (b): implicit's item-item cosine -----------------------------------------


def _timed(function: Any, *args: Any, **kwargs: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - wall, time.process_time() - cpu


def compare_item_cf(warehouse: Path) -> dict[str, Any]:
    """ulm's item CF and implicit's CosineRecommender on the same matrix."""
    import duckdb

    from ulm import frames, pipelines, recommend
    from ulm.settings import Settings

    settings = Settings()
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        interactions = frames.to_pandas(
            connection.sql("select * from intermediate.int_user_item_interactions")
        )
        as_of = frames.to_pandas(
            connection.sql("select * from intermediate.int_as_of_date")
        )
    _, as_of_end = pipelines.as_of_bounds(as_of)
    interactions = pipelines.in_key_order(
        interactions, ["user_id", "item_id", "event_type"]
    )

    matrix, matrix_wall, matrix_cpu = _timed(
        recommend.build_matrix,
        interactions,
        settings.interaction_weights,
        reference_at=as_of_end,
        half_life_days=settings.cf_half_life_days,
    )
    similarities, similarity_wall, similarity_cpu = _timed(
        recommend.item_similarities,
        matrix,
        k=CF_NEIGHBOURS,
        min_support=settings.cf_min_support,
    )
    recommendations, recommend_wall, recommend_cpu = _timed(
        recommend.recommend, matrix, similarities, n=CF_RECOMMENDATIONS
    )
    result: dict[str, Any] = {
        "users": int(matrix.shape[0]),
        "items": int(matrix.shape[1]),
        "cells": int(matrix.matrix.nnz),
        "ulm": {
            "matrix_seconds": round(matrix_wall, 2),
            "similarities_seconds": round(similarity_wall, 2),
            "recommend_seconds": round(recommend_wall, 2),
            "total_seconds": round(matrix_wall + similarity_wall + recommend_wall, 2),
            "cpu_seconds": round(matrix_cpu + similarity_cpu + recommend_cpu, 2),
            "similarity_rows": len(similarities),
            "recommendation_rows": len(recommendations),
        },
    }
    del similarities, recommendations

    try:
        from implicit.nearest_neighbours import CosineRecommender
    except ImportError:
        result["implicit"] = None
        result["implicit_note"] = (
            "implicit is not installed (pip install -e '.[bench]'); floor skipped"
        )
        log.warning("implicit is not installed: the CF floor is skipped")
        return result

    user_items = matrix.matrix.tocsr()
    model = CosineRecommender(K=CF_NEIGHBOURS)
    with warnings.catch_warnings():
        # implicit converts its own normalised copy to CSR and says so
        warnings.simplefilter("ignore")
        _, fit_wall, fit_cpu = _timed(model.fit, user_items, show_progress=False)
    (ids, _), implicit_recommend_wall, implicit_recommend_cpu = _timed(
        model.recommend,
        np.arange(user_items.shape[0]),
        user_items,
        N=CF_RECOMMENDATIONS,
        filter_already_liked_items=True,
    )
    result["implicit"] = {
        "fit_seconds": round(fit_wall, 2),
        "recommend_seconds": round(implicit_recommend_wall, 2),
        "total_seconds": round(fit_wall + implicit_recommend_wall, 2),
        "cpu_seconds": round(fit_cpu + implicit_recommend_cpu, 2),
        "recommendation_rows": int((ids >= 0).sum()),
    }
    log.info(
        "item CF: ulm %.1f s (similarities %.1f s), implicit %.1f s (fit %.1f s)",
        result["ulm"]["total_seconds"],
        similarity_wall,
        result["implicit"]["total_seconds"],
        fit_wall,
    )
    return result


# --- report -----------------------------------------------------------------------


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def scale_ratios(scale: Mapping[str, Any]) -> dict[str, Any]:
    """Each goal of one scale: its value, its budget and whether it is met."""
    build, floor, cf = scale["build"], scale["floor_sql"], scale.get("item_cf") or {}
    features = scale.get("feature_path") or {}
    implicit = cf.get("implicit") or {}
    ulm_cf = cf.get("ulm") or {}
    build_seconds = build["wall_seconds"] if build.get("succeeded", True) else None
    goals = {
        "build_seconds": (build_seconds, BUILD_SECONDS_BUDGET),
        "build_peak_rss_gib": (
            round(build["peak_rss_bytes"] / GIB, 2),
            BUILD_RSS_BUDGET_BYTES / GIB,
        ),
        "feature_sql_over_floor": (
            _ratio(features.get("dbt_elapsed_seconds"), floor.get("sql_seconds")),
            FEATURE_SQL_RATIO_BUDGET,
        ),
        "similarity_fit_over_implicit_fit": (
            _ratio(ulm_cf.get("similarities_seconds"), implicit.get("fit_seconds")),
            SIMILARITY_FIT_RATIO_BUDGET,
        ),
        "cf_end_to_end_over_implicit": (
            _ratio(ulm_cf.get("total_seconds"), implicit.get("total_seconds")),
            1.0,
        ),
    }
    return {
        name: {
            "value": value,
            "budget": budget,
            "met": None if value is None else bool(value <= budget),
        }
        for name, (value, budget) in goals.items()
    }


GROWTH_FIGURES = {
    "build_seconds": ("build", "wall_seconds"),
    "feature_sql_seconds": ("feature_path", "dbt_elapsed_seconds"),
    "python_seconds": ("build", "python_seconds"),
    "floor_sql_seconds": ("floor_sql", "sql_seconds"),
    "ulm_cf_seconds": ("item_cf", "ulm", "total_seconds"),
    "implicit_cf_seconds": ("item_cf", "implicit", "total_seconds"),
}


def _figure(scale: Mapping[str, Any], path: Sequence[str]) -> float | None:
    value: Any = scale
    for key in path:
        if not isinstance(value, Mapping) or value.get(key) is None:
            return None
        value = value[key]
    return float(value)


def growth(small: Mapping[str, Any], large: Mapping[str, Any]) -> dict[str, Any]:
    """Each time figure's growth from the smallest to the largest scale, beside
    the growth of raw rows: linear or better when the ratio is at most 1."""
    rows_growth = large["counts"]["raw_rows"] / small["counts"]["raw_rows"]
    figures = {}
    for name, path in GROWTH_FIGURES.items():
        small_value, large_value = _figure(small, path), _figure(large, path)
        factor = _ratio(large_value, small_value)
        over_rows = None if factor is None else round(factor / rows_growth, 3)
        figures[name] = {
            "growth": factor,
            "growth_over_rows_growth": over_rows,
            "linear_or_better": None if over_rows is None else over_rows <= 1.0,
        }
    return {
        "from_events": small["events"],
        "to_events": large["events"],
        "rows_growth": round(rows_growth, 3),
        "figures": figures,
    }


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / GIB:.2f} GiB"


def _seconds_lines(seconds_by_name: Mapping[str, float]) -> list[str]:
    return [
        f"      {name:<34} {seconds:7.2f} s"
        for name, seconds in seconds_by_name.items()
    ]


def _build_lines(build: Mapping[str, Any]) -> list[str]:
    lines = [
        f"dbt build: {build['wall_seconds']:.1f} s wall"
        f" (dbt's own elapsed {build['dbt_elapsed_seconds']:.1f} s),"
        f" exit {build['returncode']}, {build['nodes']} nodes,"
        f" {build['failed_nodes']} not passed",
        *[f"  FAILED {error}" for error in build["errors"]],
        f"  peak RSS {_gib(build['peak_rss_bytes'])} (process tree, polled);"
        f" ru_maxrss {_gib(build['max_rss_bytes'])};"
        f" peak spill {_gib(build['peak_temp_bytes'])}",
        "  feature SQL (staging + RFM/activity marts), sharing the cores with"
        f" the rest of the build: {build['feature_sql_seconds']:.1f} s",
        *_seconds_lines(build["feature_sql_models"]),
        f"  other SQL models: {build['other_sql_seconds']:.1f} s",
        f"  Python models: {build['python_seconds']:.1f} s",
        *_seconds_lines(build["python_models"]),
        f"  data tests: {build['data_tests_seconds']:.1f} s;"
        f" unit tests: {build['unit_tests_seconds']:.1f} s;"
        f" seeds: {build['seeds_seconds']:.1f} s",
        "  slowest nodes:",
    ]
    lines += [f"      {seconds:7.2f} s  {node}" for node, seconds in build["slowest"]]
    return lines


def _feature_path_lines(features: Mapping[str, Any] | None) -> list[str]:
    if not features:
        return ["feature SQL alone: not measured (the full build failed)"]
    return [
        "feature SQL alone (the models and seeds upstream of fct_user_rfm and"
        " fct_user_activity, into an empty warehouse):"
        f" {features['dbt_elapsed_seconds']:.1f} s dbt's own elapsed"
        f" ({features['wall_seconds']:.1f} s wall with dbt's start-up),"
        f" peak RSS {_gib(features['peak_rss_bytes'])}",
        *_seconds_lines(features["models"]),
    ]


def _floor_lines(floor: Mapping[str, Any]) -> list[str]:
    comparison = floor["comparison"]
    lines = [
        f"floor SQL: {floor['sql_seconds']:.1f} s SQL"
        f" ({floor['wall_seconds']:.1f} s wall),"
        f" peak RSS {_gib(floor['peak_rss_bytes'])};"
        " agrees with the marts: "
        + (
            "not compared (no marts)"
            if comparison is None
            else str(comparison["agrees"])
        )
    ]
    for part in ("rfm", "activity") if comparison else ():
        compared = comparison[part]
        lines.append(
            f"  {part}: {compared['users']:,} users compared, differing:"
            f" {compared['differing'] or 'none'}"
        )
    return lines


def _cf_lines(cf: Mapping[str, Any] | None) -> list[str]:
    if not cf:
        return ["item CF: not measured"]
    ulm = cf["ulm"]
    lines = [
        f"item CF on {cf['users']:,} users x {cf['items']:,} items,"
        f" {cf['cells']:,} cells:",
        f"  ulm: matrix {ulm['matrix_seconds']:.2f} s"
        f" + similarities {ulm['similarities_seconds']:.2f} s"
        f" + recommend {ulm['recommend_seconds']:.2f} s"
        f" = {ulm['total_seconds']:.2f} s ({ulm['cpu_seconds']:.1f} s CPU)",
    ]
    implicit = cf.get("implicit")
    if implicit:
        lines.append(
            f"  implicit CosineRecommender: fit {implicit['fit_seconds']:.2f} s"
            f" + recommend {implicit['recommend_seconds']:.2f} s"
            f" = {implicit['total_seconds']:.2f} s"
            f" ({implicit['cpu_seconds']:.1f} s CPU)"
        )
    else:
        lines.append(f"  implicit: {cf.get('implicit_note')}")
    return lines


def _goal_lines(goals: Mapping[str, Any]) -> list[str]:
    lines = ["goals:"]
    for name, goal in goals.items():
        verdict = {True: "met", False: "MISSED", None: "not measured"}[goal["met"]]
        lines.append(
            f"  {name:<36} {goal['value']!s:>8} (budget {goal['budget']:g})  {verdict}"
        )
    return lines


def _growth_lines(grown: Mapping[str, Any]) -> list[str]:
    lines = [
        f"growth from {grown['from_events']:,} to {grown['to_events']:,} events"
        f" (raw rows x{grown['rows_growth']:.2f}):"
    ]
    for name, figure in grown["figures"].items():
        lines.append(
            f"  {name:<24} x{figure['growth']!s:<8} ratio to rows growth"
            f" {figure['growth_over_rows_growth']!s:<6}"
            f" linear or better: {figure['linear_or_better']}"
        )
    return lines


def format_report(report: Mapping[str, Any]) -> str:
    lines = [
        "ulm scale benchmark",
        f"machine: {report['cpus']} cores, {report['memory_gib']:.0f} GiB;"
        f" DuckDB threads {report['threads']},"
        f" memory_limit {report['memory_limit'] or 'profile default'}",
    ]
    for scale in report["scales"]:
        counts, load = scale["counts"], scale["load"]
        generation = scale["generation"]
        lines += [
            "",
            f"--- {scale['events']:,} events requested:"
            f" {counts['raw_rows']:,} raw rows"
            + (
                f", {counts['accepted_events']:,} accepted,"
                f" {counts['users']:,} users, {counts['items']:,} items"
                if "users" in counts
                else ""
            ),
            f"load average (1/5/15 min) before: generation {load['start']},"
            f" build {load['build']}, feature SQL alone {load['feature_path']},"
            f" floor {load['floor_sql']},"
            f" CF {load['item_cf']}",
            f"generation: {generation['seconds']:.1f} s"
            + (" (reused from an earlier run)" if generation["reused"] else ""),
            *_build_lines(scale["build"]),
            *_feature_path_lines(scale.get("feature_path")),
            *_floor_lines(scale["floor_sql"]),
            *_cf_lines(scale.get("item_cf")),
            *_goal_lines(scale["goals"]),
        ]
    if report.get("growth"):
        lines += ["", *_growth_lines(report["growth"])]
    return "\n".join(lines) + "\n"


def _json_ready(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value


# --- driver -----------------------------------------------------------------------


def run_scale(
    n_events: int,
    project_dir: Path,
    workdir: Path,
    seed: int,
    memory_limit: str | None,
    threads: int,
    skip_cf: bool,
) -> dict[str, Any]:
    scale_dir = (workdir / f"events_{n_events}").absolute()
    scale_dir.mkdir(parents=True, exist_ok=True)
    load = {"start": load_average()}
    generation = generate_events(n_events, scale_dir / "data", seed)
    files = data_files(scale_dir / "data")

    load["build"] = load_average()
    measured, target = run_dbt_build(project_dir, scale_dir, files, memory_limit)
    succeeded = measured.returncode == 0
    if not succeeded:
        log.error(
            "dbt build failed at %d events (exit %d); see %s",
            n_events,
            measured.returncode,
            scale_dir / "dbt_build.log",
        )
    run_results_path = target / "run_results.json"
    if run_results_path.exists():
        timings = node_timings(
            json.loads(run_results_path.read_text()),
            json.loads((target / "manifest.json").read_text()),
        )
    else:
        log.error("dbt wrote no run_results.json: the build stopped early")
        timings = node_timings({"elapsed_time": 0.0, "results": []}, {"nodes": {}})
    if not succeeded and not timings["errors"]:
        timings["errors"] = last_error_lines(scale_dir / "dbt_build.log")
    build = {
        "succeeded": succeeded,
        "wall_seconds": round(measured.wall_seconds, 2),
        "returncode": measured.returncode,
        "peak_rss_bytes": measured.peak_tree_rss_bytes,
        "max_rss_bytes": measured.max_rss_bytes,
        "peak_temp_bytes": measured.peak_temp_bytes,
        **timings,
    }
    warehouse = scale_dir / "warehouse" / "ulm.duckdb"
    counts = {"raw_rows": parquet_rows(files["events"])}
    if succeeded:
        counts.update(warehouse_counts(warehouse))

    load["feature_path"] = load_average()
    feature_path = (
        measure_feature_path(project_dir, scale_dir, files, memory_limit)
        if succeeded
        else None
    )

    load["floor_sql"] = load_average()
    floor = measure_floor_sql(
        project_dir, scale_dir, files, threads, memory_limit or "4GB"
    )
    floor_database = floor.pop("database")
    floor["comparison"] = (
        compare_with_marts(warehouse, floor_database) if succeeded else None
    )

    load["item_cf"] = load_average()
    item_cf = None if skip_cf or not succeeded else compare_item_cf(warehouse)
    scale = {
        "events": n_events,
        "counts": counts,
        "load": load,
        "generation": generation,
        "build": build,
        "feature_path": feature_path,
        "floor_sql": floor,
        "item_cf": item_cf,
    }
    scale["goals"] = scale_ratios(scale)
    return scale


def cleanup_scale(workdir: Path, n_events: int) -> None:
    """Remove the bulky files of a scale, keeping its logs."""
    scale_dir = workdir / f"events_{n_events}"
    for bulky in ("data", "warehouse", "published", "floor", "features"):
        shutil.rmtree(scale_dir / bulky, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m ulm.bench_scale",
        description="Time the full dbt build and its floors at growing event counts.",
    )
    parser.add_argument("--events", type=int, nargs="+", default=list(DEFAULT_SCALES))
    parser.add_argument("--workdir", type=Path, default=Path("bench/scale"))
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep generated data and warehouses (reused by the next run)",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--memory-limit",
        help="DuckDB memory_limit for the build and the floor (env ULM_MEMORY_LIMIT)",
    )
    parser.add_argument(
        "--skip-cf", action="store_true", help="leave out the item CF comparison"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    project_dir = Path.cwd()
    if not (project_dir / "dbt_project.yml").exists():
        parser.error("run it from the project root (where dbt_project.yml is)")
    threads = int(os.environ.get("ULM_THREADS", "2"))
    memory_limit = args.memory_limit or os.environ.get("ULM_MEMORY_LIMIT")
    workdir = args.workdir.absolute()
    workdir.mkdir(parents=True, exist_ok=True)

    scales = []
    for n_events in sorted(args.events):
        log.info("scale %d events", n_events)
        scales.append(
            run_scale(
                n_events,
                project_dir,
                workdir,
                args.seed,
                memory_limit,
                threads,
                args.skip_cf,
            )
        )
        if not args.keep:
            cleanup_scale(workdir, n_events)

    report = {
        "cpus": os.cpu_count(),
        "memory_gib": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB,
        "memory_limit": memory_limit,
        "threads": threads,
        "scales": scales,
        "growth": growth(scales[0], scales[-1]) if len(scales) > 1 else None,
    }
    report = _json_ready(report)
    (workdir / REPORT_NAME).write_text(json.dumps(report, indent=2) + "\n")
    sys.stdout.write(format_report(report))
    return report


if __name__ == "__main__":
    main()
