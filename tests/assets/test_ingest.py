"""Ingest and validation: every format and encoding, every rejection rule, accounting, privacy, re-runs."""

from __future__ import annotations

import hashlib
import hmac
import json
import zipfile
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from conftest import EXTRA_COLUMNS, good_school_row, good_teacher_row, new_data_dir, query, write_table

from pipelines.landing.scan import LandingFile, LandingFileError, decode_text, read_landing_file
from pipelines.runner import run_pipeline

T = good_teacher_row

DIRTY_TEACHER_ROWS = [
    (T(response_id="R2", hours_total="113"), "out_of_range:hours_total"),
    (T(response_id="R3", hours_cat2="-1"), "out_of_range:hours_cat2"),
    (T(response_id="R4", school_code="9999999999"), "unknown_school"),
    (T(response_id="R1", submitted_at="2024-05-12 08:00:00", teacher_id="T100000009"), "duplicate_response_id"),
    (T(response_id="R5", wave=""), "missing:wave"),
    (T(response_id="R6", wave="2024/05"), "malformed:wave"),
    (T(response_id=""), "missing:response_id"),
    (T(response_id="R8", submitted_at="昨天"), "malformed:submitted_at"),
    (T(response_id="R9", hours_teaching="abc"), "malformed:hours_teaching"),
    (T(response_id="R10", n_forms="2.5"), "malformed:n_forms"),
    (T(response_id="R11", school_level="high"), "not_allowed:school_level"),
    (T(response_id="R12", item_03="2"), "not_allowed:item_03"),
    (T(response_id="R13", n_inspections="-3"), "out_of_range:n_inspections"),
    (T(response_id="R14", felt_change="0"), "out_of_range:felt_change"),
    (T(response_id="R15", focus_on_teaching="7"), "out_of_range:focus_on_teaching"),
    (T(response_id="R16", school_code=""), "missing:school_code"),
    (T(response_id="R20", training_hours_nonteaching="-2"), "out_of_range:training_hours_nonteaching"),
]
GOOD_TEACHER_ROWS = [
    T(),
    T(response_id="R17", **{f"item_{i:02d}": "" for i in range(1, 27)}, felt_change=""),
    T(response_id="R18", wave="2024-11", submitted_at="2024-11-03 10:00:00"),
    T(response_id="R19", hours_total="45.5", hours_cat1="0", school_code="1502030001", teacher_id=""),
]
FORMATS = [
    ("utf8.csv", "utf-8"),
    ("bom.csv", "utf-8-sig"),
    ("gbk.csv", "gbk"),
    ("gb18030.csv", "gb18030"),
    ("book.xlsx", None),
    ("table.parquet", None),
]


def warehouse(data_dir: Path) -> duckdb.DuckDBPyConnection:
    """One read-only connection for a whole-warehouse scan: opening one costs more than a query."""
    return duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)


def teacher_file_rows() -> list[dict[str, str]]:
    """Good and dirty rows interleaved; the duplicate comes after the row it repeats."""
    dirty = [row for row, _ in DIRTY_TEACHER_ROWS]
    return [GOOD_TEACHER_ROWS[0], *dirty[:3], GOOD_TEACHER_ROWS[1], *dirty[3:], *GOOD_TEACHER_ROWS[2:]]


def prefixed(rows: list[dict[str, str]], prefix: str) -> list[dict[str, str]]:
    """The same rows with response_ids made unique to one file, so files do not duplicate each other."""
    return [{**row, "response_id": prefix + row["response_id"] if row["response_id"] else ""} for row in rows]


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> Path:
    """One run over the files of every case that needs a single run (distinct files, response ids unique
    where a test looks rows up by id); each test asserts on its own files."""
    data_dir = new_data_dir(tmp_path_factory.mktemp("ingested"))
    for case in SHARED_CASES:
        case(data_dir)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JIANFU_ID_KEY", "test-key-not-secret")
        run_pipeline(data_dir, instance=dg.DagsterInstance.ephemeral(), echo=lambda _: None)
    return data_dir


def format_files(data_dir: Path) -> None:
    for name, encoding in FORMATS:
        write_table(
            data_dir / "landing" / "teacher_survey" / name,
            prefixed(teacher_file_rows(), name + ":"),
            encoding or "utf-8",
        )
    write_table(data_dir / "landing" / "school_report" / "reports.csv", [good_school_row()])


def test_each_format_accepts_exactly_the_good_rows(ingested):
    data_dir = ingested
    rows = teacher_file_rows()
    expected = {rows.index(row) + 1: reason for row, reason in DIRTY_TEACHER_ROWS}
    for name, _ in FORMATS:
        table = f"{name}#Sheet" if name.endswith(".xlsx") else name
        accepted = query(
            data_dir,
            "select wave, response_id from staging.teacher_survey_staged where source_file = $f order by 1, 2",
            {"f": table},
        )
        assert accepted == [
            ("2024-05", f"{name}:R1"),
            ("2024-05", f"{name}:R17"),
            ("2024-05", f"{name}:R19"),
            ("2024-11", f"{name}:R18"),
        ], name
        rejected = dict(
            query(
                data_dir,
                "select row_number, reason from quarantine.rejected_rows where source = 'teacher_survey' and file = $f",
                {"f": table},
            )
        )
        assert rejected == expected, name
        null_wave = query(
            data_dir,
            "select row_number from quarantine.rejected_rows where wave is null and file = $f order by 1",
            {"f": table},
        )
        assert [r for (r,) in null_wave] == sorted(k for k, v in expected.items() if v.endswith(":wave"))


def typed_files(data_dir: Path) -> None:
    write_table(data_dir / "landing" / "teacher_survey" / "t.xlsx", prefixed(teacher_file_rows(), "t:"))


def test_staged_values_are_typed_and_located(ingested):
    data_dir = ingested
    (row,) = query(
        data_dir,
        "select hours_total, hours_cat3, n_forms, item_01, felt_change, county_code, "
        "league_code, submitted_at::varchar from staging.teacher_survey_staged "
        "where response_id = 't:R1'",
    )
    assert row == (50.0, 1.5, 10, 0, 4, "150102", "150100", "2024-05-10 09:00:00")
    (blank,) = query(
        data_dir, "select item_05, felt_change from staging.teacher_survey_staged where response_id = 't:R17'"
    )
    assert blank == (None, None)


def test_typed_parquet_columns_read_as_contract_text(tmp_path):
    frame = pl.DataFrame({**{k: [v] for k, v in T().items()}}).with_columns(
        pl.col("hours_total").cast(pl.Float64), pl.col("n_forms").cast(pl.Int64), pl.col("felt_change").cast(pl.Float64)
    )
    path = tmp_path / "typed.parquet"
    frame.write_parquet(path)
    read = read_landing_file(LandingFile("teacher_survey", path, "typed.parquet", "x", 1), key=b"k")
    assert read.row(0, named=True)["hours_total"] == "50"
    assert read.row(0, named=True)["felt_change"] == "4"
    assert "teacher_name" not in read.columns and "phone" not in read.columns


def school_report_files(data_dir: Path) -> None:
    rows = [
        good_school_row(n_inspections="9"),
        good_school_row(reported_at="2024-05-25 10:00:00", n_inspections="7"),
        good_school_row(reported_at="2024-05-28 10:00:00", n_inspections="-1"),
        good_school_row(school_code="1501020002", reported_at=""),
        good_school_row(school_code="1502030001", n_forms_requests="x"),
        good_school_row(school_code="9999999999"),
    ]
    write_table(data_dir / "landing" / "school_report" / "r.csv", rows, "gbk")


def test_school_reports_latest_valid_row_wins(ingested):
    data_dir = ingested
    assert query(data_dir, "select school_code, n_inspections from staging.school_report_staged") == [("1501020001", 7)]
    assert dict(query(data_dir, "select row_number, reason from quarantine.rejected_rows where file = 'r.csv'")) == {
        1: "superseded",
        3: "out_of_range:n_inspections",
        4: "missing:reported_at",
        5: "malformed:n_forms_requests",
        6: "unknown_school",
    }


def bad_files(data_dir: Path) -> None:
    folder = data_dir / "landing" / "teacher_survey"
    write_table(folder / "good.csv", [T(response_id="good1")])
    (folder / "empty.csv").write_bytes(b"")
    (folder / "header.csv").write_text("name,phone\n张伟,139\n", encoding="utf-8")
    good_book = write_table(folder / "whole.xlsx", [T()])
    (folder / "truncated.xlsx").write_bytes(good_book.read_bytes()[: good_book.stat().st_size // 2])
    good_book.unlink()
    (folder / "junk.parquet").write_bytes(bytes(range(256)) * 4)
    (folder / "notes.txt").write_text("hello", encoding="utf-8")
    (folder / "latin1.csv").write_bytes(b"wave,response_id\n" + bytes([0xFF, 0xFE, 0x80, 0x81]) * 3)


def test_bad_files_get_one_line_reasons_and_others_still_load(ingested):
    data_dir = ingested
    reasons = dict(query(data_dir, "select file, reason from quarantine.rejected_files"))
    assert set(reasons) == {"empty.csv", "header.csv", "truncated.xlsx", "junk.parquet", "notes.txt", "latin1.csv"}
    assert reasons["empty.csv"] == "empty file"
    assert reasons["header.csv"].startswith("header lacks required columns: wave, response_id")
    assert "XLSX" in reasons["truncated.xlsx"] and "Parquet" in reasons["junk.parquet"]
    assert all("\n" not in r for r in reasons.values())
    assert query(data_dir, "select count(*) from staging.teacher_survey_staged where source_file = 'good.csv'") == [
        (1,)
    ]


def test_row_accounting_received_equals_accepted_plus_rejected(data_dir, run):
    write_table(data_dir / "landing" / "teacher_survey" / "a.csv", teacher_file_rows())
    write_table(
        data_dir / "landing" / "teacher_survey" / "b.parquet",
        [T(response_id="B1"), T(response_id="B2", hours_total="-5")],
    )
    run(data_dir)
    quality = query(
        data_dir,
        "select wave, rows_received, rows_accepted, rows_rejected from marts.data_quality "
        "where source = 'teacher_survey' order by wave nulls last",
    )
    assert quality == [("2024-05", 20, 4, 16), ("2024-11", 1, 1, 0), (None, 2, 0, 2)]
    landed = query(data_dir, "select count(*) from landing.teacher_survey_rows")[0][0]
    assert landed == sum(r[1] for r in quality) == 23


def privacy_files(data_dir: Path) -> None:
    write_table(data_dir / "landing" / "teacher_survey" / "a.csv", teacher_file_rows(), "gbk")
    write_table(data_dir / "landing" / "teacher_survey" / "b.xlsx", teacher_file_rows())


def test_no_identifier_or_personal_value_reaches_the_warehouse(ingested):
    data_dir = ingested
    forbidden = {"T100000001", "T100000009", *EXTRA_COLUMNS.values()}
    with warehouse(data_dir) as conn:
        tables = conn.sql(
            "select table_schema, table_name from information_schema.tables where table_catalog = 'warehouse'"
        ).fetchall()
        for schema, table in tables:
            for (value,) in conn.sql(f"select to_json(t)::varchar from {schema}.{table} as t").fetchall():
                assert not any(f in value for f in forbidden), f"{schema}.{table} leaks {value[:80]}"
            columns = {
                c
                for (c,) in conn.sql(
                    "select column_name from information_schema.columns where table_schema = $s and table_name = $t",
                    params={"s": schema, "t": table},
                ).fetchall()
            }
            assert not columns & {"teacher_name", "phone", "remarks", "teacher_id"} or (schema, table) == (
                "landing",
                "teacher_survey_rows",
            )
    expected = hmac.new(b"test-key-not-secret", b"T100000001", hashlib.sha256).hexdigest()
    assert query(
        data_dir, "select distinct teacher_pseudonym from staging.teacher_survey_staged where response_id = 'R1'"
    ) == [(expected,)]
    landing_ids = {
        v
        for (v,) in query(
            data_dir, "select distinct teacher_id from landing.teacher_survey_rows where teacher_id is not null"
        )
    }
    assert landing_ids and all(len(v) == 64 for v in landing_ids)
    raw = [
        json.loads(j)
        for (j,) in query(data_dir, "select raw_json from quarantine.rejected_rows where source = 'teacher_survey'")
    ]
    assert raw and all(set(r) <= set(good_teacher_row()) - set(EXTRA_COLUMNS) for r in raw)


SHARED_CASES = [format_files, typed_files, school_report_files, bad_files, privacy_files]


def snapshot(data_dir: Path) -> dict[str, list]:
    with warehouse(data_dir) as conn:
        tables = conn.sql(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_catalog = 'warehouse' order by 1"
        ).fetchall()
        return {t: sorted(map(repr, conn.sql(f"select * from {t}").fetchall())) for (t,) in tables}


def test_rerun_changes_nothing_and_removed_files_leave_nothing(data_dir, run):
    write_table(data_dir / "landing" / "teacher_survey" / "a.csv", teacher_file_rows())
    write_table(data_dir / "landing" / "teacher_survey" / "late.csv", [T(response_id="L1", wave="2025-05")])
    write_table(data_dir / "landing" / "school_report" / "r.xlsx", [good_school_row()])
    run(data_dir)
    first = snapshot(data_dir)
    run(data_dir)
    assert snapshot(data_dir) == first

    (data_dir / "landing" / "teacher_survey" / "late.csv").unlink()
    run(data_dir)
    assert query(data_dir, "select count(*) from staging.teacher_survey_staged where wave = '2025-05'") == [(0,)]
    assert query(data_dir, "select count(*) from marts.data_quality where wave = '2025-05'") == [(0,)]


def test_decode_text_prefers_utf8_and_falls_back_to_gb18030():
    text = "旗县,学校"
    assert decode_text(text.encode("utf-8")) == text
    assert decode_text(b"\xef\xbb\xbf" + text.encode("utf-8")) == text
    assert decode_text(text.encode("gbk")) == text
    assert decode_text("𠀀".encode("gb18030")) == "𠀀"
    with pytest.raises(LandingFileError):
        decode_text(bytes([0x81, 0x20, 0xFF]))


def test_truncated_xlsx_raises_a_landing_error(tmp_path):
    book = write_table(tmp_path / "b.xlsx", [T()])
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(book.read_bytes()[:300])
    assert not zipfile.is_zipfile(cut)
    with pytest.raises(LandingFileError, match="XLSX"):
        read_landing_file(LandingFile("teacher_survey", cut, "cut.xlsx", "x", 300), key=b"k")
