"""问卷星 (Wenjuanxing) and 腾讯问卷 (Tencent Survey) exports of the jianfu questionnaire.

Both platforms export one row per submission: a few leading system columns, then one column
per question headed `N、text` / `N.text`, then (腾讯问卷) trailing system columns. A question
column is trusted only when its number and its text both agree with questionnaire.csv, so a
renumbered or edited questionnaire is refused instead of filing answers under the wrong item.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import polars as pl

from pipelines.catalogue.questionnaire import Question, normalise
from pipelines.platforms.convert import (
    ColumnSpec,
    Conversion,
    ConversionError,
    apply_specs,
    choice_spec,
    data_columns,
    wave_from_name,
)

QUESTION_HEADER = re.compile(r"^\s*[Qq]?(\d{1,3})\s*[、.．:：]\s*(.*)$", re.S)
HINT_CUTOFF = 0.8
"""difflib ratio above which a mismatched header is said to read like another question."""


@dataclass(frozen=True)
class Platform:
    """How a platform's export starts and which system columns carry id, time and duration."""

    key: str
    name_zh: str
    name_en: str
    leading: tuple[str, ...]
    id_header: str
    submitted_header: str
    duration_header: str


WJX = Platform("wjx", "问卷星", "Wenjuanxing", ("序号", "提交答卷时间", "所用时间"), "序号", "提交答卷时间", "所用时间")
TENCENT = Platform(
    "tencent",
    "腾讯问卷",
    "Tencent Survey",
    ("编号", "开始答题时间", "结束答题时间", "答题时长"),
    "编号",
    "结束答题时间",
    "答题时长",
)
PLATFORMS = (WJX, TENCENT)


def _key(header: str) -> str:
    return re.sub(r"\s+", "", header.replace("\ufeff", "")).lower()


def detect_platform(headers: list[str]) -> Platform | None:
    """The platform whose system columns open the header, or None."""
    keys = [_key(h) for h in headers]
    for platform in PLATFORMS:
        if keys[: len(platform.leading)] == [_key(h) for h in platform.leading]:
            return platform
    return None


def _question_columns(headers: list[str]) -> dict[int, list[tuple[int, str]]]:
    """question number -> [(1-based position, text after the number)] for every `N、text` header."""
    found: dict[int, list[tuple[int, str]]] = {}
    for position, header in enumerate(headers, start=1):
        match = QUESTION_HEADER.match(header or "")
        if match:
            found.setdefault(int(match.group(1)), []).append((position, match.group(2)))
    return found


def _reads_like(text: str, questions: tuple[Question, ...]) -> int | None:
    scores = [
        (difflib.SequenceMatcher(None, normalise(text), normalise(q.text_zh)).ratio(), q.number) for q in questions
    ]
    best = max(scores, default=(0.0, None))
    return best[1] if best[0] >= HINT_CUTOFF else None


def question_specs(headers: list[str], questions: tuple[Question, ...], label: str) -> list[ColumnSpec]:
    """One spec per questionnaire question present; ConversionError for a number whose text disagrees."""
    by_number = {q.number: q for q in questions}
    specs = []
    for number, columns in sorted(_question_columns(headers).items()):
        question = by_number.get(number)
        if question is None:
            continue
        matching = [p for p, text in columns if normalise(text) == normalise(question.text_zh)]
        if len(matching) > 1:
            raise ConversionError(f"{label}: question {number} appears in columns {', '.join(map(str, matching))}")
        if not matching:
            position, text = columns[0]
            hint = _reads_like(text, questions)
            also = f" (its text reads like question {hint})" if hint and hint != number else ""
            raise ConversionError(
                f"{label}: question {number} (column {position}) does not match questionnaire "
                f"question {number}{also}; renumbered or edited questionnaire?"
            )
        position = matching[0]
        header = headers[position - 1]
        if question.kind == "choice":
            specs.append(choice_spec(question.column, position, header, question))
        else:
            specs.append(ColumnSpec(question.column, position, header, question.kind))
    return specs


def convert_platform(
    raw: pl.DataFrame, platform: Platform, file_name: str, questions: tuple[Question, ...]
) -> Conversion:
    """Contract columns from a platform export; raises ConversionError naming question or rule."""
    label = f"{platform.name_zh} ({platform.name_en}) export"
    wave = wave_from_name(file_name)
    if wave is None:
        raise ConversionError(f"{label}: the file name holds no wave (YYYY-MM), e.g. teachers_2026-11.csv")
    headers = data_columns(raw)
    positions = {_key(h): i for i, h in reversed(list(enumerate(headers, start=1)))}
    specs = question_specs(headers, questions, label)
    submitted = positions[_key(platform.submitted_header)]
    duration = positions[_key(platform.duration_header)]
    specs.append(ColumnSpec("submitted_at", submitted, headers[submitted - 1], "timestamp"))
    specs.append(ColumnSpec("seconds_taken", duration, headers[duration - 1], "duration"))
    identifier = positions[_key(platform.id_header)]
    id_spec = ColumnSpec("response_id", identifier, headers[identifier - 1], "text")
    return apply_specs(raw, specs, {"wave": wave}, id_spec, file_name, platform.key)
