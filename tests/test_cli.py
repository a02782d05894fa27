"""The `jianfu` console script end to end: real Dagster runs recorded in an instance, exit codes."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from conftest import good_school_row, good_teacher_row, jianfu, query, write_table


def small_landing(data_dir: Path) -> None:
    write_table(data_dir / "landing" / "teacher_survey" / "t.csv",
                [good_teacher_row(), good_teacher_row(response_id="R2", hours_total="200"),
                 good_teacher_row(response_id="R3", wave="2024-11", submitted_at="2024-11-02 08:00:00")], "gbk")
    write_table(data_dir / "landing" / "school_report" / "s.xlsx", [good_school_row()])


def test_run_records_real_dagster_runs_under_the_data_dir(data_dir):
    small_landing(data_dir)
    result = jianfu("run", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    assert "wave 2024-05: school_report 1/1 accepted, teacher_survey 1/2 accepted" in result.stdout
    assert "wave 2024-11:" in result.stdout
    assert query(data_dir, "select count(*) from quarantine.rejected_rows") == [(1,)]

    os.environ["JIANFU_DAGSTER_STORAGE"] = str(data_dir / "dagster")
    try:
        with dg.DagsterInstance.from_config(str(Path(__file__).resolve().parents[1])) as instance:
            runs = instance.get_runs()
            assert {r.job_name for r in runs} == {"ingest_job", "wave_job", "monitoring_job"}
            assert all(r.is_success for r in runs) and len(runs) == 4
            assert sorted(instance.get_dynamic_partitions("waves")) == ["2024-05", "2024-11"]
    finally:
        del os.environ["JIANFU_DAGSTER_STORAGE"]


def test_run_uses_dagster_home_when_set(data_dir, tmp_path):
    small_landing(data_dir)
    home = tmp_path / "home"
    home.mkdir()
    result = jianfu("run", "--data-dir", str(data_dir), env={"DAGSTER_HOME": str(home)})
    assert result.returncode == 0, result.stderr
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert len(instance.get_runs()) == 4
    assert not (data_dir / "dagster").exists()


def test_missing_reference_column_is_fatal_with_one_line(data_dir):
    small_landing(data_dir)
    (data_dir / "reference" / "schools.csv").write_text("school_code,county_code\n1,150102\n", encoding="utf-8")
    result = jianfu("run", "--data-dir", str(data_dir))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "schools.csv lacks columns: school_name" in lines[0]


def test_unreadable_warehouse_is_fatal_with_one_line(data_dir):
    small_landing(data_dir)
    (data_dir / "warehouse.duckdb").write_bytes(b"this is not a duckdb file" * 200)
    result = jianfu("run", "--data-dir", str(data_dir))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "cannot open warehouse" in result.stderr


def test_run_on_an_empty_landing_succeeds(data_dir):
    result = jianfu("run", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    assert "waves found: none" in result.stdout
