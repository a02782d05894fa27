"""Building blocks shared by the statistics tests: synthetic reference data, staged survey frames,
partitioned materialisations of the area-metrics mart and the per-respondent metric values."""

from __future__ import annotations

import dagster as dg
import numpy as np
import polars as pl

from assets.marts import (
    area_metrics,
    area_metrics_interval_holds_estimate,
    area_metrics_intervals_are_honest,
    area_metrics_no_lone_suppressed_sibling,
    area_metrics_no_small_published_cell,
    area_metrics_shares_in_range,
)
from pipelines.catalogue.metrics import METRICS
from pipelines.resources import REFERENCE_FILES, JianfuResource, MonitoringConfig
from pipelines.warehouse.tables import load_reference

LEVELS = ("primary", "junior", "senior")
AREA_CHECKS = [
    area_metrics_no_small_published_cell,
    area_metrics_no_lone_suppressed_sibling,
    area_metrics_interval_holds_estimate,
    area_metrics_shares_in_range,
    area_metrics_intervals_are_honest,
]


def write_reference(root, seed: int = 7) -> None:
    """Synthetic schools.csv (4 schools a county) and teacher_population.csv in root/reference."""
    divisions = pl.read_csv(JianfuResource().reference_path("divisions.csv"), infer_schema=False)
    counties = divisions.filter(pl.col("level") == "county")["code"].to_list()
    rng = np.random.default_rng(seed)
    schools = pl.DataFrame(
        [
            {
                "school_code": f"{c}{k:03d}",
                "school_name": f"学校{c}{k:03d}",
                "county_code": c,
                "school_type": "九年一贯制",
                "urban_rural": "urban",
                "n_teachers": 40,
            }
            for c in counties
            for k in range(1, 5)
        ]
    )
    population = pl.DataFrame(
        [
            {"county_code": c, "school_level": level, "n_teachers": int(rng.integers(50, 900))}
            for c in counties
            for level in LEVELS
        ]
    )
    (root / "reference").mkdir(parents=True, exist_ok=True)
    schools.write_csv(root / "reference" / "schools.csv")
    population.write_csv(root / "reference" / "teacher_population.csv")


def new_warehouse(root) -> JianfuResource:
    """An empty warehouse with the shipped divisions/items and the synthetic schools/population."""
    write_reference(root)
    jianfu = JianfuResource(data_dir=str(root))
    with jianfu.connect() as conn:
        load_reference(conn, {name: jianfu.reference_path(name) for name in REFERENCE_FILES})
    return jianfu


def survey_frame(wave: str, layout, rng: np.random.Generator, blank_rate: float) -> pl.DataFrame:
    """Staged teacher rows for a layout of (school, level, respondents), random answers and blanks."""
    schools, levels = [], []
    for school, level, n in layout:
        schools += [school] * n
        levels += [level] * n
    size = len(schools)

    def blanks(values):
        values = np.asarray(values, dtype=float)
        return np.where(rng.random(size) < blank_rate, np.nan, values)

    columns = {
        "wave": [wave] * size,
        "response_id": [f"{wave}-{i}" for i in range(size)],
        "school_code": schools,
        "school_level": levels,
        "county_code": [s[:6] for s in schools],
        "league_code": [s[:4] + "00" for s in schools],
        "hours_total": blanks(rng.uniform(35, 70, size).round(1)),
    }
    for k in range(1, 6):
        columns[f"hours_cat{k}"] = blanks(rng.uniform(0, 4, size).round(1))
    for name in (
        "n_inspections",
        "n_forms",
        "n_app_tasks",
        "n_nonteaching_meetings",
        "n_invigilations",
        "days_seconded",
    ):
        columns[name] = blanks(rng.poisson(2.0, size))
    columns["training_hours_nonteaching"] = blanks(rng.uniform(0, 10, size))
    for k in range(1, 27):
        columns[f"item_{k:02d}"] = blanks(rng.random(size) < rng.uniform(0.02, 0.6))
    columns["felt_change"] = blanks(rng.integers(1, 6, size))
    columns["focus_on_teaching"] = blanks(rng.integers(1, 6, size))
    frame = pl.DataFrame(columns).fill_nan(None)
    integers = [c for c in frame.columns if c.startswith(("item_", "n_", "days_", "felt_", "focus_"))]
    return frame.with_columns(pl.col(integers).cast(pl.Int64))


def insert_staged(jianfu: JianfuResource, table: str, frame: pl.DataFrame) -> None:
    with jianfu.connect() as conn:
        conn.register("frame", frame)
        conn.execute(f"insert into {table} by name select * from frame")
        conn.unregister("frame")


def materialize_waves(
    jianfu: JianfuResource, waves, assets=(area_metrics, *AREA_CHECKS), monitoring: MonitoringConfig | None = None
) -> None:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("waves", list(waves))
    for wave in waves:
        result = dg.materialize(
            list(assets),
            partition_key=wave,
            instance=instance,
            resources={"jianfu": jianfu, "monitoring": monitoring or MonitoringConfig()},
        )
        assert result.success
        for check in result.get_asset_check_evaluations():
            assert check.passed, (check.check_name, check.metadata)


def read_mart(jianfu: JianfuResource, wave: str) -> pl.DataFrame:
    with jianfu.connect(read_only=True) as conn:
        return conn.sql("select * from marts.area_metrics where wave = $wave", params={"wave": wave}).pl()


def metric_values(frame: pl.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(y, x) per respondent for a teacher metric, NaN where blank."""

    def col(name):
        return frame[name].cast(pl.Float64).fill_null(np.nan).to_numpy()

    ones = np.ones(frame.height)
    felt, focus = col("felt_change"), col("focus_on_teaching")
    nonteaching = sum(col(f"hours_cat{k}") for k in range(1, 6))
    if metric == "hours_nonteaching":
        return nonteaching, ones
    if metric == "nonteaching_share":
        return nonteaching, col("hours_total")
    if metric == "felt_lighter_share":
        return np.where(np.isnan(felt), np.nan, (felt >= 4) * 1.0), ones
    if metric == "felt_heavier_share":
        return np.where(np.isnan(felt), np.nan, (felt <= 2) * 1.0), ones
    if metric == "felt_net":
        return np.where(np.isnan(felt), np.nan, (felt >= 4) * 1.0 - (felt <= 2) * 1.0), ones
    if metric == "focus_share":
        return np.where(np.isnan(focus), np.nan, (focus >= 4) * 1.0), ones
    return col(metric), ones


TEACHER_METRICS = [m.name for m in METRICS if m.source == "teacher_survey"]


def random_layout(rng: np.random.Generator) -> list[tuple[str, str, int]]:
    """Schools over three leagues: 1–12 schools a county, a county with one school, a
    single-school stratum, a school answering at two levels, and counties of every size."""
    layout = []
    for league, counties in (
        ("1501", ("02", "03", "04", "05", "21", "22")),
        ("1502", ("02", "03", "04", "05")),
        ("1503", ("02", "03")),
    ):
        for county in counties:
            for k in range(1, int(rng.integers(1, 13)) + 1):
                level = str(rng.choice(["primary", "junior"], p=[0.6, 0.4]))
                layout.append((f"{league}{county}{k:03d}", level, int(rng.integers(4, 35))))
    layout.append(("150302001", "junior", 12))
    layout.append(("150302009", "senior", 25))
    layout.append(("150102001", "junior" if layout[0][1] == "primary" else "primary", 9))
    return layout


def oracle_respondent_flags(frame: pl.DataFrame, questions) -> pl.DataFrame:
    """The Polars respondent flags the pipeline computed before they moved to SQL: the independent oracle
    for sql/quality/respondent_flags.sql. `response_id, source_file, source_row, flag`."""
    from pipelines.catalogue.questionnaire import estimated_seconds
    from pipelines.platforms.flags import SPEEDER_SHARE

    answers = [q.column for q in questions if q.column not in ("teacher_id",)]
    checks = {
        "speeder": oracle_speeder(frame, estimated_seconds(questions) * SPEEDER_SHARE),
        "straight_lining": oracle_straight_lining(frame),
        "duplicate_submission": oracle_duplicate_submission(frame, answers),
    }
    parts = [
        frame.filter(mask).select("response_id", "source_file", "source_row").with_columns(pl.lit(kind).alias("flag"))
        for kind, mask in checks.items()
    ]
    return pl.concat(parts)


def oracle_speeder(frame: pl.DataFrame, threshold_seconds: float) -> pl.Series:
    taken = frame["seconds_taken"] if "seconds_taken" in frame.columns else pl.Series([None] * frame.height)
    return (taken.cast(pl.Float64) < threshold_seconds).fill_null(False)


def oracle_straight_lining(frame: pl.DataFrame) -> pl.Series:
    """Every answered item (at least 20) 否 with both Likert answers 1, or every item 是 with both 5."""
    from pipelines.platforms.flags import MIN_ITEMS_ANSWERED

    items = frame.select(f"item_{i:02d}" for i in range(1, 27))
    answered = items.select(pl.sum_horizontal(pl.all().is_not_null())).to_series()
    highest = items.select(pl.max_horizontal(pl.all())).to_series()
    lowest = items.select(pl.min_horizontal(pl.all())).to_series()
    felt, focus = frame["felt_change"], frame["focus_on_teaching"]
    first = (highest == 0) & (felt == 1) & (focus == 1)
    last = (lowest == 1) & (felt == 5) & (focus == 5)
    return ((answered >= MIN_ITEMS_ANSWERED) & (first | last)).fill_null(False)


def oracle_duplicate_submission(frame: pl.DataFrame, answer_columns: list[str]) -> pl.Series:
    """Every submission after the first of the same teacher (pseudonym) or of identical answers at one school."""
    ordered = frame.with_row_index("__i").sort("submitted_at", "response_id")
    same_answers = pl.concat_str([pl.col(c).cast(pl.String).fill_null("∅") for c in answer_columns], separator="|")
    ordered = ordered.with_columns(
        (pl.int_range(pl.len()).over("school_code", same_answers) > 0).alias("__same_answers"),
        pl.when(pl.col("teacher_pseudonym").is_not_null())
        .then(pl.int_range(pl.len()).over("school_code", "teacher_pseudonym") > 0)
        .otherwise(False)
        .alias("__same_teacher"),
    )
    flagged = ordered.sort("__i").select(pl.col("__same_answers") | pl.col("__same_teacher")).to_series()
    return flagged.fill_null(False)


def oracle_flag_counts(flags: pl.DataFrame, accepted: int, excluded: tuple[str, ...] = ()) -> list[dict]:
    """Per flag kind: rows flagged, share of the accepted rows, rows removed (a row once, under its first kind)."""
    from pipelines.platforms.flags import FLAG_KINDS

    counts = dict(flags.group_by("flag").len().iter_rows()) if flags.height else {}
    removed: dict[str, int] = {}
    if flags.height and excluded:
        chosen = flags.filter(pl.col("flag").is_in(list(excluded)))
        first = (
            chosen.with_columns(
                pl.col("flag").replace_strict({k: i for i, k in enumerate(FLAG_KINDS)}).alias("__order")
            )
            .sort("__order")
            .unique(["source_file", "source_row"], keep="first", maintain_order=True)
        )
        removed = dict(first.group_by("flag").len().iter_rows())
    return [
        {
            "flag": kind,
            "rows_flagged": counts.get(kind, 0),
            "rows_accepted": accepted,
            "share_flagged": counts.get(kind, 0) / accepted if accepted else None,
            "rows_excluded": removed.get(kind, 0),
        }
        for kind in FLAG_KINDS
    ]


def oracle_excluded_reasons(flags: pl.DataFrame, excluded: tuple[str, ...]) -> dict[tuple[str, int], str]:
    """(source_file, source_row) -> `excluded_flag:<kind>[; <kind>]`, kinds in FLAG_KINDS order."""
    from pipelines.platforms.flags import FLAG_KINDS

    chosen = (
        flags.filter(pl.col("flag").is_in(list(excluded)))
        .group_by("source_file", "source_row")
        .agg(pl.col("flag").sort_by(pl.col("flag").replace_strict({k: i for i, k in enumerate(FLAG_KINDS)})))
    )
    return {
        (file, row): "excluded_flag:" + "; ".join(kinds)
        for file, row, kinds in chosen.select("source_file", "source_row", "flag").iter_rows()
    }


def flag_wave(root, frame: pl.DataFrame, questions, excluded: tuple[str, ...] = ()):
    """Staged rows in a fresh warehouse, flagged in SQL: (flags, counts, excluded reasons, staged frame)."""
    from pipelines.platforms.flags import write_flags

    jianfu = JianfuResource(data_dir=str(root))
    insert_staged(jianfu, "staging.teacher_survey_staged", frame)
    with jianfu.connect() as conn:
        write_flags(conn, "2026-05", questions, excluded)
        flags = conn.sql("select * exclude (wave) from quality.respondent_flags").pl()
        counts = conn.sql("select * exclude (wave) from marts.respondent_quality").pl().to_dicts()
        reasons = {
            (f, r): e
            for f, r, e in conn.execute(
                "select source_file, source_row, excluded_flag from quality.excluded_rows"
            ).fetchall()
        }
        staged = conn.sql("select * from staging.teacher_survey_staged").pl()
    return flags, counts, reasons, staged
