"""The vocabulary of policy rules (data/reference/policy_rules.csv) and its validation.

The rules themselves are data; this module only says which words a rule may use, so that the
one evaluator (sql/marts/policy_breaches.sql) understands every rule generically.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
from polars.datatypes import DataTypeClass

from pipelines.catalogue.rules import EVENT_KINDS, ORGANISER_LEVELS

MEASURES: dict[str, tuple[str, str, str]] = {
    "count": ("sum", "匹配事件数", "matching events"),
    "same_whitelist_item": ("sum", "同一白名单事项次数", "events of one white-list item"),
    "without_whitelist": ("sum", "无白名单事项的活动数", "activities without a white-list item"),
    "outside_plan": ("sum", "计划外事件数", "events outside the annual plan"),
    "teacher_days": ("max", "最长借调天数", "longest secondment in days"),
}
"""measure -> (how a school's period is aggregated, label zh, label en). `sum` measures count the
matching events (per white-list item for same_whitelist_item); `max` takes the largest
teacher_days. A school breaches when the aggregate exceeds the rule's limit."""

PERIODS: dict[str, tuple[str, str]] = {
    "year": ("自然年", "calendar year"),
    "semester": ("学期（2—7月、8—次年1月）", "semester (Feb–Jul, Aug–Jan)"),
}

SCOPES: dict[str, tuple[str, ...]] = {
    "any": ORGANISER_LEVELS,
    "county_or_higher": ("national", "region", "league", "county"),
    "league_or_higher": ("national", "region", "league"),
    "region_or_higher": ("national", "region"),
}
"""scope -> the organiser levels whose events a rule counts."""

CASE_STATUSES = ("open", "confirmed", "dismissed", "resolved")
STATUS_LABELS: dict[str, tuple[str, str]] = {
    "open": ("待核查", "open"),
    "confirmed": ("已核实", "confirmed"),
    "dismissed": ("已排除", "dismissed"),
    "resolved": ("已解决", "resolved"),
}
RESOLVED_BY_DATA_NOTE = (
    "数据中已不再出现该违规（由流水线关闭） / the breach no longer appears in the data (closed by the pipeline)"
)
CASE_TEXT_MAX_LENGTH = 500
"""A case note or assignee longer than this is refused: a note is a line, not a file."""

RULE_COLUMNS = (
    "rule_id",
    "source_zh",
    "source_en",
    "effective_from",
    "effective_to",
    "scope",
    "kind_filter",
    "measure",
    "period",
    "limit",
    "text_zh",
    "text_en",
)
RULE_ID_PATTERN = r"[a-z][a-z0-9_]{0,63}"


class PolicyRuleError(ValueError):
    """One line naming the row of policy_rules.csv that is wrong, and why."""


def _date(value: str | None, row: int, column: str, required: bool) -> dt.date | None:
    if value is None or not value.strip():
        if required:
            raise PolicyRuleError(f"row {row}: {column} is required")
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise PolicyRuleError(f"row {row}: {column} is not a YYYY-MM-DD date") from None


def validated_rules(frame: pl.DataFrame) -> pl.DataFrame:
    """The rules typed, with the kinds and organiser levels they count; raises PolicyRuleError.

    Row numbers count data rows from 1. Versions of one rule_id must not overlap in time.
    """
    import re

    missing = [c for c in RULE_COLUMNS if c not in frame.columns]
    if missing:
        raise PolicyRuleError(f"lacks columns: {', '.join(missing)}")
    rows: list[dict] = []
    for row, record in enumerate(frame.select(RULE_COLUMNS).iter_rows(named=True), start=1):
        values = {k: (v.strip() if isinstance(v, str) else v) for k, v in record.items()}
        rule_id = values["rule_id"] or ""
        if not re.fullmatch(RULE_ID_PATTERN, rule_id):
            raise PolicyRuleError(f"row {row}: rule_id must be lower-case letters, digits and underscores")
        for column, vocabulary in (("measure", MEASURES), ("period", PERIODS), ("scope", SCOPES)):
            if values[column] not in vocabulary:
                raise PolicyRuleError(
                    f"row {row} ({rule_id}): unknown {column}; expected one of {', '.join(vocabulary)}"
                )
        kinds = [k.strip() for k in (values["kind_filter"] or "").split("|") if k.strip()]
        if not kinds or any(k not in EVENT_KINDS for k in kinds):
            raise PolicyRuleError(f"row {row} ({rule_id}): kind_filter must be a |-list of {', '.join(EVENT_KINDS)}")
        start = _date(values["effective_from"], row, "effective_from", True)
        assert start is not None
        end = _date(values["effective_to"], row, "effective_to", False)
        if end is not None and end < start:
            raise PolicyRuleError(f"row {row} ({rule_id}): effective_to precedes effective_from")
        try:
            limit = int(values["limit"] or "")
        except ValueError:
            raise PolicyRuleError(f"row {row} ({rule_id}): limit must be an integer") from None
        if limit < 0:
            raise PolicyRuleError(f"row {row} ({rule_id}): limit must not be negative")
        for column in ("source_zh", "source_en", "text_zh", "text_en"):
            if not values[column]:
                raise PolicyRuleError(f"row {row} ({rule_id}): {column} is required (a rule cites its source)")
        rows.append(
            {
                **values,
                "row": row,
                "effective_from": start,
                "effective_to": end,
                "limit": limit,
                "kinds": kinds,
                "organiser_levels": list(SCOPES[values["scope"]]),
                "aggregate": MEASURES[values["measure"]][0],
            }
        )
    by_rule: dict[str, list[dict]] = {}
    for rule in rows:
        by_rule.setdefault(rule["rule_id"], []).append(rule)
    for versions in by_rule.values():
        versions.sort(key=lambda r: r["effective_from"])
        for earlier, later in zip(versions, versions[1:]):
            if earlier["effective_to"] is None or earlier["effective_to"] >= later["effective_from"]:
                raise PolicyRuleError(
                    f"row {later['row']} ({later['rule_id']}): overlaps the effective range of row {earlier['row']}"
                )
    schema: dict[str, DataTypeClass | pl.DataType] = {
        "rule_id": pl.String,
        "source_zh": pl.String,
        "source_en": pl.String,
        "effective_from": pl.Date,
        "effective_to": pl.Date,
        "scope": pl.String,
        "kind_filter": pl.String,
        "measure": pl.String,
        "period": pl.String,
        "limit": pl.Int64,
        "text_zh": pl.String,
        "text_en": pl.String,
        "kinds": pl.List(pl.String),
        "organiser_levels": pl.List(pl.String),
        "aggregate": pl.String,
    }
    return pl.DataFrame([{k: r[k] for k in schema} for r in rows], schema=schema)


def read_policy_rules(path: Path) -> pl.DataFrame:
    """policy_rules.csv as text, then validated; any error is one PolicyRuleError line."""
    from pipelines.landing.scan import LandingFileError, decode_text

    try:
        frame = pl.read_csv(decode_text(path.read_bytes()).encode("utf-8"), infer_schema=False)
    except (LandingFileError, pl.exceptions.PolarsError) as exc:
        raise PolicyRuleError(f"unreadable ({type(exc).__name__})") from None
    return validated_rules(frame)
