"""The jianfu questionnaire as data: `questionnaire.csv` read once, shared by every consumer.

The importer, the mapping check, the printable questionnaire, the reports' item labels and
the generator all read this file, so the questionnaire a bureau publishes is exactly the
one the importer understands.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pipelines.catalogue.rules import SCHOOL_LEVELS, TEACHER_SURVEY, contract_columns
from pipelines.paths import SHIPPED_REFERENCE_DIR

SHIPPED_QUESTIONNAIRE = SHIPPED_REFERENCE_DIR / "questionnaire.csv"
QUESTIONNAIRE_COLUMNS = ("question_no", "column", "kind", "text_zh", "text_en", "options_zh", "options_en")
KINDS = ("text", "number", "choice")
PLATFORM_COLUMNS = ("wave", "response_id", "submitted_at")
"""Contract columns the platform fills in, never asked of the teacher."""

READ_CHARS_PER_SECOND = 6.0
"""Careful reading of Chinese survey text, about 360 characters a minute (a slow adult reader)."""
ANSWER_SECONDS = {"choice": 2.0, "number": 8.0, "text": 10.0}
"""Time to give one answer once read: a click, recalling and typing a figure, looking up a code."""
TARGET_SECONDS = 600
"""The monitor must not become a burden itself: the questionnaire should take under 10 minutes."""


class QuestionnaireError(ValueError):
    """questionnaire.csv does not describe the section 3 columns; the message names row and rule."""


@dataclass(frozen=True)
class Question:
    number: int
    column: str
    kind: str
    text_zh: str
    text_en: str
    options_zh: tuple[str, ...]
    options_en: tuple[str, ...]

    def codes(self) -> tuple[str, ...]:
        """Contract codes of the options, in option order (CONTRACT.md section 8)."""
        if self.column == "school_level":
            return SCHOOL_LEVELS
        if self.column.startswith("item_"):
            return ("0", "1")
        return tuple(str(i) for i in range(1, len(self.options_zh) + 1))


def _split(options: str) -> tuple[str, ...]:
    return tuple(o.strip() for o in options.split("|")) if options.strip() else ()


def _validate(questions: list[Question]) -> None:
    expected = [c for c in contract_columns(TEACHER_SURVEY) if c not in PLATFORM_COLUMNS + ("seconds_taken",)]
    columns = [q.column for q in questions]
    if sorted(columns) != sorted(expected):
        missing = sorted(set(expected) - set(columns))
        extra = sorted(set(columns) - set(expected))
        raise QuestionnaireError(f"questionnaire columns differ from section 3: missing {missing}, extra {extra}")
    for position, question in enumerate(questions, start=1):
        if question.number != position:
            raise QuestionnaireError(f"row {position}: question_no must be {position}")
        if question.kind not in KINDS:
            raise QuestionnaireError(f"row {position}: kind must be one of {', '.join(KINDS)}")
        if question.kind == "choice":
            if not question.options_zh or len(question.options_zh) != len(question.options_en):
                raise QuestionnaireError(f"row {position}: options_zh and options_en need the same options")
            if len(question.codes()) != len(question.options_zh):
                raise QuestionnaireError(f"row {position}: {question.column} needs {len(question.codes())} options")


@lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> tuple[Question, ...]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != QUESTIONNAIRE_COLUMNS:
            raise QuestionnaireError(f"header must be {','.join(QUESTIONNAIRE_COLUMNS)}")
        questions: list[Question] = []
        for row in reader:
            try:
                number = int(row["question_no"])
            except ValueError:
                raise QuestionnaireError(f"row {len(questions) + 1}: question_no is not a number") from None
            questions.append(
                Question(
                    number,
                    row["column"].strip(),
                    row["kind"].strip(),
                    row["text_zh"].strip(),
                    row["text_en"].strip(),
                    _split(row["options_zh"]),
                    _split(row["options_en"]),
                )
            )
    _validate(questions)
    return tuple(questions)


def questionnaire_path(data_dir: Path | None = None) -> Path:
    """`reference/questionnaire.csv` of the data directory when present, else the shipped one."""
    if data_dir is not None and (Path(data_dir) / "reference" / "questionnaire.csv").is_file():
        return Path(data_dir) / "reference" / "questionnaire.csv"
    return SHIPPED_QUESTIONNAIRE


def load_questionnaire(path: Path | None = None) -> tuple[Question, ...]:
    """The questions in questionnaire order; raises QuestionnaireError when the file breaks the contract."""
    path = Path(path or SHIPPED_QUESTIONNAIRE)
    return _load(str(path.resolve()), path.stat().st_mtime)


def by_column(questions: tuple[Question, ...]) -> dict[str, Question]:
    return {q.column: q for q in questions}


def item_labels(path: Path | None = None) -> dict[str, tuple[str, str]]:
    """item_NN -> (zh, en) question text: the short labels reports show beside the list's item numbers."""
    return {q.column: (q.text_zh, q.text_en) for q in load_questionnaire(path) if q.column.startswith("item_")}


_PUNCTUATION = re.compile(r"[\s\u3000]+")


def normalise(text: str) -> str:
    """Text compared ignoring whitespace, punctuation, width and case (NFKC folds full-width forms)."""
    folded = unicodedata.normalize("NFKC", text or "").lower()
    return "".join(
        ch for ch in _PUNCTUATION.sub("", folded) if not unicodedata.category(ch).startswith(("P", "S", "Z"))
    )


def estimated_seconds(questions: tuple[Question, ...]) -> float:
    """Reading time of every question and its options plus the time to answer it."""
    total = 0.0
    for question in questions:
        chars = len(question.text_zh) + sum(len(o) for o in question.options_zh)
        total += chars / READ_CHARS_PER_SECOND + ANSWER_SECONDS[question.kind]
    return total
