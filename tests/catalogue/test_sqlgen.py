"""Staging SQL generated from the rule table: no drift, one-pass checks that agree with the rules cell by cell."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import random
import re

import duckdb
import polars as pl
import pytest
from conftest import good_school_row, good_teacher_row

from pipelines.catalogue import rules, sqlgen
from pipelines.catalogue.rules import (
    CAMPUS_EVENT,
    DATE_PATTERN,
    SCHOOL_REPORT,
    SOURCES,
    TEACHER_SURVEY,
    TEXT_MAX_LENGTH,
    UNREADABLE_CELL_VALUES,
    WAVE_PATTERN,
    ColumnRule,
    contract_columns,
    rule_rows,
    rules_for,
)
from pipelines.resources import SQL_DIR, FatalPipelineError
from pipelines.warehouse.tables import (
    LANDING_PREFIX,
    check_columns_match_contract,
    set_staging_rules,
    stage_source,
    stage_wave,
    with_files,
)

CURRENT_WAVE = "2025-06"
VALUES = {
    "text": ["", "  ", None, "#N/A", "#NO_CACHED_VALUE!", "x" * (TEXT_MAX_LENGTH + 1), "primary", " junior ", "high"],
    "number": [
        *("", None, "#DIV/0!", "abc", "-1", "0", "45.5", " 7 ", "113", "1e400", "nan", "inf", "2", "1.0"),
        *("-0", "112", "112.0000001", "-inf", "+5", "1e2"),
    ],
    "integer": [
        "",
        None,
        "#VALUE!",
        "abc",
        "-3",
        "0",
        "1",
        "1.0",
        "2",
        "2.5",
        "5",
        "6",
        " 4 ",
        "1e400",
        "inf",
        "1e30",
        "-1e19",
        "01",
        "+1",
        "-0",
        "1e0",
        "0.5e1",
    ],
    "wave": ["", None, "#REF!", "2024/05", "2024-13", "2024-05", " 2024-11 ", CURRENT_WAVE, "2025-07"],
    "date": ["", "2024-02-30", "2024-5-1", "2024-05-01", " 2025-06-30 ", "2025-07-01", "#N/A"],
    "timestamp": ["", "2024-05-12 08:00:00", "2024-05-12", "昨天", "2024-13-01 00:00:00", "#NUM!"],
}
TIMESTAMP_VALID = {
    "2024-05-10 09:00:00": True,
    "2024-05-20 10:00:00": True,
    "2024-05-12 08:00:00": True,
    "2024-05-12": True,
    "昨天": False,
    "2024-13-01 00:00:00": False,
}


def good_event_row(**overrides) -> dict[str, str]:
    row = {
        "event_id": "E1",
        "school_code": "1501020001",
        "event_date": "2024-05-03",
        "kind": "inspection",
        "organiser_level": "county",
        "whitelist_item": "",
        "in_annual_plan": "1",
        "teacher_days": "2",
    }
    row.update(overrides)
    return row


GOOD_ROWS = {TEACHER_SURVEY: good_teacher_row, SCHOOL_REPORT: good_school_row, CAMPUS_EVENT: good_event_row}


def expected_violation(rule: ColumnRule, raw: str | None) -> str | None:
    """The first rule a cell breaks, written from the rule table's documented meaning, not from the SQL."""
    value = (raw or "").strip(" ")
    column = rule.column
    if value == "":
        return f"missing:{column}" if rule.required else None
    if value in UNREADABLE_CELL_VALUES:
        return f"malformed:{column}"
    if rule.kind == "text":
        if len(value) > TEXT_MAX_LENGTH:
            return f"malformed:{column}"
        return f"not_allowed:{column}" if rule.allowed and value not in rule.allowed else None
    if rule.kind == "wave":
        if not re.fullmatch(WAVE_PATTERN, value):
            return f"malformed:{column}"
        return "future_wave" if value > CURRENT_WAVE else None
    if rule.kind == "date":
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return f"malformed:{column}"
        if not re.fullmatch(DATE_PATTERN, value):
            return f"malformed:{column}"
        return "future_date" if value[:7] > CURRENT_WAVE else None
    if rule.kind == "timestamp":
        return None if TIMESTAMP_VALID[value] else f"malformed:{column}"
    try:
        number = float(value)
    except ValueError:
        return f"malformed:{column}"
    if not math.isfinite(number) or (rule.kind == "integer" and (number != round(number) or abs(number) >= 2**63)):
        return f"malformed:{column}"
    code = str(int(number)) if rule.kind == "integer" else value
    if rule.allowed and code not in rule.allowed:
        return f"not_allowed:{column}"
    too_low = rule.min_value is not None and number < rule.min_value
    too_high = rule.max_value is not None and number > rule.max_value
    return f"out_of_range:{column}" if too_low or too_high else None


@pytest.fixture
def warehouse():
    conn = duckdb.connect()
    for ddl in sorted((SQL_DIR / "ddl").glob("*.sql")):
        conn.execute(ddl.read_text(encoding="utf-8"))
    conn.executemany(f"insert into meta.column_rules values ({', '.join('?' * 12)})", rule_rows())
    conn.execute("insert into ref.schools (school_code, county_code) values ('1501020001', '150102')")
    conn.execute("insert into ref.divisions (code, level, parent_code) values ('150102', 'county', '150100')")
    yield conn
    conn.close()


def landing_frame(source: str, rows: list[dict], wave_key: str | None = "2024-05") -> pl.DataFrame:
    columns = contract_columns(source)
    records = [
        {"file": "f.csv", "row_number": i, "landing_file": "f.csv", "row_error": None, "wave_key": wave_key}
        | {c: row.get(c) for c in columns}
        for i, row in enumerate(rows, start=1)
    ]
    schema = dict.fromkeys(LANDING_PREFIX + columns, pl.String) | {"row_number": pl.Int64}
    return pl.DataFrame(records, schema=schema)


def cell_reasons(conn: duckdb.DuckDBPyConnection, source: str, rows: list[dict]) -> list[str | None]:
    conn.register("frame", landing_frame(source, rows))
    conn.execute("create or replace temp table wave_rows as select * from frame")
    return typed_reasons(conn, source)


def typed_reasons(conn: duckdb.DuckDBPyConnection, source: str) -> list[str | None]:
    """cell_reason of each row of temp table wave_rows, from the generated SQL as the staging runs it."""
    set_staging_rules(conn, source, CURRENT_WAVE)
    query = with_files(
        "select cell_reason from typed_rows order by row_number", typed_rows=f"staging/{source}_typed.sql"
    )
    return [r for (r,) in conn.execute(query).fetchall()]


@pytest.mark.parametrize("source", SOURCES)
def test_one_pass_checks_give_each_cell_the_first_rule_it_breaks_in_rule_order(warehouse, source):
    source_rules = rules_for(source)
    good = GOOD_ROWS[source]()
    rows = [good | {rule.column: value} for rule in source_rules for value in VALUES[rule.kind]]
    picker = random.Random(20201021)
    for _ in range(150):
        mutated = picker.sample(source_rules, k=min(3, len(source_rules)))
        rows.append(good | {rule.column: picker.choice(VALUES[rule.kind]) for rule in mutated})
    expected = [
        "; ".join(v for rule in source_rules if (v := expected_violation(rule, row[rule.column])) is not None) or None
        for row in rows
    ]
    assert None in expected and len(set(expected)) > len(source_rules)
    assert cell_reasons(warehouse, source, rows) == expected


def test_a_row_the_reader_could_not_split_keeps_its_verdict_and_nothing_else(warehouse):
    frame = landing_frame(TEACHER_SURVEY, [good_teacher_row(hours_total="abc")]).with_columns(
        pl.lit("malformed_row").alias("row_error")
    )
    warehouse.register("frame", frame)
    warehouse.execute("create or replace temp table wave_rows as select * from frame")
    assert typed_reasons(warehouse, TEACHER_SURVEY) == ["malformed_row"]


def test_the_checks_read_the_rule_table_at_run_time(warehouse):
    rows = [good_teacher_row(hours_total="200"), good_teacher_row(hours_total="2000")]
    assert cell_reasons(warehouse, TEACHER_SURVEY, rows) == ["out_of_range:hours_total"] * 2
    warehouse.execute(
        "update meta.column_rules set max_value = 1000 where source = 'teacher_survey' and column_name = 'hours_total'"
    )
    assert cell_reasons(warehouse, TEACHER_SURVEY, rows) == [None, "out_of_range:hours_total"]


def test_staging_quarantines_a_copy_of_the_rejected_rows_only(warehouse):
    rows = [
        good_teacher_row(response_id="R1", teacher_id="T1"),
        good_teacher_row(response_id="R2", hours_total="113", item_03="2"),
        good_teacher_row(response_id="R3", school_code="9999999999"),
        good_teacher_row(response_id="R1", submitted_at="2024-05-12 08:00:00"),
        good_teacher_row(response_id="R4", seconds_taken="600", teacher_id=" "),
    ]
    warehouse.register("frame", landing_frame(TEACHER_SURVEY, rows))
    warehouse.execute("insert into landing.teacher_survey_rows by name select * from frame")
    result = stage_wave(warehouse, TEACHER_SURVEY, "2024-05", CURRENT_WAVE)
    assert (result.received, result.accepted, result.rejected) == (5, 2, 3)
    assert result.reasons == {"duplicate_response_id": 1, "out_of_range:hours_total": 1, "unknown_school": 1}
    staged = warehouse.execute(
        "select response_id, wave, teacher_pseudonym, seconds_taken, hours_total, item_03, county_code, "
        "league_code, source_file, source_row from staging.teacher_survey_staged order by source_row"
    ).fetchall()
    assert staged == [
        ("R1", "2024-05", "T1", None, 50.0, 0, "150102", "150100", "f.csv", 1),
        ("R4", "2024-05", None, 600, 50.0, 0, "150102", "150100", "f.csv", 5),
    ]
    rejected = warehouse.execute(
        "select wave, file, row_number, reason, raw_json from quarantine.rejected_rows order by row_number"
    ).fetchall()
    assert [r[:4] for r in rejected] == [
        ("2024-05", "f.csv", 2, "out_of_range:hours_total; not_allowed:item_03"),
        ("2024-05", "f.csv", 3, "unknown_school"),
        ("2024-05", "f.csv", 4, "duplicate_response_id"),
    ]
    assert json.loads(rejected[0][4]) == {c: rows[1][c] for c in contract_columns(TEACHER_SURVEY)}
    assert stage_wave(warehouse, TEACHER_SURVEY, "2024-05", CURRENT_WAVE) == result
    assert warehouse.execute("select count(*) from quarantine.rejected_rows").fetchall() == [(3,)]


def test_campus_events_are_staged_by_the_month_of_their_date(warehouse):
    rows = [good_event_row(), good_event_row(event_date="2024-06-02"), good_event_row(event_id="E2", kind="party")]
    frame = landing_frame(CAMPUS_EVENT, rows).with_columns(pl.col("event_date").str.slice(0, 7).alias("wave_key"))
    warehouse.register("frame", frame)
    warehouse.execute("insert into landing.campus_event_rows by name select * from frame")
    result = stage_source(warehouse, CAMPUS_EVENT, CURRENT_WAVE)
    assert result.reasons == {"duplicate_event_id": 1, "not_allowed:kind": 1}
    assert warehouse.execute(
        "select wave, event_id, event_date, in_annual_plan, teacher_days, whitelist_item "
        "from staging.campus_event_staged"
    ).fetchall() == [("2024-05", "E1", dt.date(2024, 5, 3), 1, 2, None)]
    assert warehouse.execute("select wave from quarantine.rejected_rows order by row_number").fetchall() == [
        ("2024-06",),
        ("2024-05",),
    ]


def test_the_committed_sql_is_what_the_generator_writes():
    for path, text in sqlgen.outputs().items():
        assert path.read_text(encoding="utf-8") == text, f"{path}: run python -m pipelines.catalogue.sqlgen"
    assert sqlgen.main(["--check"]) == 0


@pytest.mark.parametrize("source", SOURCES)
def test_the_warehouse_tables_have_the_rule_tables_columns_and_types(warehouse, source):
    def columns(schema: str, table: str) -> list[tuple[str, str]]:
        return warehouse.execute(
            "select column_name, lower(data_type) from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, table],
        ).fetchall()

    assert columns("landing", f"{source}_rows") == [
        *[tuple(c.split()) for c in sqlgen.LANDING_PREFIX],
        *[(c, "varchar") for c in contract_columns(source)],
    ]
    assert columns("staging", f"{source}_staged") == [
        *sqlgen.staged_columns(source),
        *[tuple(c.split()) for c in sqlgen.STAGED_SUFFIX],
    ]


def test_adding_a_column_to_the_rule_table_is_all_a_new_survey_column_needs(monkeypatch):
    added = ColumnRule(TEACHER_SURVEY, "n_parent_calls", "integer", min_value=0.0)
    monkeypatch.setattr(rules, "COLUMN_RULES", (*rules.COLUMN_RULES, added))
    assert "n_parent_calls varchar" in sqlgen.landing_ddl(TEACHER_SURVEY)
    assert "n_parent_calls bigint" in sqlgen.staging_ddl(TEACHER_SURVEY)
    typed = sqlgen.typed_sql(TEACHER_SURVEY)
    assert "try_cast(try_cast(trim(source.n_parent_calls) as double) as bigint) as n_parent_calls," in typed
    assert "meta.integer_violation(source.n_parent_calls, 'n_parent_calls')" in typed
    assert sqlgen.main(["--check"]) == 1


def test_only_plain_identifiers_from_the_rule_table_reach_the_sql(monkeypatch):
    hostile = ColumnRule(TEACHER_SURVEY, "x; drop table meta.column_rules", "text")
    monkeypatch.setattr(rules, "COLUMN_RULES", (*rules.COLUMN_RULES, hostile))
    for generate in (sqlgen.landing_ddl, sqlgen.staging_ddl, sqlgen.typed_sql):
        with pytest.raises(ValueError, match="not a plain identifier"):
            generate(TEACHER_SURVEY)


def test_kinds_map_to_the_staged_types():
    types = {(r.kind, bool(r.allowed or r.max_value is not None)): rules.staged_type(r) for r in rules.COLUMN_RULES}
    assert types == {
        ("wave", False): "varchar",
        ("text", False): "varchar",
        ("text", True): "varchar",
        ("timestamp", False): "timestamp",
        ("date", False): "date",
        ("number", True): "double",
        ("number", False): "double",
        ("integer", True): "integer",
        ("integer", False): "bigint",
    }
    assert [rules.staged_column(r) for r in rules.COLUMN_RULES if r.pseudonymised] == ["teacher_pseudonym"]
    assert (
        list(itertools.chain.from_iterable(sqlgen.staged_columns(s) for s in SOURCES)).count(("wave", "varchar")) == 3
    )


def test_a_warehouse_built_before_a_column_was_added_gains_it_and_a_renamed_column_is_fatal(warehouse):
    warehouse.execute("alter table landing.teacher_survey_rows drop column seconds_taken")
    warehouse.execute("alter table staging.teacher_survey_staged drop column seconds_taken")
    check_columns_match_contract(warehouse)
    landing = warehouse.execute("select * from landing.teacher_survey_rows limit 0").description
    assert [d[0] for d in landing] == LANDING_PREFIX + contract_columns(TEACHER_SURVEY)
    staged = warehouse.execute("select seconds_taken from staging.teacher_survey_staged limit 0")
    assert [d[0] for d in staged.description] == ["seconds_taken"]
    warehouse.execute("alter table landing.school_report_rows rename column n_social_exams to n_exams")
    with pytest.raises(FatalPipelineError, match=r"landing\.school_report_rows columns differ from the rule table"):
        check_columns_match_contract(warehouse)
