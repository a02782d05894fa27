"""Turning one recognised export into contract columns, column by column, with an account of each.

Platform exports and mapped questionnaires differ only in how their columns are found; once
each contract column has a source column and a way to code its answers, the same code turns
answers into contract codes and counts what it could not code. It never keeps a cell's text
in a message: counts and column positions only.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import polars as pl

from pipelines.catalogue.questionnaire import Question, normalise
from pipelines.catalogue.rules import UNREADABLE_CELL

ROW_COLUMN, ROW_ERROR_COLUMN = "__row", "__row_error"
SKIP_MARKERS = frozenset({"(跳过)", "（跳过）", "(空)", "（空）", "-2", "-3", "跳过", "空"})
"""Platform markers for a question not shown or not answered (问卷星: (跳过), (空), -2, -3)."""
UNMAPPABLE = UNREADABLE_CELL
"""What an answer that maps to no option becomes: staging rejects the row as malformed in that column."""
WAVE_IN_NAME = re.compile(r"(\d{4})-(0[1-9]|1[0-2])(?!\d)")
TIMESTAMP = re.compile(
    r"^\s*(\d{4})[/\-.年](\d{1,2})[/\-.月](\d{1,2})日?(?:[ T]+(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?\s*$"
)
DURATION = re.compile(r"^(?:(\d+)(?:小时|时|h))?(?:(\d+)(?:分钟|分|min|m))?(?:(\d+(?:\.\d+)?)(?:秒|s))?$")


class ConversionError(ValueError):
    """The export cannot become contract rows; the message names a question, position or rule only."""


@dataclass(frozen=True)
class ColumnSpec:
    """Where a contract column comes from and how its answers are coded."""

    target: str
    position: int
    header: str
    kind: str
    labels: dict[str, str] = field(default_factory=dict)
    numbered: tuple[str, ...] = ()
    skips: frozenset[str] = frozenset()


@dataclass
class ColumnReport:
    """One source column's fate: mapped to a contract column, or dropped."""

    position: int
    header: str
    target: str | None
    filled: int = 0
    skipped: int = 0
    unmappable: int = 0


def is_skip(value: str | None, extra: frozenset[str] = frozenset()) -> bool:
    return value is None or not value.strip() or value.strip() in SKIP_MARKERS or normalise(value) in extra


def choice_labels(question: Question) -> dict[str, str]:
    """Normalised option text (zh and en) -> contract code."""
    labels = {}
    for options in (question.options_zh, question.options_en):
        for option, code in zip(options, question.codes()):
            labels[normalise(option)] = code
    return labels


def choice_spec(
    target: str,
    position: int,
    header: str,
    question: Question | None,
    labels: dict[str, str] | None = None,
    skips: frozenset[str] = frozenset(),
) -> ColumnSpec:
    """Answers by option text or by option number (1 = first option), as platforms export them."""
    coded = dict(choice_labels(question)) if question else {}
    coded.update({normalise(k): v for k, v in (labels or {}).items()})
    numbered = question.codes() if question else ()
    return ColumnSpec(target, position, header, "choice", coded, numbered, skips)


def code_choice(value: str, spec: ColumnSpec) -> str:
    key = normalise(value)
    if key in spec.labels:
        return spec.labels[key]
    folded = unicodedata.normalize("NFKC", value).strip()
    if spec.numbered and re.fullmatch(r"\d+", folded) and 1 <= int(folded) <= len(spec.numbered):
        return spec.numbered[int(folded) - 1]
    return UNMAPPABLE


def code_number(value: str) -> str:
    folded = unicodedata.normalize("NFKC", value).strip().replace(",", "")
    return folded if re.fullmatch(r"-?\d+(\.\d+)?", folded) else UNMAPPABLE


def timestamp_text(value: str) -> str:
    """`2026/11/20 10:23:45`, `2026/5/26 12:00` and the like as `2026-11-20 10:23:45`."""
    match = TIMESTAMP.match(unicodedata.normalize("NFKC", value))
    if not match:
        return UNMAPPABLE
    y, mo, d, h, mi, s = (int(g) if g else 0 for g in match.groups())
    return f"{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}"


def duration_seconds(value: str) -> str:
    """`123秒`, `2分3秒`, `123` (腾讯问卷 exports plain seconds) as whole seconds."""
    folded = re.sub(r"\s+", "", unicodedata.normalize("NFKC", value))
    if re.fullmatch(r"\d+(\.\d+)?", folded):
        return str(round(float(folded)))
    match = DURATION.fullmatch(folded)
    if not match or not any(match.groups()):
        return UNMAPPABLE
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return str(round(hours * 3600 + minutes * 60 + seconds))


def code_value(value: str | None, spec: ColumnSpec) -> str | None:
    """One answer as contract text; None when not answered; UNMAPPABLE when it fits nothing."""
    if is_skip(value, spec.skips):
        return None
    assert value is not None
    if spec.kind == "choice":
        return code_choice(value, spec)
    if spec.kind == "number":
        return code_number(value)
    if spec.kind == "timestamp":
        return timestamp_text(value)
    if spec.kind == "duration":
        return duration_seconds(value)
    return value.strip()


def wave_from_name(file_name: str) -> str | None:
    """The first `YYYY-MM` in the file name: platforms export one questionnaire round per file."""
    match = WAVE_IN_NAME.search(file_name)
    return f"{match.group(1)}-{match.group(2)}" if match else None


@dataclass
class Conversion:
    """Contract columns (plus `__row`, `__row_error`) and the account of every source column."""

    frame: pl.DataFrame
    columns: list[ColumnReport]
    kind: str


def data_columns(raw: pl.DataFrame) -> list[str]:
    return [c for c in raw.columns if c not in (ROW_COLUMN, ROW_ERROR_COLUMN)]


def apply_specs(
    raw: pl.DataFrame,
    specs: list[ColumnSpec],
    constants: dict[str, str],
    id_spec: ColumnSpec | None,
    file_name: str,
    kind: str,
) -> Conversion:
    """Code every mapped column; `response_id` is `<file>:<id>` (or `<file>:<row>` without an id column)."""
    headers = data_columns(raw)
    reports = {i: ColumnReport(i, h, None) for i, h in enumerate(headers, start=1)}
    out: dict[str, pl.Series] = {}
    malformed = raw[ROW_ERROR_COLUMN].is_not_null().to_list()
    for spec in specs:
        values = raw[headers[spec.position - 1]].to_list()
        coded = [None if bad else code_value(v, spec) for v, bad in zip(values, malformed)]
        report = reports[spec.position]
        report.target = spec.target
        report.filled = sum(c is not None and c != UNMAPPABLE for c in coded)
        report.unmappable = sum(c == UNMAPPABLE for c in coded)
        report.skipped = sum(c is None for c, bad in zip(coded, malformed) if not bad)
        out[spec.target] = pl.Series(spec.target, coded, dtype=pl.String)
    rows = raw[ROW_COLUMN].to_list()
    if id_spec is not None:
        ids = raw[headers[id_spec.position - 1]].to_list()
        reports[id_spec.position].target = "response_id"
        reports[id_spec.position].filled = sum(not is_skip(v) for v in ids)
        response = [None if is_skip(v) else f"{file_name}:{v.strip()}" for v in ids]
    else:
        response = [f"{file_name}:{r}" for r in rows]
    out["response_id"] = pl.Series("response_id", response, dtype=pl.String)
    for column, value in constants.items():
        out[column] = pl.Series(column, [value] * raw.height, dtype=pl.String)
    frame = (
        pl.DataFrame(list(out.values())).with_columns(raw[ROW_COLUMN], raw[ROW_ERROR_COLUMN])
        if out
        else raw.select(ROW_COLUMN, ROW_ERROR_COLUMN)
    )
    return Conversion(frame, [reports[i] for i in sorted(reports)], kind)
