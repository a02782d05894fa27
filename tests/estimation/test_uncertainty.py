"""Section 9 uncertainty of marts.area_metrics against R's survey package on generated data.

R is the oracle: the post-stratified design (strata = post-strata = league × school_level,
schools as PSUs, population = teacher_population totals), svymean / svyratio for SEs and
deff, degf for df, svyciprop(method = "beta") for the Korn–Graubard share intervals.
"""

from __future__ import annotations

import dagster as dg
import numpy as np
import polars as pl
import pytest
from helpers import (
    TEACHER_METRICS,
    insert_staged,
    materialize_waves,
    metric_values,
    new_warehouse,
    random_layout,
    read_mart,
    survey_frame,
)
from survey_oracle import run_oracle

from assets.marts import wave_changes, wave_changes_consistent
from pipelines.catalogue.metrics import METRIC_BY_NAME
from pipelines.estimation.uncertainty import beta_quantile, t_quantile
from pipelines.resources import MonitoringConfig
from pipelines.synthetic.coverage import simulate_seed, summarise

WAVE = "2024-03"


@pytest.fixture(scope="module")
def uncertainty_warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("uncertainty")
    jianfu = new_warehouse(root)
    rng = np.random.default_rng(101)
    frame = survey_frame(WAVE, random_layout(rng), rng, blank_rate=0.1)
    frame = frame.with_columns(
        pl.when(pl.col("county_code") == "150203").then(0).otherwise(pl.col("item_05")).alias("item_05")
    )
    insert_staged(jianfu, "staging.teacher_survey_staged", frame)
    materialize_waves(jianfu, [WAVE])
    with jianfu.connect(read_only=True) as conn:
        population = conn.sql("select * from ref.teacher_population").pl()
        divisions = conn.sql("select * from ref.divisions").pl()
    return {
        "jianfu": jianfu,
        "frame": frame,
        "population": population,
        "divisions": divisions,
        "mart": read_mart(jianfu, WAVE),
        "root": root,
    }


def oracle_inputs(frame: pl.DataFrame, population: pl.DataFrame, divisions: pl.DataFrame) -> dict:
    respondents = frame.select(
        (pl.col("league_code") + "_" + pl.col("school_level")).alias("stratum"),
        pl.col("school_code").alias("school"),
        "county_code",
        "league_code",
        pl.lit("150000").alias("region_code"),
    )
    metrics = []
    for name in TEACHER_METRICS:
        y, x = metric_values(frame, name)
        kind = METRIC_BY_NAME[name].kind
        if name == "nonteaching_share":
            respondents = respondents.with_columns(
                pl.Series("y_nonteaching_share", y).fill_nan(None), pl.Series("x_nonteaching_share", x).fill_nan(None)
            )
            metrics.append((name, "ratio", "y_nonteaching_share", "x_nonteaching_share"))
            continue
        respondents = respondents.with_columns(pl.Series(f"y_{name}", y).fill_nan(None))
        metrics.append((name, "proportion" if kind == "share" and name != "felt_net" else "mean", f"y_{name}", ""))
    league_of = dict(zip(divisions["code"], divisions["parent_code"]))
    strata = (
        population.with_columns(pl.col("county_code").replace_strict(league_of).alias("league"))
        .group_by("league", "school_level")
        .agg(pl.col("n_teachers").sum().alias("Freq"))
        .select((pl.col("league") + "_" + pl.col("school_level")).alias("stratum"), "Freq")
    )
    strata = strata.filter(pl.col("stratum").is_in(respondents["stratum"].unique().implode()))
    areas = pl.concat(
        [
            pl.DataFrame({"area_level": ["region"], "area_code": ["150000"], "column": ["region_code"]}),
            frame.select(
                pl.lit("league").alias("area_level"),
                pl.col("league_code").alias("area_code"),
                pl.lit("league_code").alias("column"),
            ).unique(),
            frame.select(
                pl.lit("county").alias("area_level"),
                pl.col("county_code").alias("area_code"),
                pl.lit("county_code").alias("column"),
            ).unique(),
        ]
    )
    return {
        "respondents": respondents,
        "population": strata,
        "areas": areas,
        "metrics": pl.DataFrame(metrics, schema=["metric", "kind", "numerator", "denominator"], orient="row"),
    }


@pytest.fixture(scope="module")
def against_r(uncertainty_warehouse):
    w = uncertainty_warehouse
    r = run_oracle("area_metrics.R", w["root"] / "oracle", oracle_inputs(w["frame"], w["population"], w["divisions"]))
    published = w["mart"].filter(~pl.col("suppressed") & pl.col("metric").is_in(TEACHER_METRICS))
    return published.join(r, on=["area_level", "area_code", "metric"], how="left")


def test_layout_has_the_hard_cases(uncertainty_warehouse):
    frame, mart = uncertainty_warehouse["frame"], uncertainty_warehouse["mart"]
    strata = frame.group_by("league_code", "school_level").agg(pl.col("school_code").n_unique())
    assert 1 in strata["school_code"].to_list()
    assert frame.group_by("school_code").agg(pl.col("school_level").n_unique())["school_level"].max() == 2
    published = mart.filter(~pl.col("suppressed") & (pl.col("area_level") == "county"))
    assert published["df"].min() < 1 and published["df"].max() >= 8
    assert published.filter((pl.col("metric") == "item_05") & (pl.col("estimate") == 0)).height >= 1


def test_estimates_standard_errors_df_and_deff_equal_r(against_r):
    assert against_r["r_estimate"].null_count() == 0 and against_r.height > 600
    for ours, theirs in (("estimate", "r_estimate"), ("se", "r_se")):
        assert (against_r[ours] - against_r[theirs]).abs().max() < 1e-8, ours
    assert (against_r["df"] == against_r["r_df"]).all()
    means = against_r.filter(pl.col("r_deff").is_not_nan() & pl.col("r_deff").is_not_null() & (pl.col("se") > 1e-12))
    assert means.height > 300
    assert ((means["deff"] - means["r_deff"]).abs() / means["r_deff"]).max() < 1e-8


def test_t_and_korn_graubard_intervals_equal_r(against_r):
    compared = against_r.filter(pl.col("r_ci_low").is_not_null() & (pl.col("se") > 1e-12))
    shares = compared.filter(pl.col("metric").str.starts_with("item_"))
    assert compared.height > 500 and shares.height > 250
    for ours, theirs in (("ci_low", "r_ci_low"), ("ci_high", "r_ci_high")):
        assert (compared[ours] - compared[theirs]).abs().max() < 1e-8, ours
    narrower = compared.filter(pl.col("metric") == "hours_total")
    assert ((narrower["ci_high"] - narrower["estimate"]) > 1.96 * narrower["se"]).all()


def test_no_interval_without_degrees_of_freedom(uncertainty_warehouse):
    frame = uncertainty_warehouse["frame"]
    mart = uncertainty_warehouse["mart"].filter(~pl.col("suppressed") & pl.col("metric").is_in(TEACHER_METRICS))
    schools = frame.group_by("county_code").agg(pl.col("school_code").n_unique().alias("schools"))
    counties = mart.filter(pl.col("area_level") == "county").join(
        schools.rename({"county_code": "area_code"}), on="area_code"
    )
    lone = counties.filter(pl.col("schools") == 1)
    assert lone.height > 0
    assert lone["ci_low"].is_null().all() and lone["ci_high"].is_null().all()
    assert (lone["reliability"] == "unreliable").all()
    no_df = mart.filter(pl.col("df") < 1)
    assert no_df["ci_low"].is_null().all() and (no_df["reliability"] == "unreliable").all()


def test_no_zero_width_interval(uncertainty_warehouse):
    mart = uncertainty_warehouse["mart"].filter(pl.col("ci_low").is_not_null())
    zero = mart.filter(pl.col("ci_high") <= pl.col("ci_low"))
    assert zero.height == 0
    at_zero = mart.filter(pl.col("estimate") == 0)
    assert at_zero.height > 0
    assert (at_zero["ci_low"] == 0).all() and (at_zero["ci_high"] > 0).all()
    n = at_zero["n"].to_numpy().astype(float)
    assert (at_zero["metric"].str.starts_with("item_")).all()
    assert (mart["ci_low"] >= -1e-15).filter(mart["metric"].str.starts_with("item_")).all()
    assert n.min() >= 10


def test_zero_share_upper_bound_uses_the_sample_size(uncertainty_warehouse):
    """p = 0 has se = 0: the effective n is n, shrunk by the Korn–Graubard df factor."""
    mart = uncertainty_warehouse["mart"]
    waves_n = uncertainty_warehouse["frame"].height
    row = mart.filter((pl.col("estimate") == 0) & (pl.col("df") >= 1)).row(0, named=True)
    factor = (t_quantile(0.025, waves_n - 1) / t_quantile(0.025, row["df"])) ** 2
    expected = beta_quantile(0.975, 1.0, row["n"] * factor)
    assert row["ci_high"] == pytest.approx(float(expected), rel=1e-12)
    assert row["reliability"] == "caution"


def test_reliability_rule(uncertainty_warehouse):
    frame = uncertainty_warehouse["frame"]
    mart = uncertainty_warehouse["mart"].filter(~pl.col("suppressed") & pl.col("metric").is_in(TEACHER_METRICS))
    schools = {}
    for name in TEACHER_METRICS:
        y, x = metric_values(frame, name)
        keep = ~np.isnan(y) & ~np.isnan(x)
        sub = frame.filter(pl.Series(keep))
        for level, column in (("region", None), ("league", "league_code"), ("county", "county_code")):
            groups = (
                sub.group_by(column).agg(pl.col("school_code").n_unique())
                if column
                else pl.DataFrame({column or "k": ["150000"], "school_code": [sub["school_code"].n_unique()]})
            )
            for code, count in groups.iter_rows():
                schools[(level, code, name)] = count

    def expected(row) -> str:
        if row["df"] < 1 or schools[(row["area_level"], row["area_code"], row["metric"])] < 2:
            return "unreliable"
        if row["estimate"] == 0 or row["se"] == 0 or row["df"] < 8 or row["se"] / abs(row["estimate"]) >= 0.3:
            return "caution"
        return "reliable"

    wanted = [expected(row) for row in mart.iter_rows(named=True)]
    assert mart["reliability"].to_list() == wanted
    assert {"unreliable", "caution", "reliable"} <= set(wanted)


CHANGE_WAVES = ("2024-03", "2024-09")
PLANTED_RISE = 1.5


def with_school_effects(frame: pl.DataFrame, effects: dict[str, float]) -> pl.DataFrame:
    """Add a persistent school effect to hours: schools that recur keep it, so it cancels in a change."""
    effect = frame["school_code"].replace_strict(effects, return_dtype=pl.Float64)
    return frame.with_columns(
        (pl.col("hours_total") + 4 * effect).clip(0, 112).alias("hours_total"),
        (pl.col("hours_cat1") + effect).clip(0, 112).alias("hours_cat1"),
        (pl.col("hours_cat2") + effect).clip(0, 112).alias("hours_cat2"),
    )


@pytest.fixture(scope="module")
def change_warehouse(tmp_path_factory):
    """Two waves over the same schools but one dropped and one new, persistent school effects,
    and a planted rise of PLANTED_RISE weekly hours of category 1 in Hohhot (150100)."""
    root = tmp_path_factory.mktemp("changes")
    jianfu = new_warehouse(root)
    rng = np.random.default_rng(303)
    layout = random_layout(rng)
    later_layout = [s for s in layout if s[0] != layout[3][0]] + [("150105777", "primary", 20)]
    effects = {school: float(rng.gamma(2.0, 1.5)) for school, _, _ in layout + later_layout}
    earlier = with_school_effects(survey_frame(CHANGE_WAVES[0], layout, rng, 0.05), effects)
    later = with_school_effects(survey_frame(CHANGE_WAVES[1], later_layout, rng, 0.05), effects)
    later = later.with_columns(
        pl.when(pl.col("league_code") == "150100")
        .then(pl.col("hours_cat1") + PLANTED_RISE)
        .otherwise(pl.col("hours_cat1"))
        .alias("hours_cat1")
    )
    frames = {CHANGE_WAVES[0]: earlier, CHANGE_WAVES[1]: later}
    for frame in frames.values():
        insert_staged(jianfu, "staging.teacher_survey_staged", frame)
    materialize_waves(jianfu, CHANGE_WAVES)
    materialize_waves_changes(jianfu)
    with jianfu.connect(read_only=True) as conn:
        population = conn.sql("select * from ref.teacher_population").pl()
        divisions = conn.sql("select * from ref.divisions").pl()
        changes = conn.sql("select * from marts.wave_changes").pl()
        cells = conn.sql("select * from marts.area_metrics").pl()
    return {
        "frames": frames,
        "population": population,
        "divisions": divisions,
        "changes": changes,
        "cells": cells,
        "root": root,
    }


def materialize_waves_changes(jianfu) -> None:
    result = dg.materialize(
        [wave_changes, wave_changes_consistent], resources={"jianfu": jianfu, "monitoring": MonitoringConfig()}
    )
    assert result.success
    assert all(check.passed for check in result.get_asset_check_evaluations())


@pytest.fixture(scope="module")
def changes_against_r(change_warehouse):
    w = change_warehouse
    parts = []
    for wave, frame in w["frames"].items():
        inputs = oracle_inputs(frame, w["population"], w["divisions"])
        parts.append((wave, inputs))
    respondents = pl.concat(
        [
            i["respondents"].with_columns(
                pl.lit(wave).alias("wave"), (pl.lit(wave + "_") + pl.col("stratum")).alias("poststratum")
            )
            for wave, i in parts
        ],
        how="vertical_relaxed",
    )
    population = pl.concat(
        [
            i["population"].select((pl.lit(wave + "_") + pl.col("stratum")).alias("poststratum"), "Freq")
            for wave, i in parts
        ]
    )
    areas = pl.concat([i["areas"] for _, i in parts]).unique()
    r = run_oracle(
        "wave_changes.R",
        w["root"] / "oracle_changes",
        {"respondents": respondents, "population": population, "areas": areas, "metrics": parts[0][1]["metrics"]},
    )
    teacher = w["changes"].filter(pl.col("metric").is_in(TEACHER_METRICS))
    return teacher.join(r, on=["area_level", "area_code", "metric"], how="left")


def test_change_standard_errors_equal_r_stacked_design(changes_against_r):
    compared = changes_against_r
    assert compared.height > 500 and compared["r_se"].null_count() == 0
    assert (compared["change"] - compared["r_change"]).abs().max() < 1e-8
    assert (compared["se"] - compared["r_se"]).abs().max() < 1e-8
    assert (compared["df"] == compared["r_df"]).all()


def test_recurring_schools_shrink_the_change_se(change_warehouse):
    """With persistent school effects the stacked SE is well below the independent-waves SE."""
    changes, cells = change_warehouse["changes"], change_warehouse["cells"]
    se = cells.select("wave", "area_level", "area_code", "metric", "se")
    both = changes.join(se, on=["wave", "area_level", "area_code", "metric"]).join(
        se.rename({"wave": "previous_wave", "se": "previous_se"}),
        on=["previous_wave", "area_level", "area_code", "metric"],
    )
    hours = both.filter((pl.col("metric") == "hours_total") & (pl.col("area_level") != "county"))
    ratio = hours["se_right"] / (hours["se_right"] ** 2 + hours["previous_se"] ** 2).sqrt()
    assert hours.height >= 4 and ratio.max() < 0.8


def test_planted_rise_is_recovered(change_warehouse):
    changes = change_warehouse["changes"]
    hohhot = changes.filter((pl.col("area_code") == "150100") & (pl.col("metric") == "hours_cat1")).row(0, named=True)
    assert hohhot["ci_low"] < PLANTED_RISE < hohhot["ci_high"]
    assert hohhot["significant"] and hohhot["direction"] == "worsening"
    others = changes.filter(
        (pl.col("area_level") == "league") & (pl.col("metric") == "hours_cat1") & (pl.col("area_code") != "150100")
    )
    assert others.height >= 1 and not others["significant"].any()


def test_coverage_simulation_on_generated_truth(tmp_path):
    """Three generator seeds: section 9 intervals never have zero width or go below 0, and cover
    the true county values far more often than the 1.96 rule they replace."""
    cells = pl.concat([simulate_seed(seed, 6000, tmp_path / str(seed)) for seed in (11, 12, 13)])
    rows = summarise(cells)
    assert {r["metrics"] for r in rows} == {"item shares", "rare item shares", "hours_nonteaching"}
    assert sum(r["zero_width_before"] for r in rows) > 100 and sum(r["zero_width_after"] for r in rows) == 0
    assert sum(r["share_below_0_after"] for r in rows) == 0
    one_school = [r for r in rows if r["schools"] == "1"]
    assert all(r["coverage_after"] is None and r["no_interval_after"] == r["cells"] for r in one_school)
    for r in rows:
        if r["schools"] in ("4-5", "6-8") and r["cells"] >= 30:
            assert r["coverage_after"] >= 0.85 and r["coverage_after"] > r["coverage_before"], r
