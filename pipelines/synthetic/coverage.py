"""How often county intervals cover the truth: a simulation over generator seeds.

Each seed draws one wave from the generator's own design (pipelines.synthetic.generate), stages it
directly and runs the area_metrics SQL. The truth comes from the same design, not from a
sample: an item's share is its league's planted probability; a county's non-teaching hours
are the headcount-weighted mean of league trend + level offset + school effect over every
school and level of the county (the generator's 0.5-hour floor and half-hour rounding are
ignored; both are far below the intervals' widths). "Before" is the rule section 9 replaced —
estimate ± 1.96·se on every published cell, zero width included; "after" is the mart's
published interval. Counties are banded by the schools their respondents come from.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import cast

import numpy as np
import polars as pl

from pipelines.estimation.uncertainty import register_quantiles
from pipelines.resources import REFERENCE_FILES, JianfuResource
from pipelines.synthetic import generate as gen
from pipelines.warehouse.tables import load_reference, replace_wave

BANDS = ((1, 1, "1"), (2, 2, "2"), (3, 3, "3"), (4, 5, "4-5"), (6, 8, "6-8"), (9, 10**6, "9+"))
RARE_SHARE = 0.02
STAGED_TYPES = dict.fromkeys(
    (
        "hours_total",
        "hours_teaching",
        "hours_teaching_related",
        "training_hours_nonteaching",
        *[f"hours_cat{i}" for i in range(1, 6)],
    ),
    pl.Float64,
)


def _staged(frame: pl.DataFrame, schools: pl.DataFrame, league_of: dict[str, str]) -> pl.DataFrame:
    counts = [
        "n_inspections",
        "n_forms",
        "n_app_tasks",
        "n_nonteaching_meetings",
        "n_invigilations",
        "days_seconded",
        "felt_change",
        "focus_on_teaching",
        *gen.ITEM_COLUMNS,
    ]
    county = dict(zip(schools["school_code"], schools["county_code"]))
    return (
        frame.select(
            "wave",
            "response_id",
            "school_code",
            "school_level",
            *[pl.col(c).cast(t) for c, t in STAGED_TYPES.items()],
            *[pl.col(c).cast(pl.Float64).cast(pl.Int64) for c in counts],
        )
        .with_columns(pl.col("school_code").replace_strict(county).alias("county_code"))
        .with_columns(pl.col("county_code").replace_strict(league_of).alias("league_code"))
    )


def _truth(design, reference: gen.Reference, league_of: dict[str, str]) -> pl.DataFrame:
    """True county values of hours_nonteaching and every item in the design's first wave."""
    units = gen.school_levels(reference.schools)
    league = np.array([design.leagues.index(league_of[c]) for c in units["county_code"]])
    level = units["level_order"].to_numpy()
    hours = (
        design.nonteaching[league, 0]
        + design.level_offset[league, level]
        + design.school_effect[units["school_index"].to_numpy()]
    )
    p = np.tile(design.item_base, (len(design.leagues), 1))
    hotspot = gen.PLANTED["red_line_hotspot"]
    p[design.league_index(hotspot["league"]), gen.ITEM_COLUMNS.index(hotspot["item"])] = hotspot["share"]
    weighted = (
        pl.DataFrame({"area_code": units["county_code"], "n": units["n_level"], "value": hours})
        .group_by("area_code")
        .agg(((pl.col("n") * pl.col("value")).sum() / pl.col("n").sum()).alias("truth"))
    )
    rows = [weighted.with_columns(pl.lit("hours_nonteaching").alias("metric"))]
    counties = pl.DataFrame({"area_code": list(league_of)}).with_columns(
        pl.col("area_code").replace_strict(league_of).alias("league_code")
    )
    for k, item in enumerate(gen.ITEM_COLUMNS):
        share = {code: float(p[i, k]) for i, code in enumerate(design.leagues)}
        rows.append(
            counties.select(
                "area_code", pl.col("league_code").replace_strict(share).alias("truth"), pl.lit(item).alias("metric")
            )
        )
    return pl.concat(rows, how="diagonal").select("area_code", "metric", "truth")


def simulate_seed(seed: int, teachers: int, root: Path) -> pl.DataFrame:
    """County cells of one generated wave with their truth, before/after intervals and school count."""
    reference = gen.build_reference(gen.SHIPPED_REFERENCE_DIR)
    gen.write_reference(reference, gen.SHIPPED_REFERENCE_DIR, root / "reference")
    counties = reference.divisions.filter(pl.col("level") == "county")
    league_of = dict(zip(counties["code"], counties["parent_code"]))
    rng = np.random.default_rng(seed)
    design = gen._build_design(rng, reference, gen.SHIPPED_REFERENCE_DIR, 1, teachers)
    staged = _staged(gen._teacher_wave_frame(rng, design, design.waves[0]), reference.schools, league_of)
    wave = design.waves[0].label
    jianfu = JianfuResource(data_dir=str(root))
    with jianfu.connect() as conn:
        load_reference(conn, {name: jianfu.reference_path(name) for name in REFERENCE_FILES})
        conn.execute("delete from staging.teacher_survey_staged")
        conn.register("frame", staged)
        conn.execute("insert into staging.teacher_survey_staged by name select * from frame")
        conn.unregister("frame")
        register_quantiles(conn)
        params = {"wave": wave}
        replace_wave(conn, "staging.survey_design", "staging/survey_design.sql", params)
        replace_wave(conn, "staging.survey_psu_sums", "staging/survey_psu_sums.sql", params)
        replace_wave(conn, "marts.area_metrics", "marts/area_metrics.sql", _mart_params(wave))
        cells = conn.sql(
            "select area_code, metric, estimate, se, ci_low, ci_high, df, reliability "
            "from marts.area_metrics where area_level = 'county' and estimate is not null "
            "and (metric = 'hours_nonteaching' or metric like 'item_%')"
        ).pl()
    schools = (
        staged.group_by("county_code")
        .agg(pl.col("school_code").n_unique().alias("schools"))
        .rename({"county_code": "area_code"})
    )
    return (
        cells.join(_truth(design, reference, league_of), on=["area_code", "metric"])
        .join(schools, on="area_code")
        .with_columns(pl.lit(seed).alias("seed"))
    )


def _mart_params(wave: str) -> dict:
    from pipelines.catalogue import rules
    from pipelines.catalogue.metrics import Thresholds

    return {
        "wave": wave,
        "min_n": Thresholds.min_cell_n,
        "min_suppressed_total": rules.MIN_SUPPRESSED_TOTAL,
        "rse_caution": Thresholds.rse_caution,
        "df_caution": rules.DF_CAUTION,
        "df_min": rules.DF_MIN,
        "confidence": rules.CONFIDENCE,
        "cancellation": rules.CANCELLATION,
    }


def summarise(cells: pl.DataFrame) -> list[dict]:
    """Coverage per metric group and school-count band, before and after, with the cells left
    without an interval and the zero-width and below-0 counts. Item shares are split by their
    planted probability: ordinary items (5-30%, and the planted 25% hotspot) and rare ones (the
    red-line items' 0.3-1%, below RARE_SHARE), whose exact-binomial Korn-Graubard intervals
    over-cover by construction when n*p < 1. `coverage_after_se` is the binomial simulation
    standard error sqrt(c(1 - c)/m) over the m cells with an interval."""
    items = cells.filter(pl.col("metric").str.starts_with("item_"))
    return [
        {"metrics": group, **row}
        for group, rows in (
            ("item shares", items.filter(pl.col("truth") >= RARE_SHARE)),
            ("rare item shares", items.filter(pl.col("truth") < RARE_SHARE)),
            ("hours_nonteaching", cells.filter(pl.col("metric") == "hours_nonteaching")),
        )
        for row in _bands(rows)
    ]


def _bands(cells: pl.DataFrame) -> list[dict]:
    band = pl.lit(None, dtype=pl.String)
    for low, high, name in BANDS:
        band = pl.when(pl.col("schools").is_between(low, high)).then(pl.lit(name)).otherwise(band)
    cells = cells.with_columns(
        band.alias("band"),
        (
            (pl.col("estimate") - 1.96 * pl.col("se") <= pl.col("truth"))
            & (pl.col("truth") <= pl.col("estimate") + 1.96 * pl.col("se"))
        ).alias("covered_before"),
        ((pl.col("ci_low") <= pl.col("truth")) & (pl.col("truth") <= pl.col("ci_high"))).alias("covered_after"),
        pl.col("metric").str.starts_with("item_").alias("share"),
    )
    out = []
    for _, _, name in BANDS:
        group = cells.filter(pl.col("band") == name)
        after = group.filter(pl.col("ci_low").is_not_null())
        out.append(
            {
                "schools": name,
                "cells": group.height,
                "coverage_before": round(float(cast(float | None, group["covered_before"].mean()) or 0), 3),
                "coverage_after": round(float(cast(float | None, after["covered_after"].mean()) or 0), 3)
                if after.height
                else None,
                "coverage_after_se": _binomial_se(after["covered_after"]),
                "no_interval_after": group.height - after.height,
                "zero_width_before": int((group["se"] == 0).sum()),
                "zero_width_after": int((after["ci_high"] <= after["ci_low"]).sum()),
                "share_below_0_before": int((group["share"] & (group["estimate"] - 1.96 * group["se"] < 0)).sum()),
                "share_below_0_after": int((after["share"] & (after["ci_low"] < 0)).sum()),
            }
        )
    return out


def _binomial_se(covered: pl.Series) -> float | None:
    if covered.is_empty():
        return None
    c = float(cast(float, covered.mean()))
    return round(float(np.sqrt(c * (1 - c) / covered.len())), 4)


def coverage(seeds: int, teachers: int, first_seed: int = 1) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        cells = pl.concat([simulate_seed(first_seed + k, teachers, Path(tmp) / f"seed{k}") for k in range(seeds)])
    return summarise(cells)
