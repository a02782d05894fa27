"""The warehouse connection's DuckDB settings: a memory limit and a spill directory under the data directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import pipelines.resources
from pipelines.resources import FatalPipelineError, JianfuResource, ddl_statements, default_memory_limit


def _settings(conn) -> tuple[str, str]:
    return conn.execute("select current_setting('memory_limit'), current_setting('temp_directory')").fetchone()


def test_connection_gets_the_configured_memory_limit_and_temp_dir(tmp_path):
    spill = tmp_path / "spill"
    jianfu = JianfuResource(data_dir=str(tmp_path), duckdb_memory_limit="300MB", duckdb_temp_dir=str(spill))
    with jianfu.connect() as conn:
        limit, temp = _settings(conn)
    assert limit == "286.1 MiB"
    assert Path(temp) == spill.resolve()
    with jianfu.connect(read_only=True) as conn:
        assert _settings(conn) == (limit, temp)


def test_defaults_put_the_temp_dir_under_the_data_dir_and_env_vars_override(tmp_path, monkeypatch):
    monkeypatch.delenv("JIANFU_DUCKDB_MEMORY_LIMIT", raising=False)
    monkeypatch.delenv("JIANFU_DUCKDB_TEMP_DIR", raising=False)
    with JianfuResource(data_dir=str(tmp_path)).connect() as conn:
        limit, temp = _settings(conn)
    assert Path(temp) == (tmp_path / "duckdb_tmp").resolve()
    assert limit.endswith("iB") and not limit.startswith("0")
    monkeypatch.setenv("JIANFU_DUCKDB_MEMORY_LIMIT", "1GB")
    monkeypatch.setenv("JIANFU_DUCKDB_TEMP_DIR", str(tmp_path / "elsewhere"))
    with JianfuResource(data_dir=str(tmp_path)).connect() as conn:
        assert _settings(conn) == ("953.6 MiB", str((tmp_path / "elsewhere").resolve()))


def test_threads_follow_the_resource_then_the_env_and_reject_nonsense(tmp_path, monkeypatch):
    monkeypatch.delenv("JIANFU_DUCKDB_THREADS", raising=False)
    with JianfuResource(data_dir=str(tmp_path)).connect() as conn:
        default = conn.execute("select current_setting('threads')").fetchone()[0]
    monkeypatch.setenv("JIANFU_DUCKDB_THREADS", "1")
    with JianfuResource(data_dir=str(tmp_path)).connect() as conn:
        assert conn.execute("select current_setting('threads')").fetchone() == (1,)
    with JianfuResource(data_dir=str(tmp_path), duckdb_threads="3").connect() as conn:
        assert conn.execute("select current_setting('threads')").fetchone() == (3,)
    assert default >= 1
    monkeypatch.setenv("JIANFU_DUCKDB_THREADS", "two")
    with pytest.raises(FatalPipelineError, match="whole number"):
        JianfuResource(data_dir=str(tmp_path)).duckdb_settings()


def test_the_default_memory_limit_is_one_gib_or_half_a_small_machine(tmp_path, monkeypatch):
    """DuckDB shares the run's process with Python and Dagster: 1 GiB by default, whatever the machine's size."""
    monkeypatch.delenv("JIANFU_DUCKDB_MEMORY_LIMIT", raising=False)
    with JianfuResource(data_dir=str(tmp_path)).connect() as conn:
        assert _settings(conn)[0] == "1.0 GiB"

    def machine(gib: float):
        pages = {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": int(gib * 2**30 / 4096)}
        monkeypatch.setattr(pipelines.resources.os, "sysconf", pages.__getitem__)
        return default_memory_limit()

    assert [machine(64), machine(2), machine(1.5), machine(0.25)] == ["1024MiB", "1024MiB", "768MiB", "256MiB"]


def test_a_query_larger_than_the_memory_limit_spills_instead_of_failing(tmp_path):
    jianfu = JianfuResource(data_dir=str(tmp_path), duckdb_memory_limit="64MB")
    with jianfu.connect() as conn:
        conn.execute("set threads = 1")
        conn.execute("create table wide as select i, md5(i::varchar) as h from range(3000000) t(i)")
        distinct = conn.execute("select count(*) from (select h, count(*) from wide group by h)").fetchone()[0]
    assert distinct == 3_000_000


def test_the_ddl_runs_once_per_code_version_and_again_when_it_changes(tmp_path):
    """A write connection skips sql/ddl/ when the warehouse holds this code's digest; a different digest
    (new code) or legacy landing tables run it again, so a missing table comes back."""
    jianfu = JianfuResource(data_dir=str(tmp_path))
    _, digest = ddl_statements()
    with jianfu.connect() as conn:
        assert conn.execute("select digest from meta.ddl_version").fetchall() == [(digest,)]
        tables = conn.execute(
            "select count(*) from duckdb_tables() where database_name = current_database()"
        ).fetchall()
        conn.execute("drop table marts.area_metrics")
    with jianfu.connect() as conn:
        assert conn.execute(
            "select count(*) from duckdb_tables() where schema_name = 'marts' and table_name = 'area_metrics'"
        ).fetchall() == [(0,)], "same code, same digest: the DDL did not run"
        conn.execute("update meta.ddl_version set digest = 'older code'")
    with jianfu.connect() as conn:
        assert (
            conn.execute("select count(*) from duckdb_tables() where database_name = current_database()").fetchall()
            == tables
        )
        assert conn.execute("select digest from meta.ddl_version").fetchall() == [(digest,)]


def _other_process_opens(warehouse: Path) -> str:
    """'opened', or the first words of DuckDB's error, when a separate interpreter opens the file read-only."""
    code = (
        "import sys, duckdb\n"
        "try:\n    duckdb.connect(sys.argv[1], read_only=True).close(); print('opened')\n"
        "except duckdb.Error as e:\n    print(str(e)[:60])\n"
    )
    return subprocess.run([sys.executable, "-c", code, str(warehouse)], capture_output=True, text=True).stdout


def test_a_held_warehouse_hands_out_cursors_on_one_open_database_until_released(tmp_path):
    jianfu = JianfuResource(data_dir=str(tmp_path), duckdb_memory_limit="300MB")
    with jianfu.held():
        with jianfu.connect() as first:
            first.execute("create table meta.held_probe as select 42 as answer")
            first.execute("create temp table private_to_first as select 1 as x")
        with jianfu.connect(read_only=True) as second:
            assert second.execute("select answer from meta.held_probe").fetchall() == [(42,)]
            assert second.execute("select current_setting('memory_limit')").fetchone() == ("286.1 MiB",)
            tables = second.execute("select table_name from duckdb_tables() where temporary").fetchall()
            assert ("private_to_first",) not in tables
        assert "lock" in _other_process_opens(jianfu.warehouse_path).lower()
    assert _other_process_opens(jianfu.warehouse_path).strip() == "opened"
    with jianfu.connect() as again:
        assert again.execute("select answer from meta.held_probe").fetchall() == [(42,)]
