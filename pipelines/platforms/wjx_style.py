"""The generator's teacher files as 问卷星 exports of the questionnaire (`jianfu generate --style wjx`).

The demo then exercises the path real data take: platform headers, option text or option
numbers, skip markers, `所用时间`, personal and system columns that must be dropped. A
platform export carries its wave in the file name and numbers its rows itself, so planted
defects of the wave or the id cannot exist there; a re-submission stays a second 序号 (the
duplicate flag's case), a planted -3 is the platform's "not answered", and a code outside a
choice question's options reads as an option the questionnaire does not have.
"""

from __future__ import annotations

import zlib

import numpy as np
import polars as pl

from pipelines.catalogue.questionnaire import Question, estimated_seconds, load_questionnaire
from pipelines.platforms.convert import SKIP_MARKERS, wave_from_name

LEAD = ("序号", "提交答卷时间", "所用时间", "来源", "来源详情", "来自IP")
PERSONAL = (("teacher_name", "您的姓名"), ("phone", "手机号码"), ("remarks", "意见建议"))
FOREIGN_OPTION = "其他"
"""What a planted out-of-options code becomes: an answer no option of the questionnaire carries."""
SPEEDER_SHARE = 0.02
VANISHING_REASONS = ("missing:wave", "malformed:wave", "missing:response_id", "duplicate_response_id")
CSV_FORMATS = {"parquet": "xlsx"}
"""问卷星 exports CSV or Excel: the generator's Parquet rotation becomes XLSX."""


def _reason(reason: str | None, choices: set[str], frame: pl.DataFrame, row: int) -> str | None:
    """The importer's verdict on a planted defect: a value that is a skip marker (-3) is not answered."""
    if reason in VANISHING_REASONS:
        return None
    kind, _, column = (reason or "").partition(":")
    if column in frame.columns and frame[column][row - 1] in SKIP_MARKERS:
        return None
    if kind in ("not_allowed", "out_of_range") and column in choices:
        return f"malformed:{column}"
    return reason


def as_wjx_landings(landings: list, landing_type) -> list:
    """Teacher landings as 问卷星 files: wave from the name, reasons as the importer will give them."""
    questions = load_questionnaire()
    choices = {q.column for q in questions if q.kind == "choice"}
    out = []
    for landing in landings:
        if landing.source != "teacher_survey":
            out.append(landing)
            continue
        fmt = CSV_FORMATS.get(landing.fmt, landing.fmt)
        style = "number" if zlib.crc32(landing.name.encode()) % 2 else "text"
        stem = landing.name.rsplit(".", 1)[0]
        wave = wave_from_name(landing.name)
        parts = (
            [(wave, landing.frame)]
            if wave
            else [
                (w, landing.frame.filter(pl.col("wave") == w)) for w in sorted(landing.frame["wave"].unique().to_list())
            ]
        )
        for part_wave, frame in parts:
            name = f"{stem}.{'xlsx' if fmt == 'xlsx' else 'csv'}" if wave else f"{stem}_{part_wave}.csv"
            dirty = [
                (row, part_wave, r)
                for row, _, reason in landing.dirty
                if (r := _reason(reason, choices, frame, row)) is not None
            ]
            out.append(
                landing_type(
                    landing.source,
                    name,
                    f"wjx-{style}:{fmt}",
                    frame.with_columns(pl.lit(part_wave).alias("wave")),
                    dirty,
                )
            )
    return out


def _cell(question: Question, value: str | None, style: str) -> str:
    if value is None or value == "":
        return "(跳过)" if question.kind == "choice" else ""
    if question.kind != "choice":
        return value
    codes = question.codes()
    if value not in codes:
        return FOREIGN_OPTION
    index = codes.index(value)
    return question.options_zh[index] if style == "text" else str(index + 1)


def seconds_taken(name: str, n: int, questions: tuple[Question, ...]) -> np.ndarray:
    """Completion times around the questionnaire's estimate, a few speeders far below it."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    estimate = estimated_seconds(questions)
    seconds = np.exp(rng.normal(np.log(1.3 * estimate), 0.35, n))
    speeders = rng.random(n) < SPEEDER_SHARE
    seconds[speeders] = rng.uniform(0.08, 0.25, int(speeders.sum())) * estimate
    return np.maximum(seconds.round(), 20).astype(np.int64)


def wjx_frame(frame: pl.DataFrame, name: str, style: str) -> pl.DataFrame:
    """A contract-column frame laid out as a 问卷星 export: system columns, `N、text` questions, personal columns."""
    questions = load_questionnaire()
    n = frame.height
    rng = np.random.default_rng(zlib.crc32(name.encode()) + 1)
    octets = rng.integers(1, 255, (n, 3))
    columns = {
        "序号": [str(i) for i in range(1, n + 1)],
        "提交答卷时间": [v.replace("-", "/") if v else v for v in frame["submitted_at"].to_list()],
        "所用时间": [f"{s}秒" for s in seconds_taken(name, n, questions)],
        "来源": ["手机提交"] * n,
        "来源详情": ["直接访问"] * n,
        "来自IP": [f"10.{a}.{b}.{c}(内蒙古)" for a, b, c in octets.tolist()],
    }
    for question in questions:
        columns[f"{question.number}、{question.text_zh}"] = [
            _cell(question, v, style) for v in frame[question.column].to_list()
        ]
    for offset, (column, title) in enumerate(PERSONAL, start=len(questions) + 1):
        columns[f"{offset}、{title}"] = frame[column].to_list() if column in frame.columns else [None] * n
    return pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String))
