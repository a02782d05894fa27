"""Teacher responses: weekly hours, counts, attitudes and item answers drawn around the planted trends.

Rows are made for a slice of the wave's respondents at a time (`teacher_frame`), so a wave of
any size is generated in bounded memory; the draws are vectorised in NumPy and the text
columns built in Polars.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import polars as pl
from scipy.special import ndtri

from pipelines.synthetic.design import Design, Sample, _sample_respondents
from pipelines.synthetic.spec import (
    CATEGORY_WEIGHTS,
    ITEM_COLUMNS,
    LEVEL_OTHER,
    LEVEL_RELATED,
    LEVEL_TEACHING,
    LEVELS,
    LIKERT_CUTS,
    N_ITEMS,
    PLANTED,
    TEACHER_COLUMNS,
    TEACHER_EXTRA_COLUMNS,
    Wave,
    _format_timestamps,
)

SURNAMES = list(
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶余潘杜戴夏钟汪田任姜范方石姚谭邹金陆郝孔白崔康毛邱秦江史顾侯邵孟龙段雷钱汤尹常武乔贺"
)

GIVEN_CHARS = list(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红梅琳丹宇浩欣怡婷雪慧建国志文博晨亮鹏飞海燕凤春玲"
)

MONGOLIAN_NAMES = [
    "巴特尔",
    "乌云",
    "其其格",
    "额尔敦",
    "苏日娜",
    "阿拉坦",
    "娜仁",
    "宝音",
    "朝鲁",
    "斯琴",
    "图雅",
    "乌日娜",
    "孟和",
    "萨仁",
    "哈斯",
]

REMARKS = [
    "无",
    "希望减少各类填表任务",
    "迎检材料太多",
    "社区工作占用时间较多",
    "近期非教学任务有所减少",
    "APP打卡任务仍然偏多",
    "希望精简会议",
    "表格太多, 重复填报",
    "感觉负担有所减轻",
    "抽调参加检查工作",
    "各类评比活动仍较频繁",
    "希望把时间还给课堂",
]


def _stratified_uniform(rng: np.random.Generator, groups: np.ndarray) -> np.ndarray:
    """Uniform draws spread evenly over (0, 1) within each group, in random order.

    Planted league trends then show in the estimates instead of drowning in sampling
    noise, while the spread within a wave, and so every standard error, stays realistic.
    """
    n = groups.size
    order = np.argsort(groups + rng.random(n))
    ordered = groups[order]
    counts = np.bincount(groups)
    rank = np.arange(n) - (np.cumsum(counts) - counts)[ordered]
    u = np.empty(n)
    u[order] = (rank + rng.uniform(0.05, 0.95, n)) / counts[ordered]
    return u


def _stratified_normal(rng: np.random.Generator, groups: np.ndarray) -> np.ndarray:
    return ndtri(_stratified_uniform(rng, groups))


def _half_hours(x: np.ndarray) -> np.ndarray:
    return np.round(x * 2.0) / 2.0


def _likert(latent: np.ndarray) -> np.ndarray:
    return np.digitize(latent, LIKERT_CUTS) + 1


def _teacher_ids(school: np.ndarray, slot: np.ndarray) -> pl.Series:
    """A stable 9-digit id per (school, staff slot), scrambled by an affine bijection."""
    key = school.astype(np.int64) * 1000 + slot
    return _prefixed("T", pl.Series(100_000_000 + (key * 104_729 + 12_345) % 900_000_000).cast(pl.String))


def _prefixed(prefix: str, text: pl.Series) -> pl.Series:
    return pl.select(pl.lit(prefix) + text).to_series()


def _timestamps(rng: np.random.Generator, wave: Wave, n: int, earliest: float = 0.0) -> np.ndarray:
    """Epoch seconds inside the wave's month, not before `earliest` of the way through it."""
    return wave.start + rng.integers(int(earliest * wave.seconds), wave.seconds, n)


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
    """0/1 per item and respondent (items x respondents), -1 for not answered; red-line items rare
    except the planted hotspot."""
    league = design.school_league[sample["school"]]
    hotspot = PLANTED["red_line_hotspot"]
    rebound = design.league_index(PLANTED["rebound"]["league"])
    is_rebound_wave = wave.index == len(design.waves) - 1 and len(design.waves) >= 2
    shrink = np.where((league == rebound) & is_rebound_wave, 1.0, 1.0 - 0.25 * design.progress(wave))
    groups = league * len(LEVELS) + sample["level"]
    answers = np.empty((N_ITEMS, league.size), dtype=np.int8)
    hotspot_rows = league == design.league_index(hotspot["league"])
    for k in range(N_ITEMS):
        p = np.full(league.size, design.item_base[k]) * (1.0 if design.red_line[k] else shrink)
        if ITEM_COLUMNS[k] == hotspot["item"]:
            p[hotspot_rows] = hotspot["share"]
        answers[k] = _stratified_uniform(rng, groups) < p
    answers[(rng.random((league.size, N_ITEMS)) < 0.03).T] = -1
    return answers


def _personal_columns(rng: np.random.Generator, n: int) -> dict[str, pl.Series]:
    """Names, phones and remarks: the columns the pipeline must never store."""
    draws = {
        "given": pl.Series(GIVEN_CHARS).gather(rng.choice(len(GIVEN_CHARS), n)),
        "double": rng.random(n) < 0.6,
        "second": pl.Series(GIVEN_CHARS).gather(rng.choice(len(GIVEN_CHARS), n)),
        "surname": pl.Series(SURNAMES).gather(rng.choice(len(SURNAMES), n)),
        "mongolian": rng.random(n) < 0.15,
        "mongolian_name": pl.Series(MONGOLIAN_NAMES).gather(rng.choice(len(MONGOLIAN_NAMES), n)),
        "subscriber": rng.integers(0, 1_000_000_000, n),
        "prefix": pl.Series(["13", "15", "18"]).gather(rng.choice(3, n)),
        "silent": rng.random(n) < 0.6,
        "remark": pl.Series(REMARKS).gather(rng.choice(len(REMARKS), n)),
    }
    col = pl.col
    han = col("surname") + col("given") + pl.when(col("double")).then(col("second")).otherwise(pl.lit(""))
    frame = pl.DataFrame(draws).select(
        pl.when(col("mongolian")).then(col("mongolian_name")).otherwise(han).alias("teacher_name"),
        (col("prefix") + col("subscriber").cast(pl.String).str.zfill(9)).alias("phone"),
        pl.when(col("silent")).then(pl.lit(None, dtype=pl.String)).otherwise(col("remark")).alias("remarks"),
    )
    return {name: frame[name] for name in frame.columns}


def _text(values: np.ndarray) -> pl.Series:
    return pl.Series(values).cast(pl.String)


def _rows(frame: pl.DataFrame, indices) -> pl.DataFrame:
    """Rows by position, in the given order (an empty selection keeps the columns)."""
    return frame.select(pl.all().gather(pl.Series(np.asarray(indices, dtype=np.int64))))


def teacher_frame(
    rng: np.random.Generator, design: Design, wave: Wave, sample: Sample, first_id: int = 0, id_digits: int = 7
) -> pl.DataFrame:
    """Clean responses of some respondents as text, in submission order; ids count on from `first_id`."""
    n = sample["school"].size
    hours = _hours(rng, design, wave, sample)
    nonteaching = cast(np.ndarray, sum(hours[f"hours_cat{i}"] for i in range(1, 6)))
    values = {**hours, **_counts(rng, design, wave, sample), **_attitudes(rng, design, wave, sample, nonteaching)}
    items = _item_answers(rng, design, wave, sample)
    order = rng.permutation(n)
    numbers = pl.Series(np.arange(first_id + 1, first_id + n + 1)).cast(pl.String).str.zfill(id_digits)
    columns = {
        "wave": pl.Series([wave.label]).new_from_index(0, n),
        "response_id": _prefixed(f"R{wave.label.replace('-', '')}", numbers),
        "school_code": design.schools["school_code"].gather(sample["school"][order]),
        "school_level": pl.Series(LEVELS).gather(sample["level"][order]),
        "submitted_at": _format_timestamps(np.sort(_timestamps(rng, wave, n))),
    }
    for name in TEACHER_COLUMNS[5:-1]:
        if name in values:
            columns[name] = _text(values[name][order])
        elif name in ITEM_COLUMNS:
            answers = pl.Series(items[ITEM_COLUMNS.index(name), order]).cast(pl.Int64)
            columns[name] = answers.replace(-1, None).cast(pl.String)
    columns["teacher_id"] = _teacher_ids(sample["school"][order], sample["slot"][order])
    columns.update(_personal_columns(rng, n))
    frame = pl.DataFrame([series.alias(name) for name, series in columns.items()])
    return frame.select(TEACHER_COLUMNS + TEACHER_EXTRA_COLUMNS)


def _teacher_wave_frame(rng: np.random.Generator, design: Design, wave: Wave) -> pl.DataFrame:
    """Clean responses of a whole wave at once (the coverage simulation's small sets)."""
    return teacher_frame(rng, design, wave, _sample_respondents(rng, design))
