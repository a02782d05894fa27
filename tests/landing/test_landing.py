"""Files real bureaus send, written by hand: re-exports, broken CSVs, odd encodings, workbooks, links, disks."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import openpyxl
import pytest
from conftest import (
    SCHOOLS,
    copy_data_dir,
    good_school_row,
    good_teacher_row,
    jianfu_in_process,
    new_data_dir,
    query,
    write_table,
)

from pipelines.catalogue.rules import MAX_REASON_LENGTH
from pipelines.report.site import publish_site
from pipelines.resources import FatalPipelineError

T = good_teacher_row
NAME, PHONE = "王小明", "13800138000"
SECRETS = [NAME, PHONE]


def teacher_rows(wave: str, count: int, prefix: str) -> list[dict[str, str]]:
    day = f"{wave}-10 09:00:00"
    return [
        T(
            wave=wave,
            response_id=f"{prefix}{i}",
            submitted_at=day,
            hours_total=str(40 + i),
            teacher_id=f"T{wave[:4]}{i:05d}",
        )
        for i in range(count)
    ]


def csv_bytes(rows: list[dict[str, str]], encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def landing(data_dir: Path, name: str, source: str = "teacher_survey") -> Path:
    return data_dir / "landing" / source / name


def schools(data_dir: Path, *waves: str) -> None:
    """Every school of the test register reports on time in each wave, so completeness raises no alert."""
    write_table(
        landing(data_dir, "schools.csv", "school_report"),
        [
            good_school_row(wave=w, school_code=code, reported_at=f"{w}-20 10:00:00")
            for w in waves
            for code, *_ in SCHOOLS
        ],
    )


def assert_rows_accounted(data_dir: Path) -> None:
    """received = accepted + rejected, per source and wave, and for the rows that belong to no wave."""
    for source in ("teacher_survey", "school_report"):
        received = dict(
            query(data_dir, f"select coalesce(wave_key, '-'), count(*) from landing.{source}_rows group by 1")
        )
        accepted = dict(query(data_dir, f"select wave, count(*) from staging.{source}_staged group by 1"))
        rejected = dict(
            query(
                data_dir,
                "select coalesce(wave, '-'), count(*) from quarantine.rejected_rows where source = $source group by 1",
                {"source": source},
            )
        )
        for wave in set(received) | set(accepted) | set(rejected):
            assert received.get(wave, 0) == accepted.get(wave, 0) + rejected.get(wave, 0), (source, wave)


def file_reasons(data_dir: Path) -> dict[str, str]:
    return dict(query(data_dir, "select file, reason from quarantine.rejected_files"))


def row_reasons(data_dir: Path) -> list[tuple]:
    return query(data_dir, "select file, row_number, reason from quarantine.rejected_rows order by 1, 2")


def every_text(data_dir: Path) -> str:
    """Every varchar value in every warehouse table, for scanning what the warehouse stores (one connection:
    opening one costs more than a query)."""
    parts = []
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as conn:
        tables = conn.sql(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where data_type like 'VARCHAR%'"
        ).fetchall()
        for schema, table, column in tables:
            parts += [str(v) for (v,) in conn.sql(f'select distinct "{column}" from {schema}."{table}"').fetchall()]
    return "\n".join(parts)


def files_holding(root: Path, needles: list[str]) -> list[str]:
    """Files under root whose bytes contain a needle in UTF-8, GB18030 or UTF-16."""
    patterns = [n.encode(e) for n in needles for e in ("utf-8", "gb18030", "utf-16-le")]
    return [
        str(p)
        for p in root.rglob("*")
        if p.is_file()
        and "landing" not in p.relative_to(root).parts
        and any(pattern in p.read_bytes() for pattern in patterns)
    ]


@dataclass
class Landed:
    """The shared run: its data dir, CLI outcome and Dagster storage, and which case wrote each landing file."""

    data_dir: Path
    result: subprocess.CompletedProcess
    storage: Path
    owners: dict[str, str]

    def others(self, case: Callable) -> list[str]:
        """The teacher landing files the other cases wrote."""
        return sorted(name for name, owner in self.owners.items() if owner != case.__name__)


@pytest.fixture(scope="module")
def landed(tmp_path_factory) -> Landed:
    """One CLI run over the files of every case that needs a single run (distinct files and response ids).

    Each case's test asserts on its own files; the whole-warehouse checks (accounting, secrets) see them all.
    """
    root = tmp_path_factory.mktemp("landed")
    data_dir, scratch = new_data_dir(root), root / "scratch"
    scratch.mkdir()
    folder = data_dir / "landing" / "teacher_survey"
    owners: dict[str, str] = {}
    for case in SHARED_CASES:
        before = set(os.listdir(folder))
        case(data_dir, scratch)
        owners.update(dict.fromkeys(set(os.listdir(folder)) - before, case.__name__))
    schools(data_dir, "2024-05", "2024-11")
    storage = root / "dagster-storage"
    result = jianfu_in_process("run", "--data-dir", str(data_dir), env={"JIANFU_DAGSTER_STORAGE": str(storage)})
    assert result.returncode == 0, result.stderr
    return Landed(data_dir, result, storage, owners)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    """Four May rows and every school's report after one CLI run: where the lock and disk cases start (copy it)."""
    data_dir = new_data_dir(tmp_path_factory.mktemp("small"))
    write_table(landing(data_dir, "t.csv"), teacher_rows("2024-05", 4, "A"))
    schools(data_dir, "2024-05")
    result = jianfu_in_process("run", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    return data_dir


def test_a_corrected_reexport_converges_in_one_run_and_a_rerun_changes_nothing(data_dir, run):
    rows = teacher_rows("2024-05", 10, "A") + teacher_rows("2024-11", 10, "B")
    path = landing(data_dir, "export.csv")
    path.write_bytes(csv_bytes(rows))
    schools(data_dir, "2024-05", "2024-11")
    run(data_dir)
    assert query(data_dir, "select wave, count(*) from staging.teacher_survey_staged group by 1 order by 1") == [
        ("2024-05", 10),
        ("2024-11", 10),
    ]

    corrected = [dict(r) for r in rows]
    for i in (0, 1, 2, 11, 12):
        corrected[i]["hours_total"] = "30"
    del corrected[15:18]
    corrected += [
        T(wave="2024-11", response_id="B90", submitted_at="2024-11-10 09:00:00", hours_total="31"),
        T(wave="2024-11", response_id="B91", submitted_at="2024-11-10 09:00:00", hours_total="32"),
    ]
    path.write_bytes(csv_bytes(corrected))
    summary = run(data_dir)

    assert summary.restaged == ["2024-05", "2024-11"]
    assert query(data_dir, "select wave, count(*) from staging.teacher_survey_staged group by 1 order by 1") == [
        ("2024-05", 10),
        ("2024-11", 9),
    ]
    staged = dict(query(data_dir, "select response_id, hours_total from staging.teacher_survey_staged"))
    assert [staged[f"A{i}"] for i in range(3)] == [30, 30, 30] and staged["B1"] == staged["B2"] == 30
    assert {"B5", "B6", "B7"}.isdisjoint(staged) and staged["B90"] == 31 and staged["B91"] == 32
    metric = query(
        data_dir,
        "select n from marts.area_metrics where wave = '2024-11' and area_level = 'region' and metric = 'hours_total'",
    )
    assert metric == [(9,)]
    assert_rows_accounted(data_dir)

    before = (data_dir / "warehouse.duckdb").stat().st_mtime_ns, (data_dir / "reports" / "index.html").read_bytes()
    snapshot = query(data_dir, "select * from marts.area_metrics order by all")
    again = run(data_dir)
    assert again.restaged == [] and again.run_ids == []
    assert query(data_dir, "select * from marts.area_metrics order by all") == snapshot
    assert (data_dir / "reports" / "index.html").read_bytes() == before[1]

    rebased = run(data_dir, baseline_wave="2024-11")
    assert rebased.restaged == ["2024-05", "2024-11"] and len(rebased.run_ids) == 3
    assert query(data_dir, "select * from marts.area_metrics order by all") == snapshot
    assert query(data_dir, "select distinct baseline_wave from marts.inspection_target") == [("2024-11",)]


def test_only_the_waves_a_changed_file_touches_are_restaged(data_dir, run):
    landing(data_dir, "may.csv").write_bytes(csv_bytes(teacher_rows("2024-05", 4, "A")))
    landing(data_dir, "nov.csv").write_bytes(csv_bytes(teacher_rows("2024-11", 4, "B")))
    schools(data_dir, "2024-05", "2024-11")
    run(data_dir)
    landing(data_dir, "nov.csv").write_bytes(csv_bytes(teacher_rows("2024-11", 3, "B")))
    assert run(data_dir).restaged == ["2024-11"]
    landing(data_dir, "nov.csv").unlink()
    assert run(data_dir).restaged == ["2024-11"]
    assert query(data_dir, "select distinct wave from staging.teacher_survey_staged") == [("2024-05",)]
    assert query(
        data_dir,
        "select coalesce(sum(n), 0) from marts.area_metrics where wave = '2024-11' and metric not like 'school_%'",
    ) == [(0,)]
    assert_rows_accounted(data_dir)
    schools(data_dir, "2024-05")
    summary = run(data_dir)
    assert summary.waves == ["2024-05"] and summary.restaged == ["2024-05"]
    assert query(data_dir, "select count(*) from marts.area_metrics where wave = '2024-11'") == [(0,)]
    assert query(data_dir, "select count(*) from marts.data_quality where wave = '2024-11'") == [(0,)]
    assert_rows_accounted(data_dir)


def parser_error_files(data_dir: Path, scratch: Path) -> None:
    good = csv_bytes(teacher_rows("2024-05", 3, "P")).decode()
    broken = good + f'2024-05,"R9,{NAME},{PHONE},50,15\n2024-05,R10,1501020001\n'
    landing(data_dir, "broken.csv").write_bytes(broken.encode("utf-8"))
    landing(data_dir, "fine.csv").write_bytes(csv_bytes(teacher_rows("2024-05", 2, "F")))


def test_a_parser_error_names_the_row_and_never_the_text(landed):
    data_dir, result, storage = landed.data_dir, landed.result, landed.storage

    reason = file_reasons(data_dir)["broken.csv"]
    assert "row 4" in reason and len(reason) <= MAX_REASON_LENGTH
    assert query(
        data_dir, "select count(*) from staging.teacher_survey_staged where source_file in ('broken.csv', 'fine.csv')"
    ) == [(2,)]
    output = result.stdout + result.stderr
    assert "bad file teacher_survey/broken.csv" in output
    assert not any(s in output for s in SECRETS)
    assert not any(s in every_text(data_dir) for s in SECRETS)
    assert files_holding(data_dir, SECRETS) == [] and files_holding(storage, SECRETS) == []
    assert (storage / "history").is_dir() or any(storage.rglob("*.db"))


def bad_file_files(data_dir: Path, scratch: Path) -> None:
    rows = teacher_rows("2024-05", 3, "G")
    landing(data_dir, "good.csv").write_bytes(csv_bytes(rows))
    gbk_body = csv_bytes(teacher_rows("2024-05", 2, "K"), "gbk")
    landing(data_dir, "bom_then_gbk.csv").write_bytes(b"\xef\xbb\xbf" + gbk_body)
    twin = csv_bytes(teacher_rows("2024-05", 2, "W")).decode().replace("wave,", "wave,Wave,", 1)
    twin = (
        "\n".join(
            [twin.splitlines()[0]] + [line.replace("2024-05,", "2024-05,2024-05,", 1) for line in twin.splitlines()[1:]]
        )
        + "\n"
    )
    landing(data_dir, "twin_headers.csv").write_text(twin, encoding="utf-8")
    landing(data_dir, "random.xlsx").write_bytes(os.urandom(4096))
    whole = write_table(scratch / "whole.xlsx", teacher_rows("2024-05", 2, "X"))
    landing(data_dir, "truncated.xlsx").write_bytes(whole.read_bytes()[:1500])
    whole.unlink()
    landing(data_dir, "binary.csv").write_bytes(bytes(range(256)) * 8)


def test_one_bad_file_is_quarantined_and_the_others_load(landed):
    data_dir = landed.data_dir
    others = landed.others(bad_file_files)

    reasons = {name: r for name, r in file_reasons(data_dir).items() if name not in others}
    assert set(reasons) == {"bom_then_gbk.csv", "twin_headers.csv", "random.xlsx", "truncated.xlsx", "binary.csv"}
    assert "byte" in reasons["bom_then_gbk.csv"] and "UTF-8" in reasons["bom_then_gbk.csv"]
    assert "wave" in reasons["twin_headers.csv"] and "column" in reasons["twin_headers.csv"]
    assert all(len(r) <= MAX_REASON_LENGTH and "\n" not in r for r in file_reasons(data_dir).values())
    assert query(
        data_dir,
        "select count(*) from staging.teacher_survey_staged "
        "where not list_contains($others, split_part(source_file, '#', 1))",
        {"others": others},
    ) == [(3,)]
    loaded = query(
        data_dir,
        "select source, file from landing.files where status = 'loaded' and not list_contains($others, file) "
        "order by 1, 2",
        {"others": others},
    )
    assert loaded == [("school_report", "schools.csv"), ("teacher_survey", "good.csv")]
    assert_rows_accounted(data_dir)


def test_a_future_wave_is_rejected_and_the_latest_wave_is_the_real_one(data_dir, run):
    rows = teacher_rows("2024-05", 6, "A") + teacher_rows("2024-11", 6, "B")
    rows.append(T(wave="2099-12", response_id="Z1", submitted_at="2099-12-01 09:00:00"))
    landing(data_dir, "with_future.csv").write_bytes(csv_bytes(rows))
    schools(data_dir, "2024-05", "2024-11")
    summary = run(data_dir)

    assert summary.waves == ["2024-05", "2024-11"]
    assert query(data_dir, "select wave, reason from quarantine.rejected_rows") == [(None, "future_wave")]
    assert query(data_dir, "select count(*) from marts.alerts where wave > '2024-11'") == [(0,)]
    assert query(data_dir, "select count(*) from marts.alerts where rule = 'low_completeness'") == [(0,)]
    alerts = query(data_dir, "select * from marts.alerts order by all")
    index = (data_dir / "reports" / "index.html").read_text(encoding="utf-8")
    assert "2099-12" not in index
    latest = data_dir / "reports" / "latest" / "index.html"
    page = latest if latest.is_file() else next((data_dir / "reports" / "latest").glob("*.html"))
    assert "2024-11" in page.read_text(encoding="utf-8")
    assert_rows_accounted(data_dir)
    landing(data_dir, "with_future.csv").write_bytes(csv_bytes(rows[:-1]))
    run(data_dir)
    assert query(data_dir, "select * from marts.alerts order by all") == alerts


def huge_cell_files(data_dir: Path, scratch: Path) -> None:
    huge = "9" * (10 * 2**20)
    rows = teacher_rows("2024-05", 3, "H")
    rows[1]["hours_total"] = huge
    rows[2]["remarks"] = huge
    landing(data_dir, "huge.csv").write_bytes(csv_bytes(rows))
    landing(data_dir, "huge_line.csv").write_bytes(b"x" * (10 * 2**20))


def test_a_ten_megabyte_cell_gives_a_short_reason(landed):
    data_dir = landed.data_dir

    own = [r for file, _, r in row_reasons(data_dir) if file == "huge.csv"]
    assert "out_of_range:hours_total" in own or "malformed:hours_total" in own
    assert "huge_line.csv" in file_reasons(data_dir)
    reasons = [r for _, _, r in row_reasons(data_dir)] + list(file_reasons(data_dir).values())
    assert max(len(r) for r in reasons) <= MAX_REASON_LENGTH
    pages = list((data_dir / "reports").rglob("quality.html"))
    assert pages and max(p.stat().st_size for p in pages) < 2 * 2**20
    assert query(data_dir, "select count(*) from staging.teacher_survey_staged where source_file = 'huge.csv'") == [
        (2,)
    ]
    assert_rows_accounted(data_dir)


def workbook_files(data_dir: Path, scratch: Path) -> None:
    book = openpyxl.Workbook()
    first = book.active
    first.title = "五月"
    second = book.create_sheet("十一月")
    book.create_sheet("说明")
    for sheet, rows in ((first, teacher_rows("2024-05", 3, "BA")), (second, teacher_rows("2024-11", 4, "BB"))):
        columns = list(rows[0])
        sheet.append(columns)
        for row in rows:
            sheet.append([row[c] for c in columns])
    second.cell(row=3, column=list(teacher_rows("2024-11", 1, "BB")[0]).index("hours_total") + 1, value="=40+2")
    book.save(landing(data_dir, "book.xlsx"))


def test_every_workbook_sheet_is_read_and_an_uncached_formula_is_malformed(landed):
    data_dir = landed.data_dir

    assert query(
        data_dir,
        "select file, count(*) from landing.teacher_survey_rows where file like 'book.xlsx#%' group by 1 order by 1",
    ) == [
        ("book.xlsx#五月", 3),
        ("book.xlsx#十一月", 4),
    ]
    assert [r for r in row_reasons(data_dir) if r[0].startswith("book.xlsx")] == [
        ("book.xlsx#十一月", 2, "malformed:hours_total")
    ]
    assert query(
        data_dir,
        "select wave, count(*) from staging.teacher_survey_staged where source_file like 'book.xlsx#%' "
        "group by 1 order by 1",
    ) == [
        ("2024-05", 3),
        ("2024-11", 3),
    ]
    assert_rows_accounted(data_dir)


def ragged_files(data_dir: Path, scratch: Path) -> None:
    text = csv_bytes(teacher_rows("2024-05", 4, "RG")).decode().splitlines()
    short = ",".join(text[2].split(",")[:20])
    longer = text[3] + ",extra,fields"
    landing(data_dir, "ragged.csv").write_text(
        "\n".join([text[0], text[1], short, longer, text[4], ""]), encoding="utf-8"
    )


def test_ragged_rows_are_malformed_and_the_rest_of_the_file_loads(landed):
    data_dir = landed.data_dir

    assert [r for r in row_reasons(data_dir) if r[0] == "ragged.csv"] == [
        ("ragged.csv", 2, "malformed_row"),
        ("ragged.csv", 3, "malformed_row"),
    ]
    assert query(data_dir, "select count(*) from staging.teacher_survey_staged where source_file = 'ragged.csv'") == [
        (2,)
    ]
    assert_rows_accounted(data_dir)


def symlink_files(data_dir: Path, scratch: Path) -> None:
    outside = scratch / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_bytes(csv_bytes(teacher_rows("2024-05", 5, "S")))
    folder = data_dir / "landing" / "teacher_survey"
    (folder / "to_file.csv").symlink_to(outside / "secret.csv")
    (folder / "to_dir").symlink_to(outside, target_is_directory=True)
    (folder / "dangling.csv").symlink_to(scratch / "gone.csv")
    (folder / "real.csv").write_bytes(csv_bytes(teacher_rows("2024-05", 2, "R")))
    os.mkfifo(folder / "pipe.csv")


def test_symlinks_are_not_followed_out_of_landing_and_each_is_recorded(landed):
    data_dir = landed.data_dir
    others = landed.others(symlink_files)

    reasons = {name: r for name, r in file_reasons(data_dir).items() if name not in others}
    assert set(reasons) == {"to_file.csv", "to_dir", "dangling.csv", "pipe.csv"}
    assert all("link" in r for name, r in reasons.items() if name != "pipe.csv")
    assert "not a regular file" in reasons["pipe.csv"]
    assert query(
        data_dir,
        "select distinct landing_file from landing.teacher_survey_rows "
        "where not list_contains($others, split_part(landing_file, '#', 1))",
        {"others": others},
    ) == [("real.csv",)]


def missing_column_files(data_dir: Path, scratch: Path) -> None:
    """A wave of its own: another file of the wave holding the questions would make them collected."""
    rows = teacher_rows("2024-03", 5, "M")
    dropped = [f"item_{i:02d}" for i in range(1, 27)] + ["felt_change"]
    landing(data_dir, "short.csv").write_bytes(
        csv_bytes([{k: v for k, v in r.items() if k not in dropped} for r in rows])
    )


def test_missing_metric_columns_load_and_show_as_not_collected(landed):
    data_dir, result = landed.data_dir, landed.result
    dropped = [f"item_{i:02d}" for i in range(1, 27)] + ["felt_change"]

    (missing,) = query(data_dir, "select missing_columns from landing.files where file = 'short.csv'")[0]
    assert sorted(missing) == sorted(dropped)
    assert "file teacher_survey/short.csv lacks 27 optional columns" in result.stdout
    assert query(data_dir, "select count(*) from staging.teacher_survey_staged where source_file = 'short.csv'") == [
        (5,)
    ]
    overview = "".join(p.read_text(encoding="utf-8") for p in (data_dir / "reports" / "2024-03").glob("*.html"))
    assert "未采集" in overview
    english = "".join(p.read_text(encoding="utf-8") for p in (data_dir / "reports" / "2024-03" / "en").glob("*.html"))
    assert "not collected" in english


SHARED_CASES = [
    parser_error_files,
    bad_file_files,
    huge_cell_files,
    workbook_files,
    ragged_files,
    symlink_files,
    missing_column_files,
]


def test_run_on_a_missing_data_dir_creates_nothing_and_init_makes_the_layout(tmp_path):
    typo = tmp_path / "dataa"
    result = jianfu_in_process("run", "--data-dir", str(typo))
    assert result.returncode == 1 and not typo.exists()
    assert len(result.stderr.strip().splitlines()) == 1 and "jianfu init" in result.stderr

    made = jianfu_in_process("init", str(typo))
    assert made.returncode == 0, made.stderr
    assert sorted(str(p.relative_to(typo)) for p in typo.rglob("*")) == [
        "landing",
        "landing/campus_event",
        "landing/school_report",
        "landing/teacher_survey",
        "mappings",
        "reference",
    ]
    assert jianfu_in_process("init", str(typo)).returncode == 0
    result = jianfu_in_process("run", "--data-dir", str(typo))
    assert result.returncode == 0, result.stderr


HOLD_LOCK = """
import fcntl, sys, time
handle = open(sys.argv[1], "a+")
fcntl.flock(handle, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""

HOLD_WAREHOUSE = """
import sys, time, duckdb
conn = duckdb.connect(sys.argv[1])
print("held", flush=True)
time.sleep(float(sys.argv[2]))
conn.close()
"""


def hold(script: str, target: Path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(target), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_held_run_lock_is_waited_for_then_reported_in_one_line(data_dir):
    write_table(landing(data_dir, "t.csv"), teacher_rows("2024-05", 2, "A"))
    holder = hold(HOLD_LOCK, data_dir / ".jianfu.lock", 60)
    try:
        started = time.monotonic()
        result = jianfu_in_process("run", "--data-dir", str(data_dir), "--lock-timeout", "3")
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 1 and 3 <= waited < 60
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and "--lock-timeout" in result.stderr
    assert not (data_dir / "warehouse.duckdb").exists()


def test_a_held_warehouse_is_waited_for_and_the_run_then_succeeds(small_run, tmp_path):
    data_dir = copy_data_dir(small_run, tmp_path / "data")
    holder = hold(HOLD_WAREHOUSE, data_dir / "warehouse.duckdb", 4)
    write_table(landing(data_dir, "t.csv"), teacher_rows("2024-05", 3, "A"))
    started = time.monotonic()
    result = jianfu_in_process("run", "--data-dir", str(data_dir), "--lock-timeout", "60")
    holder.wait()
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started >= 3
    assert query(data_dir, "select count(*) from staging.teacher_survey_staged") == [(3,)]


@pytest.fixture
def tmpfs(tmp_path):
    """A small filesystem of its own (root only); in CI its absence is a failure, not a skip."""
    mounted = []

    def _mount(size: str) -> Path:
        target = tmp_path / f"fs{len(mounted)}"
        target.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)], capture_output=True, text=True
        )
        if done.returncode != 0:
            message = f"cannot mount a tmpfs (needs root): {done.stderr.strip()[:120]}"
            pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
        mounted.append(target)
        return target

    yield _mount
    for target in reversed(mounted):
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


def site_bytes(reports: Path) -> dict[str, bytes]:
    return {str(p.relative_to(reports)): p.read_bytes() for p in sorted(reports.rglob("*")) if p.is_file()}


def fill(disk: Path) -> Path:
    """Fill the filesystem to the last block, unbuffered so that nothing is left to flush."""
    filler = disk / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (2**20, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_leaves_the_previous_site_whole_and_says_so_in_one_line(small_run, tmpfs):
    disk = tmpfs("160m")
    target = copy_data_dir(small_run, disk / "data")
    old_site = site_bytes(target / "reports")

    write_table(landing(target, "t.csv"), teacher_rows("2024-05", 5, "A"))
    filler = fill(disk)
    result = jianfu_in_process("run", "--data-dir", str(target))
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr + result.stdout
    assert site_bytes(target / "reports") == old_site

    filler.unlink()
    result = jianfu_in_process("run", "--data-dir", str(target))
    assert result.returncode == 0, result.stderr
    assert query(target, "select count(*) from staging.teacher_survey_staged") == [(5,)]
    assert not list(disk.glob("data/.reports.*"))


def test_publication_that_runs_out_of_space_restores_nothing_it_did_not_touch(small_run, tmpfs):
    from pipelines.report.site import load_report_data
    from pipelines.resources import JianfuResource

    with JianfuResource(data_dir=str(small_run)).connect(read_only=True) as conn:
        data = load_report_data(conn)
    disk = tmpfs("64m")
    reports = disk / "reports"
    publish_site(data, reports)
    old_site = site_bytes(reports)
    filler = fill(disk)
    with pytest.raises(FatalPipelineError, match="previous site is unchanged"):
        publish_site(data, reports)
    assert site_bytes(reports) == old_site and sorted(p.name for p in disk.iterdir()) == ["filler.bin", "reports"]
    filler.unlink()
    publish_site(data, reports)
    assert site_bytes(reports) == old_site


def test_a_read_only_data_dir_fails_in_one_line_and_changes_nothing(small_run, tmpfs):
    disk = tmpfs("160m")
    target = copy_data_dir(small_run, disk / "data")
    old_site = site_bytes(target / "reports")
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    try:
        result = jianfu_in_process("run", "--data-dir", str(target))
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert "read-only" in result.stderr.lower()
    assert site_bytes(target / "reports") == old_site


def test_two_runs_at_once_both_finish_and_every_row_is_accounted_for(data_dir):
    write_table(landing(data_dir, "t.csv"), teacher_rows("2024-05", 6, "A") + teacher_rows("2024-11", 6, "B"))
    schools(data_dir, "2024-05", "2024-11")
    env = {k: v for k, v in os.environ.items() if k not in {"DAGSTER_HOME", "JIANFU_DATA_DIR"}}
    env["JIANFU_ID_KEY"] = "cli-test-key"
    command = [str(Path(sys.executable).with_name("jianfu")), "run", "--data-dir", str(data_dir)]
    command += ["--lock-timeout", "600"]
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outcomes = [p.communicate(timeout=600) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outcomes
    assert query(data_dir, "select count(*) from staging.teacher_survey_staged") == [(12,)]
    assert_rows_accounted(data_dir)
