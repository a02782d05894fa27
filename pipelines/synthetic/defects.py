"""Planted defects: the ways a row is spoiled, the reason the pipeline must give for each, and
the planting itself, done per chunk in one pass per column (never a copy per spoiled row).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

from pipelines.synthetic.spec import DIRTY_SHARE, TIMESTAMP_FORMAT, Wave, _format_timestamps


def _slashed_wave(wave: str, _: str) -> str:
    return wave.replace("-", "/")


def _unknown_school(_: str, school_code: str) -> str:
    """Same county, a sequence number in the 9000s that the register never uses."""
    return f"{school_code[:6]}9{school_code[-3:]}"


@dataclass(frozen=True)
class Defect:
    """One way to spoil a row: the reason the pipeline must give, and the value to plant."""

    reason: str
    column: str
    value: str | Callable[[str, str], str] | None = None

    def planted_value(self, wave: str, school_code: str) -> str | None:
        return self.value(wave, school_code) if callable(self.value) else self.value


DUPLICATE = "duplicate_response_id"

SUPERSEDED = "superseded"

TEACHER_DEFECTS = (
    Defect("missing:wave", "wave"),
    Defect("missing:response_id", "response_id"),
    Defect("missing:school_code", "school_code"),
    Defect("missing:school_level", "school_level"),
    Defect("missing:submitted_at", "submitted_at"),
    Defect("malformed:wave", "wave", _slashed_wave),
    Defect("malformed:submitted_at", "submitted_at", "昨天"),
    Defect("malformed:hours_teaching", "hours_teaching", "abc"),
    Defect("malformed:n_forms", "n_forms", "2.5"),
    Defect("not_allowed:school_level", "school_level", "high"),
    Defect("not_allowed:item_07", "item_07", "2"),
    Defect("out_of_range:hours_cat1", "hours_cat1", "-1"),
    Defect("out_of_range:hours_total", "hours_total", "113"),
    Defect("out_of_range:n_app_tasks", "n_app_tasks", "-3"),
    Defect("out_of_range:felt_change", "felt_change", "0"),
    Defect("out_of_range:felt_change", "felt_change", "6"),
    Defect("out_of_range:focus_on_teaching", "focus_on_teaching", "7"),
    Defect("unknown_school", "school_code", _unknown_school),
    Defect(DUPLICATE, "response_id"),
)

SCHOOL_DEFECTS = (
    Defect("unknown_school", "school_code", _unknown_school),
    Defect("out_of_range:n_inspections", "n_inspections", "-2"),
    Defect("out_of_range:n_forms_requests", "n_forms_requests", "-5"),
    Defect("missing:reported_at", "reported_at"),
    Defect("malformed:n_campus_events", "n_campus_events", "3.5"),
    Defect("malformed:n_social_exams", "n_social_exams", "两次"),
)

WAVELESS_REASONS = frozenset({"missing:wave", "malformed:wave"})


def _set_row(frame: pl.DataFrame, row: int, values: dict[str, str | None]) -> pl.DataFrame:
    """A copy of `frame` with some cells of one row replaced."""
    replaced = []
    for column, value in values.items():
        series = frame[column].clone()
        series.scatter([row], [value])
        replaced.append(series)
    return frame.with_columns(replaced)


def _epoch_seconds(column: pl.Series) -> np.ndarray:
    """Seconds since 1970 per timestamp text; NaN where blank or unparseable."""
    parsed = column.str.strptime(pl.Datetime("us"), TIMESTAMP_FORMAT, strict=False).dt.epoch("s")
    return parsed.cast(pl.Float64).fill_null(float("nan")).to_numpy()


def _scattered(series: pl.Series, rows: list[int], values: list) -> pl.Series:
    """A copy of `series` with the values at `rows` replaced."""
    if not rows:
        return series
    replaced = series.clone()
    replaced.scatter(rows, pl.Series(values, dtype=series.dtype))
    return replaced


def _plant_teacher_defects(
    rng: np.random.Generator, frame: pl.DataFrame, wave: Wave, kinds: list[Defect], protected: np.ndarray
) -> tuple[pl.DataFrame, list[tuple[int, Defect]]]:
    """Spoil distinct unprotected rows, one defect each; duplicated rows stay clean.

    A duplicate overwrites its row with a copy of a clean response re-submitted later in the month.
    """
    available = np.ones(frame.height, dtype=bool)
    available[protected] = False
    rows = rng.choice(np.flatnonzero(available), size=len(kinds), replace=False)
    available[rows] = False
    clean = np.flatnonzero(available)
    submitted = _epoch_seconds(frame["submitted_at"])
    end = wave.start + wave.seconds
    originals = clean[submitted[clean] < end - 3600]
    cells: dict[str, tuple[list[int], list]] = {}
    copies: list[tuple[int, int, int]] = []
    codes = frame["school_code"]
    for row, defect in zip(rows.tolist(), kinds):
        if defect.reason == DUPLICATE:
            original = int(rng.choice(originals))
            first = int(submitted[original])
            copies.append((row, original, first + int(rng.integers(600, end - first))))
        else:
            targets, values = cells.setdefault(defect.column, ([], []))
            targets.append(row)
            values.append(defect.planted_value(wave.label, codes[row]))
    copy_rows = [row for row, _, _ in copies]
    copy_sources = [original for _, original, _ in copies]
    later = _format_timestamps(np.array([t for _, _, t in copies], dtype=np.int64)).to_list()
    replaced = []
    for column in frame.columns:
        copied = later if column == "submitted_at" else frame[column].gather(copy_sources).to_list()
        targets, values = cells.get(column, ([], []))
        replaced.append(_scattered(frame[column], copy_rows + targets, copied + values))
    return frame.with_columns(replaced), list(zip(rows.tolist(), kinds))


def _dirty_kinds(n_rows: int, n_waves: int, already: int) -> list[Defect]:
    """About 1% of rows, cycling through every defect so that all appear in the data set."""
    n = max(round(DIRTY_SHARE * n_rows), math.ceil(len(TEACHER_DEFECTS) / n_waves))
    return [TEACHER_DEFECTS[(already + i) % len(TEACHER_DEFECTS)] for i in range(n)]


def _record(row: int, wave: Wave, reason: str) -> tuple[int, str | None, str]:
    return row, None if reason in WAVELESS_REASONS else wave.label, reason
