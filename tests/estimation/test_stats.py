"""area_metrics against an independent design-based computation, and its disclosure control.

The reference implementation below loops over strata and schools explicitly (the textbook
form of R survey::svymean's linearisation variance on a post-stratified design); the mart
aggregates PSU sums in SQL. tests/estimation/test_uncertainty.py checks both against R itself.
"""

from __future__ import annotations

import math
from collections import defaultdict

import duckdb
import numpy as np
import polars as pl
import pytest
from helpers import (
    TEACHER_METRICS,
    insert_staged,
    materialize_waves,
    metric_values,
    new_warehouse,
    read_mart,
    survey_frame,
)
from scipy.stats import norm

from assets.marts import (
    area_metrics,
    area_metrics_interval_holds_estimate,
    area_metrics_intervals_are_honest,
    area_metrics_no_lone_suppressed_sibling,
    area_metrics_no_small_published_cell,
    area_metrics_shares_in_range,
)
from pipelines.catalogue.metrics import METRICS
from pipelines.resources import SQL_DIR, MonitoringConfig

# (school, school_level, respondents): schools are <county code><3-digit number>.
UNEQUAL_LAYOUT = [
    ("150102001", "primary", 30),
    ("150102002", "primary", 12),
    ("150103001", "primary", 25),
    ("150104001", "primary", 40),
    ("150105001", "primary", 6),
    ("150102003", "junior", 15),
    ("150121001", "junior", 20),
    ("150103002", "junior", 11),
    ("150102004", "senior", 18),
    ("150202001", "primary", 35),
    ("150203001", "primary", 9),
    ("150204001", "primary", 28),
    ("150202002", "junior", 22),
    ("150205001", "junior", 14),
    ("150302001", "primary", 7),
]
SUPPRESSION_LAYOUT = [
    ("150102001", "primary", 30),
    ("150103001", "primary", 12),
    ("150104001", "primary", 12),
    ("150105001", "primary", 5),
    ("150202001", "primary", 25),
    ("150203001", "junior", 15),
    ("150302001", "primary", 7),
    ("150402001", "primary", 4),
    ("150403001", "primary", 3),
    ("150404001", "primary", 25),
]
TRUTH_LAYOUT = [
    ("150102001", "primary", 10),
    ("150103001", "primary", 10),
    ("150104001", "primary", 10),
    ("150105001", "primary", 10),
    ("150102002", "junior", 30),
    ("150121001", "junior", 30),
]
WAVES = {"2024-03": UNEQUAL_LAYOUT, "2024-06": SUPPRESSION_LAYOUT, "2024-09": TRUTH_LAYOUT}
TRUTH_MEANS = {"primary": 10.0, "junior": 20.0}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    root = tmp_path_factory.mktemp("stats")
    jianfu = new_warehouse(root)
    rng = np.random.default_rng(2024)
    frames = {}
    for wave, layout in WAVES.items():
        frame = survey_frame(wave, layout, rng, blank_rate=0.12 if wave == "2024-03" else 0.0)
        if wave == "2024-09":
            frame = frame.with_columns(pl.col("school_level").replace_strict(TRUTH_MEANS).alias("hours_total"))
        frames[wave] = frame
        insert_staged(jianfu, "staging.teacher_survey_staged", frame)
    materialize_waves(jianfu, WAVES)
    with jianfu.connect(read_only=True) as conn:
        population = conn.sql("select * from ref.teacher_population").pl()
        divisions = conn.sql("select * from ref.divisions").pl()
    return {"jianfu": jianfu, "frames": frames, "population": population, "divisions": divisions}


def reference_weights(frame: pl.DataFrame, population: pl.DataFrame, divisions: pl.DataFrame) -> np.ndarray:
    league_of = dict(zip(divisions["code"], divisions["parent_code"]))
    totals = defaultdict(float)
    for county, level, n in population.iter_rows():
        totals[(league_of[county], level)] += n
    sample = defaultdict(int)
    for key in zip(frame["league_code"], frame["school_level"]):
        sample[key] += 1
    return np.array([totals[key] / sample[key] for key in zip(frame["league_code"], frame["school_level"])])


def reference_estimate(frame, weights, y, x, in_area):
    """Ratio estimate and its post-stratified linearisation SE, looping over strata and schools.

    Each respondent's linearised value d_i is 0 outside the domain; post-stratification
    subtracts the stratum's plain mean of d from every respondent of the stratum, members or not.
    """
    member = in_area & ~np.isnan(y) & ~np.isnan(x)
    total_x = np.sum(weights[member] * x[member])
    ratio = np.sum(weights[member] * y[member]) / total_x
    d = np.where(member, (np.nan_to_num(y) - ratio * np.nan_to_num(x)) / total_x, 0.0)
    keys = list(zip(frame["league_code"], frame["school_level"]))
    by_stratum = defaultdict(list)
    for i, key in enumerate(keys):
        by_stratum[key].append(i)
    variance = 0.0
    for rows in by_stratum.values():
        mean_d = sum(d[i] for i in rows) / len(rows)
        psu_totals = defaultdict(float)
        for i in rows:
            psu_totals[frame["school_code"][i]] += weights[i] * (d[i] - mean_d)
        count = len(psu_totals)
        if count > 1:
            centre = sum(psu_totals.values()) / count
            variance += count / (count - 1) * sum((t - centre) ** 2 for t in psu_totals.values())
    return ratio, math.sqrt(variance), int(member.sum())


def area_mask(frame: pl.DataFrame, level: str, code: str) -> np.ndarray:
    if level == "region":
        return np.ones(frame.height, dtype=bool)
    column = "league_code" if level == "league" else "county_code"
    return (frame[column] == code).to_numpy()


@pytest.mark.parametrize("wave", ["2024-03", "2024-06", "2024-09"])
def test_estimates_and_standard_errors_match_reference(warehouse, wave):
    frame = warehouse["frames"][wave]
    weights = reference_weights(frame, warehouse["population"], warehouse["divisions"])
    mart = read_mart(warehouse["jianfu"], wave).filter(pl.col("metric").is_in(TEACHER_METRICS))
    compared, worst = 0, 0.0
    for row in mart.iter_rows(named=True):
        mask = area_mask(frame, row["area_level"], row["area_code"])
        y, x = metric_values(frame, row["metric"])
        n = int((mask & ~np.isnan(y) & ~np.isnan(x)).sum())
        assert row["n"] == n, row
        if row["suppressed"]:
            continue
        estimate, se, _ = reference_estimate(frame, weights, y, x, mask)
        assert row["estimate"] == pytest.approx(estimate, abs=1e-9, rel=1e-12)
        assert row["se"] == pytest.approx(se, abs=1e-9, rel=1e-9)
        worst = max(worst, abs(row["estimate"] - estimate), abs(row["se"] - se))
        compared += 1
    assert compared > 100
    assert worst < 1e-9


def test_layout_covers_the_hard_cases(warehouse):
    """The unequal layout has a single-school stratum, county domains, blanks and the ratio metric."""
    frame = warehouse["frames"]["2024-03"]
    schools_per_stratum = frame.group_by("league_code", "school_level").agg(pl.col("school_code").n_unique())
    assert 1 in schools_per_stratum["school_code"].to_list()
    mart = read_mart(warehouse["jianfu"], "2024-03")
    published = mart.filter(~pl.col("suppressed"))
    assert published.filter(pl.col("area_level") == "county").height > 50
    assert frame["hours_cat3"].null_count() > 0
    ratio = published.filter((pl.col("metric") == "nonteaching_share") & (pl.col("area_level") == "region"))
    hours = published.filter((pl.col("metric") == "hours_total") & (pl.col("area_level") == "region"))
    assert ratio["n"][0] < hours["n"][0] < frame.height


def test_single_school_strata_get_no_interval(warehouse):
    """In 2024-06 Baotou's primary and junior strata hold one school each: post-stratification
    fixes each stratum's total, so no sampling variance can be estimated (df = 0), and the mart
    says so (no interval, 'unreliable') instead of printing a zero-width interval."""
    mart = read_mart(warehouse["jianfu"], "2024-06").filter(
        pl.col("area_code").is_in(["150200", "150203"]) & (pl.col("metric") == "hours_total")
    )
    assert not mart["suppressed"].any()
    for row in mart.iter_rows(named=True):
        assert row["df"] == 0 and row["ci_low"] is None and row["ci_high"] is None, row
        assert row["reliability"] == "unreliable", row
    frame = warehouse["frames"]["2024-06"]
    assert frame.filter(pl.col("league_code") == "150200")["hours_total"].std() > 1
    hohhot = (
        read_mart(warehouse["jianfu"], "2024-06")
        .filter((pl.col("area_code") == "150100") & (pl.col("metric") == "hours_total"))
        .row(0, named=True)
    )
    assert hohhot["df"] == 3 and hohhot["se"] > 0.05 and hohhot["ci_low"] < hohhot["estimate"]


def test_one_row_per_area_and_metric(warehouse):
    mart = read_mart(warehouse["jianfu"], "2024-03")
    divisions = warehouse["divisions"]
    assert mart.height == divisions.height * len(METRICS)
    assert mart.select("area_level", "area_code", "metric").n_unique() == mart.height
    counties = mart.filter(pl.col("area_level") == "county")
    assert counties["area_code"].n_unique() == 103
    empty = counties.filter(pl.col("n") == 0)
    assert empty.height > 0
    teacher_empty = empty.filter(pl.col("metric").is_in(TEACHER_METRICS))
    assert teacher_empty["suppressed"].all() and teacher_empty["estimate"].is_null().all()
    assert (teacher_empty["suppression"] == "primary").all()


def test_no_published_cell_below_minimum(warehouse):
    for wave in WAVES:
        mart = read_mart(warehouse["jianfu"], wave).filter(pl.col("metric").is_in(TEACHER_METRICS))
        published = mart.filter(~pl.col("suppressed"))
        assert published["n"].min() >= 10
        assert mart.filter(pl.col("n") < 10)["suppressed"].all()
        hidden = mart.filter(pl.col("suppressed"))
        for column in ("estimate", "ci_low", "ci_high", "se", "estimate_unweighted", "reliability"):
            assert hidden[column].is_null().all()


def test_secondary_suppression_picks_smallest_published_sibling(warehouse):
    mart = read_mart(warehouse["jianfu"], "2024-06").filter(pl.col("metric") == "hours_total")
    status = dict(zip(mart["area_code"], mart["suppression"]))
    assert status["150105"] == "primary"
    assert status["150103"] == "secondary"  # n = 12 ties with 150104: the lower code goes
    assert status["150104"] is None and status["150102"] is None
    assert status["150402"] == status["150403"] == "primary"
    assert status["150404"] == "secondary"  # 4 + 3 < 10: the two small counties' sum would show
    assert status["150300"] == "primary"  # Wuhai, n = 7
    assert status["150400"] == "secondary"  # the smallest published league, n = 32 < 40 (Baotou)
    assert status["150200"] is None and status["150100"] is None
    assert status["150000"] is None


def test_suppressed_siblings_hold_at_least_ten(warehouse):
    """Wherever a sibling is published, its suppressed siblings with respondents hold n >= 10;
    a group whose members are all suppressed has a suppressed parent, so nothing can be subtracted."""
    divisions = warehouse["divisions"]
    parents = divisions.select(pl.col("code").alias("area_code"), "parent_code")
    exposed_groups = 0
    for wave in WAVES:
        mart = read_mart(warehouse["jianfu"], wave).filter(pl.col("metric").is_in(TEACHER_METRICS))
        members = mart.filter(pl.col("area_level").is_in(["league", "county"])).join(parents, on="area_code")
        groups = members.group_by("metric", "area_level", "parent_code").agg(
            (pl.col("n") * (pl.col("suppressed") & (pl.col("n") >= 1))).sum().alias("suppressed_n"),
            (pl.col("suppressed") & (pl.col("n") >= 1)).sum().alias("suppressed"),
            (~pl.col("suppressed")).sum().alias("published"),
        )
        exposed = groups.filter((pl.col("suppressed") >= 1) & (pl.col("published") >= 1))
        assert (exposed["suppressed_n"] >= 10).all(), wave
        exposed_groups += exposed.height
        hidden = groups.filter((pl.col("suppressed") >= 1) & (pl.col("published") == 0)).join(
            mart.select(pl.col("area_code").alias("parent_code"), "metric", pl.col("suppressed").alias("parent")),
            on=["parent_code", "metric"],
        )
        assert hidden["parent"].all(), wave
    assert exposed_groups > 0


def test_weighted_estimate_is_the_population_truth(warehouse):
    """Constant values within strata sampled unequally: weighted = Σ N_h·μ_h / Σ N_h ≠ unweighted."""
    population, divisions = warehouse["population"], warehouse["divisions"]
    hohhot = divisions.filter(pl.col("parent_code") == "150100")["code"].to_list()
    sizes = (
        population.filter(pl.col("county_code").is_in(hohhot)).group_by("school_level").agg(pl.col("n_teachers").sum())
    )
    size = dict(zip(sizes["school_level"], sizes["n_teachers"]))
    truth = sum(size[level] * mean for level, mean in TRUTH_MEANS.items()) / sum(size[level] for level in TRUTH_MEANS)
    mart = read_mart(warehouse["jianfu"], "2024-09").filter(
        (pl.col("metric") == "hours_total") & (pl.col("area_code") == "150100")
    )
    row = mart.row(0, named=True)
    assert row["estimate"] == pytest.approx(truth, rel=1e-12)
    assert row["estimate_unweighted"] == pytest.approx((40 * 10 + 60 * 20) / 100, rel=1e-12)
    assert abs(row["estimate"] - row["estimate_unweighted"]) > 0.1


def test_school_metrics_are_unweighted_and_never_suppressed(tmp_path):
    jianfu = new_warehouse(tmp_path)
    reports = pl.DataFrame(
        {
            "wave": ["2024-03"] * 4,
            "school_code": ["150102001", "150102002", "150103001", "150202001"],
            "county_code": ["150102", "150102", "150103", "150202"],
            "league_code": ["150100", "150100", "150100", "150200"],
            "n_inspections": [4, 2, None, 9],
            "n_campus_events": [1, 1, 1, 0],
            "n_forms_requests": [10, 20, 30, 40],
            "n_seconded_over_6m": [0, 2, 1, 0],
        }
    )
    insert_staged(jianfu, "staging.school_report_staged", reports)
    materialize_waves(jianfu, ["2024-03"])
    mart = read_mart(jianfu, "2024-03")
    cells = {(a, m): r for a, m, r in zip(mart["area_code"], mart["metric"], mart.iter_rows(named=True))}
    hohhot = cells[("150100", "school_inspections_per_school")]
    assert hohhot["estimate"] == pytest.approx(3.0) and hohhot["n"] == 3 and not hohhot["suppressed"]
    assert hohhot["ci_low"] is None and hohhot["se"] is None
    assert cells[("150100", "school_forms_per_school")]["estimate"] == pytest.approx(20.0)
    assert cells[("150100", "school_seconded_over_6m")]["estimate"] == 3.0
    assert cells[("150000", "school_seconded_over_6m")]["estimate"] == 3.0
    assert cells[("150000", "school_campus_events_per_school")]["estimate"] == pytest.approx(0.75)
    assert cells[("150202", "school_inspections_per_school")]["n"] == 1
    assert not cells[("150202", "school_inspections_per_school")]["suppressed"]
    assert cells[("150000", "hours_total")]["suppressed"]


def test_rematerializing_a_wave_replaces_its_rows(warehouse):
    jianfu = warehouse["jianfu"]
    before = read_mart(jianfu, "2024-06")
    materialize_waves(jianfu, ["2024-06"], assets=(area_metrics,))
    after = read_mart(jianfu, "2024-06")
    assert after.sort("area_code", "metric").equals(before.sort("area_code", "metric"))
    with jianfu.connect(read_only=True) as conn:
        waves = dict(conn.execute("select wave, count(*) from marts.area_metrics group by wave").fetchall())
    assert set(waves) == set(WAVES) and len(set(waves.values())) == 1


def test_normal_distribution_macros_match_scipy():
    conn = duckdb.connect()
    for ddl in sorted((SQL_DIR / "ddl").glob("*.sql")):
        conn.execute(ddl.read_text(encoding="utf-8"))
    x = np.concatenate([np.linspace(-12, 12, 4801), [0.67448975, 5.656854249492381, 20.0, 38.0]])
    conn.register("points", pl.DataFrame({"x": x}))
    values = conn.sql("select marts.normal_cdf(x) as cdf, marts.two_sided_p(x) as p from points").pl()
    assert np.max(np.abs(values["cdf"].to_numpy() - norm.cdf(x))) < 1e-15
    expected_p = 2 * norm.sf(np.abs(x))
    assert np.max(np.abs(values["p"].to_numpy() - expected_p)) < 1e-15
    tail = expected_p > 1e-300
    assert np.max(np.abs(values["p"].to_numpy()[tail] / expected_p[tail] - 1)) < 1e-12


def test_area_checks_catch_planted_violations(tmp_path):
    """A small published cell, a small suppressed league beside published ones, an interval missing
    its estimate, a share above 1, a zero-width interval."""
    jianfu = new_warehouse(tmp_path)
    cells = pl.DataFrame(
        {
            "wave": ["2024-03"] * 5,
            "area_level": ["county", "county", "league", "league", "county"],
            "area_code": ["150102", "150103", "150100", "150200", "150104"],
            "metric": ["hours_total", "hours_total", "item_01", "item_01", "hours_total"],
            "estimate": [40.0, 41.0, 1.2, None, 40.0],
            "ci_low": [39.0, 41.5, 1.1, None, 40.0],
            "ci_high": [41.0, 42.0, 1.3, None, 40.0],
            "n": [5, 30, 50, 5, 30],
            "suppressed": [False, False, False, True, False],
            "df": [4, 4, 9, None, 5],
        }
    )
    insert_staged(jianfu, "marts.area_metrics", cells)
    outcomes = [
        area_metrics_no_small_published_cell(jianfu=jianfu, monitoring=MonitoringConfig()),
        area_metrics_no_lone_suppressed_sibling(jianfu=jianfu),
        area_metrics_interval_holds_estimate(jianfu=jianfu),
        area_metrics_shares_in_range(jianfu=jianfu),
        area_metrics_intervals_are_honest(jianfu=jianfu),
    ]
    assert [outcome.passed for outcome in outcomes] == [False] * 5
    assert [outcome.metadata["violations"].value for outcome in outcomes] == [1] * 5
