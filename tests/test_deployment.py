"""Deployment: plain `dagster` commands from the repository root, `make dev` state under the data
directory, and a shared Dagster instance on PostgreSQL through the documented dagster.yaml."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import dagster as dg
import pytest
from conftest import jianfu_in_process, small_landing

from pipelines.resources import REPO_ROOT

BIN = Path(sys.executable).parent
DOCS = REPO_ROOT / "docs"
PG = {
    key: os.environ.get(f"JIANFU_PG_{key}", default)
    for key, default in (
        ("HOST", "localhost"),
        ("PORT", "5432"),
        ("USER", "jianfu"),
        ("PASSWORD", "jianfu"),
        ("DB", "jianfu_dagster"),
    )
}


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """What a fresh shell has: no DAGSTER_HOME, no JIANFU_* settings."""
    return {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", **extra}


def test_dagster_definitions_validate_from_the_repository_root_in_a_clean_env(tmp_path):
    result = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate"],
        cwd=REPO_ROOT,
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "All code locations passed validation" in result.stdout + result.stderr
    assert "Loaded environment variables from .env file: JIANFU_DAGSTER_STORAGE" in result.stdout + result.stderr


def test_make_dev_keeps_the_dagster_home_under_the_data_dir(tmp_path):
    plan = subprocess.run(
        ["make", "-n", "dev", f"DATA_DIR={tmp_path}"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert plan.returncode == 0, plan.stderr
    assert f"DAGSTER_HOME={tmp_path}/dagster " in plan.stdout and "DAGSTER_HOME=$(CURDIR)" not in plan.stdout
    assert f"cp dagster.yaml {tmp_path}/dagster/dagster.yaml" in plan.stdout
    home = tmp_path / "dagster"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    info = subprocess.run(
        [str(BIN / "dagster"), "instance", "info"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env=clean_env(tmp_path, DAGSTER_HOME=str(home), JIANFU_DAGSTER_STORAGE=str(home)),
        timeout=120,
    )
    assert info.returncode == 0, info.stderr[-2000:]
    assert str(home) in info.stdout and "SqliteRunStorage" in info.stdout
    assert ".nux/" in (REPO_ROOT / ".gitignore").read_text().splitlines()


@pytest.fixture
def postgres_db():
    """A fresh database on the PostgreSQL that .ci/postgres provides; CI fails rather than skips without it."""
    psycopg2 = pytest.importorskip("psycopg2") if not os.environ.get("CI") else __import__("psycopg2")
    try:
        admin = psycopg2.connect(
            host=PG["HOST"],
            port=PG["PORT"],
            user=PG["USER"],
            password=PG["PASSWORD"],
            dbname=PG["DB"],
            connect_timeout=5,
        )
    except psycopg2.OperationalError as exc:
        message = (
            f"PostgreSQL not reachable as {PG['USER']}@{PG['HOST']}:{PG['PORT']}/{PG['DB']} "
            f"({str(exc).strip().splitlines()[0]}); run .ci/postgres as root"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    admin.autocommit = True
    name = f"jianfu_test_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cursor:
        cursor.execute(f"create database {name}")
    try:
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"drop database if exists {name} with (force)")
        admin.close()


def test_a_run_goes_through_the_documented_postgres_instance(data_dir, tmp_path, postgres_db, monkeypatch):
    import psycopg2

    documented = (DOCS / "dagster-postgres.yaml").read_text(encoding="utf-8")
    assert documented in (DOCS / "deployment.md").read_text(encoding="utf-8"), "the recipe shows the tested file"
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(documented, encoding="utf-8")
    settings = {f"JIANFU_PG_{key}": value for key, value in PG.items()} | {"JIANFU_PG_DB": postgres_db}

    small_landing(data_dir)
    result = jianfu_in_process("run", "--data-dir", str(data_dir), env={"DAGSTER_HOME": str(home), **settings})
    assert result.returncode == 0, result.stderr
    assert not (data_dir / "dagster").exists(), "the run history went to PostgreSQL, not under the data dir"
    assert not (home / "history").exists(), "no SQLite run storage beside the PostgreSQL one"

    with (
        psycopg2.connect(
            host=PG["HOST"], port=PG["PORT"], user=PG["USER"], password=PG["PASSWORD"], dbname=postgres_db
        ) as conn,
        conn.cursor() as cursor,
    ):
        cursor.execute("select pipeline_name, status from runs order by create_timestamp")
        runs = cursor.fetchall()
        cursor.execute("select count(*) from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION'")
        materializations = cursor.fetchone()[0]
    assert [job for job, _ in runs] == ["ingest_job", "wave_job", "wave_job", "monitoring_job"]
    assert {status for _, status in runs} == {"SUCCESS"}
    assert materializations > 10

    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert sorted(instance.get_dynamic_partitions("waves")) == ["2024-05", "2024-11"]
        assert len(instance.get_runs()) == 4
