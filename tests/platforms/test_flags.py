"""Respondent flags in SQL (sql/quality/respondent_flags.sql and the mart and exclusion SQL) against
the Polars functions they replaced, on a staged wave with planted speeders, straight-liners and duplicates."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
from helpers import (
    flag_wave,
    oracle_excluded_reasons,
    oracle_flag_counts,
    oracle_respondent_flags,
    survey_frame,
)

from pipelines.catalogue.questionnaire import load_questionnaire

QUESTIONS = load_questionnaire()


def _rows(flags: pl.DataFrame) -> set[tuple]:
    return set(flags.select("response_id", "source_file", "source_row", "flag").iter_rows())


def planted_wave(size: int = 3000, seed: int = 11) -> pl.DataFrame:
    """A staged wave with planted speeders, straight-liners (and near misses) and duplicate submissions."""
    rng = np.random.default_rng(seed)
    layout = [(f"15010200{k:02d}", ["primary", "junior", "senior"][k % 3], size // 6) for k in range(6)]
    frame = survey_frame("2026-05", layout, rng, blank_rate=0.03)
    n = frame.height
    start = dt.datetime(2026, 5, 1)
    frame = frame.with_columns(
        pl.Series("submitted_at", [start + dt.timedelta(minutes=int(m)) for m in rng.integers(0, 400, n)]),
        pl.Series("seconds_taken", rng.integers(20, 1500, n)).set(pl.Series(rng.random(n) < 0.05), None),
        pl.Series("teacher_pseudonym", [None if rng.random() < 0.6 else f"t{rng.integers(0, 600)}" for _ in range(n)]),
        pl.lit("wave.csv").alias("source_file"),
        pl.int_range(1, n + 1, dtype=pl.Int64).alias("source_row"),
        pl.Series("hours_teaching", rng.integers(10, 20, n).astype(float)),
        pl.Series("hours_teaching_related", rng.integers(10, 25, n).astype(float)),
    )
    items = [f"item_{i:02d}" for i in range(1, 27)]
    rows = frame.to_dicts()
    for i in range(0, 300, 10):
        first = i % 20 == 0
        rows[i].update(
            dict.fromkeys(items, 0 if first else 1), felt_change=1 if first else 5, focus_on_teaching=1 if first else 5
        )
        if i % 30 == 0:
            rows[i].update(item_04=None, item_17=None)
        elif i % 50 == 0:
            rows[i].update(dict.fromkeys(items[20:]))
    for i in range(300, 360, 10):
        rows[i].update(dict.fromkeys(items, 0), felt_change=1, focus_on_teaching=1)
        rows[i].update(dict.fromkeys(items[:7]) if i % 20 == 0 else {"focus_on_teaching": 2})
    answers = [q.column for q in QUESTIONS if q.column != "teacher_id"]
    for i in range(400, 520, 3):
        twin = dict(rows[i + 1000])
        rows[i].update({c: twin[c] for c in answers}, county_code=twin["county_code"], league_code=twin["league_code"])
    for i in range(700, 720):
        rows[i].update({c: rows[i + 1000][c] for c in answers if c != "school_code"})
    for i in range(600, 640):
        rows[i].update(
            {c: None for c in answers if c not in ("school_code", "school_level")}, school_code=rows[600]["school_code"]
        )
    return pl.DataFrame(rows, schema=frame.schema)


def test_flags_in_sql_equal_the_polars_oracle_on_a_planted_wave(tmp_path):
    """sql/quality/respondent_flags.sql and the mart/exclusion SQL give what the Polars functions gave."""
    excluded = ("speeder", "straight_lining", "duplicate_submission")
    flags, counts, reasons, staged = flag_wave(tmp_path, planted_wave(), QUESTIONS, excluded)
    expected = oracle_respondent_flags(staged, QUESTIONS)
    assert _rows(flags) == _rows(expected) and flags.height == expected.height
    per_kind = dict(expected.group_by("flag").len().iter_rows())
    assert per_kind["straight_lining"] == 30 and per_kind["speeder"] > 50 and per_kind["duplicate_submission"] > 100
    assert counts == oracle_flag_counts(expected, staged.height, excluded)
    assert reasons == oracle_excluded_reasons(expected, excluded)
    assert any("; " in r for r in reasons.values())
    assert sum(c["rows_excluded"] for c in counts) == len(reasons) < expected.height
