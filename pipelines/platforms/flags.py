"""Respondent-quality flags on accepted teacher rows: speeders, straight-lining, duplicate submissions.

Flags are flags, not rejections: by default a flagged row stays accepted and in every estimate
(answering 否 to every item is an honest answer). The data-quality page shows how many rows
carry each flag; an analyst who decides a kind is not to be trusted lists it in
`mappings/respondent_flags.yaml`, and the page then says how many rows that removed.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import yaml

from pipelines.catalogue.questionnaire import Question, estimated_seconds
from pipelines.resources import load_sql

FLAG_KINDS = ("speeder", "straight_lining", "duplicate_submission")
SPEEDER_SHARE = 1 / 3
"""A completion time under a third of the questionnaire's estimated time cannot include reading it."""
MIN_ITEMS_ANSWERED = 20
"""Straight-lining is judged only where most of the item block was answered: the same option position
throughout both blocks (every answered item 否 with both Likert answers 1, or every item 是 with both 5).
All 否 alone is common and honest, so it is not enough."""


def flag_parameters(questions: tuple[Question, ...]) -> dict:
    """The values sql/quality/respondent_flags.sql is bound with, all taken from the questionnaire."""
    return {
        "speeder_seconds": estimated_seconds(questions) * SPEEDER_SHARE,
        "min_items": MIN_ITEMS_ANSWERED,
        "answer_columns": [q.column for q in questions if q.column != "teacher_id"],
    }


def write_flags(
    conn: duckdb.DuckDBPyConnection, wave: str, questions: tuple[Question, ...], excluded: tuple[str, ...] = ()
) -> None:
    """quality.respondent_flags, marts.respondent_quality and (for `excluded` kinds) quality.excluded_rows
    for one wave, in DuckDB: the staged wave never enters Python, so its size is bounded by DuckDB's spill."""
    conn.execute("delete from quality.respondent_flags where wave = $wave", {"wave": wave})
    conn.execute(
        "insert into quality.respondent_flags by name " + load_sql("quality/respondent_flags.sql"),
        {"wave": wave, **flag_parameters(questions)},
    )
    kinds = {"wave": wave, "flag_kinds": list(FLAG_KINDS), "excluded_kinds": list(excluded)}
    conn.execute("delete from marts.respondent_quality where wave = $wave", {"wave": wave})
    conn.execute("insert into marts.respondent_quality by name " + load_sql("marts/respondent_quality.sql"), kinds)
    if excluded:
        conn.execute("insert into quality.excluded_rows by name " + load_sql("quality/excluded_rows.sql"), kinds)


FLAGS_CONFIG = "respondent_flags.yaml"
"""In mappings/: editing any file there re-reads every landing file, so a new exclusion applies at once."""


def excluded_kinds(mappings_dir: Path | None) -> tuple[str, ...]:
    """Flag kinds an analyst has chosen to drop from the estimates (`exclude: [speeder]`); none by default."""
    path = Path(mappings_dir) / FLAGS_CONFIG if mappings_dir is not None else None
    if path is None or not path.is_file():
        return ()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig")) or {}
    except (yaml.YAMLError, UnicodeDecodeError):
        raise ValueError(f"{FLAGS_CONFIG} is not valid YAML") from None
    kinds = data.get("exclude") or [] if isinstance(data, dict) else None
    if not isinstance(kinds, list) or set(kinds) - set(FLAG_KINDS):
        raise ValueError(f"{FLAGS_CONFIG}: exclude: lists flag kinds among {', '.join(FLAG_KINDS)}")
    return tuple(k for k in FLAG_KINDS if k in kinds)
