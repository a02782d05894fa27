"""Fay–Herriot county estimates against a separate REML written here, and on planted truths.

The reference maximises the restricted log-likelihood numerically (no Fisher scoring), so it
shares no code path with pipelines.estimation.small_area.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.optimize import minimize_scalar

from pipelines.estimation.small_area import county_estimates, eblup, fit_fay_herriot


def restricted_loglik(sigma2: float, y: np.ndarray, x: np.ndarray, psi: np.ndarray) -> float:
    v = np.diag(sigma2 + psi)
    v_inv = np.linalg.inv(v)
    xtvx = x.T @ v_inv @ x
    p = v_inv - v_inv @ x @ np.linalg.inv(xtvx) @ x.T @ v_inv
    return -0.5 * (np.linalg.slogdet(v)[1] + np.linalg.slogdet(xtvx)[1] + y @ p @ y)


def reference_fit(y, x, psi):
    best = minimize_scalar(
        lambda s: -restricted_loglik(s, y, x, psi),
        bounds=(0.0, 50 * np.var(y)),
        method="bounded",
        options={"xatol": 1e-12},
    )
    sigma2 = best.x
    v_inv = np.diag(1 / (sigma2 + psi))
    beta = np.linalg.solve(x.T @ v_inv @ x, x.T @ v_inv @ y)
    gamma = sigma2 / (sigma2 + psi)
    return sigma2, beta, gamma * y + (1 - gamma) * (x @ beta)


def planted(seed: int, m: int = 80, sigma2: float = 0.5):
    rng = np.random.default_rng(seed)
    x = np.column_stack([np.ones(m), rng.uniform(0, 1, m), rng.uniform(0, 1, m)])
    beta = np.array([10.0, 3.0, -2.0])
    truth = x @ beta + rng.normal(0, np.sqrt(sigma2), m)
    psi = rng.uniform(0.05, 3.0, m)
    return x, truth, truth + rng.normal(0, np.sqrt(psi)), psi


def test_reml_and_eblup_match_a_separate_reml():
    x, _, y, psi = planted(1)
    fit = fit_fay_herriot(y, x, psi)
    sigma2, beta, estimate = reference_fit(y, x, psi)
    assert fit.sigma2_u == pytest.approx(sigma2, rel=1e-6)
    assert fit.beta == pytest.approx(beta, rel=1e-6)
    assert eblup(fit, y, x, psi)["estimate"] == pytest.approx(estimate, rel=1e-7)


def test_eblup_beats_the_direct_estimate_and_its_mse_is_honest():
    """Over planted truths the EBLUP's error is well below the direct one's, most for noisy
    counties, and the Prasad–Rao MSE matches the realised squared error on average."""
    direct_error, model_error, mse_sum, noisy_gain = 0.0, 0.0, 0.0, []
    for seed in range(40):
        x, truth, y, psi = planted(100 + seed)
        fit = fit_fay_herriot(y, x, psi)
        result = eblup(fit, y, x, psi)
        direct_error += np.mean((y - truth) ** 2)
        model_error += np.mean((result["estimate"] - truth) ** 2)
        mse_sum += np.mean(result["mse"])
        noisy = psi > 2
        noisy_gain.append(
            np.mean((y[noisy] - truth[noisy]) ** 2) / np.mean((result["estimate"][noisy] - truth[noisy]) ** 2)
        )
    assert model_error < 0.5 * direct_error
    assert np.median(noisy_gain) > 2
    assert mse_sum / model_error == pytest.approx(1.0, abs=0.15)


def test_county_estimates_cover_every_county_and_never_use_a_suppressed_figure():
    x, _truth, y, psi = planted(7, m=30)
    codes = [f"1501{k:02d}" for k in range(30)]
    covariates = pl.DataFrame(
        {"area_code": codes, "league_code": ["150100"] * 15 + ["150200"] * 15, "a": x[:, 1], "b": x[:, 2]}
    )
    cells = pl.DataFrame(
        {
            "wave": "2024-03",
            "area_code": codes,
            "metric": "hours_total",
            "estimate": [None if k < 3 else float(v) for k, v in enumerate(y)],
            "se": [None if k < 3 else float(v) for k, v in enumerate(np.sqrt(psi))],
            "df": [None if k < 3 else 4 for k in range(30)],
            "n": [5] * 3 + [40] * 27,
            "reliability": [None] * 3 + ["caution"] * 27,
        }
    )
    got = county_estimates(cells, covariates, ["a", "b"]).sort("area_code")
    assert got.height == 30
    assert (got["method"] == ["synthetic"] * 3 + ["eblup"] * 27).all()
    hidden = got.head(3)
    assert (hidden["shrinkage"] == 1).all() and (hidden["estimate"] == hidden["synthetic_estimate"]).all()
    leaked = cells.with_columns(
        pl.when(pl.col("area_code") == codes[0]).then(999.0).otherwise(pl.col("estimate")).alias("estimate"),
        pl.when(pl.col("area_code") == codes[0]).then(None).otherwise(pl.col("se")).alias("se"),
    )
    again = county_estimates(leaked, covariates, ["a", "b"]).sort("area_code")
    assert again["estimate"].to_list() == pytest.approx(got["estimate"].to_list()), "a figure without se stays out"
    assert got["fit_counties"][0] == 27 and got["parameters"][0] == 4


def test_county_estimates_asset_on_a_warehouse(tmp_path):
    """Every county × teacher metric gets a row; thin counties are the ones without a reliable direct figure."""
    import dagster as dg
    from helpers import TEACHER_METRICS, insert_staged, materialize_waves, new_warehouse, random_layout, survey_frame

    from assets.marts import county_estimates as asset
    from pipelines.resources import MonitoringConfig

    jianfu = new_warehouse(tmp_path)
    rng = np.random.default_rng(9)
    insert_staged(jianfu, "staging.teacher_survey_staged", survey_frame("2024-03", random_layout(rng), rng, 0.05))
    materialize_waves(jianfu, ["2024-03"])
    assert dg.materialize([asset], resources={"jianfu": jianfu, "monitoring": MonitoringConfig()}).success
    with jianfu.connect(read_only=True) as conn:
        got = conn.sql("select * from marts.county_estimates").pl()
        direct = conn.sql(
            "select area_code, metric, reliability, suppressed from marts.area_metrics where area_level = 'county'"
        ).pl()
    hours = got.filter(pl.col("metric") == "hours_total")
    assert hours.height == 103 and set(got["metric"]) <= set(TEACHER_METRICS)
    joined = got.join(direct, on=["area_code", "metric"])
    assert (joined["thin"] == (joined["reliability"].fill_null("") != "reliable")).all()
    assert (joined.filter(pl.col("suppressed"))["method"] == "synthetic").all()
    assert joined.filter(pl.col("metric").str.starts_with("item_"))["estimate"].is_between(0, 1).all()


def test_a_design_the_counties_cannot_carry_falls_back_to_a_smaller_model():
    """Six counties, a constant covariate and as many leagues as counties: only the intercept has meaning."""
    codes = [f"1501{k:02d}" for k in range(8)]
    covariates = pl.DataFrame(
        {
            "area_code": codes,
            "league_code": [f"15{k:02d}00" for k in range(8)],
            "a": [0.5] * 8,
            "b": [0.2, 0.4, 0.1, 0.3, 0.6, 0.2, 0.5, 0.4],
        }
    )
    estimates = [40.0, 42.0, 39.0, 41.0, 43.0, 40.5, None, None]
    cells = pl.DataFrame(
        {
            "wave": "2024-03",
            "area_code": codes,
            "metric": "hours_total",
            "estimate": estimates,
            "se": [1.0 if e is not None else None for e in estimates],
            "df": [3 if e is not None else None for e in estimates],
            "n": [30] * 6 + [4] * 2,
            "reliability": ["caution"] * 6 + [None] * 2,
        }
    )
    got = county_estimates(cells, covariates, ["a", "b"]).sort("area_code")
    assert got["parameters"].unique().to_list() == [1]
    assert (got["mse"].sqrt() < 5).all(), "a rank-deficient fit must not publish an unbounded MSE"
    synthetic = got.filter(pl.col("method") == "synthetic")["estimate"].to_list()
    assert synthetic == pytest.approx([np.mean([e for e in estimates if e is not None])] * 2, abs=0.5)
