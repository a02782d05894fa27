"""The generator's fixed vocabulary: columns, formats, planted parameters, waves and landing files.

Every other module of the generator reads its constants from here, so a planted effect or a
column list has one home.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import polars as pl

from pipelines.paths import SHIPPED_REFERENCE_DIR  # noqa: F401

REFERENCE_SEED = 2260

DEFAULT_SEED = 20201021

LAST_WAVE = (2026, 11)

TEACHER_SURVEY = "teacher_survey"

SCHOOL_REPORT = "school_report"

SOURCES = (TEACHER_SURVEY, SCHOOL_REPORT)

LEVELS = ("primary", "junior", "senior")

LEVEL_ORDER = {level: i for i, level in enumerate(LEVELS)}

N_ITEMS = 26

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"

PLANTED: dict = {
    "felt_decline": {
        "league": "150200",
        "league_zh": "包头市",
        "hours_nonteaching_start": 14.0,
        "hours_nonteaching_per_wave": -1.2,
        "felt_net_per_wave": 0.15,
    },
    "rebound": {
        "league": "150400",
        "league_zh": "赤峰市",
        "hours_nonteaching_start": 13.0,
        "hours_nonteaching_per_wave": -0.4,
        "last_wave_jump_hours": 5.0,
        "felt_net_per_wave": 0.08,
        "last_wave_felt_net_drop": 0.35,
    },
    "red_line_hotspot": {"league": "150500", "league_zh": "通辽市", "item": "item_15", "share": 0.25},
    "not_felt": {
        "league": "150600",
        "league_zh": "鄂尔多斯市",
        "hours_nonteaching_start": 13.5,
        "hours_nonteaching_per_wave": -1.2,
        "felt_net_per_wave": -0.04,
    },
    "target_met": {"league": "150100", "league_zh": "呼和浩特市", "school_inspections_reduction": 0.75},
    "target_missed": {"league": "152200", "league_zh": "兴安盟", "school_inspections_reduction": 0.20},
    "paper_reduction": {
        "league": "150800",
        "league_zh": "巴彦淖尔市",
        "school_inspections_reduction": 0.60,
        "teacher_inspections_reduction": 0.0,
    },
    "seconded_over_6m": {
        "league": "150900",
        "league_zh": "乌兰察布市",
        "from_wave_index": 1,
        "schools_per_wave": 5,
        "per_school": [1, 3],
    },
    "low_completeness_wave": {"wave_index": 2, "reporting_share": 0.65, "other_waves_min_share": 0.96},
    "unequal_sampling": {
        "strata": ["league", "school_level"],
        "level_rate": {"primary": 1.0, "junior": 2.0, "senior": 3.0},
        "oversampled_leagues": ["150300", "152900", "152200"],
        "league_rate": 2.5,
    },
}

DEFAULT_TREND = {
    "hours_nonteaching_start": 12.5,
    "hours_nonteaching_per_wave": -0.7,
    "felt_net_start": -0.15,
    "felt_net_per_wave": 0.12,
    "school_inspections_reduction": (0.58, 0.64),
}

LEVEL_NONTEACHING = np.array([0.0, 1.0, 2.0])

LEVEL_TEACHING = np.array([0.0, -0.5, -1.0])

LEVEL_RELATED = np.array([0.0, 2.0, 4.0])

LEVEL_OTHER = np.array([0.0, 0.5, 1.0])

CATEGORY_WEIGHTS = [3.5, 3.0, 1.5, 1.2, 1.8]

LIKERT_CUTS = [-1.5, -0.5, 0.5, 1.5]

HOURS_COLUMNS = ["hours_total", "hours_teaching", "hours_teaching_related"] + [f"hours_cat{i}" for i in range(1, 6)]

TEACHER_COUNT_COLUMNS = [
    "n_inspections",
    "n_forms",
    "n_app_tasks",
    "n_nonteaching_meetings",
    "n_invigilations",
    "days_seconded",
]

ITEM_COLUMNS = [f"item_{i:02d}" for i in range(1, N_ITEMS + 1)]

TEACHER_COLUMNS = [
    "wave",
    "response_id",
    "school_code",
    "school_level",
    "submitted_at",
    *HOURS_COLUMNS,
    *TEACHER_COUNT_COLUMNS,
    "training_hours_nonteaching",
    *ITEM_COLUMNS,
    "felt_change",
    "focus_on_teaching",
    "teacher_id",
]

TEACHER_EXTRA_COLUMNS = ["teacher_name", "phone", "remarks"]

SCHOOL_COUNT_COLUMNS = [
    "n_teachers_on_staff",
    "n_inspections",
    "n_inspections_unapproved",
    "n_campus_events",
    "n_campus_events_unlisted",
    "n_forms_requests",
    "n_forms_duplicate",
    "n_teachers_seconded",
    "n_seconded_over_6m",
    "n_nonteaching_meetings",
    "n_social_exams",
]

SCHOOL_COLUMNS = ["wave", "school_code", "reported_at", *SCHOOL_COUNT_COLUMNS]

SCHOOL_EXTRA_COLUMNS = ["school_name"]

INTEGER_COLUMNS = frozenset(
    TEACHER_COUNT_COLUMNS + ITEM_COLUMNS + ["felt_change", "focus_on_teaching"] + SCHOOL_COUNT_COLUMNS
)

NUMBER_COLUMNS = frozenset(HOURS_COLUMNS + ["training_hours_nonteaching"])

TIMESTAMP_COLUMNS = frozenset({"submitted_at", "reported_at"})

TEACHER_FORMATS = ("csv_utf8", "csv_utf8_bom", "csv_gbk", "xlsx", "parquet", "csv_gb18030")

SCHOOL_FORMATS = ("csv_utf8", "csv_gbk", "xlsx", "parquet")

CSV_ENCODINGS = {"csv_utf8": "utf-8", "csv_utf8_bom": "utf-8-sig", "csv_gbk": "gbk", "csv_gb18030": "gb18030"}

SHUFFLED_COLUMNS_WAVE_INDEX = 1

LATE_FILE = "late_submissions.csv"

LATE_ROWS_PER_WAVE = 20

DIRTY_SHARE = 0.01

SUPERSEDED_PER_WAVE = 2

BAD_FILES = ("broken_empty.csv", "broken_header.csv", "broken_truncated.xlsx", "broken_junk.parquet")

FIXED_ZIP_TIME = (2026, 12, 1, 0, 0, 0)

FIXED_XLSX_TIME = b"2026-12-01T00:00:00Z"


@dataclass(frozen=True)
class Wave:
    """A survey round: its key, and its month as epoch seconds (start, length)."""

    index: int
    label: str
    start: int
    seconds: int


@dataclass
class Landing:
    """A landing file to write: its rows as text, and the rows known to be dirty."""

    source: str
    name: str
    fmt: str
    frame: pl.DataFrame
    dirty: list[tuple[int, str | None, str]] = field(default_factory=list)


def wave_labels(waves: int) -> list[str]:
    """Semi-annual wave keys ending at LAST_WAVE, oldest first."""
    year, month = LAST_WAVE
    labels = []
    for _ in range(waves):
        labels.append(f"{year:04d}-{month:02d}")
        month -= 6
        if month <= 0:
            month, year = month + 12, year - 1
    return labels[::-1]


def _format_timestamps(seconds: np.ndarray) -> pl.Series:
    return pl.from_epoch(pl.Series(seconds, dtype=pl.Int64), "s").dt.strftime(TIMESTAMP_FORMAT)


def _wave(index: int, label: str) -> Wave:
    year, month = int(label[:4]), int(label[5:])
    start = datetime(year, month, 1)
    end = datetime(year + (month == 12), month % 12 + 1, 1)
    return Wave(index, label, int((start - datetime(1970, 1, 1)).total_seconds()), int((end - start).total_seconds()))


CHUNK_ROWS = 250_000
"""Teacher rows generated, spoiled and written at a time: memory stays bounded at any size."""
XLSX_MAX_ROWS = 200_000
"""A wave whose rotation format is XLSX but which holds more rows is written as UTF-8 CSV instead."""
