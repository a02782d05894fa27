"""Distribution quantiles for the marts' intervals, registered as DuckDB scalar functions.

DuckDB has no t or beta quantile function, and an approximation of our own would need its
own proof; scipy's are the reference implementations R's qt/qbeta agree with. The marts'
SQL calls `t_quantile(p, df)`, `t_upper_tail(t, df)` and `beta_quantile(p, a, b)` once per cell, vectorised over
Arrow arrays, so the heavy aggregation stays in SQL.
"""

from __future__ import annotations

import contextlib

import duckdb
import numpy as np
import pyarrow as pa

DOUBLE = duckdb.sqltype("DOUBLE")


def _stats():
    """scipy.stats, imported when a quantile is first needed: importing it costs ~1 s, and most processes
    that load the definitions (a rerun on unchanged files, a `jianfu status`) never compute one."""
    from scipy import stats

    return stats


def _floats(array: pa.Array) -> np.ndarray:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=float)


def t_quantile(p: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Student t quantile; NaN where df < 1 or is missing (no interval can rest on it)."""
    p, df = np.asarray(p, dtype=float), np.asarray(df, dtype=float)
    valid = df >= 1
    out = np.full(np.broadcast(p, df).shape, np.nan)
    out[valid] = _stats().t.ppf(np.broadcast_to(p, out.shape)[valid], df[valid])
    return out


def t_upper_tail(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    """P(T_df > t); NaN where df < 1 or is missing."""
    t, df = np.asarray(t, dtype=float), np.asarray(df, dtype=float)
    valid = df >= 1
    out = np.full(np.broadcast(t, df).shape, np.nan)
    out[valid] = _stats().t.sf(np.broadcast_to(t, out.shape)[valid], df[valid])
    return out


def beta_quantile(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Beta quantile; 0 where a = 0 and 1 where b = 0 (R's qbeta limits), NaN where undefined."""
    p, a, b = (np.asarray(v, dtype=float) for v in (p, a, b))
    with np.errstate(invalid="ignore"):
        out = _stats().beta.ppf(p, np.where(a > 0, a, 1.0), np.where(b > 0, b, 1.0))
    return np.where(a == 0, 0.0, np.where(b == 0, 1.0, np.where((a < 0) | (b < 0), np.nan, out)))


def _column(values: np.ndarray) -> pa.Array:
    return pa.array(values, type=pa.float64(), from_pandas=True)


def _sql_t_quantile(p: pa.Array, df: pa.Array) -> pa.Array:
    return _column(t_quantile(_floats(p), _floats(df)))


def _sql_t_upper_tail(t: pa.Array, df: pa.Array) -> pa.Array:
    return _column(t_upper_tail(_floats(t), _floats(df)))


def _sql_beta_quantile(p: pa.Array, a: pa.Array, b: pa.Array) -> pa.Array:
    return _column(beta_quantile(_floats(p), _floats(a), _floats(b)))


def register_quantiles(conn: duckdb.DuckDBPyConnection) -> None:
    """Make t_quantile, t_upper_tail and beta_quantile callable from SQL here (NaN comes back NULL)."""
    for name, function, arity in (
        ("t_quantile", _sql_t_quantile, 2),
        ("t_upper_tail", _sql_t_upper_tail, 2),
        ("beta_quantile", _sql_beta_quantile, 3),
    ):
        with contextlib.suppress(duckdb.InvalidInputException):
            conn.remove_function(name)
        # duckdb's stub takes only the PythonUDFType / FunctionNullHandling enums; the runtime and the
        # documented API also take the strings "arrow" and "special". A cursor on a held warehouse
        # (JianfuResource.held) finds the function an earlier cursor created in the shared catalogue.
        with contextlib.suppress(duckdb.CatalogException):
            conn.create_function(  # type: ignore[call-overload]
                name, function, [DOUBLE] * arity, DOUBLE, type="arrow", null_handling="special", side_effects=False
            )
