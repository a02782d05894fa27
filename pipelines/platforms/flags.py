"""Respondent-quality flags on accepted teacher rows: speeders, straight-lining, duplicate submissions.

Flags are flags, not rejections: by default a flagged row stays accepted and in every estimate
(answering 否 to every item is an honest answer). The data-quality page shows how many rows
carry each flag; an analyst who decides a kind is not to be trusted lists it in
`mappings/respondent_flags.yaml`, and the page then says how many rows that removed.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import yaml

from pipelines.catalogue.questionnaire import Question, estimated_seconds

FLAG_KINDS = ("speeder", "straight_lining", "duplicate_submission")
SPEEDER_SHARE = 1 / 3
"""A completion time under a third of the questionnaire's estimated time cannot include reading it."""
ITEM_COLUMNS = tuple(f"item_{i:02d}" for i in range(1, 27))
LIKERT_COLUMNS = ("felt_change", "focus_on_teaching")
MIN_ITEMS_ANSWERED = 20
"""Straight-lining is judged only where most of the item block was answered."""


def speeder(frame: pl.DataFrame, estimate_seconds: float) -> pl.Series:
    taken = frame["seconds_taken"] if "seconds_taken" in frame.columns else pl.Series([None] * frame.height)
    return (taken.cast(pl.Float64) < estimate_seconds * SPEEDER_SHARE).fill_null(False)


def straight_lining(frame: pl.DataFrame) -> pl.Series:
    """The same option position throughout both blocks: the first option everywhere, or the last.

    That is every answered item (at least 20) 否 with both Likert answers 1, or every item 是 with
    both 5. All 否 alone is common and honest, so it is not enough.
    """
    items = frame.select(ITEM_COLUMNS)
    answered = items.select(pl.sum_horizontal(pl.all().is_not_null())).to_series()
    highest = items.select(pl.max_horizontal(pl.all())).to_series()
    lowest = items.select(pl.min_horizontal(pl.all())).to_series()
    felt, focus = frame["felt_change"], frame["focus_on_teaching"]
    first = (highest == 0) & (felt == 1) & (focus == 1)
    last = (lowest == 1) & (felt == 5) & (focus == 5)
    return ((answered >= MIN_ITEMS_ANSWERED) & (first | last)).fill_null(False)


def duplicate_submission(frame: pl.DataFrame, answer_columns: list[str]) -> pl.Series:
    """Every submission after the first of the same teacher (pseudonym) or of identical answers at one school."""
    ordered = frame.with_row_index("__i").sort("submitted_at", "response_id")
    same_answers = pl.concat_str([pl.col(c).cast(pl.String).fill_null("∅") for c in answer_columns], separator="|")
    ordered = ordered.with_columns(
        (pl.int_range(pl.len()).over("school_code", same_answers) > 0).alias("__same_answers"),
        pl.when(pl.col("teacher_pseudonym").is_not_null())
        .then(pl.int_range(pl.len()).over("school_code", "teacher_pseudonym") > 0)
        .otherwise(False)
        .alias("__same_teacher"),
    )
    flagged = ordered.sort("__i").select(pl.col("__same_answers") | pl.col("__same_teacher")).to_series()
    return flagged.fill_null(False)


def respondent_flags(frame: pl.DataFrame, questions: tuple[Question, ...]) -> pl.DataFrame:
    """`response_id, source_file, source_row, flag`: one row per flag a staged row carries."""
    answers = [q.column for q in questions if q.column not in ("teacher_id",)]
    checks = {
        "speeder": speeder(frame, estimated_seconds(questions)),
        "straight_lining": straight_lining(frame),
        "duplicate_submission": duplicate_submission(frame, answers),
    }
    parts = [
        frame.filter(mask).select("response_id", "source_file", "source_row").with_columns(pl.lit(kind).alias("flag"))
        for kind, mask in checks.items()
    ]
    return (
        pl.concat(parts)
        if parts
        else pl.DataFrame(
            schema={"response_id": pl.String, "source_file": pl.String, "source_row": pl.Int64, "flag": pl.String}
        )
    )


def flag_counts(flags: pl.DataFrame, accepted: int, excluded: tuple[str, ...] = ()) -> list[dict]:
    """Per flag kind: rows flagged, their share of the accepted rows, and rows it removed from the estimates.

    A row carrying two excluded kinds is removed once, and counted under the first of them.
    """
    counts = dict(flags.group_by("flag").len().iter_rows()) if flags.height else {}
    removed: dict[str, int] = {}
    if flags.height and excluded:
        chosen = flags.filter(pl.col("flag").is_in(list(excluded)))
        first = (
            chosen.with_columns(
                pl.col("flag").replace_strict({k: i for i, k in enumerate(FLAG_KINDS)}).alias("__order")
            )
            .sort("__order")
            .unique(["source_file", "source_row"], keep="first", maintain_order=True)
        )
        removed = dict(first.group_by("flag").len().iter_rows())
    return [
        {
            "flag": kind,
            "rows_flagged": counts.get(kind, 0),
            "rows_accepted": accepted,
            "share_flagged": counts.get(kind, 0) / accepted if accepted else None,
            "rows_excluded": removed.get(kind, 0),
        }
        for kind in FLAG_KINDS
    ]


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
