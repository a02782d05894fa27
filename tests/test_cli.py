"""The `jianfu` command end to end (mostly in-process via main(argv)): real Dagster runs recorded, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from conftest import copy_data_dir, jianfu, jianfu_in_process, new_data_dir, query, small_landing

SYNTHETIC_MANIFEST = {"files": {"teacher_survey": ["t.csv"], "school_report": []}, "bad_files": ["broken_empty.csv"]}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """small_landing beside a manifest naming t.csv synthetic, run once by `jianfu run`; its readers share it."""
    data_dir = new_data_dir(tmp_path_factory.mktemp("cli"))
    small_landing(data_dir)
    (data_dir / "manifest.json").write_text(json.dumps(SYNTHETIC_MANIFEST), encoding="utf-8")
    return data_dir, jianfu_in_process("run", "--data-dir", str(data_dir))


@pytest.fixture(scope="module")
def home_run(tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """small_landing run once with DAGSTER_HOME set and the baseline wave named on the command line."""
    root = tmp_path_factory.mktemp("cli-home")
    data_dir = new_data_dir(root)
    small_landing(data_dir)
    home = root / "home"
    home.mkdir()
    result = jianfu_in_process(
        "run", "--data-dir", str(data_dir), "--baseline-wave", "2024-05", env={"DAGSTER_HOME": str(home)}
    )
    return data_dir, home, result


def test_run_records_real_dagster_runs_under_the_data_dir(small_run):
    data_dir, result = small_run
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


def test_run_uses_dagster_home_when_set(home_run):
    data_dir, home, result = home_run
    assert result.returncode == 0, result.stderr
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert len(instance.get_runs()) == 4
    assert not (data_dir / "dagster").exists()


def test_missing_reference_column_is_fatal_with_one_line(data_dir):
    small_landing(data_dir)
    (data_dir / "reference" / "schools.csv").write_text("school_code,county_code\n1,150102\n", encoding="utf-8")
    result = jianfu_in_process("run", "--data-dir", str(data_dir))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "schools.csv lacks columns: school_name" in lines[0]
    ((job, step, message),) = query(data_dir, "select job_name, step, message from quality.run_failures")
    assert job == "ingest_job" and step and "schools.csv lacks columns: school_name" in message
    status = jianfu_in_process("status", "--data-dir", str(data_dir))
    assert "run failures recorded: 1" in status.stdout and "last jianfu run: FAILED" in status.stdout


def test_unreadable_warehouse_is_fatal_with_one_line(data_dir):
    small_landing(data_dir)
    (data_dir / "warehouse.duckdb").write_bytes(b"this is not a duckdb file" * 200)
    result = jianfu_in_process("run", "--data-dir", str(data_dir))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "cannot open warehouse" in result.stderr


def test_run_on_an_empty_landing_succeeds(empty_landing_run):
    result = empty_landing_run[1]
    assert result.returncode == 0, result.stderr
    assert "waves found: none" in result.stdout


def _sub_parsers(parser):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name, sub
                yield from ((f"{name} {n}", s) for n, s in _sub_parsers(sub))


def test_every_option_of_every_command_has_help_and_says_its_default():
    from pipelines.cli import build_parser

    parser = build_parser()
    commands = dict(_sub_parsers(parser))
    assert {"init", "run", "status", "demo", "generate", "questionnaire", "mapping check"} <= set(commands)
    for name, sub in commands.items():
        for action in sub._actions:
            if action.dest in ("help", "==SUPPRESS==") or action.__class__.__name__ == "_SubParsersAction":
                continue
            assert action.help, f"jianfu {name} {action.option_strings or action.dest} has no help"
            shown = sub.formatter_class("x")._get_help_string(action)
            if action.option_strings and not action.required:
                assert "default" in shown, f"jianfu {name} {action.option_strings} does not say its default"
    generate_help = commands["generate"].format_help()
    assert (
        "(default: 6000)" in generate_help
        and "(default: 6)" in generate_help
        and "(default: 20201021)" in generate_help
    )
    assert "data/demo/" in commands["demo"].format_help()


def test_version_matches_the_installed_package():
    from importlib.metadata import version

    result = jianfu("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"jianfu {version('jianfu')}"


def test_bad_option_values_exit_2_with_one_line(tmp_path):
    for args, fragment in [
        (("generate", "--out", str(tmp_path / "x"), "--waves", "0"), "--waves: must be at least 1"),
        (("generate", "--out", str(tmp_path / "x"), "--teachers", "many"), "--teachers: expected"),
        (("demo", "--seed", "-3"), "--seed: must be 0 or more"),
        (("run", "--lock-timeout", "soon"), "--lock-timeout: expected a number"),
        (("nonsense",), "invalid choice"),
    ]:
        result = jianfu_in_process(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and fragment in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and not (tmp_path / "x").exists()


def test_an_unknown_baseline_wave_exits_1_naming_the_waves(home_run, tmp_path):
    data_dir, _, result = home_run
    copy = copy_data_dir(data_dir, tmp_path / "data")
    for typo in ("foo", "2099-01", "2024-11"):
        refused = jianfu_in_process("run", "--data-dir", str(copy), "--baseline-wave", typo)
        assert refused.returncode == 1, refused.stdout
        (line,) = refused.stderr.strip().splitlines()
        assert f"unknown baseline wave '{typo}'" in line and "waves with school reports are 2024-05" in line
    assert result.returncode == 0, result.stderr
    assert {b for (b,) in query(data_dir, "select distinct baseline_wave from marts.inspection_target")} == {"2024-05"}


def test_a_run_where_no_file_loads_says_so_and_exits_1(data_dir):
    (data_dir / "landing" / "teacher_survey" / "junk.parquet").write_bytes(b"PAR1 not really")
    (data_dir / "landing" / "school_report" / "empty.csv").write_bytes(b"")
    result = jianfu_in_process("run", "--data-dir", str(data_dir))
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "NO FILE LOADED: all 2 landing files were rejected" in line
    assert "bad file teacher_survey/junk.parquet" in result.stdout
    status = jianfu_in_process("status", "--data-dir", str(data_dir))
    assert status.returncode == 0, status.stderr
    assert "last jianfu run: FAILED" in status.stdout and "NO FILE LOADED" in status.stdout
    assert "landing files: 0 loaded, 2 rejected" in status.stdout


def test_status_reports_waves_rows_last_run_and_reports_read_only(data_dir, small_run):
    before = jianfu_in_process("status", "--data-dir", str(data_dir))
    assert before.returncode == 0, before.stderr
    assert "no warehouse yet" in before.stdout and "last Dagster run: none recorded" in before.stdout
    assert not (data_dir / "warehouse.duckdb").exists() and not (data_dir / "dagster").exists()

    data_dir = small_run[0]
    assert small_run[1].returncode == 0
    modified = (data_dir / "warehouse.duckdb").stat().st_mtime_ns
    result = jianfu_in_process("status", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    expected = query(
        data_dir,
        "select wave, source, rows_received, rows_accepted, rows_rejected "
        "from marts.data_quality where wave is not null",
    )
    for wave, source, received, accepted, rejected in expected:
        assert any(line.split() == [wave, source, str(received), str(accepted), str(rejected)] for line in lines)
    assert ["2024-05", "teacher_survey", "2", "1", "1"] in [line.split() for line in lines]
    assert "waves: 2024-05, 2024-11" in lines
    assert any(line.startswith("last jianfu run: succeeded at ") for line in lines)
    assert any(line.startswith("last Dagster run: monitoring_job succeeded at ") for line in lines)
    assert f"reports: {data_dir / 'reports' / 'index.html'}" in result.stdout
    assert (data_dir / "warehouse.duckdb").stat().st_mtime_ns == modified

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITER, str(data_dir / "warehouse.duckdb")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        busy = jianfu_in_process("status", "--data-dir", str(data_dir))
    finally:
        holder.kill()
        holder.wait()
    assert busy.returncode == 0, busy.stderr
    assert len([line for line in busy.stdout.splitlines() if "being written by a run" in line]) == 1
    assert "last Dagster run: monitoring_job" in busy.stdout


HOLD_WRITER = """
import sys, time, duckdb
conn = duckdb.connect(sys.argv[1])
print("held", flush=True)
time.sleep(120)
"""


def test_synthetic_and_real_files_in_one_data_dir_are_flagged(small_run, tmp_path):
    data_dir, result = small_run
    assert result.returncode == 0, result.stderr
    assert "WARNING: synthetic sample files" in result.stdout and "1 other landing files are mixed" in result.stdout
    assert "[1/?] ingest" in result.stdout and "[4/4] cross-wave marts" in result.stdout

    data_dir = copy_data_dir(data_dir, tmp_path / "data", "warehouse.duckdb", "dagster", "reports")
    (data_dir / "landing" / "school_report" / "s.xlsx").unlink()
    from pipelines.runner import synthetic_mix

    assert synthetic_mix(data_dir).startswith("note: every landing file here is synthetic")
    (data_dir / "manifest.json").unlink()
    assert synthetic_mix(data_dir) == ""


def test_demo_defaults_to_its_own_directory():
    from pipelines.cli import DEMO_DIR, build_parser
    from pipelines.resources import REPO_ROOT

    args = build_parser().parse_args(["demo"])
    assert args.data_dir is None and DEMO_DIR == REPO_ROOT / "data" / "demo"
    plan = subprocess.run(["make", "-n", "demo"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert f"jianfu demo --data-dir {REPO_ROOT}/data/demo" in plan.stdout
    assert "data/demo/" in (REPO_ROOT / ".gitignore").read_text().splitlines()
