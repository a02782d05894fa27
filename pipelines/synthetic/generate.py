"""Synthetic, contract-conformant landing and reference data with planted signals.

The data exist to exercise the pipeline end to end: unequal sampling so that survey
weights matter, league-level trends the marts must detect (and leagues that must stay
quiet), dirty rows whose rejection reason is known in advance, and every landing format
and encoding the contract accepts. All draws come from one seeded NumPy generator, so the
same arguments give the same files; the school register comes from a fixed seed of its
own, so every generated data set shares the shipped reference files.

Regenerate the shipped register with `python -m pipelines.synthetic.generate --write-shipped-reference`.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from statistics import NormalDist
from typing import Callable

import numpy as np
import polars as pl
from openpyxl import Workbook

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_REFERENCE_DIR = REPO_ROOT / "data" / "reference"
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
STANDARD_NORMAL = NormalDist()

PLANTED: dict = {
    "felt_decline": {
        "league": "150200", "league_zh": "包头市",
        "hours_nonteaching_start": 14.0, "hours_nonteaching_per_wave": -1.2,
        "felt_net_per_wave": 0.15,
    },
    "rebound": {
        "league": "150400", "league_zh": "赤峰市",
        "hours_nonteaching_start": 13.0, "hours_nonteaching_per_wave": -0.4,
        "last_wave_jump_hours": 5.0, "felt_net_per_wave": 0.08, "last_wave_felt_net_drop": 0.35,
    },
    "red_line_hotspot": {"league": "150500", "league_zh": "通辽市", "item": "item_15", "share": 0.25},
    "not_felt": {
        "league": "150600", "league_zh": "鄂尔多斯市",
        "hours_nonteaching_start": 13.5, "hours_nonteaching_per_wave": -1.2,
        "felt_net_per_wave": -0.04,
    },
    "target_met": {"league": "150100", "league_zh": "呼和浩特市", "school_inspections_reduction": 0.75},
    "target_missed": {"league": "152200", "league_zh": "兴安盟", "school_inspections_reduction": 0.20},
    "paper_reduction": {
        "league": "150800", "league_zh": "巴彦淖尔市",
        "school_inspections_reduction": 0.60, "teacher_inspections_reduction": 0.0,
    },
    "seconded_over_6m": {
        "league": "150900", "league_zh": "乌兰察布市",
        "from_wave_index": 1, "schools_per_wave": 5, "per_school": [1, 3],
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

LEAGUE_SCHOOLS = {
    "150100": 360, "150200": 310, "150300": 55, "150400": 500, "150500": 380, "150600": 270,
    "150700": 300, "150800": 230, "150900": 280, "152200": 150, "152500": 190, "152900": 40,
}
SMALL_COUNTIES = frozenset({"150205", "150206", "150603", "150703", "152202", "152501", "152922", "152923"})
TOTAL_TEACHERS = 230_000
URBAN_RURAL = ("urban", "town", "rural")
URBAN_RURAL_BY_COUNTY_KIND = {"district": (0.80, 0.15, 0.05), "city": (0.55, 0.30, 0.15), "banner": (0.10, 0.40, 0.50)}
SCHOOL_TYPES = ("primary", "junior", "senior", "nine_year", "complete")
SCHOOL_TYPE_MIX = {
    "urban": (0.55, 0.18, 0.12, 0.05, 0.10),
    "town": (0.50, 0.22, 0.08, 0.13, 0.07),
    "rural": (0.62, 0.08, 0.00, 0.30, 0.00),
}
SCHOOL_SIZE = {
    "primary": (75, 45, 20), "junior": (95, 70, 35), "senior": (170, 130, 90),
    "nine_year": (90, 60, 30), "complete": (150, 110, 70),
}
NAME_SUFFIX = {"primary": "小学", "junior": "中学", "senior": "中学", "nine_year": "学校", "complete": "中学"}
CHINESE_DIGITS = "零一二三四五六七八九"

LEVEL_NONTEACHING = np.array([0.0, 1.0, 2.0])
LEVEL_TEACHING = np.array([0.0, -0.5, -1.0])
LEVEL_RELATED = np.array([0.0, 2.0, 4.0])
LEVEL_OTHER = np.array([0.0, 0.5, 1.0])
CATEGORY_WEIGHTS = [3.5, 3.0, 1.5, 1.2, 1.8]
LIKERT_CUTS = [-1.5, -0.5, 0.5, 1.5]

HOURS_COLUMNS = ["hours_total", "hours_teaching", "hours_teaching_related"] + [f"hours_cat{i}" for i in range(1, 6)]
TEACHER_COUNT_COLUMNS = [
    "n_inspections", "n_forms", "n_app_tasks", "n_nonteaching_meetings", "n_invigilations", "days_seconded",
]
ITEM_COLUMNS = [f"item_{i:02d}" for i in range(1, N_ITEMS + 1)]
TEACHER_COLUMNS = [
    "wave", "response_id", "school_code", "school_level", "submitted_at", *HOURS_COLUMNS,
    *TEACHER_COUNT_COLUMNS, "training_hours_nonteaching", *ITEM_COLUMNS,
    "felt_change", "focus_on_teaching", "teacher_id",
]
TEACHER_EXTRA_COLUMNS = ["teacher_name", "phone", "remarks"]
SCHOOL_COUNT_COLUMNS = [
    "n_teachers_on_staff", "n_inspections", "n_inspections_unapproved", "n_campus_events",
    "n_campus_events_unlisted", "n_forms_requests", "n_forms_duplicate", "n_teachers_seconded",
    "n_seconded_over_6m", "n_nonteaching_meetings", "n_social_exams",
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

SURNAMES = list("王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶余潘杜戴夏钟汪田任姜范方石姚谭邹金陆郝孔白崔康毛邱秦江史顾侯邵孟龙段雷钱汤尹常武乔贺")
GIVEN_CHARS = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红梅琳丹宇浩欣怡婷雪慧建国志文博晨亮鹏飞海燕凤春玲")
MONGOLIAN_NAMES = ["巴特尔", "乌云", "其其格", "额尔敦", "苏日娜", "阿拉坦", "娜仁", "宝音", "朝鲁", "斯琴", "图雅", "乌日娜", "孟和", "萨仁", "哈斯"]
REMARKS = [
    "无", "希望减少各类填表任务", "迎检材料太多", "社区工作占用时间较多", "近期非教学任务有所减少",
    "APP打卡任务仍然偏多", "希望精简会议", "表格太多, 重复填报", "感觉负担有所减轻", "抽调参加检查工作",
    "各类评比活动仍较频繁", "希望把时间还给课堂",
]


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
    value: str | None | Callable[[str, str], str] = None

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


@dataclass(frozen=True)
class Reference:
    divisions: pl.DataFrame
    schools: pl.DataFrame
    population: pl.DataFrame


@dataclass(frozen=True)
class Wave:
    """A survey round: its key, and its month as epoch seconds (start, length)."""

    index: int
    label: str
    start: int
    seconds: int


Sample = dict[str, np.ndarray]
"""Respondents of one wave: school index, staff slot and level index, aligned arrays."""


@dataclass
class Landing:
    """A landing file to write: its rows as text, and the rows known to be dirty."""

    source: str
    name: str
    fmt: str
    frame: pl.DataFrame
    dirty: list[tuple[int, str | None, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Design:
    """Everything fixed for a data set before any wave is drawn; trend arrays are league x wave."""

    schools: pl.DataFrame
    waves: list[Wave]
    teachers: int
    leagues: list[str]
    school_league: np.ndarray
    school_effect: np.ndarray
    panel: dict[str, np.ndarray]
    school_bases: dict[str, np.ndarray]
    nonteaching: np.ndarray
    level_offset: np.ndarray
    felt_latent: np.ndarray
    school_inspection_factor: np.ndarray
    teacher_inspection_factor: np.ndarray
    teacher_inspection_base: np.ndarray
    item_base: np.ndarray
    red_line: np.ndarray

    def progress(self, wave: Wave) -> float:
        """0 at the first wave, 1 at the last: planted reductions are reached linearly."""
        return wave.index / max(len(self.waves) - 1, 1)

    def league_index(self, code: str) -> int:
        return self.leagues.index(code)


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


def _wave(index: int, label: str) -> Wave:
    year, month = int(label[:4]), int(label[5:])
    start = datetime(year, month, 1)
    end = datetime(year + (month == 12), month % 12 + 1, 1)
    return Wave(index, label, int((start - datetime(1970, 1, 1)).total_seconds()), int((end - start).total_seconds()))


def _chinese_ordinal(n: int) -> str:
    if n < 10:
        return CHINESE_DIGITS[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else CHINESE_DIGITS[tens]) + "十" + (CHINESE_DIGITS[ones] if ones else "")
    return str(n)


def _county_kind(name_zh: str) -> str:
    if name_zh.endswith("区"):
        return "district"
    return "city" if name_zh.endswith("市") else "banner"


def _gbk_safe(text: str) -> bool:
    try:
        text.encode("gbk")
    except UnicodeEncodeError:
        return False
    return True


def _county_school_counts(rng: np.random.Generator, counties: pl.DataFrame) -> np.ndarray:
    """Each league's schools spread over its counties: districts get more, tiny ones few."""
    kind_weight = {"district": 1.6, "city": 1.3, "banner": 1.0}
    weights = np.array([
        0.3 if code in SMALL_COUNTIES else kind_weight[_county_kind(name)]
        for code, name in zip(counties["code"], counties["name_zh"])
    ]) * rng.lognormal(0.0, 0.3, counties.height)
    counts = np.zeros(counties.height, dtype=np.int64)
    parents = counties["parent_code"].to_numpy()
    for league, total in LEAGUE_SCHOOLS.items():
        mask = parents == league
        if mask.any():
            counts[mask] = np.maximum(3, np.round(total * weights[mask] / weights[mask].sum()))
    return counts


def _county_schools(rng: np.random.Generator, code: str, name: str, n: int) -> list[dict]:
    """One county's schools; the first three make sure every level is taught there."""
    areas = rng.choice(URBAN_RURAL, size=n, p=URBAN_RURAL_BY_COUNTY_KIND[_county_kind(name)])
    if areas[0] == "rural":
        areas[0] = "town"
    types = [str(rng.choice(SCHOOL_TYPES, p=SCHOOL_TYPE_MIX[area])) for area in areas]
    types[:3] = ["senior", "junior", "primary"]
    mongolian = (rng.random(n) < 0.15) & name.endswith("旗")
    mongolian[0] = False
    ordinals: dict[tuple[str, bool], int] = {}
    schools = []
    for i, (kind, area, mongol) in enumerate(zip(types, areas, mongolian.tolist())):
        suffix = NAME_SUFFIX[kind]
        ordinals[(suffix, mongol)] = ordinals.get((suffix, mongol), 0) + 1
        schools.append({
            "school_code": f"{code}{i + 1:04d}",
            "school_name": f"{name}{'蒙古族' if mongol else ''}第{_chinese_ordinal(ordinals[(suffix, mongol)])}{suffix}",
            "county_code": code,
            "school_type": kind,
            "urban_rural": str(area),
            "size": SCHOOL_SIZE[kind][URBAN_RURAL.index(area)] * rng.lognormal(0.0, 0.35),
        })
    return schools


def build_schools(divisions: pl.DataFrame) -> pl.DataFrame:
    """The synthetic school register, drawn from REFERENCE_SEED only."""
    rng = np.random.default_rng(REFERENCE_SEED)
    counties = divisions.filter(pl.col("level") == "county").sort("code")
    rows = []
    for code, name, n in zip(counties["code"], counties["name_zh"], _county_school_counts(rng, counties)):
        rows += _county_schools(rng, code, name, int(n))
    schools = pl.DataFrame(rows)
    scale = TOTAL_TEACHERS / schools["size"].sum()
    schools = schools.with_columns(
        (pl.col("size") * scale).round().cast(pl.Int64).clip(8, 999).alias("n_teachers")
    ).drop("size")
    not_gbk = [n for n in schools["school_name"] if not _gbk_safe(n)]
    if not_gbk:
        raise ValueError(f"school names must be GBK-encodable: {not_gbk[:3]}")
    return schools


def school_levels(schools: pl.DataFrame) -> pl.DataFrame:
    """Teachers per (school, level) with the school's staff-slot range for that level.

    Nine-year schools split 60/40 primary/junior, complete schools 50/50 junior/senior.
    """
    n, kind = pl.col("n_teachers"), pl.col("school_type")
    nine_primary = (n * 0.6).round().cast(pl.Int64)
    complete_junior = (n * 0.5).round().cast(pl.Int64)
    wide = schools.with_row_index("school_index").with_columns(
        pl.when(kind == "primary").then(n).when(kind == "nine_year").then(nine_primary).otherwise(0).alias("primary"),
        pl.when(kind == "junior").then(n).when(kind == "nine_year").then(n - nine_primary)
        .when(kind == "complete").then(complete_junior).otherwise(0).alias("junior"),
        pl.when(kind == "senior").then(n).when(kind == "complete").then(n - complete_junior)
        .otherwise(0).alias("senior"),
    )
    long = wide.unpivot(index=["school_index", "school_code", "county_code"], on=list(LEVELS),
                        variable_name="school_level", value_name="n_level")
    return (
        long.with_columns(pl.col("school_level").replace_strict(LEVEL_ORDER).alias("level_order"))
        .sort("school_index", "level_order")
        .with_columns((pl.col("n_level").cum_sum().over("school_index") - pl.col("n_level")).alias("slot_offset"))
        .filter(pl.col("n_level") > 0)
    )


def build_population(schools: pl.DataFrame) -> pl.DataFrame:
    """Headcount per (county, level) summed from the register, so weights and schools agree."""
    return (
        school_levels(schools)
        .group_by("county_code", "school_level", "level_order")
        .agg(pl.col("n_level").sum().alias("n_teachers"))
        .sort("county_code", "level_order")
        .select("county_code", "school_level", "n_teachers")
    )


def build_reference(reference_dir: Path) -> Reference:
    """Divisions as given; schools and population generated from them."""
    divisions = pl.read_csv(reference_dir / "divisions.csv", infer_schema=False)
    schools = build_schools(divisions)
    return Reference(divisions, schools, build_population(schools))


def write_reference(reference: Reference, source_dir: Path, target_dir: Path) -> None:
    """Copy the hand-written reference files and write the generated ones."""
    target_dir.mkdir(parents=True, exist_ok=True)
    for name in ("divisions.csv", "burden_items.csv"):
        if (source_dir / name).resolve() != (target_dir / name).resolve():
            shutil.copyfile(source_dir / name, target_dir / name)
    (target_dir / "schools.csv").write_bytes(reference.schools.write_csv().encode("utf-8"))
    (target_dir / "teacher_population.csv").write_bytes(reference.population.write_csv().encode("utf-8"))


def write_shipped_reference(reference_dir: Path = SHIPPED_REFERENCE_DIR) -> None:
    """Regenerate data/reference/schools.csv and teacher_population.csv in place."""
    write_reference(build_reference(reference_dir), reference_dir, reference_dir)


def _normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _felt_net(mu: float) -> float:
    """Expected felt_net of a latent N(mu, 1) cut at LIKERT_CUTS."""
    return _normal_cdf(mu - LIKERT_CUTS[2]) - _normal_cdf(LIKERT_CUTS[1] - mu)


def _latent_for_felt_net(target: float) -> float:
    """Invert _felt_net by bisection, so trends can be planted on the felt_net scale."""
    low, high = -4.0, 4.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if _felt_net(mid) < target else (low, mid)
    return (low + high) / 2


def _planted_for(league: str) -> dict:
    """Every planted parameter that applies to one league, merged."""
    merged: dict = {}
    for spec in PLANTED.values():
        if spec.get("league") == league:
            merged.update(spec)
    return merged


def _league_trend(rng: np.random.Generator, league: str, n_waves: int) -> dict[str, np.ndarray | float]:
    """Expected population-weighted league values per wave, planted or default."""
    planted = _planted_for(league)
    spec = {**DEFAULT_TREND, **planted}
    t = np.arange(n_waves, dtype=float)
    progress = t / max(n_waves - 1, 1)
    jitter = 0.0 if "hours_nonteaching_start" in planted else rng.uniform(-0.5, 0.5)
    nonteaching = spec["hours_nonteaching_start"] + jitter + spec["hours_nonteaching_per_wave"] * t
    felt_net = spec["felt_net_start"] + rng.uniform(-0.05, 0.05) + spec["felt_net_per_wave"] * t
    if "last_wave_jump_hours" in spec and n_waves >= 2:
        nonteaching[-1] = nonteaching[-2] + spec["last_wave_jump_hours"]
        felt_net[-1] = felt_net[-2] - spec["last_wave_felt_net_drop"]
    reduction = spec["school_inspections_reduction"]
    school_reduction = rng.uniform(*reduction) if isinstance(reduction, tuple) else reduction
    return {
        "nonteaching": nonteaching,
        "felt_latent": np.array([_latent_for_felt_net(v) for v in felt_net]),
        "school_inspection_factor": 1.0 - school_reduction * progress,
        "teacher_inspection_factor": 1.0 - spec.get("teacher_inspections_reduction", school_reduction) * progress,
        "teacher_inspection_base": rng.uniform(3.8, 5.2),
    }


def _level_offsets(units: pl.DataFrame, leagues: list[str]) -> np.ndarray:
    """Level effects on non-teaching hours, centred so the weighted league mean hits its trend."""
    offsets = np.zeros((len(leagues), len(LEVELS)))
    for i, league in enumerate(leagues):
        by_level = units.filter(pl.col("league") == league).group_by("level_order").agg(pl.col("n_level").sum())
        share = np.zeros(len(LEVELS))
        share[by_level["level_order"].to_numpy()] = by_level["n_level"].to_numpy()
        offsets[i] = LEVEL_NONTEACHING - LEVEL_NONTEACHING @ share / share.sum()
    return offsets


def _item_base(reference_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Per-item base rates (fixed across seeds): 5-30% for ordinary items, at most 1% for red lines."""
    items = pl.read_csv(reference_dir / "burden_items.csv", infer_schema=False).sort(pl.col("item_no").cast(pl.Int64))
    red_line = items["red_line"].str.to_lowercase().is_in(["true", "1", "yes", "t"]).to_numpy()
    rng = np.random.default_rng(REFERENCE_SEED + 1)
    ordinary, red = rng.uniform(0.05, 0.30, N_ITEMS), rng.uniform(0.003, 0.010, N_ITEMS)
    return np.where(red_line, red, ordinary), red_line


def _build_design(
    rng: np.random.Generator, reference: Reference, reference_dir: Path, n_waves: int, teachers: int
) -> Design:
    """Draw the per-seed parameters: league trends, school effects and bases, the sample panel."""
    divisions = reference.divisions
    counties = divisions.filter(pl.col("level") == "county")
    league_of_county = dict(zip(counties["code"], counties["parent_code"]))
    leagues = divisions.filter(pl.col("level") == "league")["code"].sort().to_list()
    schools = reference.schools
    units = school_levels(schools).with_columns(pl.col("county_code").replace_strict(league_of_county).alias("league"))
    trends = [_league_trend(rng, league, n_waves) for league in leagues]
    item_base, red_line = _item_base(reference_dir)
    staff = schools["n_teachers"].to_numpy()
    return Design(
        schools=schools,
        waves=[_wave(i, label) for i, label in enumerate(wave_labels(n_waves))],
        teachers=teachers,
        leagues=leagues,
        school_league=np.array([leagues.index(league_of_county[c]) for c in schools["county_code"]]),
        school_effect=rng.normal(0.0, 1.5, schools.height),
        panel=_monitoring_panel(rng, units, leagues, teachers),
        school_bases={
            "inspections": rng.gamma(25.0, 11.0 / 25.0, schools.height).round().astype(np.int64),
            "events": rng.poisson(6.0, schools.height) + 1,
            "forms": rng.poisson(24.0 + staff / 20.0),
            "meetings": rng.poisson(7.0, schools.height) + 1,
        },
        nonteaching=np.stack([t["nonteaching"] for t in trends]),
        level_offset=_level_offsets(units, leagues),
        felt_latent=np.stack([t["felt_latent"] for t in trends]),
        school_inspection_factor=np.stack([t["school_inspection_factor"] for t in trends]),
        teacher_inspection_factor=np.stack([t["teacher_inspection_factor"] for t in trends]),
        teacher_inspection_base=np.array([t["teacher_inspection_base"] for t in trends]),
        item_base=item_base,
        red_line=red_line,
    )


def _stratum_targets(units: pl.DataFrame, teachers: int) -> pl.DataFrame:
    """Respondents wanted per (league, level): unequal rates so that weights matter."""
    spec = PLANTED["unequal_sampling"]
    strata = units.group_by("league", "school_level").agg(pl.col("n_level").sum().alias("N"))
    rate = pl.col("school_level").replace_strict(spec["level_rate"], return_dtype=pl.Float64) * pl.when(
        pl.col("league").is_in(spec["oversampled_leagues"])
    ).then(spec["league_rate"]).otherwise(1.0)
    strata = strata.with_columns((pl.col("N") * rate).alias("pull")).sort("league", "school_level")
    return strata.with_columns((pl.col("pull") / pl.col("pull").sum() * teachers).alias("target"))


def _monitoring_panel(
    rng: np.random.Generator, units: pl.DataFrame, leagues: list[str], teachers: int
) -> dict[str, np.ndarray]:
    """Monitoring schools fixed for the whole series: a random order per stratum, 8-25 staff each.

    Keeping the same schools from wave to wave stops the school effect from masking the
    planted trends, as a real monitoring panel of sample schools would.
    """
    targets = _stratum_targets(units, teachers)
    league_index = pl.col("league").replace_strict({code: i for i, code in enumerate(leagues)})
    panel = (
        units.join(targets.select("league", "school_level", "target"), on=["league", "school_level"])
        .sort("school_index", "level_order")
        .with_columns(
            pl.Series("draw", rng.random(units.height)),
            pl.min_horizontal(pl.Series("size", rng.integers(8, 26, units.height)), "n_level").alias("size"),
            (league_index * len(LEVELS) + pl.col("level_order")).alias("stratum"),
        )
        .sort("stratum", "draw")
        .with_columns((pl.col("size").cum_sum().over("stratum") - pl.col("size")).alias("before"))
        .filter(pl.col("before") < pl.col("target") * 1.1)
    )
    keep = ("stratum", "school_index", "level_order", "slot_offset", "n_level", "size", "before", "target")
    return {name: panel[name].to_numpy() for name in keep}


def _sample_respondents(rng: np.random.Generator, design: Design) -> Sample:
    """This wave's respondents: the panel schools needed to reach a jittered target, consecutive staff slots."""
    panel = design.panel
    jitter = rng.uniform(0.97, 1.03, len(design.leagues) * len(LEVELS))
    wanted = np.maximum(1, np.round(panel["target"] * jitter[panel["stratum"]]))
    chosen = panel["before"] < wanted
    trimmed = np.maximum(np.minimum(panel["size"], wanted - panel["before"]), np.minimum(8, panel["size"]))
    size = trimmed[chosen].astype(np.int64)
    n_level = panel["n_level"][chosen]
    start = np.repeat(rng.integers(0, n_level), size)
    within = np.arange(size.sum()) - np.repeat(np.cumsum(size) - size, size)
    return {
        "school": np.repeat(panel["school_index"][chosen], size),
        "slot": np.repeat(panel["slot_offset"][chosen], size) + (start + within) % np.repeat(n_level, size),
        "level": np.repeat(panel["level_order"][chosen], size),
    }


def _stratified_uniform(rng: np.random.Generator, groups: np.ndarray) -> np.ndarray:
    """Uniform draws spread evenly over (0, 1) within each group, in random order.

    Planted league trends then show in the estimates instead of drowning in sampling
    noise, while the spread within a wave, and so every standard error, stays realistic.
    """
    n = groups.size
    order = np.lexsort((rng.random(n), groups))
    ordered = groups[order]
    rank = np.arange(n) - np.searchsorted(ordered, ordered, side="left")
    u = np.empty(n)
    u[order] = (rank + rng.uniform(0.05, 0.95, n)) / np.bincount(groups)[ordered]
    return u


def _stratified_normal(rng: np.random.Generator, groups: np.ndarray) -> np.ndarray:
    return np.array([STANDARD_NORMAL.inv_cdf(u) for u in _stratified_uniform(rng, groups)])


def _half_hours(x: np.ndarray) -> np.ndarray:
    return np.round(x * 2.0) / 2.0


def _likert(latent: np.ndarray) -> np.ndarray:
    return np.digitize(latent, LIKERT_CUTS) + 1


def _teacher_ids(school: np.ndarray, slot: np.ndarray) -> np.ndarray:
    """A stable 9-digit id per (school, staff slot), scrambled by an affine bijection."""
    key = school.astype(np.int64) * 1000 + slot
    return np.char.add("T", (100_000_000 + (key * 104_729 + 12_345) % 900_000_000).astype(str))


def _timestamps(rng: np.random.Generator, wave: Wave, n: int, earliest: float = 0.0) -> np.ndarray:
    """Epoch seconds inside the wave's month, not before `earliest` of the way through it."""
    return wave.start + rng.integers(int(earliest * wave.seconds), wave.seconds, n)


def _format_timestamps(seconds: np.ndarray) -> pl.Series:
    return pl.from_epoch(pl.Series(seconds, dtype=pl.Int64), "s").dt.strftime(TIMESTAMP_FORMAT)


def _hours(rng: np.random.Generator, design: Design, wave: Wave, sample: Sample) -> dict[str, np.ndarray]:
    """Weekly hours: league trend + level + school effect; totals are the exact sums."""
    n, league, level = sample["school"].size, design.school_league[sample["school"]], sample["level"]
    mean = design.nonteaching[league, wave.index] + design.level_offset[league, level]
    noise = 2.5 * _stratified_normal(rng, league * len(LEVELS) + level)
    nonteaching = np.maximum(0.5, mean + design.school_effect[sample["school"]] + noise)
    cats = _half_hours(nonteaching[:, None] * rng.dirichlet(CATEGORY_WEIGHTS, n))
    teaching = _half_hours(np.clip(rng.normal(15.5, 1.3, n) + LEVEL_TEACHING[level], 10, 22))
    related = _half_hours(np.clip(rng.normal(19.5, 1.5, n) + LEVEL_RELATED[level], 12, 30))
    other = _half_hours(rng.uniform(3.0, 6.0, n) + LEVEL_OTHER[level])
    return {
        "hours_total": teaching + related + cats.sum(axis=1) + other,
        "hours_teaching": teaching,
        "hours_teaching_related": related,
        **{f"hours_cat{i + 1}": cats[:, i] for i in range(5)},
    }


def _counts(rng: np.random.Generator, design: Design, wave: Wave, sample: Sample) -> dict[str, np.ndarray]:
    """Period counts; teachers' inspections follow their league's planted factor."""
    n, league, p = sample["school"].size, design.school_league[sample["school"]], design.progress(wave)
    inspections = design.teacher_inspection_base[league] * design.teacher_inspection_factor[league, wave.index]
    return {
        "n_inspections": rng.poisson(inspections),
        "n_forms": rng.poisson(11.5 * (1 - 0.3 * p), n),
        "n_app_tasks": rng.poisson(5.5 * (1 - 0.3 * p), n),
        "n_nonteaching_meetings": rng.poisson(3.5 * (1 - 0.2 * p), n),
        "n_invigilations": rng.poisson(1.2, n),
        "days_seconded": np.where(rng.random(n) < 0.92, 0, rng.integers(1, 31, n)),
        "training_hours_nonteaching": _half_hours(np.minimum(rng.gamma(2.0, 5.0, n), 30.0)),
    }


def _attitudes(
    rng: np.random.Generator, design: Design, wave: Wave, sample: Sample, nonteaching: np.ndarray
) -> dict[str, np.ndarray]:
    """felt_change from a latent set per league and wave; focus also falls with burden."""
    n, league = sample["school"].size, design.school_league[sample["school"]]
    felt = design.felt_latent[league, wave.index] + _stratified_normal(rng, league * len(LEVELS) + sample["level"])
    focus = 0.2 + 0.3 * felt - 0.12 * (nonteaching - 11.0) + rng.normal(0, 1, n)
    return {"felt_change": _likert(felt), "focus_on_teaching": _likert(focus)}


def _item_answers(rng: np.random.Generator, design: Design, wave: Wave, sample: Sample) -> np.ndarray:
    """0/1 per item, -1 for not answered; red-line items rare except the planted hotspot."""
    league = design.school_league[sample["school"]]
    hotspot = PLANTED["red_line_hotspot"]
    rebound = design.league_index(PLANTED["rebound"]["league"])
    is_rebound_wave = wave.index == len(design.waves) - 1 and len(design.waves) >= 2
    shrink = np.where((league == rebound) & is_rebound_wave, 1.0, 1.0 - 0.25 * design.progress(wave))
    p = np.tile(design.item_base, (league.size, 1))
    p[:, ~design.red_line] *= shrink[:, None]
    p[league == design.league_index(hotspot["league"]), ITEM_COLUMNS.index(hotspot["item"])] = hotspot["share"]
    groups = league * len(LEVELS) + sample["level"]
    draws = np.column_stack([_stratified_uniform(rng, groups) for _ in range(N_ITEMS)])
    answers = (draws < p).astype(np.int8)
    answers[rng.random(p.shape) < 0.03] = -1
    return answers


def _personal_columns(rng: np.random.Generator, n: int) -> dict[str, pl.Series]:
    """Names, phones and remarks: the columns the pipeline must never store."""
    given = np.char.add(rng.choice(GIVEN_CHARS, n), np.where(rng.random(n) < 0.6, rng.choice(GIVEN_CHARS, n), ""))
    han = np.char.add(rng.choice(SURNAMES, n), given)
    names = np.where(rng.random(n) < 0.15, rng.choice(MONGOLIAN_NAMES, n), han)
    subscriber = np.char.zfill(rng.integers(0, 1_000_000_000, n).astype(str), 9)
    phones = np.char.add(rng.choice(["13", "15", "18"], n), subscriber)
    remarks = np.where(rng.random(n) < 0.6, "", rng.choice(REMARKS, n))
    return {
        "teacher_name": pl.Series(names),
        "phone": pl.Series(phones),
        "remarks": pl.Series(remarks).replace("", None),
    }


def _text(values: np.ndarray) -> pl.Series:
    return pl.Series(values).cast(pl.String)


def _rows(frame: pl.DataFrame, indices) -> pl.DataFrame:
    """Rows by position, in the given order (an empty selection keeps the columns)."""
    return frame.select(pl.all().gather(pl.Series(np.asarray(indices, dtype=np.int64))))


def _teacher_wave_frame(rng: np.random.Generator, design: Design, wave: Wave) -> pl.DataFrame:
    """Clean responses of one wave as text, in submission order, ids numbered in that order."""
    sample = _sample_respondents(rng, design)
    n = sample["school"].size
    hours = _hours(rng, design, wave, sample)
    nonteaching = sum(hours[f"hours_cat{i}"] for i in range(1, 6))
    values = {**hours, **_counts(rng, design, wave, sample), **_attitudes(rng, design, wave, sample, nonteaching)}
    items = _item_answers(rng, design, wave, sample)
    order = rng.permutation(n)
    columns = {
        "wave": pl.Series([wave.label] * n),
        "response_id": pl.Series([f"R{wave.label.replace('-', '')}{i + 1:07d}" for i in range(n)]),
        "school_code": pl.Series(design.schools["school_code"].to_numpy()[sample["school"][order]]),
        "school_level": pl.Series(np.array(LEVELS)[sample["level"][order]]),
        "submitted_at": _format_timestamps(np.sort(_timestamps(rng, wave, n))),
    }
    for name in TEACHER_COLUMNS[5:-1]:
        if name in values:
            columns[name] = _text(values[name][order])
        elif name in ITEM_COLUMNS:
            answers = pl.Series(items[order, ITEM_COLUMNS.index(name)]).cast(pl.Int64)
            columns[name] = answers.replace(-1, None).cast(pl.String)
    columns["teacher_id"] = pl.Series(_teacher_ids(sample["school"][order], sample["slot"][order]))
    columns.update(_personal_columns(rng, n))
    frame = pl.DataFrame([series.alias(name) for name, series in columns.items()])
    return frame.select(TEACHER_COLUMNS + TEACHER_EXTRA_COLUMNS)


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


def _plant_duplicate(
    rng: np.random.Generator, frame: pl.DataFrame, wave: Wave, row: int, clean: np.ndarray
) -> pl.DataFrame:
    """Overwrite `row` with a copy of a clean response, re-submitted later in the month."""
    submitted = _epoch_seconds(frame["submitted_at"])
    end = wave.start + wave.seconds
    original = int(rng.choice(clean[submitted[clean] < end - 3600]))
    first = int(submitted[original])
    later = first + int(rng.integers(600, end - first))
    copy = frame.row(original, named=True)
    copy["submitted_at"] = _format_timestamps(np.array([later]))[0]
    return _set_row(frame, row, copy)


def _plant_teacher_defects(
    rng: np.random.Generator, frame: pl.DataFrame, wave: Wave, kinds: list[Defect], protected: np.ndarray
) -> tuple[pl.DataFrame, list[tuple[int, Defect]]]:
    """Spoil distinct unprotected rows, one defect each; duplicated rows stay clean."""
    free = np.setdiff1d(np.arange(frame.height), protected)
    rows = rng.choice(free, size=len(kinds), replace=False)
    clean = np.setdiff1d(free, rows)
    for row, defect in zip(rows.tolist(), kinds):
        if defect.reason == DUPLICATE:
            frame = _plant_duplicate(rng, frame, wave, row, clean)
        else:
            frame = _set_row(frame, row, {defect.column: defect.planted_value(wave.label, frame["school_code"][row])})
    return frame, list(zip(rows.tolist(), kinds))


def _dirty_kinds(n_rows: int, n_waves: int, already: int) -> list[Defect]:
    """About 1% of rows, cycling through every defect so that all appear in the data set."""
    n = max(round(DIRTY_SHARE * n_rows), math.ceil(len(TEACHER_DEFECTS) / n_waves))
    return [TEACHER_DEFECTS[(already + i) % len(TEACHER_DEFECTS)] for i in range(n)]


def _record(row: int, wave: Wave, reason: str) -> tuple[int, str | None, str]:
    return row, None if reason in WAVELESS_REASONS else wave.label, reason


def _file_name(source: str, wave: Wave, fmt: str) -> str:
    """Named by wave only: the loader must sniff encodings, as with real uploads."""
    return f"{source}_{wave.label}.{fmt if fmt in ('xlsx', 'parquet') else 'csv'}"


def _teacher_landings(rng: np.random.Generator, design: Design) -> list[Landing]:
    """One file per wave in rotating formats, plus late submissions from the last two waves."""
    late_waves = {w.index for w in design.waves[-2:]}
    landings, late_parts, planted_so_far = [], [], 0
    for wave in design.waves:
        frame = _teacher_wave_frame(rng, design, wave)
        late = np.array([], dtype=np.int64)
        if wave.index in late_waves:
            late = rng.choice(frame.height, LATE_ROWS_PER_WAVE, replace=False)
        kinds = _dirty_kinds(frame.height - late.size, len(design.waves), planted_so_far)
        planted_so_far += len(kinds)
        frame, planted = _plant_teacher_defects(rng, frame, wave, kinds, late)
        keep = np.ones(frame.height, dtype=bool)
        keep[late] = False
        position = np.cumsum(keep) - 1
        main = frame.filter(pl.Series(keep))
        if wave.index == SHUFFLED_COLUMNS_WAVE_INDEX:
            main = main.select([main.columns[i] for i in rng.permutation(main.width)])
        fmt = TEACHER_FORMATS[wave.index % len(TEACHER_FORMATS)]
        dirty = [_record(int(position[row]) + 1, wave, defect.reason) for row, defect in planted]
        landings.append(Landing(TEACHER_SURVEY, _file_name(TEACHER_SURVEY, wave, fmt), fmt, main, dirty))
        late_parts.append(_rows(frame, np.sort(late)))
    late_frame = pl.concat(late_parts).sort("submitted_at", "response_id")
    landings.append(Landing(TEACHER_SURVEY, LATE_FILE, "csv_utf8", late_frame))
    return landings


def _reporting_schools(rng: np.random.Generator, design: Design, wave: Wave) -> np.ndarray:
    """Schools that file a valid report: about 65% per league in the planted wave, else at least 96%."""
    spec = PLANTED["low_completeness_wave"]
    chosen = []
    for league in range(len(design.leagues)):
        members = np.flatnonzero(design.school_league == league)
        if wave.index == spec["wave_index"]:
            k = round(members.size * rng.uniform(spec["reporting_share"] - 0.03, spec["reporting_share"] + 0.03))
        else:
            floor = math.ceil(members.size * spec["other_waves_min_share"])
            k = max(floor, round(members.size * rng.uniform(spec["other_waves_min_share"] + 0.005, 1.0)))
        chosen.append(rng.choice(members, min(k, members.size), replace=False))
    return np.sort(np.concatenate(chosen))


def _seconded_over_6m(rng: np.random.Generator, design: Design, wave: Wave, schools: np.ndarray) -> np.ndarray:
    """Zero everywhere except a handful of the planted league's schools from the planted wave on."""
    spec = PLANTED["seconded_over_6m"]
    over = np.zeros(schools.size, dtype=np.int64)
    if wave.index >= spec["from_wave_index"]:
        candidates = np.flatnonzero(design.school_league[schools] == design.league_index(spec["league"]))
        picked = rng.choice(candidates, min(spec["schools_per_wave"], candidates.size), replace=False)
        low, high = spec["per_school"]
        over[picked] = rng.integers(low, high + 1, picked.size)
    return over


def _school_values(
    rng: np.random.Generator, design: Design, wave: Wave, schools: np.ndarray, valid: bool
) -> dict[str, np.ndarray]:
    """Report counts from persistent school bases thinned by the league's planted reduction."""
    p, bases, staff = design.progress(wave), design.school_bases, design.schools["n_teachers"].to_numpy()[schools]
    factor = design.school_inspection_factor[design.school_league[schools], wave.index]
    inspections = rng.binomial(bases["inspections"][schools], factor)
    events = rng.binomial(bases["events"][schools], 1 - 0.3 * p)
    forms = rng.binomial(bases["forms"][schools], 1 - 0.4 * p)
    over = _seconded_over_6m(rng, design, wave, schools) if valid else np.zeros(schools.size, dtype=np.int64)
    return {
        "n_teachers_on_staff": staff,
        "n_inspections": inspections,
        "n_inspections_unapproved": rng.binomial(inspections, 0.30 - 0.2 * p),
        "n_campus_events": events,
        "n_campus_events_unlisted": rng.binomial(events, 0.25 - 0.15 * p),
        "n_forms_requests": forms,
        "n_forms_duplicate": rng.binomial(forms, 0.30 - 0.15 * p),
        "n_teachers_seconded": rng.poisson(0.2 + staff / 300) + over,
        "n_seconded_over_6m": over,
        "n_nonteaching_meetings": rng.binomial(bases["meetings"][schools], 1 - 0.35 * p),
        "n_social_exams": rng.poisson(2.0 * (1 - 0.2 * p), schools.size),
    }


def _school_frame(
    rng: np.random.Generator, design: Design, wave: Wave, schools: np.ndarray, valid: bool
) -> pl.DataFrame:
    """Reports as text; valid ones are filed after the month's first days, leaving room for drafts."""
    values = _school_values(rng, design, wave, schools, valid)
    earliest = 0.1 if valid else 0.0
    columns = {
        "wave": pl.Series([wave.label] * schools.size),
        "school_code": pl.Series(design.schools["school_code"].to_numpy()[schools]),
        "reported_at": _format_timestamps(_timestamps(rng, wave, schools.size, earliest)),
        **{name: _text(values[name]) for name in SCHOOL_COUNT_COLUMNS},
        "school_name": pl.Series(design.schools["school_name"].to_numpy()[schools]),
    }
    return pl.DataFrame([series.alias(name) for name, series in columns.items()])


def _superseded_drafts(rng: np.random.Generator, valid: pl.DataFrame, wave: Wave) -> pl.DataFrame:
    """Earlier drafts of some valid reports, with slightly different counts."""
    drafts = _rows(valid, np.sort(rng.choice(valid.height, SUPERSEDED_PER_WAVE, replace=False)))
    final = _epoch_seconds(drafts["reported_at"]).astype(np.int64)
    earlier = wave.start + (rng.random(drafts.height) * (final - wave.start - 3600)).astype(np.int64)
    return drafts.with_columns(
        _format_timestamps(earlier).alias("reported_at"),
        (pl.col("n_inspections").cast(pl.Int64) + 1).cast(pl.String),
        (pl.col("n_forms_requests").cast(pl.Int64) + 2).cast(pl.String),
    )


def _school_wave_landing(rng: np.random.Generator, design: Design, wave: Wave) -> Landing:
    """Valid reports, broken reports from schools that did not otherwise report, and drafts."""
    reporting = _reporting_schools(rng, design, wave)
    silent = np.setdiff1d(np.arange(design.schools.height), reporting)
    pool = silent if silent.size >= len(SCHOOL_DEFECTS) else np.arange(design.schools.height)
    valid = _school_frame(rng, design, wave, reporting, valid=True)
    broken_schools = np.sort(rng.choice(pool, len(SCHOOL_DEFECTS), replace=False))
    broken = _school_frame(rng, design, wave, broken_schools, valid=False)
    for row, defect in enumerate(SCHOOL_DEFECTS):
        spoiled = {defect.column: defect.planted_value(wave.label, broken["school_code"][row])}
        if defect.reason == "unknown_school":
            spoiled["school_name"] = None
        broken = _set_row(broken, row, spoiled)
    drafts = _superseded_drafts(rng, valid, wave)
    frame = pl.concat([valid, broken, drafts])
    reasons = [None] * valid.height + [d.reason for d in SCHOOL_DEFECTS] + [SUPERSEDED] * drafts.height
    order = rng.permutation(frame.height)
    fmt = SCHOOL_FORMATS[wave.index % len(SCHOOL_FORMATS)]
    dirty = [(position + 1, wave.label, reasons[row]) for position, row in enumerate(order.tolist()) if reasons[row]]
    return Landing(SCHOOL_REPORT, _file_name(SCHOOL_REPORT, wave, fmt), fmt, _rows(frame, order), dirty)


def _typed(series: pl.Series) -> pl.Series:
    """The column's native type when every value parses as it, else the text unchanged."""
    if series.name in TIMESTAMP_COLUMNS:
        attempts = [series.str.strptime(pl.Datetime("us"), TIMESTAMP_FORMAT, strict=False)]
    elif series.name in INTEGER_COLUMNS:
        attempts = [series.cast(pl.Int64, strict=False), series.cast(pl.Float64, strict=False)]
    elif series.name in NUMBER_COLUMNS:
        attempts = [series.cast(pl.Float64, strict=False)]
    else:
        attempts = []
    for attempt in attempts:
        if attempt.null_count() == series.null_count():
            return attempt
    return series


def _cells(series: pl.Series) -> list:
    """Spreadsheet cells: numbers as numbers, timestamps as dates, anything else as text."""
    parsed = [series.to_list()]
    if series.name in TIMESTAMP_COLUMNS:
        parsed.insert(0, series.str.strptime(pl.Datetime("us"), TIMESTAMP_FORMAT, strict=False).to_list())
    elif series.name in INTEGER_COLUMNS | NUMBER_COLUMNS:
        parsed.insert(0, series.cast(pl.Float64, strict=False).to_list())
        if series.name in INTEGER_COLUMNS:
            parsed.insert(0, series.cast(pl.Int64, strict=False).to_list())
    return [next((v for v in candidates if v is not None), None) for candidates in zip(*parsed)]


def _normalised_zip(data: bytes) -> bytes:
    """Rewrite a workbook with fixed timestamps so equal content gives equal bytes."""
    source, target = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(target, "w") as out:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", FIXED_XLSX_TIME, content)
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            out.writestr(entry, content, compress_type=zipfile.ZIP_DEFLATED)
    return target.getvalue()


def xlsx_bytes(frame: pl.DataFrame, sheet: str) -> bytes:
    """The frame as the first sheet of a workbook, byte-stable."""
    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(sheet)
    worksheet.append(frame.columns)
    for row in zip(*(_cells(frame[name]) for name in frame.columns)):
        worksheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _normalised_zip(buffer.getvalue())


def _write_landing(landing: Landing, folder: Path) -> None:
    """CSV keeps the text as is; XLSX and Parquet get native types where values parse."""
    path, frame, fmt = folder / landing.name, landing.frame, landing.fmt
    if fmt.startswith("wjx-"):
        from pipelines.platforms.wjx_style import wjx_frame

        style, fmt = fmt[4:].split(":")
        frame = wjx_frame(frame, landing.name, style)
    if fmt in CSV_ENCODINGS:
        path.write_bytes(frame.write_csv().encode(CSV_ENCODINGS[fmt]))
    elif fmt == "xlsx":
        path.write_bytes(xlsx_bytes(frame, landing.source))
    else:
        frame.select(_typed(frame[name]) for name in frame.columns).write_parquet(path)


def _write_bad_files(rng: np.random.Generator, folder: Path, sample: pl.DataFrame) -> None:
    """Files a loader must refuse with a reason instead of crashing the run."""
    (folder / "broken_empty.csv").write_bytes(b"")
    (folder / "broken_header.csv").write_bytes(
        "姓名,联系电话,备注\n张伟,13912345678,无\n李娜,15887654321,迎检材料太多\n".encode("utf-8")
    )
    workbook = xlsx_bytes(sample, TEACHER_SURVEY)
    (folder / "broken_truncated.xlsx").write_bytes(workbook[: len(workbook) // 2])
    (folder / "broken_junk.parquet").write_bytes(b"PAR1" + rng.bytes(4096))


def _manifest(design: Design, seed: int, landings: list[Landing]) -> dict:
    """Row counts per source and wave, every planted defect and file: the answer key for tests."""
    labels = [w.label for w in design.waves]
    counts: dict = {source: {label: {"rows": 0, "dirty": 0} for label in labels} for source in SOURCES}
    without_wave = {source: 0 for source in SOURCES}
    dirty_rows = []
    for landing in landings:
        waves = landing.frame["wave"]
        for label in labels:
            counts[landing.source][label]["rows"] += int((waves == label).sum())
        without_wave[landing.source] += int((~waves.is_in(labels)).fill_null(True).sum())
        for row, wave, reason in landing.dirty:
            dirty_rows.append(
                {"source": landing.source, "file": landing.name, "row_number": row, "wave": wave, "reason": reason}
            )
            if wave is not None:
                counts[landing.source][wave]["dirty"] += 1
    dirty_rows.sort(key=lambda r: (r["source"], r["file"], r["row_number"]))
    return {
        "seed": seed,
        "teachers": design.teachers,
        "waves": labels,
        "planted": PLANTED,
        "counts": counts,
        "rows_without_wave": without_wave,
        "dirty_rows": dirty_rows,
        "bad_files": list(BAD_FILES),
        "files": {source: [landing.name for landing in landings if landing.source == source] for source in SOURCES},
    }


def generate(
    out_dir: Path, teachers: int = 6000, waves: int = 6, seed: int = DEFAULT_SEED, reference_dir: Path | None = None,
    style: str = "contract",
) -> dict:
    """Write reference, landing files and manifest.json under `out_dir`; return the manifest.

    `style="wjx"` writes the teacher files as 问卷星 exports of the questionnaire instead.
    """
    if waves < 1 or teachers < 1:
        raise ValueError("teachers and waves must be positive")
    if style not in ("contract", "wjx"):
        raise ValueError("style must be contract or wjx")
    out_dir, reference_dir = Path(out_dir), Path(reference_dir) if reference_dir else SHIPPED_REFERENCE_DIR
    reference = build_reference(reference_dir)
    write_reference(reference, reference_dir, out_dir / "reference")
    rng = np.random.default_rng(seed)
    design = _build_design(rng, reference, reference_dir, waves, teachers)
    landings = _teacher_landings(rng, design)
    landings += [_school_wave_landing(rng, design, wave) for wave in design.waves]
    if style == "wjx":
        from pipelines.platforms.wjx_style import as_wjx_landings

        landings = as_wjx_landings(landings, Landing)
    for source in SOURCES:
        (out_dir / "landing" / source).mkdir(parents=True, exist_ok=True)
    for landing in landings:
        _write_landing(landing, out_dir / "landing" / landing.source)
    _write_bad_files(rng, out_dir / "landing" / TEACHER_SURVEY, landings[0].frame.head(40))
    from pipelines.synthetic.campus_events import write_campus_events
    events = write_campus_events(np.random.default_rng([seed, 14]), design.schools, [w.label for w in design.waves],
                                 [x.frame for x in landings if x.source == SCHOOL_REPORT], out_dir / "landing")
    manifest = {**_manifest(design, seed, landings), "style": style, "campus_events": events}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.synthetic.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--write-shipped-reference", action="store_true",
                        help="regenerate data/reference/schools.csv and teacher_population.csv")
    parser.add_argument("--out", type=Path, help="write a data set here")
    parser.add_argument("--teachers", type=int, default=6000)
    parser.add_argument("--waves", type=int, default=6)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    if not args.write_shipped_reference and args.out is None:
        parser.error("nothing to do: give --out DIR and/or --write-shipped-reference")
    if args.write_shipped_reference:
        write_shipped_reference()
    if args.out is not None:
        manifest = generate(args.out, args.teachers, args.waves, args.seed)
        print(json.dumps(manifest["counts"], indent=2))


if __name__ == "__main__":
    main()
