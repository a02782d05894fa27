"""Fay–Herriot small-area estimates for counties (旗县区), the committee's accountability unit.

A county's direct estimate often rests on a handful of schools. The area-level model
    direct_d = x_d'β + u_d + e_d,   u_d ~ N(0, σ²_u),   e_d ~ N(0, ψ_d = direct_se_d²)
borrows strength from counties alike in the reference files (school-level mix, urban
share, league). The EBLUP shrinks each direct estimate towards its synthetic x_d'β̂ by
B_d = ψ_d / (σ²_u + ψ_d) (`shrinkage`: 0 is the direct figure, 1 the model's), so a noisy
county moves most. σ²_u is fitted by REML with Fisher scoring, as R's sae::eblupFH does;
the MSE is Prasad–Rao's g1 + g2 + 2·g3 with the REML variance of σ̂²_u (Datta & Lahiri).
Counties without a usable direct estimate (suppressed, no interval, no variance) get the
synthetic estimate with MSE σ²_u + g2 and take no part in the fit, so the model never
carries a suppressed figure into a published one.
The inputs are county aggregates (one row per county and metric), never survey rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

MAX_ITERATIONS = 100
TOLERANCE = 1e-10
MIN_FIT_COUNTIES = 5
"""Below this many counties with a usable direct estimate a metric gets no model."""
MIN_RESIDUAL_DF = 3
"""Residual degrees of freedom a model's design must leave over its parameters."""


@dataclass(frozen=True)
class FayHerriotFit:
    beta: np.ndarray
    beta_cov: np.ndarray
    sigma2_u: float
    sigma2_var: float
    iterations: int


def _restricted_parts(y: np.ndarray, x: np.ndarray, psi: np.ndarray, sigma2: float):
    v_inv = 1.0 / (sigma2 + psi)
    xtvx = x.T @ (x * v_inv[:, None])
    xtvx_inv = np.linalg.pinv(xtvx)
    p = np.diag(v_inv) - (x * v_inv[:, None]) @ xtvx_inv @ (x * v_inv[:, None]).T
    return p, xtvx_inv, v_inv


def fit_fay_herriot(y: np.ndarray, x: np.ndarray, psi: np.ndarray) -> FayHerriotFit:
    """REML fit by Fisher scoring: σ² ← σ² + (−½ tr P + ½ y'P²y) / (½ tr P²), kept ≥ 0."""
    y, x, psi = (np.asarray(a, dtype=float) for a in (y, x, psi))
    sigma2 = max(float(np.var(y, ddof=1) - np.mean(psi)), float(np.median(psi)), 1e-12)
    iterations = 0
    for iterations in range(1, MAX_ITERATIONS + 1):  # noqa: B007 (the count is returned)
        p, _, _ = _restricted_parts(y, x, psi, sigma2)
        py = p @ y
        score = -0.5 * np.trace(p) + 0.5 * py @ py
        information = 0.5 * np.sum(p * p)
        step = score / information
        updated = max(sigma2 + step, 0.0)
        if abs(updated - sigma2) <= TOLERANCE * max(1.0, sigma2):
            sigma2 = updated
            break
        sigma2 = updated
    _, xtvx_inv, v_inv = _restricted_parts(y, x, psi, sigma2)
    beta = xtvx_inv @ (x.T @ (v_inv * y))
    sigma2_var = 2.0 / np.sum(v_inv**2)
    return FayHerriotFit(beta, xtvx_inv, sigma2, float(sigma2_var), iterations)


def eblup(fit: FayHerriotFit, y: np.ndarray, x: np.ndarray, psi: np.ndarray) -> dict[str, np.ndarray]:
    """EBLUP, shrinkage and Prasad–Rao MSE for counties with a direct estimate (y, ψ)."""
    synthetic = x @ fit.beta
    shrinkage = psi / (fit.sigma2_u + psi)
    g1 = fit.sigma2_u * psi / (fit.sigma2_u + psi)
    g2 = shrinkage**2 * np.einsum("ij,jk,ik->i", x, fit.beta_cov, x)
    g3 = psi**2 / (fit.sigma2_u + psi) ** 3 * fit.sigma2_var
    return {
        "estimate": shrinkage * synthetic + (1 - shrinkage) * y,
        "mse": g1 + g2 + 2 * g3,
        "shrinkage": shrinkage,
        "synthetic": synthetic,
    }


def synthetic(fit: FayHerriotFit, x: np.ndarray) -> dict[str, np.ndarray]:
    """Synthetic estimate x'β̂ and its MSE σ²_u + x'Cov(β̂)x for counties without a direct figure."""
    estimate = x @ fit.beta
    mse = fit.sigma2_u + np.einsum("ij,jk,ik->i", x, fit.beta_cov, x)
    return {"estimate": estimate, "mse": mse, "shrinkage": np.ones_like(estimate), "synthetic": estimate}


def design_matrix(frame: pl.DataFrame, covariates: list[str], leagues: list[str]) -> np.ndarray:
    """Intercept, the numeric covariates and an indicator per league but the first of `leagues`
    (a county of a league without fitted counties gets the first league's effect)."""
    columns = [np.ones(frame.height)] + [frame[c].cast(pl.Float64).to_numpy() for c in covariates]
    columns += [(frame["league_code"] == league).cast(pl.Float64).to_numpy() for league in leagues[1:]]
    return np.column_stack(columns)


def model_terms(fitted: pl.DataFrame, covariates: list[str]) -> tuple[list[str], list[str]]:
    """(covariates, leagues) of the richest model the fitted counties can carry: covariates and
    league indicators, else covariates alone, else the intercept alone, each kept only if its
    design has full column rank and leaves at least MIN_RESIDUAL_DF residual degrees of freedom.
    A rank-deficient design would give Cov(β̂) and so the MSE no meaning."""
    leagues = sorted(fitted["league_code"].unique().to_list())
    for names, indicators in ((covariates, leagues), (covariates, []), ([], [])):
        x = design_matrix(fitted, names, indicators)
        if fitted.height - x.shape[1] >= MIN_RESIDUAL_DF and np.linalg.matrix_rank(x) == x.shape[1]:
            return names, indicators
    return [], []


def county_estimates(
    cells: pl.DataFrame,
    covariates: pl.DataFrame,
    names: list[str],
    bounds: dict[str, tuple[float, float]] | None = None,
) -> pl.DataFrame:
    """Fit one model per wave and metric and return a row per county of `covariates`.

    `cells`: wave, area_code, metric, estimate, se, df, n, reliability (county rows of
    marts.area_metrics); `covariates`: area_code, league_code and the columns `names`;
    `bounds`: the range a metric's estimate must stay in (shares in [0, 1]).
    """
    rows = []
    for (wave, metric), group in cells.group_by("wave", "metric", maintain_order=True):
        frame = covariates.join(group, on="area_code", how="left")
        usable = (
            frame["estimate"].is_not_null() & (frame["se"].fill_null(0) > 0) & (frame["df"].fill_null(0) >= 1)
        ).to_numpy()
        if usable.sum() < MIN_FIT_COUNTIES:
            continue
        fitted = frame.filter(pl.Series(usable))
        terms, leagues = model_terms(fitted, names)
        x_fit, x_all = design_matrix(fitted, terms, leagues), design_matrix(frame, terms, leagues)
        model = fit_fay_herriot(fitted["estimate"].to_numpy(), x_fit, fitted["se"].to_numpy() ** 2)
        psi = np.where(usable, frame["se"].fill_null(1).to_numpy() ** 2, 1.0)
        direct = eblup(model, frame["estimate"].fill_null(0).to_numpy(), x_all, psi)
        fallback = synthetic(model, x_all)
        low, high = (bounds or {}).get(metric, (-np.inf, np.inf))
        for i, row in enumerate(frame.iter_rows(named=True)):
            source = direct if usable[i] else fallback
            rows.append(
                {
                    "wave": wave,
                    "area_code": row["area_code"],
                    "league_code": row["league_code"],
                    "metric": metric,
                    "estimate": float(np.clip(source["estimate"][i], low, high)),
                    "mse": float(source["mse"][i]),
                    "shrinkage": float(source["shrinkage"][i]),
                    "synthetic_estimate": float(source["synthetic"][i]),
                    "direct_estimate": row["estimate"],
                    "direct_se": row["se"],
                    "direct_reliability": row["reliability"],
                    "n": row["n"],
                    "method": "eblup" if usable[i] else "synthetic",
                    "sigma2_u": model.sigma2_u,
                    "fit_counties": int(usable.sum()),
                    "parameters": x_fit.shape[1],
                }
            )
    return pl.DataFrame(rows, schema=COUNTY_ESTIMATE_SCHEMA)


COUNTY_ESTIMATE_SCHEMA = {
    "wave": pl.String,
    "area_code": pl.String,
    "league_code": pl.String,
    "metric": pl.String,
    "estimate": pl.Float64,
    "mse": pl.Float64,
    "shrinkage": pl.Float64,
    "synthetic_estimate": pl.Float64,
    "direct_estimate": pl.Float64,
    "direct_se": pl.Float64,
    "direct_reliability": pl.String,
    "n": pl.Int64,
    "method": pl.String,
    "sigma2_u": pl.Float64,
    "fit_counties": pl.Int64,
    "parameters": pl.Int64,
}
