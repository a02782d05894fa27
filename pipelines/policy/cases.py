"""The breach tracker, quality.breach_cases: merged by each run, edited by analysts.

The pipeline owns which breaches exist and their figures; a person owns status, assignee and
note. Both write through the data directory's run lock, so a `cases set` never races a run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import polars as pl

from pipelines.catalogue.policy import CASE_STATUSES, CASE_TEXT_MAX_LENGTH, RESOLVED_BY_DATA_NOTE
from pipelines.resources import FatalPipelineError, load_sql
from pipelines.warehouse.tables import transaction


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


@dataclass(frozen=True)
class MergeResult:
    open_cases: int
    in_data: int
    by_status: dict[str, int]


def merge_cases(conn: duckdb.DuckDBPyConnection) -> MergeResult:
    """Bring quality.breach_cases in line with marts.policy_breaches in one transaction."""
    params = {"now": _now(), "data_note": RESOLVED_BY_DATA_NOTE}
    with transaction(conn):
        conn.execute(load_sql("quality/breach_cases_upsert.sql"), params)
        conn.execute(load_sql("quality/breach_cases_vanished.sql"), params)
    by_status = dict(conn.execute("select status, count(*) from quality.breach_cases group by 1 order by 1").fetchall())
    in_data = conn.execute("select count(*) from quality.breach_cases where in_data").fetchall()[0][0]
    return MergeResult(by_status.get("open", 0), in_data, by_status)


def list_cases(conn: duckdb.DuckDBPyConnection, status: str | None = None, league: str | None = None) -> pl.DataFrame:
    if status is not None and status not in CASE_STATUSES:
        raise FatalPipelineError(f"unknown status; expected one of {', '.join(CASE_STATUSES)}")
    if (
        league is not None
        and not conn.execute(
            "select count(*) from ref.divisions where code = ? and level = 'league'", [league]
        ).fetchall()[0][0]
    ):
        raise FatalPipelineError("unknown league code (see reference/divisions.csv)")
    return conn.sql(load_sql("quality/breach_cases_list.sql"), params={"status": status, "league": league}).pl()


def _bounded_text(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    line = " ".join(value.split())
    if len(line) > CASE_TEXT_MAX_LENGTH:
        raise FatalPipelineError(f"{what} longer than {CASE_TEXT_MAX_LENGTH} characters")
    return line or None


def set_case(
    conn: duckdb.DuckDBPyConnection,
    rule_id: str,
    school_code: str,
    period: str,
    status: str,
    note: str | None = None,
    assignee: str | None = None,
) -> dict:
    """Set a case's status (and note, assignee when given) as an analyst; raises FatalPipelineError.

    The error names which of rule, school or period is unknown, never echoing what was typed.
    """
    if status not in CASE_STATUSES:
        raise FatalPipelineError(f"unknown status; expected one of {', '.join(CASE_STATUSES)}")
    note, assignee = _bounded_text(note, "note"), _bounded_text(assignee, "assignee")
    if not conn.execute("select count(*) from ref.policy_rules where rule_id = ?", [rule_id]).fetchall()[0][0]:
        raise FatalPipelineError("unknown rule (see reference/policy_rules.csv)")
    if not conn.execute("select count(*) from ref.schools where school_code = ?", [school_code]).fetchall()[0][0]:
        raise FatalPipelineError("unknown school code (see reference/schools.csv)")
    key = [rule_id, school_code, period]
    if not conn.execute(
        "select count(*) from quality.breach_cases where rule_id = ? and school_code = ? and period = ?", key
    ).fetchall()[0][0]:
        raise FatalPipelineError("no case for this rule, school and period (jianfu cases list shows them)")
    with transaction(conn):
        conn.execute(
            "update quality.breach_cases set status = ?, status_by = 'analyst', updated_at = ?, "
            "note = coalesce(?, note), assignee = coalesce(?, assignee) "
            "where rule_id = ? and school_code = ? and period = ?",
            [status, _now(), note, assignee, *key],
        )
    row = conn.execute(
        "select rule_id, school_code, period, status, assignee, note from quality.breach_cases "
        "where rule_id = ? and school_code = ? and period = ?",
        key,
    ).fetchall()[0]
    return dict(zip(("rule_id", "school_code", "period", "status", "assignee", "note"), row))
